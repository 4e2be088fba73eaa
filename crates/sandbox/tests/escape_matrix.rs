//! Per-platform expectations of the escape suite: for every Linux escape test
//! (`tests/escape.rs`), what the macOS backend does about the same attack. Checked on every
//! platform: the table must name every Linux escape test exactly once, and every macOS test it
//! names must exist in `tests/escape_macos.rs` (which runs on macOS only: written, not run here).
//! The table itself is data: `tests/escape_matrix.txt`.

#![allow(
    clippy::unwrap_used,
    reason = "tests: an unexpected error should fail the test with its message"
)]

/// What the macOS backend does about one attack.
#[derive(Debug, Clone)]
enum Mac {
    /// Mirrored by this test of `tests/escape_macos.rs` (same attack, macOS expectation).
    Runs(String),
    /// Enforced by a rule of the generated profile, checked at profile level by this test of
    /// `tests/seatbelt_profile.rs` (here); no macOS run of the attack itself yet.
    Profile(String),
    /// The attack does not exist on macOS (Linux-only interface).
    NotApplicable(String),
    /// macOS provides no equivalent guarantee: reported as not enforced by `status()`.
    Gap(String),
}

/// The table (`tests/escape_matrix.txt`): Linux escape test, what macOS does about it.
fn matrix() -> Vec<(String, Mac)> {
    let mut out = Vec::new();
    for (i, line) in read("tests/escape_matrix.txt").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Columns are separated by runs of spaces; the third (a test name or a reason) is the rest.
        let column = |s: &str| -> (String, String) {
            let s = s.trim_start();
            let end = s.find(' ').unwrap_or(s.len());
            (s[..end].to_string(), s[end..].to_string())
        };
        let (linux, after) = column(line);
        let (kind, rest) = column(&after);
        if kind.is_empty() || rest.trim().is_empty() {
            panic!("escape_matrix.txt:{}: three columns expected", i + 1);
        }
        let rest = rest.trim().to_string();
        let mac = match kind.as_str() {
            "runs" => Mac::Runs(rest),
            "profile" => Mac::Profile(rest),
            "n/a" => Mac::NotApplicable(rest),
            "gap" => Mac::Gap(rest),
            other => panic!("escape_matrix.txt:{}: unknown verdict {other}", i + 1),
        };
        out.push((linux, mac));
    }
    out
}

/// Names of the `#[test]` functions of a test source file.
fn test_names(src: &str) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "#[test]"
            && let Some(next) = lines.get(i + 1)
            && let Some(rest) = next.trim().strip_prefix("fn ")
        {
            out.push(rest.split('(').next().unwrap_or("").to_string());
        }
    }
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn matrix_names_every_linux_escape_test_once() {
    let matrix = matrix();
    let linux = test_names(&read("tests/escape.rs"));
    assert!(linux.len() > 40, "parsed {} tests", linux.len());
    for t in &linux {
        let n = matrix.iter().filter(|(l, _)| l == t).count();
        assert_eq!(n, 1, "{t} must appear once in the macOS matrix");
    }
    for (l, _) in &matrix {
        assert!(
            linux.iter().any(|t| t == l),
            "{l} is not a Linux escape test"
        );
    }
}

#[test]
fn matrix_points_at_existing_tests() {
    let matrix = matrix();
    let mac = test_names(&read("tests/escape_macos.rs"));
    let profile = test_names(&read("tests/seatbelt_profile.rs"));
    for (l, m) in &matrix {
        match m {
            Mac::Runs(t) => assert!(mac.iter().any(|x| x == t), "{l}: no macOS test {t}"),
            Mac::Profile(t) => assert!(profile.iter().any(|x| x == t), "{l}: no profile test {t}"),
            Mac::NotApplicable(why) | Mac::Gap(why) => assert!(!why.is_empty()),
        }
    }
    // Every macOS escape test is referenced (none is orphaned).
    for t in mac.iter().filter(|t| {
        *t != "probe_reports_seatbelt" && *t != "launch_services_and_apple_events_denied"
    }) {
        assert!(
            matrix
                .iter()
                .any(|(_, m)| matches!(m, Mac::Runs(x) if x == t)),
            "{t} is not in the matrix"
        );
    }
}
