//! `CreateProcessW` command lines: quoting an argv so that the child's `CommandLineToArgvW` (and
//! the MSVC CRT, which follows the same rules for what we emit) gives back exactly that argv, and
//! a reference parser written from the documented `CommandLineToArgvW` rules to test it against.
//!
//! Platform-independent, compiled and tested everywhere (tested here on Linux; end to end through
//! a real child process under Wine in `tests/windows_plumbing.rs`).
//!
//! The documented rules (Microsoft Learn, `CommandLineToArgvW` and "Parsing C++ command-line
//! arguments"), for every argument after the program name:
//! - arguments are delimited by white space (space or tab);
//! - a string surrounded by double quotes is one argument, white space inside included;
//! - `2n` backslashes followed by `"` give `n` backslashes and the quote toggles quoting;
//! - `2n + 1` backslashes followed by `"` give `n` backslashes and a literal `"`;
//! - backslashes not followed by `"` are literal.
//!
//! The program name (first token) is parsed differently: it ends at the first white space outside
//! quotes, quotes only toggle, and backslashes are never escapes. So the program name cannot hold a
//! `"` at all; [`command_line`] refuses one.
//!
//! We never rely on the undocumented `""`-inside-quotes rule (it differs between the CRT versions
//! and `CommandLineToArgvW`): the quoting below never emits `""` except as a whole empty argument.

use crate::{Result, SandboxError};

/// Quotes one argument (not the program name) for a Windows command line.
pub fn quote_arg(arg: &str, out: &mut String) {
    let needs_quotes = arg.is_empty() || arg.contains([' ', '\t', '\n', '\x0b', '"']);
    if !needs_quotes {
        out.push_str(arg);
        return;
    }
    out.push('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // 2n+1 backslashes before a quote: n literal backslashes and a literal quote.
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            _ => {
                out.extend(std::iter::repeat_n('\\', backslashes));
                backslashes = 0;
                out.push(c);
            }
        }
    }
    // The closing quote follows: double the trailing backslashes so they stay literal.
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
}

/// Builds the `lpCommandLine` for `argv` (`argv[0]` is the program name, parsed by its own rule).
///
/// Refused (`InvalidArg`): an empty argv, a NUL anywhere, a `"` in the program name (it cannot be
/// represented), and a program name ending in a backslash when it must be quoted (the quote would
/// then still close, but some parsers treat `\"` as an escape there, so we refuse rather than
/// rely on it).
pub fn command_line(argv: &[String]) -> Result<String> {
    let Some(program) = argv.first() else {
        return Err(SandboxError::InvalidArg("argv is empty".into()));
    };
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(SandboxError::InvalidArg("argv contains NUL".into()));
    }
    if program.contains('"') {
        return Err(SandboxError::InvalidArg(
            "the program name cannot contain a double quote on Windows".into(),
        ));
    }
    let mut out = String::new();
    if program.is_empty() || program.contains([' ', '\t', '\n', '\x0b']) {
        if program.ends_with('\\') {
            return Err(SandboxError::InvalidArg(
                "a quoted program name cannot end in a backslash".into(),
            ));
        }
        out.push('"');
        out.push_str(program);
        out.push('"');
    } else {
        out.push_str(program);
    }
    for a in &argv[1..] {
        out.push(' ');
        quote_arg(a, &mut out);
    }
    Ok(out)
}

/// Whether `program` names a batch file, which `CreateProcessW` hands to `cmd.exe` with cmd's
/// own (different, unsafe for arbitrary arguments) parsing: the helper refuses those
/// (`InvalidArg`) instead of running them (the "BatBadBut" class).
pub fn is_batch_file(program: &str) -> bool {
    let name = program.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    name.ends_with(".bat") || name.ends_with(".cmd")
}

/// Reference parser from the documented `CommandLineToArgvW` rules (see the module doc), used by
/// the tests; the real function is called under Wine in the plumbing test. Like the real one, an
/// empty command line gives no program name here (the real one returns the current executable).
pub fn parse_command_line(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    if chars.is_empty() {
        return out;
    }
    // Program name: up to the first white space outside quotes; quotes toggle, no escapes.
    let mut program = String::new();
    let mut quoted = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            quoted = !quoted;
        } else if !quoted && (c == ' ' || c == '\t') {
            break;
        } else {
            program.push(c);
        }
        i += 1;
    }
    out.push(program);
    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                let start = i;
                while i < chars.len() && chars[i] == '\\' {
                    i += 1;
                }
                let n = i - start;
                if i < chars.len() && chars[i] == '"' {
                    arg.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        arg.push('"');
                        i += 1;
                    }
                    // Even: the quote is handled as a quote on the next turn.
                } else {
                    arg.extend(std::iter::repeat_n('\\', n));
                }
                continue;
            }
            if c == '"' {
                quoted = !quoted;
                i += 1;
                continue;
            }
            if !quoted && (c == ' ' || c == '\t') {
                break;
            }
            arg.push(c);
            i += 1;
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    /// Examples from the documentation's table (input → argv after the program name).
    #[test]
    fn reference_parser_follows_the_documented_examples() {
        let cases: &[(&str, &[&str])] = &[
            (r#"p "abc" d e"#, &["abc", "d", "e"]),
            (r#"p a\\b d"e f"g h"#, &[r"a\\b", "de fg", "h"]),
            (r#"p a\\\"b c d"#, &[r#"a\"b"#, "c", "d"]),
            (r#"p a\\\\"b c" d e"#, &[r"a\\b c", "d", "e"]),
            ("p \t a\tb  ", &["a", "b"]),
            (r#"p """#, &[""]),
            (r#"p a\"#, &[r"a\"]),
        ];
        for (line, want) in cases {
            let got = parse_command_line(line);
            assert_eq!(got[0], "p", "{line}");
            assert_eq!(&got[1..], &v(want)[..], "{line}");
        }
        // Program name: quotes toggle, backslashes are literal.
        assert_eq!(
            parse_command_line(r#""C:\Program Files\x.exe" a"#),
            v(&[r"C:\Program Files\x.exe", "a"])
        );
        assert_eq!(parse_command_line(r"C:\a\ b"), v(&[r"C:\a\", "b"]));
    }

    #[test]
    fn quoting_examples() {
        let line = command_line(&v(&["p", "", "a b", r#"a"b"#, r"a\", r"a\\ b", "\t"])).unwrap();
        // Backslashes not before a quote stay as they are, also inside quotes.
        assert_eq!(line, r#"p "" "a b" "a\"b" a\ "a\\ b" "	""#);
        assert_eq!(
            command_line(&v(&[r"C:\Program Files\x.exe", "x"])).unwrap(),
            r#""C:\Program Files\x.exe" x"#
        );
        assert!(command_line(&v(&[r#"a"b"#])).is_err());
        assert!(command_line(&v(&[r"C:\a b\"])).is_err());
        assert!(command_line(&[]).is_err());
        assert!(command_line(&v(&["p", "a\0"])).is_err());
        assert!(is_batch_file(r"C:\x\RUN.CMD"));
        assert!(is_batch_file(r"x.bat. "));
        assert!(!is_batch_file("x.exe"));
    }

    /// Small deterministic PRNG (xorshift64*), so a failure is reproducible from the printed seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Hostile arguments: quotes, runs of backslashes (before quotes, at the end), spaces, tabs,
    /// empty strings, non-ASCII and astral characters.
    fn hostile_arg(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "\"", "\\", "\\\\", "\\\\\\", " ", "\t", "a", "Z", "é", "日本", "🦀", "\\\"", "\"\"",
            "'", "%PATH%", "^", "&", "|", "<", ">", "\n", "\u{3000}", "-", "=", "*", "?",
        ];
        let len = rng.below(8);
        (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
    }

    #[test]
    fn randomized_round_trip_through_the_reference_parser() {
        let seed = std::env::var("KU0_QUOTE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
        let mut rng = Rng(seed);
        for case in 0..20_000 {
            let n = rng.below(6);
            let mut argv = vec![if rng.below(2) == 0 {
                r"C:\Program Files\tool.exe".to_string()
            } else {
                "tool".to_string()
            }];
            argv.extend((0..n).map(|_| hostile_arg(&mut rng)));
            let line = command_line(&argv).unwrap();
            assert_eq!(
                parse_command_line(&line),
                argv,
                "seed {seed} case {case}: line {line:?}"
            );
        }
    }
}
