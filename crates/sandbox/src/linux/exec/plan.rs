//! The mount plan: everything computed from the policy before the first fork (which host paths
//! become read-only, writable, pinned, hidden or symlinked in the constructed root, in mount
//! order), and the command-dependent parts (argv, environment, executable candidates, cwd).

use std::ffi::CString;
use std::path::Path;

use seccompiler::BpfProgram;

use crate::linux::{seccomp, sys};
use crate::policy::ExecPolicy;
use crate::{Result, SandboxError};

pub(super) fn prepare(policy: &ExecPolicy) -> Result<Prepared> {
    let mut entries = Vec::new();
    let mut writable = Vec::new();
    for w in &policy.writable_roots {
        let c = canonical(w)
            .ok_or_else(|| SandboxError::InvalidPolicy(format!("writable root missing: {w}")))?;
        if c == "/" {
            return Err(SandboxError::InvalidPolicy("/ cannot be writable".into()));
        }
        writable.push(c);
    }
    let mut readable = Vec::new();
    for r in policy.effective_readable_roots() {
        let meta = match std::fs::symlink_metadata(&r) {
            Ok(m) => m,
            Err(_) => continue,
        };
        if meta.file_type().is_symlink() {
            if let (Ok(target), Some(c)) = (std::fs::read_link(&r), canonical(&r)) {
                entries.push(Entry::Symlink {
                    path: r.clone(),
                    target: target.to_string_lossy().into_owned(),
                });
                if !readable.contains(&c) {
                    readable.push(c);
                }
            }
            continue;
        }
        if let Some(c) = canonical(&r) {
            if c == "/" {
                return Err(SandboxError::InvalidPolicy(
                    "/ cannot be a readable root; list directories explicitly".into(),
                ));
            }
            if !readable.contains(&c) {
                readable.push(c);
            }
        }
    }
    let private_tmp = !writable.iter().chain(readable.iter()).any(|p| p == "/tmp");
    if private_tmp {
        entries.push(Entry::Tmpfs {
            path: "/tmp".into(),
            size: policy.limits.tmp_size_bytes.unwrap_or(256 << 20),
        });
    }
    // Readable roots that lie inside a writable root need no extra bind.
    for r in &readable {
        if r == "/dev" || r == "/proc" || r.starts_with("/dev/") || r.starts_with("/proc/") {
            continue;
        }
        if !writable.iter().any(|w| under(r, w)) {
            entries.push(Entry::ReadBind(r.clone()));
        }
    }
    for w in &writable {
        entries.push(Entry::WriteBind(w.clone()));
    }
    // Git-dir integrity: placeholders for missing paths first (they become mount points), then
    // every protected path read-only and its git dir pinned.
    let mut read_only = policy.effective_read_only_paths();
    for mut g in policy.git_protected() {
        // A protected name that is a symlink: protect what it points to (a dangling link's
        // target gets the placeholder) and pin the link itself.
        let mut link = None;
        let is_link = std::fs::symlink_metadata(&g.path).is_ok_and(|m| m.file_type().is_symlink());
        if g.link_only {
            if is_link
                && let Some(l) =
                    canonical_parent(&g.path).and_then(|l| l.to_str().map(String::from))
                && writable.iter().any(|w| under(&l, w))
            {
                let gitdir = g.path.to_str().and_then(canonical);
                entries.push(Entry::LinkPin { path: l, gitdir });
            }
            continue;
        }
        if is_link {
            match crate::paths::resolve(&g.path, Path::new("/")) {
                Ok(r) => {
                    link = canonical_parent(&g.path);
                    g.path = r.path;
                }
                Err(_) => continue,
            }
        }
        let inside = |p: &Path| {
            p.to_str()
                .is_some_and(|s| writable.iter().any(|w| under(s, w)))
        };
        let target = canonical_parent(&g.path);
        if !target.as_deref().is_some_and(inside) {
            continue;
        }
        placeholder_made(crate::git::ensure_placeholder(&g), || {
            format!("git placeholder {}", g.path.display())
        })?;
        if let Some(dir) = g.git_dir.as_ref().and_then(|d| d.to_str())
            && !writable.iter().any(|w| w == dir)
            && writable.iter().any(|w| under(dir, w))
        {
            push_new(&mut entries, Entry::Pin(dir.to_string()));
        }
        if let Some(p) = g.path.to_str()
            && !read_only.iter().any(|r| r == p)
        {
            read_only.push(p.to_string());
        }
        if let Some(l) = link.as_ref().and_then(|l| l.to_str())
            && writable.iter().any(|w| under(l, w))
        {
            entries.push(Entry::LinkPin {
                path: l.to_string(),
                gitdir: None,
            });
        }
    }
    for ro in read_only {
        let Ok(meta) = std::fs::symlink_metadata(&ro) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let Some(c) = canonical(&ro) else { continue };
        if entries.contains(&Entry::ReadOnly(c.clone())) {
            continue;
        }
        if !writable.iter().any(|w| under(&c, w)) {
            continue;
        }
        if let Some(parent) = Path::new(&c).parent().and_then(|p| p.to_str())
            && parent.ends_with("/.git")
            && !writable.iter().any(|w| w == parent)
        {
            push_new(&mut entries, Entry::Pin(parent.to_string()));
        }
        entries.push(Entry::ReadOnly(c));
    }
    for d in policy.effective_denied_paths() {
        if std::fs::symlink_metadata(&d).is_err() {
            // Missing at session start: inside a writable root the command could create it, so
            // it gets a placeholder (like the git paths) that the stand-in is mounted onto.
            let inside = crate::paths::resolve(Path::new(&d), Path::new("/")).is_ok_and(|r| {
                !r.exists
                    && r.path
                        .to_str()
                        .is_some_and(|s| writable.iter().any(|w| under(s, w) && s != w))
            });
            if inside {
                placeholder_made(
                    crate::policy::ensure_denied_placeholder(Path::new(&d)),
                    || format!("denied-path placeholder {d}"),
                )?;
            }
        }
        let Ok(meta) = std::fs::symlink_metadata(&d) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            // The link itself reveals nothing; its target is checked on its own.
            continue;
        }
        let Some(c) = canonical(&d) else { continue };
        let visible = readable
            .iter()
            .chain(writable.iter())
            .any(|root| under(&c, root));
        if visible {
            entries.push(Entry::Deny {
                path: c,
                dir: meta.is_dir(),
            });
        }
    }
    // A protected path must not move away with one of its ancestors (renaming a directory that
    // contains a mount point is allowed; a nested repository's `vendor/` renamed and recreated
    // would hand the host a fresh `.git` of the command's choosing): pin every directory between
    // the writable root and each read-only, link-pinned or denied entry.
    let mut ancestors: Vec<Entry> = Vec::new();
    for e in &entries {
        if !matches!(
            e,
            Entry::ReadOnly(_) | Entry::LinkPin { .. } | Entry::Deny { .. } | Entry::Pin(_)
        ) {
            continue;
        }
        let Some(root) = writable
            .iter()
            .filter(|w| under(e.path(), w))
            .max_by_key(|w| w.len())
        else {
            continue;
        };
        let mut cur = Path::new(e.path()).parent();
        while let Some(a) = cur.and_then(|a| a.to_str()) {
            if a == root || !under(a, root) {
                break;
            }
            let pin = Entry::Pin(a.to_string());
            if !entries.contains(&pin) && !ancestors.contains(&pin) {
                ancestors.push(pin);
            }
            cur = Path::new(a).parent();
        }
    }
    entries.extend(ancestors);
    entries.sort_by(|a, b| {
        depth(a.path())
            .cmp(&depth(b.path()))
            .then(a.rank().cmp(&b.rank()))
            .then(a.path().cmp(b.path()))
    });

    let cmd = command_parts(policy, &writable)?;
    let mut landlock_writable = writable.clone();
    if private_tmp {
        landlock_writable.push("/tmp".into());
    }
    let mut landlock_readable = readable.clone();
    if cmd.script.is_some() {
        landlock_readable.push(SCRIPT_FILE.into());
    }
    landlock_readable.push("/proc".into());
    landlock_readable.push("/dev".into());
    Ok(Prepared {
        entries,
        exe_candidates: cmd.exe_candidates,
        argv: cmd.argv,
        envp: cmd.envp,
        cwd: cmd.cwd,
        readable: landlock_readable,
        writable: landlock_writable,
        rw_files: DEV_FILES.iter().map(|f| format!("/dev/{f}")).collect(),
        filters: seccomp::build_filters(policy.network.mode)?,
        address_space: policy.limits.address_space_bytes,
        data_limit: None,
        script: cmd.script,
    })
}

/// Everything computed before the first fork.
pub(super) struct Prepared {
    pub(super) entries: Vec<Entry>,
    pub(super) exe_candidates: Vec<CString>,
    pub(super) argv: Vec<CString>,
    pub(super) envp: Vec<CString>,
    pub(super) cwd: String,
    pub(super) readable: Vec<String>,
    pub(super) writable: Vec<String>,
    pub(super) rw_files: Vec<String>,
    pub(super) filters: Vec<BpfProgram>,
    /// A `sh -c` script too long for one execve argument, written to [`SCRIPT_FILE`].
    pub(super) script: Option<Vec<u8>>,
    /// RLIMIT_AS (explicit only).
    pub(super) address_space: Option<u64>,
    /// RLIMIT_DATA decided after the cgroup setup.
    pub(super) data_limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// Private tmpfs (at /tmp).
    Tmpfs {
        path: String,
        size: u64,
    },
    ReadBind(String),
    WriteBind(String),
    Symlink {
        path: String,
        target: String,
    },
    /// Bind a directory onto itself (rw) so it cannot be renamed or replaced.
    Pin(String),
    ReadOnly(String),
    /// A symlink inside a writable root that git follows: an empty stand-in is bound onto the
    /// link itself, so the link cannot be removed and replaced (its target is read-only).
    LinkPin {
        path: String,
        /// For a `.git` link: the git dir, so the stand-in is a gitfile (`gitdir: <dir>`) and git
        /// inside the sandbox keeps working through it.
        gitdir: Option<String>,
    },
    Deny {
        path: String,
        dir: bool,
    },
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::Tmpfs { path, .. }
            | Entry::ReadBind(path)
            | Entry::WriteBind(path)
            | Entry::Symlink { path, .. }
            | Entry::Pin(path)
            | Entry::ReadOnly(path)
            | Entry::LinkPin { path, .. }
            | Entry::Deny { path, .. } => path,
        }
    }
    fn rank(&self) -> u8 {
        match self {
            Entry::Tmpfs { .. } => 0,
            Entry::Symlink { .. } => 1,
            Entry::ReadBind(_) => 2,
            Entry::WriteBind(_) => 3,
            Entry::Pin(_) => 4,
            Entry::ReadOnly(_) => 5,
            Entry::LinkPin { .. } => 5,
            Entry::Deny { .. } => 6,
        }
    }
}

/// Device nodes bound into the private /dev.
pub(super) const DEV_FILES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Where a long `sh -c` script is placed inside the sandbox (read-only root tmpfs).
pub(super) const SCRIPT_FILE: &str = "/.ku0-command.sh";

/// Longest `sh -c` argument passed inline (execve's per-argument limit is 128 KiB).
const MAX_INLINE_SCRIPT: usize = 120 * 1024;

/// The command-dependent part of the preparation (also redone in pid 1 in prewarm mode).
pub(super) struct CommandParts {
    pub(super) exe_candidates: Vec<CString>,
    pub(super) argv: Vec<CString>,
    pub(super) envp: Vec<CString>,
    pub(super) cwd: String,
    pub(super) script: Option<Vec<u8>>,
}

pub(super) fn command_parts(policy: &ExecPolicy, writable: &[String]) -> Result<CommandParts> {
    // execve limits each argument to 128 KiB (MAX_ARG_STRLEN): a longer `sh -c` script is written
    // into the constructed root and run as a script file instead.
    let mut script = None;
    let mut argv_src = policy.argv.clone();
    if argv_src.len() == 3 && argv_src[1] == "-c" && argv_src[2].len() > MAX_INLINE_SCRIPT {
        script = Some(std::mem::take(&mut argv_src[2]).into_bytes());
        argv_src = vec![argv_src[0].clone(), SCRIPT_FILE.to_string()];
    }
    let argv: Vec<CString> = argv_src
        .iter()
        .map(|a| sys::cstr(a))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = policy
        .env
        .iter()
        .map(|(k, v)| sys::cstr(&format!("{k}={v}")))
        .collect::<Result<_>>()?;
    let arg0 = policy
        .argv
        .first()
        .ok_or_else(|| SandboxError::InvalidPolicy("argv is empty".into()))?;
    let exe_candidates: Vec<CString> = if arg0.contains('/') {
        vec![sys::cstr(arg0)?]
    } else {
        let path = policy
            .env
            .get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| sys::cstr(&format!("{}/{}", d.trim_end_matches('/'), arg0)))
            .collect::<Result<_>>()?
    };
    let cwd = match &policy.cwd {
        Some(c) => {
            canonical(c).ok_or_else(|| SandboxError::InvalidPolicy(format!("cwd missing: {c}")))?
        }
        None => writable.first().cloned().unwrap_or_else(|| "/".into()),
    };
    Ok(CommandParts {
        exe_candidates,
        argv,
        envp,
        cwd,
        script,
    })
}

fn canonical(p: &str) -> Option<String> {
    std::fs::canonicalize(p)
        .ok()
        .and_then(|c| c.to_str().map(str::to_string))
}

/// The path with its parent resolved physically (the leaf may be missing).
fn canonical_parent(p: &Path) -> Option<std::path::PathBuf> {
    let parent = std::fs::canonicalize(p.parent()?).ok()?;
    Some(parent.join(p.file_name()?))
}

fn depth(p: &str) -> usize {
    p.split('/').filter(|c| !c.is_empty()).count()
}

fn under(path: &str, root: &str) -> bool {
    Path::new(path).starts_with(root)
}

/// Adds `entry` to the plan unless it is there already.
fn push_new(entries: &mut Vec<Entry>, entry: Entry) {
    if !entries.contains(&entry) {
        entries.push(entry);
    }
}

/// The outcome of making a placeholder (`what` names it in an error). Where this uid may not
/// create the path (`EACCES`, `EROFS`), the command (same uid) cannot either: not an error.
fn placeholder_made(made: std::io::Result<()>, what: impl FnOnce() -> String) -> Result<()> {
    match made {
        Ok(()) => Ok(()),
        Err(e)
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || e.raw_os_error() == Some(libc::EROFS) =>
        {
            Ok(())
        }
        Err(e) => Err(SandboxError::Os {
            what: what(),
            source: e,
        }),
    }
}
