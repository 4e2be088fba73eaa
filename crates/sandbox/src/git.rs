//! Git-dir integrity. The host's git reads configuration and runs code from more places than
//! `.git/config` and `.git/hooks`; a sandboxed command that can write any of them makes the
//! host's next `git status` (or commit) run a command of the sandbox's choosing. This module
//! lists, for a writable root, every path git reads as configuration or executes; the helper
//! mounts each read-only, and the preflight refuses writes to the same list (one source).
//!
//! Paths that do not exist at session start cannot be mount points, so the helper first creates a
//! placeholder on the host whose content does not change what git does (an empty directory, an
//! empty config file, a `commondir` that names the git dir itself); the placeholder is then
//! mounted read-only, so the command can neither create nor replace it.

use std::path::{Path, PathBuf};

/// How a protected path that is missing at session start is made uncreatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// An empty directory (git itself creates `hooks` and `info` this way on `git init`).
    Dir,
    /// A file with this content (chosen so that git behaves as without the file).
    File(&'static str),
}

impl Placeholder {
    /// Stable name used by the binding and the docs.
    pub fn kind(&self) -> &'static str {
        match self {
            Placeholder::Dir => "dir",
            Placeholder::File(_) => "file",
        }
    }
}

/// Names inside a git directory that git reads as configuration, follows as a redirect or runs
/// as code, with the placeholder that makes each uncreatable when missing. See docs/sandbox.md.
pub const GIT_DIR_PROTECTED: &[(&str, Placeholder)] = &[
    // Repository configuration: `core.fsmonitor`, `core.hooksPath`, `core.sshCommand`, filters,
    // aliases, `include.path` … all run commands.
    ("config", Placeholder::File("")),
    // Per-worktree configuration (read when `extensions.worktreeConfig` is on).
    ("config.worktree", Placeholder::File("")),
    // Redirects the common dir (config, hooks, refs) to another directory. "." = this dir.
    ("commondir", Placeholder::File(".\n")),
    // Hooks run by commit, merge, checkout, push, …
    ("hooks", Placeholder::Dir),
    // `info/attributes` (filter and diff drivers by path), `info/exclude`, `sparse-checkout`,
    // `grafts`.
    ("info", Placeholder::Dir),
    // Git dirs of submodules (each with its own config and hooks; `git status` recurses).
    ("modules", Placeholder::Dir),
    // Admin dirs of linked worktrees (`gitdir`, `commondir`, `config.worktree`).
    ("worktrees", Placeholder::Dir),
];

/// A path git reads as configuration or runs, inside or below a writable root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitProtected {
    pub path: PathBuf,
    /// What to create when the path is missing (`None`: nothing, the path is only listed).
    pub placeholder: Option<Placeholder>,
    /// The git directory that contains `path` (pinned so it cannot be renamed away).
    pub git_dir: Option<PathBuf>,
    /// Only the entry itself matters (a `.git` symlink): pin the link, leave its target writable.
    pub link_only: bool,
}

/// Reads a `.git` file (`gitdir: <path>`) and returns the target, relative to `base`.
fn read_gitfile(file: &Path, base: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(file).ok()?;
    let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    if target.is_empty() {
        return None;
    }
    Some(base.join(target))
}

fn push_git_dir(git_dir: &Path, out: &mut Vec<GitProtected>, depth: usize) {
    let git_dir = std::fs::canonicalize(git_dir).unwrap_or_else(|_| git_dir.to_path_buf());
    if out
        .iter()
        .any(|p| p.git_dir.as_deref() == Some(git_dir.as_path()))
    {
        return;
    }
    for (name, placeholder) in GIT_DIR_PROTECTED {
        out.push(GitProtected {
            path: git_dir.join(name),
            placeholder: Some(*placeholder),
            git_dir: Some(git_dir.clone()),
            link_only: false,
        });
    }
    // Files and directories the config names: `core.hooksPath` (husky and friends keep hooks in
    // the worktree) and `include.path` / `includeIf.*.path` (more configuration).
    for cfg in ["config", "config.worktree"] {
        for (hooks, path) in config_paths(&git_dir.join(cfg)) {
            let base = if hooks {
                // Relative hooksPath is relative to the worktree (the git dir's parent).
                git_dir.parent().unwrap_or(&git_dir).to_path_buf()
            } else {
                git_dir.clone()
            };
            out.push(GitProtected {
                path: expand(&path, &base),
                placeholder: Some(if hooks {
                    Placeholder::Dir
                } else {
                    Placeholder::File("")
                }),
                git_dir: None,
                link_only: false,
            });
        }
    }
    // A commondir redirect that already exists names the directory whose config and hooks git
    // reads: protect that one too (one level; git itself does not chain commondir).
    if depth == 0
        && let Ok(text) = std::fs::read_to_string(git_dir.join("commondir"))
    {
        let t = text.trim();
        if !t.is_empty() && t != "." {
            push_git_dir(&git_dir.join(t), out, depth + 1);
        }
    }
}

fn expand(p: &str, base: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    base.join(p)
}

/// `(is_hooks_path, value)` for `core.hooksPath` and `include(If).path` entries of a config file
/// (a small reader of git's format: sections, `key = value`, quotes, comments).
fn config_paths(file: &Path) -> Vec<(bool, String)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut section = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            let end = line.find(']').unwrap_or(line.len());
            section = line[1..end]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let key = k.trim().to_ascii_lowercase();
        let mut val = v.trim();
        if let Some(i) = val.find([';', '#'])
            && !val.starts_with('"')
        {
            val = val[..i].trim();
        }
        let val = val.trim_matches('"').to_string();
        if val.is_empty() {
            continue;
        }
        if section == "core" && key == "hookspath" {
            out.push((true, val));
        } else if (section == "include" || section == "includeif") && key == "path" {
            out.push((false, val));
        }
    }
    out
}

/// Everything git reads as configuration or runs for the repository rooted at `root`: the
/// `.git` entry itself when it is a file (worktree or submodule pointer) or missing (so the
/// command cannot `git init` a repository whose config the host would read), and the protected
/// names of the git dir it leads to (and of that git dir's `commondir`); then the same for every
/// repository nested below `root` that [`nested_repositories`] finds (vendored repos, submodule
/// checkouts, pre-1.7.8 submodules with their own `.git` directory).
pub fn protected_paths(root: &Path) -> Vec<GitProtected> {
    // ku0's own workspace metadata: read-only, and uncreatable when missing.
    let mut out = vec![GitProtected {
        path: root.join(".ku0"),
        placeholder: Some(Placeholder::Dir),
        git_dir: None,
        link_only: false,
    }];
    repo_paths(root, true, &mut out);
    for nested in nested_repositories(root) {
        repo_paths(&nested, false, &mut out);
    }
    out
}

/// The `.git` entry of `repo` and the protected names of its git dir. `top`: a missing `.git` gets
/// a placeholder (only for the writable root itself; nested repos are found by their `.git`).
fn repo_paths(repo: &Path, top: bool, out: &mut Vec<GitProtected>) {
    let dot = repo.join(".git");
    let entry = |placeholder, link_only| GitProtected {
        path: dot.clone(),
        placeholder,
        git_dir: None,
        link_only,
    };
    match std::fs::symlink_metadata(&dot) {
        // An empty directory is not a repository: git keeps searching the parents, as without it.
        Err(_) if top => out.push(entry(Some(Placeholder::Dir), false)),
        Err(_) => {}
        Ok(m) if m.is_file() => {
            out.push(entry(None, false));
            if let Some(target) = read_gitfile(&dot, repo) {
                push_git_dir(&target, out, 0);
            }
        }
        Ok(m) => {
            if m.file_type().is_symlink() {
                // `.git -> elsewhere`: the link must not be replaceable by a directory of the
                // command's choosing; the git dir it leads to keeps its ordinary rules.
                out.push(entry(None, true));
            }
            push_git_dir(&dot, out, 0)
        }
    }
}

/// Deepest directory level below a writable root searched for nested repositories.
pub const NESTED_MAX_DEPTH: usize = 6;
/// Most directories read while searching one writable root (the search stops there).
pub const NESTED_MAX_DIRS: usize = 1024;
/// Most nested repositories protected per writable root.
pub const NESTED_MAX_REPOS: usize = 64;
/// Directory names never searched for nested repositories (large trees of installed or built
/// files; a repository inside them is not protected).
pub const NESTED_SKIP: &[&str] = &[
    "node_modules",
    ".pnpm-store",
    "target",
    ".venv",
    "__pycache__",
    ".cache",
    ".ku0",
];

/// Repositories nested below `root` (a directory with a `.git` directory, file or symlink),
/// breadth first, without following symlinks, not inside `.git` or [`NESTED_SKIP`] names, at most
/// [`NESTED_MAX_DEPTH`] levels deep, [`NESTED_MAX_DIRS`] directories read and
/// [`NESTED_MAX_REPOS`] found. Sorted by name at each level, so the result is deterministic.
pub fn nested_repositories(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    let mut read = 0usize;
    while let Some((dir, depth)) = queue.pop_front() {
        if read >= NESTED_MAX_DIRS || found.len() >= NESTED_MAX_REPOS {
            break;
        }
        read += 1;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| {
                let n = e.file_name();
                n != ".git" && !NESTED_SKIP.iter().any(|s| n == *s)
            })
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        for sub in subdirs {
            if std::fs::symlink_metadata(sub.join(".git")).is_ok() {
                if found.len() >= NESTED_MAX_REPOS {
                    break;
                }
                found.push(sub.clone());
            }
            if depth + 1 < NESTED_MAX_DEPTH {
                queue.push_back((sub, depth + 1));
            }
        }
    }
    found
}

/// Protected paths of several writable roots (order kept, duplicates dropped).
pub fn protected_paths_of(roots: &[String]) -> Vec<GitProtected> {
    let mut out: Vec<GitProtected> = Vec::new();
    for r in roots {
        for p in protected_paths(Path::new(r)) {
            if !out.iter().any(|q| q.path == p.path) {
                out.push(p);
            }
        }
    }
    out
}

/// Creates the placeholder of a missing protected path (never follows a symlink at the leaf;
/// does nothing when the parent is missing or the path exists).
pub fn ensure_placeholder(p: &GitProtected) -> std::io::Result<()> {
    let Some(ph) = p.placeholder else {
        return Ok(());
    };
    if std::fs::symlink_metadata(&p.path).is_ok() {
        return Ok(());
    }
    if !p.path.parent().is_some_and(|d| d.is_dir()) {
        return Ok(());
    }
    let r = match ph {
        Placeholder::Dir => std::fs::create_dir(&p.path),
        Placeholder::File(content) => {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p.path)
                .and_then(|mut f| f.write_all(content.as_bytes()))
        }
    };
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ku0-git-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    /// Whether `l` protects `path`.
    fn lists(l: &[GitProtected], path: &Path) -> bool {
        l.iter().any(|p| p.path == path)
    }

    /// Whether `l` protects `path` as it is (no placeholder: the path exists).
    fn lists_existing(l: &[GitProtected], path: &Path) -> bool {
        l.iter().any(|p| p.path == path && p.placeholder.is_none())
    }

    #[test]
    fn lists_git_dir_names_and_missing_dot_git() {
        let ws = tmp("plain");
        let l = protected_paths(&ws);
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].path, ws.join(".git"));
        assert_eq!(l[1].placeholder, Some(Placeholder::Dir));
        std::fs::create_dir(ws.join(".git")).unwrap();
        let l = protected_paths(&ws);
        for (name, _) in GIT_DIR_PROTECTED {
            assert!(lists(&l, &ws.join(".git").join(name)));
        }
    }

    #[test]
    fn follows_gitfile_and_commondir() {
        let base = tmp("wt");
        let ws = base.join("ws");
        let main = base.join("main/.git");
        std::fs::create_dir_all(main.join("worktrees/w")).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(
            ws.join(".git"),
            format!("gitdir: {}\n", main.join("worktrees/w").display()),
        )
        .unwrap();
        std::fs::write(main.join("worktrees/w/commondir"), "../..\n").unwrap();
        let l = protected_paths(&ws);
        assert!(lists_existing(&l, &ws.join(".git")));
        assert!(lists(&l, &main.join("worktrees/w/config.worktree")));
        assert!(lists(&l, &main.join("hooks")));
        assert!(lists(&l, &main.join("config")));
    }

    #[test]
    fn follows_hooks_path_and_includes() {
        let ws = tmp("cfg");
        std::fs::create_dir(ws.join(".git")).unwrap();
        std::fs::write(
            ws.join(".git/config"),
            "[core]\n\thooksPath = .husky ; comment\n[include]\n\tpath = \"../team.gitconfig\"\n",
        )
        .unwrap();
        let l = protected_paths(&ws);
        assert!(lists(&l, &ws.join(".husky")));
        assert!(lists(&l, &ws.join(".git/../team.gitconfig")));
    }

    #[test]
    fn placeholders_are_created_once_and_never_replace() {
        let ws = tmp("ph");
        std::fs::create_dir(ws.join(".git")).unwrap();
        std::fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        for p in protected_paths(&ws) {
            ensure_placeholder(&p).unwrap();
            ensure_placeholder(&p).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/commondir")).unwrap(),
            ".\n"
        );
        assert!(ws.join(".git/hooks").is_dir());
    }

    #[test]
    fn nested_repositories_are_protected_within_bounds() {
        let ws = tmp("nested");
        std::fs::create_dir_all(ws.join(".git/modules/sub")).unwrap();
        std::fs::create_dir_all(ws.join("vendor/lib/.git")).unwrap();
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::write(ws.join("sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
        std::fs::create_dir_all(ws.join("node_modules/pkg/.git")).unwrap();
        std::fs::create_dir_all(ws.join("a/b/c/d/e/f/g/.git")).unwrap();
        let n = nested_repositories(&ws);
        assert_eq!(n, vec![ws.join("sub"), ws.join("vendor/lib")]);
        let l = protected_paths(&ws);
        assert!(lists(&l, &ws.join("vendor/lib/.git/hooks")));
        assert!(lists(&l, &ws.join("vendor/lib/.git/config")));
        assert!(lists_existing(&l, &ws.join("sub/.git")));
        assert!(lists(&l, &ws.join(".git/modules/sub/hooks")));
        assert!(
            !l.iter()
                .any(|p| p.path.starts_with(ws.join("node_modules")))
        );
        // No placeholder `.git` in plain subdirectories.
        assert!(!lists(&l, &ws.join("a/.git")));
        for i in 0..(NESTED_MAX_REPOS + 5) {
            std::fs::create_dir_all(ws.join(format!("many/r{i:03}/.git"))).unwrap();
        }
        assert_eq!(nested_repositories(&ws).len(), NESTED_MAX_REPOS);
    }
}
