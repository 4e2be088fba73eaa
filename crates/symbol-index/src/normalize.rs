//! The runtime's normalization (contracts §2.1), byte-for-byte identical to the JS
//! `value.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim()`.
//!
//! The result only ever contains `[a-z0-9 ]`. Non-ASCII characters become separators, except the two code
//! points whose full Unicode lowercase mapping contains an ASCII letter: U+0130 (`İ` → `i̇`, i.e. `i` followed
//! by a combining dot, which is a separator) and U+212A (Kelvin sign → `k`). An exhaustive scan of every
//! code point with Node's `toLowerCase` confirms these are the only two (see the `exhaustive` test fixture in
//! the package tests).

/// Appends the normalized form of `value` to `out` (which is cleared first).
pub fn normalize_into(value: &str, out: &mut String) {
    normalize_with(value, out, true);
}

/// `normalize_into`, optionally without the camel-case split (`value.toLowerCase()` then the same
/// separator rules): the fuzzy mode's query words.
pub fn normalize_with(value: &str, out: &mut String, camel: bool) {
    out.clear();
    let mut pending_space = false;
    let mut prev_lower_or_digit = false;
    let emit = |out: &mut String, pending: &mut bool, c: char| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push(c);
    };
    for c in value.chars() {
        if camel && c.is_ascii_uppercase() && prev_lower_or_digit {
            pending_space = true;
        }
        prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        if c.is_ascii_alphanumeric() {
            emit(out, &mut pending_space, c.to_ascii_lowercase());
        } else if c == '\u{0130}' {
            emit(out, &mut pending_space, 'i');
            pending_space = true;
        } else if c == '\u{212A}' {
            emit(out, &mut pending_space, 'k');
        } else {
            pending_space = true;
        }
    }
}

/// The normalized form of `value`.
pub fn normalize(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    normalize_into(value, &mut out);
    out
}

/// Query tokens: normalized query split on spaces, tokens under 2 chars dropped, de-duplicated in order.
pub fn tokenize(query: &str) -> Vec<String> {
    let normalized = normalize(query);
    let mut tokens: Vec<String> = Vec::new();
    for piece in normalized.split(' ') {
        if piece.len() >= 2 && !tokens.iter().any(|t| t == piece) {
            tokens.push(piece.to_owned());
        }
    }
    tokens
}

/// 6 if equal, 4 if prefix, 2 if substring, else 0.
pub fn score_token(token: &str, text: &str) -> u32 {
    if text.is_empty() {
        0
    } else if text == token {
        6
    } else if text.starts_with(token) {
        4
    } else if text.contains(token) {
        2
    } else {
        0
    }
}

/// [`score_token`] for a `text` already known to contain `token` (found through the gram postings): the
/// substring search, the costly part on long details, is skipped.
pub fn score_contained(token: &str, text: &str) -> u32 {
    debug_assert!(!token.is_empty() && text.contains(token));
    if text == token {
        6
    } else if text.starts_with(token) {
        4
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_and_separators() {
        assert_eq!(normalize("getUserName"), "get user name");
        assert_eq!(normalize("HTTPServer"), "httpserver");
        assert_eq!(
            normalize("parseHTTPResponse2Json"),
            "parse httpresponse2 json"
        );
        assert_eq!(normalize("a1B2C"), "a1 b2 c");
        assert_eq!(normalize("  __foo--bar__ "), "foo bar");
        assert_eq!(normalize("ÄrgerÜber"), "rger ber");
        assert_eq!(normalize("aİb"), "ai b");
        assert_eq!(normalize("a\u{212A}b"), "akb");
        assert_eq!(normalize("数据Loader"), "loader");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("***"), "");
    }

    #[test]
    fn score_contained_is_score_token_for_contained_tokens() {
        for (token, text) in [
            ("auth", "auth"),
            ("auth", "auth service"),
            ("serv", "auth service"),
            ("ce", "auth service"),
            ("ab", "ab ab"),
            ("login", "class login"),
        ] {
            assert_eq!(
                score_contained(token, text),
                score_token(token, text),
                "{token:?} in {text:?}"
            );
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(tokenize("auth login"), vec!["auth", "login"]);
        assert_eq!(tokenize("a b cd cd"), vec!["cd"]);
        assert!(tokenize("  x ").is_empty());
    }
}
