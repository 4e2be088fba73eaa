//! The Windows `shell: "cmd"` marker (the command passed to cmd.exe verbatim, see
//! `windows::cmdline::cmd_command_line`) is refused by the Linux and macOS helper before anything
//! runs: there the argv would otherwise run without the meaning the marker gives it. Runs on Linux
//! here; the same `main` serves macOS (written, not run).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "tests: an unexpected error should fail the test with its message"
)]

use std::process::{Command, Stdio};

const HELPER: &str = env!("CARGO_BIN_EXE_ku0-sandbox-exec");

#[test]
fn unix_helper_refuses_the_windows_shell_marker() {
    let policy = r#"{"argv":["/bin/echo","RAN"],"shell":"cmd"}"#;
    let out = Command::new(HELPER)
        .env_clear()
        .env(ku0_sandbox::POLICY_ENV, policy)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(ku0_sandbox::EXIT_SETUP_FAILED),
        "{stderr}"
    );
    assert!(stderr.contains("Windows only"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("RAN"));
    // The policy itself parses: the refusal is the Unix helper's (the Windows helper takes it).
    assert!(ku0_sandbox::ExecPolicy::from_json(policy).is_ok());
}
