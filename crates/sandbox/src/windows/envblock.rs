//! The `lpEnvironment` block of `CreateProcessW` (with `CREATE_UNICODE_ENVIRONMENT`): UTF-16
//! `name=value\0` entries sorted by name case-insensitively (the documented order: "sorted
//! alphabetically by name, case-insensitive, Unicode order, without regard to locale"), each name
//! at most once ignoring case (Windows variables are case-insensitive, so `Path` and `PATH` would
//! be one variable with an arbitrary winner: refused), and a terminating extra `\0` (an empty
//! block is two NULs).
//!
//! Platform-independent, tested here on Linux.

use std::collections::BTreeMap;

use crate::{Result, SandboxError};

/// The sort key of a name: UTF-16 code units upper-cased one by one with the simple (one-to-one)
/// Unicode mapping, compared ordinally. This approximates `RtlCompareUnicodeString(…, TRUE)` (it
/// upcases each unit); units whose upper case is not a single BMP character stay as they are.
pub fn name_key(name: &str) -> Vec<u16> {
    name.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .flat_map(|c| {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf).to_vec()
        })
        .collect()
}

/// Builds the block. Refused (`InvalidArg`): an empty name, a name with `=` or NUL, a value with
/// NUL, and two names equal ignoring case.
pub fn environment_block(env: &BTreeMap<String, String>) -> Result<Vec<u16>> {
    let mut entries: Vec<(Vec<u16>, &str, &str)> = Vec::with_capacity(env.len());
    for (k, v) in env {
        if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
            return Err(SandboxError::InvalidArg(format!("bad env var {k:?}")));
        }
        entries.push((name_key(k), k, v));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    for w in entries.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(SandboxError::InvalidArg(format!(
                "env vars {:?} and {:?} are the same variable on Windows (names are case-insensitive)",
                w[0].1, w[1].1
            )));
        }
    }
    let mut out = Vec::new();
    for (_, k, v) in &entries {
        out.extend(k.encode_utf16());
        out.push(u16::from(b'='));
        out.extend(v.encode_utf16());
        out.push(0);
    }
    if out.is_empty() {
        out.push(0);
    }
    out.push(0);
    Ok(out)
}

/// Reads a block back into `(name, value)` pairs in block order (the tests' inverse; the name is
/// everything before the first `=` after the first character, as Windows itself splits it).
pub fn parse_environment_block(block: &[u16]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = block;
    loop {
        let end = rest.iter().position(|&u| u == 0)?;
        if end == 0 {
            return Some(out);
        }
        let entry = String::from_utf16(&rest[..end]).ok()?;
        let eq = entry.char_indices().skip(1).find(|&(_, c)| c == '=')?.0;
        out.push((entry[..eq].to_string(), entry[eq + 1..].to_string()));
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sorted_case_insensitively_and_double_nul_terminated() {
        let b = environment_block(&env(&[
            ("b", "2"),
            ("A", "1"),
            ("Path", r"C:\Windows"),
            ("_x", ""),
            ("é", "ü"),
        ]))
        .unwrap();
        let got = parse_environment_block(&b).unwrap();
        let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        // Upper-cased ordinal order: A(41) B(42) PATH(50) _X(5F) É(C9).
        assert_eq!(names, ["A", "b", "Path", "_x", "é"]);
        assert_eq!(got[2].1, r"C:\Windows");
        assert_eq!(got[3].1, "");
        assert_eq!(&b[b.len() - 2..], &[0, 0]);
        assert_eq!(b.iter().filter(|&&u| u == 0).count(), 6);
    }

    #[test]
    fn empty_block_is_two_nuls() {
        assert_eq!(environment_block(&BTreeMap::new()).unwrap(), vec![0, 0]);
    }

    #[test]
    fn refuses_case_insensitive_duplicates_and_bad_names() {
        assert!(environment_block(&env(&[("PATH", "a"), ("Path", "b")])).is_err());
        assert!(environment_block(&env(&[("ß", "a"), ("é", "b"), ("É", "c")])).is_err());
        assert!(environment_block(&env(&[("", "a")])).is_err());
        assert!(environment_block(&env(&[("A=B", "a")])).is_err());
        assert!(environment_block(&env(&[("A", "a\0b")])).is_err());
        // A value may contain `=` (only the first one after the name splits).
        let b = environment_block(&env(&[("A", "x=y")])).unwrap();
        assert_eq!(
            parse_environment_block(&b).unwrap(),
            vec![("A".into(), "x=y".into())]
        );
    }

    #[test]
    fn sort_is_by_utf16_units_not_chars() {
        // U+FF21 (fullwidth A) is above a surrogate pair's lead unit (D83E) in UTF-16 order.
        let b = environment_block(&env(&[("\u{FF21}", "1"), ("🦀", "2")])).unwrap();
        let names: Vec<String> = parse_environment_block(&b)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["🦀", "\u{FF21}"]);
    }
}
