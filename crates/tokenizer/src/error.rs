use crate::zstd_payload::ZstdError;
use crate::{InvalidToken, UnknownEncoding};

/// Every error of the tokenizer engine; [`Error::code`] is its stable `ERR_KU0_…` code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument the caller got wrong (a negative budget, an unknown mode, …).
    #[error("{0}")]
    InvalidArg(String),
    #[error(transparent)]
    InvalidToken(#[from] InvalidToken),
    #[error(transparent)]
    UnknownEncoding(#[from] UnknownEncoding),
    #[error(transparent)]
    Zstd(#[from] ZstdError),
    /// An environment flag with a value it does not accept (`KU0_TOKENIZER_THREADS=two`).
    #[error("{0}")]
    InvalidFlag(String),
}

impl Error {
    /// Stable `ERR_KU0_…` code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
            Error::InvalidToken(_) => "ERR_KU0_INVALID_TOKEN_OUT_OF_RANGE",
            Error::UnknownEncoding(_) => "ERR_KU0_UNKNOWN_ENCODING",
            Error::Zstd(e) => e.code(),
            Error::InvalidFlag(_) => "ERR_KU0_INVALID_FLAG",
        }
    }

    /// True for errors caused by the caller's arguments or input bytes.
    pub fn is_argument_error(&self) -> bool {
        match self {
            Error::InvalidArg(_)
            | Error::InvalidToken(_)
            | Error::UnknownEncoding(_)
            | Error::InvalidFlag(_) => true,
            Error::Zstd(e) => e.is_argument_error(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_not_in_messages() {
        let cases: Vec<(Error, &str, bool)> = vec![
            (Error::InvalidArg("x".into()), "ERR_KU0_INVALID_ARG", true),
            (
                InvalidToken(7).into(),
                "ERR_KU0_INVALID_TOKEN_OUT_OF_RANGE",
                true,
            ),
            (
                ZstdError::Corrupt("x".into()).into(),
                "ERR_KU0_ZSTD_CORRUPT",
                true,
            ),
            (
                ZstdError::Internal("x".into()).into(),
                "ERR_KU0_ZSTD_FAILURE",
                false,
            ),
        ];
        for (e, code, arg) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.is_argument_error(), arg);
            assert!(!e.to_string().contains("ERR_KU0"), "{e}");
        }
    }
}
