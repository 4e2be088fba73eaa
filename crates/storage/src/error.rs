use std::path::PathBuf;

/// Every error carries a stable code (see [`Error::code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corruption in {path} at offset {offset}{}: {reason}", seq.map(|s| format!(" (sequence id {s})")).unwrap_or_default())]
    Corruption {
        path: PathBuf,
        offset: u64,
        seq: Option<u64>,
        reason: String,
    },
    #[error("{path} is locked by another writer ({holder})")]
    Locked { path: PathBuf, holder: String },
    #[error("the log is in a failed state after an I/O error and refuses writes: {0}")]
    Failed(String),
    #[error("the store is closed")]
    Closed,
    #[error("invalid checkpoint id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("payload of {size} bytes exceeds the configured maximum of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    #[error(
        "{root} holds data in the runtime's @ku0/storage-engine-rs layout ({files}); run `ku0-storage-import {root}` once before opening it"
    )]
    NeedsImport { root: PathBuf, files: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Stable `ERR_KU0_…` code used by the bindings.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "ERR_KU0_STORAGE_IO",
            Error::Corruption { .. } => "ERR_KU0_STORAGE_CORRUPT",
            Error::Locked { .. } => "ERR_KU0_STORAGE_LOCKED",
            Error::Failed(_) => "ERR_KU0_STORAGE_FAILED",
            Error::Closed => "ERR_KU0_STORAGE_CLOSED",
            Error::InvalidId { .. } => "ERR_KU0_INVALID_ID",
            Error::TooLarge { .. } => "ERR_KU0_PAYLOAD_TOO_LARGE",
            Error::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
            Error::NeedsImport { .. } => "ERR_KU0_STORAGE_NEEDS_IMPORT",
        }
    }

    /// True for errors caused by the caller's arguments (TypeError/RangeError in JS).
    pub fn is_argument_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidId { .. } | Error::TooLarge { .. } | Error::InvalidArg(_)
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
