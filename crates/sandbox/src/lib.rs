//! `ku0-sandbox`: platform-neutral sandbox policy model, path decisions, and the Linux
//! enforcement used by the `ku0-sandbox-exec` helper executable.
//!
//! The helper is a small single-threaded program: the (multithreaded) Node process spawns it
//! with the policy in the `KU0_SANDBOX_POLICY` environment variable, and the helper applies
//! namespaces, mounts, rlimits, capability dropping, Landlock and seccomp before it execs the
//! command. Nothing runs after `fork` in a multithreaded process.

pub mod paths;
pub mod policy;
pub mod runner;

#[cfg(target_os = "linux")]
pub mod linux;

pub use policy::{ExecPolicy, Limits, NetworkMode, NetworkPolicy};

/// Exit code the helper uses when the sandbox itself could not be set up (like `env`/`chroot`).
pub const EXIT_SETUP_FAILED: i32 = 125;
/// Prefix of every diagnostic line the helper writes to stderr.
pub const DIAG_PREFIX: &str = "ku0-sandbox-exec:";
/// Name of the environment variable that carries the JSON policy to the helper.
pub const POLICY_ENV: &str = "KU0_SANDBOX_POLICY";

/// Errors of the sandbox engine.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
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
}

impl SandboxError {
    /// Wraps the last OS error with a description of what was attempted.
    pub fn last_os(what: impl Into<String>) -> Self {
        SandboxError::Os {
            what: what.into(),
            source: std::io::Error::last_os_error(),
        }
    }
}

pub type Result<T> = std::result::Result<T, SandboxError>;
