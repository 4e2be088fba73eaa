//! Token-accurate truncation at token boundaries.

use crate::{Encoding, count, decode_bytes, encode};

/// Which part of the text to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncateMode {
    /// Keep the beginning.
    Head,
    /// Keep the end.
    Tail,
    /// Keep the beginning and the end, joined by an elision marker.
    HeadTail,
}

/// Result of a truncation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// The (possibly) shortened text. Its token count is `tokens`, always `<= max_tokens`.
    pub text: String,
    /// Token count of `text`.
    pub tokens: usize,
    /// Whether anything was removed.
    pub truncated: bool,
}

/// Longest valid UTF-8 prefix (drops a character split at the end).
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        // SAFETY-free: valid_up_to is a char boundary.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// Longest valid UTF-8 suffix (drops a character split at the start).
fn utf8_suffix(bytes: &[u8]) -> &str {
    let mut start = 0;
    while start < bytes.len() && (bytes[start] & 0xC0) == 0x80 {
        start += 1;
    }
    utf8_prefix(&bytes[start..])
}

/// First `n` tokens of `tokens` as text, shrunk until the text itself counts `<= n` tokens
/// (re-tokenizing a cut text can differ by a token at the cut).
fn head_text(tokens: &[u32], n: usize, enc: Encoding) -> String {
    let mut k = n.min(tokens.len());
    loop {
        let bytes = decode_bytes(&tokens[..k], enc).unwrap_or_default();
        let s = utf8_prefix(&bytes).to_owned();
        if k == 0 || count(&s, enc) <= n {
            return s;
        }
        k -= 1;
    }
}

fn tail_text(tokens: &[u32], n: usize, enc: Encoding) -> String {
    let mut k = n.min(tokens.len());
    loop {
        let bytes = decode_bytes(&tokens[tokens.len() - k..], enc).unwrap_or_default();
        let s = utf8_suffix(&bytes).to_owned();
        if k == 0 || count(&s, enc) <= n {
            return s;
        }
        k -= 1;
    }
}

/// Truncates `text` to at most `max_tokens` tokens of `enc`, cutting at token boundaries.
/// For [`TruncateMode::HeadTail`], `marker` joins the two halves and its tokens are counted
/// against the budget; if even the marker does not fit, the head alone is kept.
pub fn truncate(
    text: &str,
    max_tokens: usize,
    mode: TruncateMode,
    marker: &str,
    enc: Encoding,
) -> Truncated {
    let total = count(text, enc);
    if total <= max_tokens {
        return Truncated {
            text: text.to_owned(),
            tokens: total,
            truncated: false,
        };
    }
    let tokens = encode(text, enc);
    let out = match mode {
        TruncateMode::Head => head_text(&tokens, max_tokens, enc),
        TruncateMode::Tail => tail_text(&tokens, max_tokens, enc),
        TruncateMode::HeadTail => {
            let marker_tokens = count(marker, enc);
            if marker_tokens >= max_tokens {
                head_text(&tokens, max_tokens, enc)
            } else {
                let mut rest = max_tokens - marker_tokens;
                loop {
                    let head_n = rest.div_ceil(2);
                    let tail_n = rest - head_n;
                    let head = head_text(&tokens, head_n, enc);
                    let tail = tail_text(&tokens, tail_n, enc);
                    let joined = format!("{head}{marker}{tail}");
                    if rest == 0 || count(&joined, enc) <= max_tokens {
                        break joined;
                    }
                    rest -= 1;
                }
            }
        }
    };
    let tokens = count(&out, enc);
    Truncated {
        text: out,
        tokens,
        truncated: true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let enc = Encoding::Cl100kBase;
        let text = "one two three four five six seven eight nine ten";
        assert_eq!(count(text, enc), 10);
        let h = truncate(text, 3, TruncateMode::Head, "", enc);
        assert_eq!(h.text, "one two three");
        assert_eq!(h.tokens, 3);
        assert!(h.truncated);
        let t = truncate(text, 2, TruncateMode::Tail, "", enc);
        assert_eq!(t.text, " nine ten");
        let ht = truncate(text, 6, TruncateMode::HeadTail, " … ", enc);
        assert!(ht.tokens <= 6, "{ht:?}");
        assert!(ht.text.starts_with("one"));
        assert!(ht.text.ends_with("ten"));
        let same = truncate(text, 10, TruncateMode::Head, "", enc);
        assert!(!same.truncated);
        assert_eq!(same.text, text);
        assert_eq!(truncate(text, 0, TruncateMode::Tail, "", enc).text, "");
    }

    #[test]
    fn split_characters_are_dropped() {
        for enc in Encoding::ALL {
            let text = "🦀🦀🦀🦀🦀 中文字符测试 👩‍👩‍👧‍👦👩‍👩‍👧‍👦";
            for n in 0..count(text, enc) {
                for mode in [
                    TruncateMode::Head,
                    TruncateMode::Tail,
                    TruncateMode::HeadTail,
                ] {
                    let r = truncate(text, n, mode, "…", enc);
                    assert!(r.tokens <= n, "{enc} {n} {mode:?} {r:?}");
                    assert!(!r.text.contains('\u{fffd}'));
                }
            }
        }
    }
}
