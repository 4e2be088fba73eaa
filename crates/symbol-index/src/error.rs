use crate::index::MAX_SYMBOLS;
use crate::persist::FORMAT_VERSION;

/// Every error of the symbol-index engine; [`Error::code`] is its stable `ERR_KU0_…` code (messages
/// carry no codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the index holds at most {MAX_SYMBOLS} symbols")]
    Full,
    #[error("the index holds at most 4 GiB of distinct strings")]
    StringsFull,
    #[error("collation data unavailable: {0}")]
    Collator(String),
    #[error("not a ku0 symbol index file (bad magic)")]
    Foreign,
    #[error(
        "index format version {0} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    Version(u32),
    #[error("{0}")]
    Corrupt(String),
    /// An argument the caller got wrong (an id out of bounds, a malformed packed array, …).
    #[error("{0}")]
    InvalidArg(String),
}

impl Error {
    /// Stable `ERR_KU0_…` code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Full | Error::StringsFull => "ERR_KU0_INDEX_FULL",
            Error::Collator(_) => "ERR_KU0_COLLATOR",
            Error::Foreign => "ERR_KU0_INDEX_FOREIGN",
            Error::Version(_) => "ERR_KU0_INDEX_VERSION",
            Error::Corrupt(_) => "ERR_KU0_INDEX_CORRUPT",
            Error::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
        }
    }

    /// True for errors caused by the caller's arguments.
    pub fn is_argument_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidArg(_) | Error::Full | Error::StringsFull
        )
    }
}
