//! `ku0-sandbox`: platform-neutral sandbox policy model, path decisions, and the Linux
//! enforcement used by the `ku0-sandbox-exec` helper executable.
//!
//! The helper is a small single-threaded program: the (multithreaded) Node process spawns it
//! with an empty environment and the policy framed at the start of stdin (`--policy-stdin` /
//! `--prewarm`: `<len>\n<json>`, the rest of stdin is the command's), and the helper applies
//! namespaces, mounts, rlimits, capability dropping, Landlock and seccomp before it execs the
//! command. Nothing runs after `fork` in a multithreaded process. Run by hand, the helper also
//! takes the policy from [`POLICY_ENV`] and prints stage timings when [`TRACE_ENV`] is set.

// Unit tests unwrap: an unexpected error should fail the test with its message.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        reason = "tests: an unexpected error should fail the test with its message"
    )
)]

pub mod frame;
pub mod git;
pub mod macos;
pub mod paths;
pub mod policy;
pub mod runner;

#[cfg(unix)]
pub mod unix;

#[cfg(target_os = "linux")]
pub mod linux;

/// Windows backend: platform-independent parts everywhere, FFI behind `cfg(windows)`.
pub mod windows;

pub use policy::{ExecPolicy, Limits, NetworkMode, NetworkPolicy, Shell};

/// Exit code the helper uses when the sandbox itself could not be set up (like `env`/`chroot`).
pub const EXIT_SETUP_FAILED: i32 = 125;
/// Prefix of every diagnostic line the helper writes to stderr.
pub const DIAG_PREFIX: &str = "ku0-sandbox-exec:";
/// Environment variable a helper run by hand reads the JSON policy from (the spawners send it on
/// stdin instead and give the helper an empty environment).
pub const POLICY_ENV: &str = "KU0_SANDBOX_POLICY";
/// Environment variable that makes a helper run by hand print stage timings to stderr (never set
/// by the spawners, whose helpers get an empty environment).
pub const TRACE_ENV: &str = "KU0_SANDBOX_TRACE";

/// Errors of the sandbox engine; each has a stable code ([`SandboxError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    #[error("{what}: {source}")]
    Os {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("required guarantee unavailable: {0}")]
    Unavailable(String),
    #[error("landlock: {0}")]
    Landlock(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// Resolving a path left its root (`EXDEV`) or met a symlink where none may be (`ELOOP`).
    #[error("path escapes its root: {0}")]
    PathEscape(#[source] std::io::Error),
    /// The file has several hard links (`EMLINK`): writing it could change a file outside the root.
    #[error("file has several hard links: {0}")]
    PathHardlink(#[source] std::io::Error),
    #[error("not found: {0}")]
    NotFound(#[source] std::io::Error),
    /// A FIFO, socket, device or directory where a file helper needs a regular file (refused
    /// before any byte moves, so a FIFO the sandbox planted cannot block the host).
    #[error("not a regular file: {0}")]
    NotRegularFile(#[source] std::io::Error),
    /// The file (or the data to write) is above the helper's `maxBytes` cap (`EFBIG`).
    #[error("file too large: {0}")]
    FileTooLarge(#[source] std::io::Error),
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
    #[error("unsupported on this platform: {0}")]
    Unsupported(String),
    /// Starting or waiting for the helper process failed.
    #[error("cannot run the sandbox helper: {0}")]
    Spawn(String),
}

impl SandboxError {
    /// Wraps the last OS error with a description of what was attempted.
    pub fn last_os(what: impl Into<String>) -> Self {
        SandboxError::Os {
            what: what.into(),
            source: std::io::Error::last_os_error(),
        }
    }

    /// Classifies an error of a beneath-root file operation by its errno.
    pub fn from_file_io(e: std::io::Error) -> Self {
        #[cfg(target_os = "linux")]
        if crate::linux::beneath::is_not_regular_file(&e) {
            return SandboxError::NotRegularFile(e);
        }
        match e.raw_os_error() {
            Some(libc::EXDEV) | Some(libc::ELOOP) => SandboxError::PathEscape(e),
            Some(libc::EMLINK) => SandboxError::PathHardlink(e),
            Some(libc::ENOENT) => SandboxError::NotFound(e),
            Some(libc::EFBIG) => SandboxError::FileTooLarge(e),
            // O_WRONLY|O_NONBLOCK on a FIFO without reader, or a device without its driver.
            Some(libc::ENXIO) => SandboxError::NotRegularFile(e),
            _ => SandboxError::Io(e),
        }
    }

    /// Stable `ERR_KU0_…` code.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::InvalidPolicy(_) | SandboxError::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
            SandboxError::Os { .. } => "ERR_KU0_SANDBOX_OS",
            SandboxError::Unavailable(_) => "ERR_KU0_SANDBOX_UNAVAILABLE",
            SandboxError::Landlock(_) => "ERR_KU0_SANDBOX_LANDLOCK",
            SandboxError::Seccomp(_) => "ERR_KU0_SANDBOX_SECCOMP",
            SandboxError::PathEscape(_) => "ERR_KU0_PATH_ESCAPE",
            SandboxError::PathHardlink(_) => "ERR_KU0_PATH_HARDLINK",
            SandboxError::NotFound(_) => "ERR_KU0_NOT_FOUND",
            SandboxError::NotRegularFile(_) => "ERR_KU0_NOT_REGULAR_FILE",
            SandboxError::FileTooLarge(_) => "ERR_KU0_FILE_TOO_LARGE",
            SandboxError::Io(_) => "ERR_KU0_IO",
            SandboxError::Unsupported(_) => "ERR_KU0_UNSUPPORTED",
            SandboxError::Spawn(_) => "ERR_KU0_SANDBOX_SPAWN",
        }
    }

    /// True for errors caused by the caller's arguments.
    pub fn is_argument_error(&self) -> bool {
        matches!(
            self,
            SandboxError::InvalidPolicy(_) | SandboxError::InvalidArg(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, SandboxError>;

#[cfg(test)]
mod tests {
    use super::SandboxError;

    #[test]
    fn file_errors_map_by_errno() {
        let e = |n| std::io::Error::from_raw_os_error(n);
        assert_eq!(
            SandboxError::from_file_io(e(libc::EXDEV)).code(),
            "ERR_KU0_PATH_ESCAPE"
        );
        assert_eq!(
            SandboxError::from_file_io(e(libc::ELOOP)).code(),
            "ERR_KU0_PATH_ESCAPE"
        );
        assert_eq!(
            SandboxError::from_file_io(e(libc::EMLINK)).code(),
            "ERR_KU0_PATH_HARDLINK"
        );
        assert_eq!(
            SandboxError::from_file_io(e(libc::ENOENT)).code(),
            "ERR_KU0_NOT_FOUND"
        );
        assert_eq!(
            SandboxError::from_file_io(e(libc::EACCES)).code(),
            "ERR_KU0_IO"
        );
        let p = SandboxError::InvalidPolicy("x".into());
        assert!(p.is_argument_error());
        assert!(!p.to_string().contains("ERR_KU0"));
    }
}
