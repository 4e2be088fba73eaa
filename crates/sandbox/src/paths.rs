//! Path decisions for preflight checks: physical resolution (every symlink followed, including
//! dangling leaves and symlinked ancestors), containment by whole components, and conservative
//! case-insensitive matching for protected paths (so `.GIT/Hooks` on a case-folding file system
//! is treated like `.git/hooks`).

use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::{ffi::OsString, path::Component};

#[cfg(unix)]
const MAX_SYMLINK_HOPS: usize = 40;

/// Result of resolving a path for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Absolute physical path with every existing symlink resolved.
    pub path: PathBuf,
    /// Whether the final path exists.
    pub exists: bool,
    /// Whether any symlink was followed on the way.
    pub followed_symlink: bool,
    /// Hard-link count of an existing regular file (0 otherwise).
    pub nlink: u64,
}

/// Resolves `input` (relative to `cwd` when not absolute) physically. Components that do not
/// exist are appended lexically (a missing directory cannot be a symlink); `..` after a missing
/// component pops it. Symlink loops and overly long chains are errors.
///
/// Only implemented for Unix paths: elsewhere it fails with `ErrorKind::Unsupported`, so every
/// [`Roots::decide`] denies (fail closed) instead of deciding on a wrong resolution.
pub fn resolve(input: &Path, cwd: &Path) -> std::io::Result<Resolved> {
    #[cfg(unix)]
    {
        resolve_physical(input, cwd)
    }
    #[cfg(not(unix))]
    {
        let _ = (input, cwd);
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "physical path resolution is not implemented on this platform",
        ))
    }
}

#[cfg(unix)]
fn resolve_physical(input: &Path, cwd: &Path) -> std::io::Result<Resolved> {
    let start = if input.is_absolute() {
        input.to_path_buf()
    } else {
        cwd.join(input)
    };
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&start, &mut pending);
    pending.reverse(); // stack: next component at the end
    let mut out = PathBuf::from("/");
    let mut hops = 0usize;
    let mut followed = false;
    let mut missing = false;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            out.pop();
            continue;
        }
        if comp == "." || comp.is_empty() {
            continue;
        }
        let candidate = out.join(&comp);
        if missing {
            out = candidate;
            continue;
        }
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                followed = true;
                let target = std::fs::read_link(&candidate)?;
                let mut comps = Vec::new();
                push_components(&target, &mut comps);
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                for c in comps.into_iter().rev() {
                    pending.push(c);
                }
            }
            Ok(_) => out = candidate,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing = true;
                out = candidate;
            }
            Err(e) => return Err(e),
        }
    }
    let meta = std::fs::metadata(&out).ok();
    let exists = meta.is_some();
    let nlink = meta
        .filter(|m| m.is_file())
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.nlink()
        })
        .unwrap_or(0);
    Ok(Resolved {
        path: out,
        exists,
        followed_symlink: followed,
        nlink,
    })
}

#[cfg(unix)]
fn push_components(p: &Path, out: &mut Vec<OsString>) {
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {}
            Component::CurDir => {}
            Component::ParentDir => out.push(OsString::from("..")),
            Component::Normal(s) => out.push(s.to_os_string()),
        }
    }
}

/// Whether `path` equals `root` or lies below it (whole components, exact bytes).
pub fn is_within(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

/// Case-insensitive (ASCII) component-wise containment, used for protected paths.
pub fn is_within_fold(path: &Path, root: &Path) -> bool {
    let p: Vec<_> = path.components().collect();
    let r: Vec<_> = root.components().collect();
    if r.len() > p.len() {
        return false;
    }
    r.iter().zip(p.iter()).all(|(a, b)| {
        a.as_os_str()
            .as_encoded_bytes()
            .eq_ignore_ascii_case(b.as_os_str().as_encoded_bytes())
    })
}

/// Access kinds for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A path decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub resolved: PathBuf,
    pub reason: Option<String>,
}

/// Roots used for decisions (resolved once by [`Roots::new`]).
#[derive(Debug, Clone, Default)]
pub struct Roots {
    pub writable: Vec<PathBuf>,
    pub readable: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    pub denied: Vec<PathBuf>,
}

fn resolve_all(list: &[String]) -> Vec<PathBuf> {
    let root = Path::new("/");
    list.iter()
        .filter_map(|p| resolve(Path::new(p), root).ok().map(|r| r.path))
        .collect()
}

impl Roots {
    pub fn new(
        writable: &[String],
        readable: &[String],
        read_only: &[String],
        denied: &[String],
    ) -> Self {
        let mut ro = resolve_all(read_only);
        // Protect the lexical spelling as well as the resolved one.
        ro.extend(read_only.iter().map(PathBuf::from));
        let mut de = resolve_all(denied);
        de.extend(denied.iter().map(PathBuf::from));
        Roots {
            writable: resolve_all(writable),
            readable: resolve_all(readable),
            read_only: ro,
            denied: de,
        }
    }

    /// Decides whether `input` may be accessed.
    pub fn decide(&self, input: &Path, cwd: &Path, access: Access) -> Decision {
        let resolved = match resolve(input, cwd) {
            Ok(r) => r,
            Err(e) => {
                return Decision {
                    allowed: false,
                    resolved: input.to_path_buf(),
                    reason: Some(format!("cannot resolve path: {e}")),
                };
            }
        };
        let path = resolved.path.clone();
        let deny = |reason: String| Decision {
            allowed: false,
            resolved: path.clone(),
            reason: Some(reason),
        };
        // A root that lies inside a denied path wins for what is inside that root (a workspace
        // under /root when running as root stays usable).
        let more_specific_root = |d: &PathBuf| {
            self.writable
                .iter()
                .chain(self.readable.iter())
                .any(|r| r != d && is_within(r, d) && is_within(&path, r))
        };
        if self
            .denied
            .iter()
            .any(|d| is_within_fold(&path, d) && !more_specific_root(d))
        {
            return deny(format!("{} is a denied path", path.display()));
        }
        let in_writable = self.writable.iter().any(|w| is_within(&path, w));
        match access {
            Access::Write => {
                if !in_writable {
                    return deny(format!("{} is outside the writable roots", path.display()));
                }
                if self.read_only.iter().any(|r| is_within_fold(&path, r)) {
                    return deny(format!(
                        "{} is read-only inside the workspace",
                        path.display()
                    ));
                }
                // Case tricks: a spelling that folds onto `.git` is protected too.
                if path.components().any(|c| {
                    c.as_os_str()
                        .as_encoded_bytes()
                        .eq_ignore_ascii_case(b".git")
                }) && path.components().any(|c| {
                    let b = c.as_os_str().as_encoded_bytes();
                    b.eq_ignore_ascii_case(b"hooks") || b.eq_ignore_ascii_case(b"config")
                }) {
                    return deny(format!("{} is git metadata", path.display()));
                }
                if resolved.nlink > 1 {
                    return deny(format!(
                        "{} has {} hard links (may alias a file outside the roots)",
                        path.display(),
                        resolved.nlink
                    ));
                }
            }
            Access::Read => {
                if !in_writable && !self.readable.iter().any(|r| is_within(&path, r)) {
                    return deny(format!("{} is outside the readable roots", path.display()));
                }
            }
        }
        Decision {
            allowed: true,
            resolved: path,
            reason: None,
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ku0-paths-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    #[test]
    fn dotdot_symlinks_dangling_and_case() {
        let base = tmp("a");
        let ws = base.join("ws");
        let out = base.join("out");
        std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        symlink(&out, ws.join("link")).unwrap();
        symlink(out.join("nope.txt"), ws.join("dangling")).unwrap();
        symlink("../out", ws.join("rel")).unwrap();
        std::fs::write(out.join("f"), "x").unwrap();
        std::fs::hard_link(out.join("f"), ws.join("hard")).unwrap();
        let s = |p: &PathBuf| p.to_string_lossy().to_string();
        let roots = Roots::new(&[s(&ws)], &[], &[s(&ws.join(".git/hooks"))], &[]);
        let w = |p: &str| roots.decide(Path::new(p), &ws, Access::Write);
        assert!(w("a.txt").allowed);
        assert!(w("sub/new/b.txt").allowed);
        assert!(!w("../out/x").allowed);
        assert!(!w("sub/../../out/x").allowed);
        assert!(!w("link/x").allowed);
        assert!(!w("rel/x").allowed);
        assert!(!w("dangling").allowed);
        assert!(!w("hard").allowed);
        assert!(!w(".git/hooks/pre-commit").allowed);
        assert!(!w(".GIT/Hooks/pre-commit").allowed);
        assert!(!w("/etc/passwd").allowed);
        assert!(!w("missing/../../out").allowed);
        assert_eq!(w("link").resolved, out);
    }

    #[test]
    fn workspace_inside_a_denied_directory_stays_usable() {
        let base = tmp("denied-parent");
        let ws = base.join("home/project");
        std::fs::create_dir_all(ws.join("src")).unwrap();
        std::fs::create_dir_all(base.join("home/.ssh")).unwrap();
        let s = |p: &PathBuf| p.to_string_lossy().to_string();
        let roots = Roots::new(
            &[s(&ws)],
            &[],
            &[],
            &[s(&base.join("home")), s(&base.join("home/.ssh"))],
        );
        assert!(
            roots
                .decide(Path::new("src/a.rs"), &ws, Access::Write)
                .allowed
        );
        assert!(
            !roots
                .decide(&base.join("home/.ssh/id"), &ws, Access::Read)
                .allowed
        );
        assert!(
            !roots
                .decide(&base.join("home/other"), &ws, Access::Read)
                .allowed
        );
    }

    #[test]
    fn symlink_loop_is_error() {
        let base = tmp("loop");
        symlink(base.join("b"), base.join("a")).unwrap();
        symlink(base.join("a"), base.join("b")).unwrap();
        assert!(resolve(&base.join("a/x"), &base).is_err());
    }
}
