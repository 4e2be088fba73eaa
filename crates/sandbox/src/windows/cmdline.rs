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
//!
//! ## The cmd shell form ([`cmd_command_line`])
//!
//! `cmd.exe` does not split its command line with `CommandLineToArgvW`: after `/c` it takes the
//! rest of the line as typed. Microsoft's `cmd /?` text gives the quote rule: when `/S` is given
//! (or the other conditions of its rule 1 fail), "if the first character is a quote character ...
//! strip the leading character and remove the last quote character on the command line,
//! preserving any text after the last quote character". So for a policy with
//! [`Shell::Cmd`] the helper writes `"<cmd.exe>" /d /s /c "<command>"`: the first character
//! after `/c ` is our opening quote and the last quote of the line is our closing one, so cmd
//! runs exactly `<command>`, whatever quotes, backslashes (also a trailing one), `&&`, `|`, `^`,
//! `%` or non-ASCII text it holds. This is the line Node's `spawn(command, { shell: true })`
//! writes on Windows (`/d /s /c "<command>"`, verbatim), which is how the runtime runs shell
//! commands there; `%VAR%` (and `!VAR!` if delayed expansion is enabled in the registry) expand
//! inside cmd as they do for the runtime, over the sandbox's scrubbed environment. `/d` skips the
//! `AutoRun` registry commands.
//!
//! Refused (`InvalidArg`), because cmd would not run the text as given: NUL (it ends the C
//! string), CR and LF (cmd ends the command at a line break and drops or re-reads the rest, so a
//! second line would silently not run, or run as another command), U+001A (Ctrl-Z, which cmd's
//! line reader treats as an end of line in some contexts), and a command line longer than the
//! 32 767 UTF-16 units `CreateProcessW` accepts. `cmd.exe` itself must be a plain path: no `"`,
//! not ending in a backslash (it is always quoted).

use crate::policy::Shell;
use crate::{Result, SandboxError};

/// The longest `lpCommandLine` `CreateProcessW` accepts, terminating NUL included.
pub const MAX_COMMAND_LINE_UTF16: usize = 32_767;

/// The switches of the cmd shell form, in this order (`/d`: no `AutoRun`; `/s`: the documented
/// quote stripping; `/c`: run the command and exit).
pub const CMD_SWITCHES: [&str; 3] = ["/d", "/s", "/c"];

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

/// The cmd shell form: `"<cmd>" /d /s /c "<command>"`, the command verbatim (see the module doc
/// for the rule and what is refused).
pub fn cmd_command_line(cmd: &str, command: &str) -> Result<String> {
    if cmd.is_empty() || cmd.contains(['"', '\0', '\r', '\n']) || cmd.ends_with('\\') {
        return Err(SandboxError::InvalidArg(format!(
            "the shell {cmd:?} must be a path without quotes or line breaks, not ending in a backslash"
        )));
    }
    if is_batch_file(cmd) {
        return Err(SandboxError::InvalidArg(format!(
            "the shell {cmd:?} is a batch file"
        )));
    }
    if let Some(c) = command
        .chars()
        .find(|c| matches!(c, '\0' | '\r' | '\n' | '\u{1a}'))
    {
        return Err(SandboxError::InvalidArg(format!(
            "a cmd.exe command cannot contain {c:?}: cmd would not run the text as given (a line break ends the command)"
        )));
    }
    let mut out = String::with_capacity(cmd.len() + command.len() + 16);
    out.push('"');
    out.push_str(cmd);
    out.push('"');
    for s in CMD_SWITCHES {
        out.push(' ');
        out.push_str(s);
    }
    out.push_str(" \"");
    out.push_str(command);
    out.push('"');
    check_length(&out)?;
    Ok(out)
}

/// The `lpCommandLine` for a policy's `argv` and [`Shell`]: [`command_line`] without a shell;
/// with [`Shell::Cmd`], `argv` must be `[<cmd>, "/d", "/s", "/c", <command>]` exactly and the line
/// is [`cmd_command_line`].
pub fn policy_command_line(argv: &[String], shell: Option<Shell>) -> Result<String> {
    match shell {
        None => {
            let line = command_line(argv)?;
            check_length(&line)?;
            Ok(line)
        }
        Some(Shell::Cmd) => match argv {
            [cmd, d, s, c, command] if [d, s, c].map(String::as_str) == CMD_SWITCHES => {
                cmd_command_line(cmd, command)
            }
            _ => Err(SandboxError::InvalidPolicy(
                "shell \"cmd\" needs argv [<cmd.exe>, \"/d\", \"/s\", \"/c\", <command>]".into(),
            )),
        },
    }
}

fn check_length(line: &str) -> Result<()> {
    let units = line.encode_utf16().count();
    if units >= MAX_COMMAND_LINE_UTF16 {
        return Err(SandboxError::InvalidArg(format!(
            "the command line is {units} UTF-16 units long; CreateProcessW accepts at most {}",
            MAX_COMMAND_LINE_UTF16 - 1
        )));
    }
    Ok(())
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

    const CMD: &str = r"C:\Windows\System32\cmd.exe";

    /// Reference model of what `cmd.exe` runs, written from its `cmd /?` text: the switches up
    /// to the first `/C` (case-insensitive), then the rest of the line; with `/S`, "if the first
    /// character is a quote character ... strip the leading character and remove the last quote
    /// character on the command line, preserving any text after the last quote character".
    /// Returns (program name, whether `/S` was given, the command cmd runs). Only the `/S` branch
    /// is modelled (the helper always passes `/s`): without it, `None`.
    fn cmd_runs(line: &str) -> Option<(String, bool, String)> {
        let program = parse_command_line(line).into_iter().next()?;
        // The program token ends at the first white space outside quotes.
        let mut quoted = false;
        let mut end = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' {
                quoted = !quoted;
            } else if !quoted && (c == ' ' || c == '\t') {
                end = i;
                break;
            }
        }
        let mut rest = &line[end..];
        let mut s_switch = false;
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            let tok_end = rest.find([' ', '\t']).unwrap_or(rest.len());
            let tok = &rest[..tok_end];
            if !tok.starts_with('/') {
                return None; // no /C
            }
            rest = &rest[tok_end..];
            match tok.to_ascii_lowercase().as_str() {
                "/s" => s_switch = true,
                "/c" => break,
                _ => {}
            }
        }
        if !s_switch {
            return None;
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let command = match rest.strip_prefix('"') {
            Some(inner) => match inner.rfind('"') {
                Some(last) => format!("{}{}", &inner[..last], &inner[last + 1..]),
                None => inner.to_string(),
            },
            None => rest.to_string(),
        };
        Some((program, s_switch, command))
    }

    /// Golden command lines: the command appears verbatim between the outer quotes, and the
    /// reference model gives it back.
    #[test]
    fn cmd_shell_golden_lines() {
        let cases: &[(&str, &str)] = &[
            (
                r#"git commit -m "fix""#,
                r#""C:\Windows\System32\cmd.exe" /d /s /c "git commit -m "fix"""#,
            ),
            (
                r"dir C:\Users\u\ws\",
                r#""C:\Windows\System32\cmd.exe" /d /s /c "dir C:\Users\u\ws\""#,
            ),
            (
                r#"cd "C:\Program Files\" && dir"#,
                r#""C:\Windows\System32\cmd.exe" /d /s /c "cd "C:\Program Files\" && dir""#,
            ),
            (
                r#"type "a b.txt" | findstr /i "x\"y""#,
                r#""C:\Windows\System32\cmd.exe" /d /s /c "type "a b.txt" | findstr /i "x\"y"""#,
            ),
            (
                "echo ^& 100%% %PATH% !x!",
                r#""C:\Windows\System32\cmd.exe" /d /s /c "echo ^& 100%% %PATH% !x!""#,
            ),
            (
                "echo 日本語 🦀 \u{3000}é",
                "\"C:\\Windows\\System32\\cmd.exe\" /d /s /c \"echo 日本語 🦀 \u{3000}é\"",
            ),
            (
                r#""C:\Program Files\Git\cmd\git.exe" status"#,
                r#""C:\Windows\System32\cmd.exe" /d /s /c ""C:\Program Files\Git\cmd\git.exe" status""#,
            ),
            ("", r#""C:\Windows\System32\cmd.exe" /d /s /c """#),
            ("\"", r#""C:\Windows\System32\cmd.exe" /d /s /c """"#),
            (
                "\t(a) <b >c @d\t",
                "\"C:\\Windows\\System32\\cmd.exe\" /d /s /c \"\t(a) <b >c @d\t\"",
            ),
        ];
        for (command, want) in cases {
            let line = cmd_command_line(CMD, command).unwrap();
            assert_eq!(&line, want, "{command:?}");
            let (program, s, runs) = cmd_runs(&line).unwrap();
            assert_eq!(program, CMD);
            assert!(s);
            assert_eq!(&runs, command, "{line}");
            // The policy form builds the same line.
            let argv: Vec<String> = [CMD, "/d", "/s", "/c", command]
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(policy_command_line(&argv, Some(Shell::Cmd)).unwrap(), line);
        }
        // The model follows the documented rule: text after the last quote is preserved, and a
        // line whose first character after /c is not a quote is taken as it is.
        assert_eq!(cmd_runs(r#"cmd /S /C "a" b"#).unwrap().2, "a b");
        assert_eq!(cmd_runs(r#"cmd /s /c a "b""#).unwrap().2, r#"a "b""#);
        assert_eq!(cmd_runs(r#"cmd /c "a""#), None);
        // Without the shell marker the same argv is quoted argument by argument, which cmd would
        // not undo: `\"` stays in what cmd runs.
        let argv = v(&[CMD, "/d", "/s", "/c", r#"echo "x""#]);
        let plain = policy_command_line(&argv, None).unwrap();
        assert_ne!(cmd_runs(&plain).unwrap().2, r#"echo "x""#);
    }

    #[test]
    fn cmd_shell_refusals() {
        for bad in ["a\nb", "a\r\nb", "a\rb", "a\0b", "a\u{1a}b", "echo x\n"] {
            let e = cmd_command_line(CMD, bad).unwrap_err();
            assert_eq!(e.code(), "ERR_KU0_INVALID_ARG", "{bad:?}");
        }
        for bad_cmd in [
            "",
            r#"C:\a"b\cmd.exe"#,
            r"C:\x\",
            r"C:\x\run.bat",
            "C:\\x\ncmd.exe",
        ] {
            assert!(cmd_command_line(bad_cmd, "dir").is_err(), "{bad_cmd:?}");
        }
        // The marker needs the exact shape.
        for argv in [
            v(&[CMD, "/c", "dir"]),
            v(&[CMD, "/d", "/s", "/c"]),
            v(&[CMD, "/D", "/S", "/C", "dir"]),
            v(&[CMD, "/d", "/s", "/k", "dir"]),
            v(&[CMD, "/d", "/s", "/c", "dir", "x"]),
        ] {
            let e = policy_command_line(&argv, Some(Shell::Cmd)).unwrap_err();
            assert!(e.to_string().contains("shell \"cmd\""), "{e}");
        }
        // CreateProcessW's limit: 32 767 UTF-16 units with the terminating NUL.
        let head = cmd_command_line(CMD, "").unwrap().encode_utf16().count();
        let fits = "a".repeat(MAX_COMMAND_LINE_UTF16 - 1 - head);
        assert!(cmd_command_line(CMD, &fits).is_ok());
        assert!(cmd_command_line(CMD, &format!("{fits}a")).is_err());
        // Astral characters count as two units.
        let astral = "🦀".repeat((MAX_COMMAND_LINE_UTF16 - head) / 2);
        assert!(cmd_command_line(CMD, &astral).is_err());
        assert!(policy_command_line(&v(&["p", &"a".repeat(40_000)]), None).is_err());
    }

    /// Randomized: hostile commands (quotes, backslash runs, trailing backslashes, cmd's
    /// operators and escapes, `%`, non-ASCII) all come back unchanged through the model.
    #[test]
    fn cmd_shell_randomized_round_trip() {
        const PIECES: &[&str] = &[
            "\"", "\\", "\\\\", "\\\"", "\"\"", " ", "\t", "a", "git", "-m", "&&", "&", "||", "|",
            "^", "^^", "%", "%PATH%", "!x!", "(", ")", "<", ">", ">>", "2>&1", "@", ";", ",", "=",
            "é", "日本", "🦀", "\u{3000}", "'", "/c", "/s", "C:\\x\\",
        ];
        let seed = 0xD1B5_4A32_D192_ED03u64;
        let mut rng = Rng(seed);
        for case in 0..20_000 {
            let len = rng.below(12);
            let command: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            let line = cmd_command_line(CMD, &command).unwrap();
            let (program, _, runs) = cmd_runs(&line).unwrap();
            assert_eq!(program, CMD);
            assert_eq!(runs, command, "seed {seed} case {case}: line {line:?}");
        }
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
