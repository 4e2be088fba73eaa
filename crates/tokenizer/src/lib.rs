//! Exact tiktoken token counting for the ku0 agent runtime (engine crate, no napi).
//!
//! * `cl100k_base` and `o200k_base` use github/rust-gems `bpe-openai`: exact against
//!   tiktoken and linear in the worst case (no quadratic blow-up on long unsplittable runs).
//! * `p50k_base` and `r50k_base` use tiktoken-rs (OpenAI's core), which is the reference.
//!
//! Every encoding is loaded once per process on first use and shared by all callers.
//! Text that spells a special token (`<|endoftext|>`) is ordinary text.

pub mod batch;
pub mod cache;
pub mod context;
mod encoding;
mod error;
pub mod fast;
pub mod truncate;
pub mod zstd_payload;

pub use encoding::{Encoding, UnknownEncoding};
pub use error::Error;

use std::sync::LazyLock;

enum Backend {
    Bpe(&'static bpe_openai::Tokenizer),
    Tiktoken(&'static tiktoken_rs::CoreBPE),
}

static CL100K_VOCAB: LazyLock<fast::Vocab> =
    LazyLock::new(|| fast::Vocab::new(&bpe_openai::cl100k_base().bpe));
static O200K_VOCAB: LazyLock<fast::Vocab> =
    LazyLock::new(|| fast::Vocab::new(&bpe_openai::o200k_base().bpe));

static P50K: LazyLock<&'static tiktoken_rs::CoreBPE> =
    LazyLock::new(tiktoken_rs::p50k_base_singleton);
static R50K: LazyLock<&'static tiktoken_rs::CoreBPE> =
    LazyLock::new(tiktoken_rs::r50k_base_singleton);

fn backend(enc: Encoding) -> Backend {
    match enc {
        Encoding::Cl100kBase => Backend::Bpe(bpe_openai::cl100k_base()),
        Encoding::O200kBase => Backend::Bpe(bpe_openai::o200k_base()),
        Encoding::P50kBase => Backend::Tiktoken(*P50K),
        Encoding::R50kBase => Backend::Tiktoken(*R50K),
    }
}

/// Loads an encoding now (otherwise it loads on first use). Idempotent.
pub fn preload(enc: Encoding) {
    match backend(enc) {
        Backend::Bpe(t) => {
            let _ = t.count("preload");
            let _ = count("preload", enc);
        }
        Backend::Tiktoken(_) => {}
    }
}

/// The hand-written splitter and vocabulary of the encodings with a fast path.
fn fast_parts(enc: Encoding) -> Option<(fast::Split, &'static fast::Vocab)> {
    match enc {
        Encoding::Cl100kBase => Some((fast::Split::Cl100k, &CL100K_VOCAB)),
        Encoding::O200kBase => Some((fast::Split::O200k, &O200K_VOCAB)),
        _ => None,
    }
}

/// Count through the fast path when `enc` has one (with `fast_count`), else through its backend.
fn count_with(
    text: &str,
    enc: Encoding,
    fast_count: fn(&str, fast::Split, &fast::Vocab) -> usize,
) -> usize {
    if text.is_empty() {
        return 0;
    }
    if let Some((split, vocab)) = fast_parts(enc) {
        return fast_count(text, split, vocab);
    }
    match backend(enc) {
        Backend::Bpe(t) => t.count(text),
        Backend::Tiktoken(t) => t.encode_ordinary(text).len(),
    }
}

/// Number of tokens of `text` in `enc`, without materializing the token vector (for the bpe-openai
/// encodings). Texts of 256 KB or more, and single pieces of 8 KB or more, are counted on up to
/// `KU0_TOKENIZER_THREADS` threads (exactly; see [`fast::count`]).
pub fn count(text: &str, enc: Encoding) -> usize {
    count_with(text, enc, fast::count)
}

/// [`count`] on the calling thread only.
pub fn count_single_thread(text: &str, enc: Encoding) -> usize {
    count_with(text, enc, fast::count_seq)
}

/// [`count`] on the calling thread only (whole-history batches, which parallelize across texts); every
/// count path now uses the per-thread piece memo (see `fast::count_memo`).
pub fn count_memo(text: &str, enc: Encoding) -> usize {
    count_with(text, enc, fast::count_memo)
}

/// The count bpe-openai's own (regex) pre-tokenizer gives; kept as a cross-check of [`fast`].
pub fn count_reference(text: &str, enc: Encoding) -> usize {
    match backend(enc) {
        Backend::Bpe(t) => t.count(text),
        Backend::Tiktoken(t) => t.encode_ordinary(text).len(),
    }
}

/// Counts for many texts with one encoding.
pub fn count_batch<S: AsRef<str>>(texts: &[S], enc: Encoding) -> Vec<usize> {
    texts.iter().map(|t| count(t.as_ref(), enc)).collect()
}

/// Token ids of `text` (tiktoken ranks), special-token spellings treated as text.
pub fn encode(text: &str, enc: Encoding) -> Vec<u32> {
    if text.is_empty() {
        return Vec::new();
    }
    match backend(enc) {
        Backend::Bpe(t) => t.encode(text),
        Backend::Tiktoken(t) => t.encode_ordinary(text),
    }
}

/// Error for token ids that are not in the encoding's vocabulary.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("token id {0} is not in the vocabulary")]
pub struct InvalidToken(pub u32);

/// The bytes of a token sequence.
pub fn decode_bytes(tokens: &[u32], enc: Encoding) -> Result<Vec<u8>, InvalidToken> {
    match backend(enc) {
        Backend::Bpe(t) => {
            let n = t.bpe.num_tokens() as u32;
            if let Some(bad) = tokens.iter().find(|&&id| id >= n) {
                return Err(InvalidToken(*bad));
            }
            Ok(t.bpe.decode_tokens(tokens))
        }
        Backend::Tiktoken(t) => t.decode_bytes(tokens).map_err(|e| InvalidToken(e.token)),
    }
}

/// The text of a token sequence; invalid UTF-8 (a character split across the ends) becomes U+FFFD.
pub fn decode(tokens: &[u32], enc: Encoding) -> Result<String, InvalidToken> {
    let bytes = decode_bytes(tokens, enc)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn basic_counts() {
        assert_eq!(count("", Encoding::Cl100kBase), 0);
        assert_eq!(count("hello world", Encoding::Cl100kBase), 2);
        assert_eq!(count("hello world", Encoding::O200kBase), 2);
        assert_eq!(count("hello world", Encoding::P50kBase), 2);
        assert_eq!(count("hello world", Encoding::R50kBase), 2);
        // special-token spelling is ordinary text
        assert_eq!(count("<|endoftext|>", Encoding::Cl100kBase), 7);
    }

    #[test]
    fn encode_decode_roundtrip() {
        for enc in Encoding::ALL {
            let text = "Hello, 世界! 👋🏽 <|endoftext|> \u{feff}x";
            let toks = encode(text, enc);
            assert_eq!(toks.len(), count(text, enc));
            assert_eq!(decode(&toks, enc).unwrap(), text);
        }
        assert!(decode(&[u32::MAX], Encoding::O200kBase).is_err());
        assert!(decode(&[u32::MAX], Encoding::R50kBase).is_err());
    }
}
