//! Escape suite for the macOS (Seatbelt) backend. **Written, not run**: it compiles only for
//! macOS (clippy-checked here for both darwin triples) and runs in the release workflow's macOS
//! jobs (`cargo test --workspace --release`). Each test runs a real attack through the helper
//! with `/bin/sh` and asserts that the attempt failed AND its target is unchanged. Which Linux
//! escape test each one mirrors, and the attacks that do not apply on macOS, are listed in
//! `tests/escape_matrix.rs` (checked on every platform).
#![cfg(target_os = "macos")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: an unexpected error should fail loudly with its message"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ku0_sandbox::runner::{RunOutput, RunRequest, run};
use serde_json::{Value, json};

const HELPER: &str = env!("CARGO_BIN_EXE_ku0-sandbox-exec");

mod common;
use common::{Tree, s};

/// The shared tree, with the macOS policy and runner.
type Fx = Tree;

impl Tree {
    fn new(name: &str) -> Tree {
        Tree::at(
            std::fs::canonicalize(std::env::temp_dir())
                .unwrap()
                .join(format!("ku0-esc-mac-{name}-{}", std::process::id())),
        )
    }

    fn policy(&self, script: &str) -> Value {
        json!({
            "argv": ["/bin/sh", "-c", script],
            "cwd": s(&self.ws),
            "env": {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/tmp"},
            "writableRoots": [s(&self.ws)],
            "readableRoots": ["/usr", "/bin", "/sbin", s(&self.home)],
            "deniedPaths": [s(&self.home.join(".ssh"))],
            "hostHome": s(&self.home),
            "network": {"mode": "none"},
        })
    }

    fn run(&self, script: &str) -> RunOutput {
        run_policy(self.policy(script))
    }
}

fn run_policy(policy: Value) -> RunOutput {
    run(
        RunRequest {
            helper: PathBuf::from(HELPER),
            policy_json: policy.to_string(),
            stdin: None,
            timeout: Duration::from_secs(30),
            max_output_bytes: 1 << 20,
        },
        None,
    )
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_blocked(o: &RunOutput, what: &str) {
    assert!(
        o.setup_error.is_none(),
        "{what}: setup failed: {:?}",
        o.setup_error
    );
    assert_ne!(
        o.exit_code,
        Some(0),
        "{what}: the attack succeeded\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

#[test]
fn probe_reports_seatbelt() {
    let out = std::process::Command::new(HELPER)
        .arg("--probe")
        .env_clear()
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "macos-seatbelt");
    assert_eq!(v["seatbelt"], true);
}

#[test]
fn sanity_command_runs_and_writes_workspace() {
    let fx = Fx::new("sanity");
    let o = fx.run("echo hi > out.txt && cat out.txt");
    assert!(
        o.setup_error.is_none(),
        "{:?} {}",
        o.setup_error,
        text(&o.stderr)
    );
    assert_eq!(o.exit_code, Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("hi\n"));
    assert_eq!(
        std::fs::read_to_string(fx.ws.join("out.txt")).unwrap(),
        "hi\n"
    );
}

#[test]
fn write_outside_by_absolute_path_and_dotdot() {
    let fx = Fx::new("outside");
    let t = s(&fx.outside.join("target.txt"));
    assert_blocked(&fx.run(&format!("echo pwned > '{t}'")), "absolute");
    assert_blocked(&fx.run("echo pwned > ../outside/target.txt"), "dotdot");
    assert_eq!(
        std::fs::read_to_string(fx.outside.join("target.txt")).unwrap(),
        "original"
    );
}

#[test]
fn shared_tmp_is_not_writable_only_private_tmpdir() {
    let fx = Fx::new("tmp");
    let marker = format!("/tmp/ku0-esc-mac-marker-{}", std::process::id());
    assert_blocked(&fx.run(&format!("echo x > {marker}")), "/tmp");
    assert!(!Path::new(&marker).exists());
    let o = fx.run("echo x > \"$TMPDIR/f\" && echo \"$TMPDIR\"");
    assert_eq!(o.exit_code, Some(0), "{}", text(&o.stderr));
    let tmpdir = text(&o.stdout).trim().to_string();
    assert!(tmpdir.starts_with("/private/tmp/ku0-sbx-"), "{tmpdir}");
    assert!(
        !Path::new(&tmpdir).exists(),
        "private TMPDIR removed after the run"
    );
}

#[test]
fn write_through_symlinks_to_outside() {
    let fx = Fx::new("symlink");
    std::os::unix::fs::symlink(fx.outside.join("target.txt"), fx.ws.join("link")).unwrap();
    std::os::unix::fs::symlink(&fx.outside, fx.ws.join("dirlink")).unwrap();
    assert_blocked(&fx.run("echo pwned > link"), "file symlink");
    assert_blocked(
        &fx.run("echo pwned > dirlink/target.txt"),
        "symlinked ancestor",
    );
    assert_blocked(
        &fx.run("echo pwned > dirlink/new.txt"),
        "create via symlinked ancestor",
    );
    assert_eq!(
        std::fs::read_to_string(fx.outside.join("target.txt")).unwrap(),
        "original"
    );
    assert!(!fx.outside.join("new.txt").exists());
}

#[test]
fn hard_link_to_outside_file() {
    let fx = Fx::new("hardlink");
    let t = s(&fx.outside.join("target.txt"));
    let o = fx.run(&format!("ln '{t}' hard && echo pwned > hard"));
    assert_blocked(&o, "hard link");
    assert_eq!(std::fs::read_to_string(&t).unwrap(), "original");
}

#[test]
fn git_hooks_and_config_are_read_only() {
    let fx = Fx::new("git");
    for script in [
        "echo '#!/bin/sh' > .git/hooks/pre-commit",
        "echo '[core]\nfsmonitor = evil' >> .git/config",
        "rm -rf .git/hooks",
        "mv .git .git2 && mkdir .git && echo pwned > .git/config",
        "mkdir -p .ku0 && echo x > .ku0/x",
    ] {
        assert_blocked(&fx.run(script), script);
    }
    // Case tricks: on a case-insensitive volume (the default) these name the protected files.
    for script in ["echo pwned >> .git/CONFIG", "echo pwned >> .GIT/config"] {
        let _ = fx.run(script);
    }
    let alias = format!("/System/Volumes/Data{}", s(&fx.ws.join(".git/config")));
    assert_blocked(
        &fx.run(&format!("echo pwned >> '{alias}'")),
        "data-volume alias",
    );
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git/config")).unwrap(),
        "[core]\n"
    );
    assert!(!fx.ws.join(".git/hooks/pre-commit").exists());
    assert!(fx.ws.join(".git").is_dir() && !fx.ws.join(".git2").exists());
}

#[test]
fn read_ssh_secret_denied() {
    let fx = Fx::new("ssh");
    let key = s(&fx.home.join(".ssh/id_rsa"));
    let o = fx.run(&format!("cat '{key}'"));
    assert_blocked(&o, "secret");
    assert!(!text(&o.stdout).contains("SECRET-KEY"));
    let alias = format!("/System/Volumes/Data{key}");
    let o = fx.run(&format!("cat '{alias}'"));
    assert_blocked(&o, "secret via data-volume alias");
    assert!(!text(&o.stdout).contains("SECRET-KEY"));
    let o = fx.run(&format!("cat '{}'", s(&fx.home.join("notes.txt"))));
    assert_eq!(text(&o.stdout), "readable");
}

#[test]
fn host_paths_outside_roots_are_invisible() {
    let fx = Fx::new("invisible");
    let o = fx.run(&format!("cat '{}'", s(&fx.outside.join("target.txt"))));
    assert_blocked(&o, "read outside");
    let users = std::env::var("HOME").unwrap_or_else(|_| "/Users".into());
    assert_blocked(&fx.run(&format!("ls '{users}'")), "list the real home");
}

#[test]
fn launch_services_and_apple_events_denied() {
    let fx = Fx::new("lsopen");
    assert_blocked(&fx.run("/usr/bin/open -a Calculator"), "open");
    assert_blocked(&fx.run("/usr/bin/osascript -e 'return 1'"), "osascript");
    assert_blocked(&fx.run("/usr/bin/pbpaste"), "pasteboard");
}

#[test]
fn network_none_loopback_server_unreachable() {
    let fx = Fx::new("netnone");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert_blocked(
        &fx.run(&format!("/usr/bin/nc -z -w 2 127.0.0.1 {port}")),
        "loopback",
    );
    assert_blocked(&fx.run("/usr/bin/nc -z -w 2 1.1.1.1 443"), "internet");
}

#[test]
fn network_allowlist_only_the_proxy_port() {
    let fx = Fx::new("netallow");
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pp, op) = (
        proxy.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    let mut pol = fx.policy(&format!("/usr/bin/nc -z -w 2 127.0.0.1 {pp}"));
    pol["network"] = json!({"mode": "allowlist", "proxyPort": pp});
    let o = run_policy(pol.clone());
    assert_eq!(o.exit_code, Some(0), "proxy port: {}", text(&o.stderr));
    pol["argv"] = json!([
        "/bin/sh",
        "-c",
        format!("/usr/bin/nc -z -w 2 127.0.0.1 {op}")
    ]);
    assert_blocked(&run_policy(pol), "other loopback port");
}

#[test]
fn signals_to_host_processes_denied() {
    let fx = Fx::new("signal");
    let me = std::process::id();
    assert_blocked(&fx.run(&format!("kill -0 {me}")), "signal host");
}

#[test]
fn grandchild_dies_when_command_exits() {
    let fx = Fx::new("grandchild");
    let marker = format!("ku0-mac-gc-{}", std::process::id());
    let o = fx.run(&format!("(exec -a {marker} /bin/sleep 60) & echo started"));
    assert_eq!(o.exit_code, Some(0));
    std::thread::sleep(Duration::from_millis(300));
    let ps = std::process::Command::new("/usr/bin/pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "background job survived: {}",
        text(&ps.stdout)
    );
}

#[test]
fn inherited_fds_closed_and_environment_scrubbed() {
    let fx = Fx::new("fds");
    // SAFETY: setting a variable before any thread of this test reads the environment.
    unsafe { std::env::set_var("KU0_ESC_SECRET", "leak") };
    let o = fx.run("ls /dev/fd; env");
    let out = text(&o.stdout);
    assert!(!out.contains("KU0_ESC_SECRET"));
    let fds: Vec<&str> = out.lines().take_while(|l| !l.contains('=')).collect();
    assert!(
        fds.iter().all(|f| ["0", "1", "2", "3"].contains(f)),
        "{fds:?}"
    );
}

#[test]
fn setup_failure_is_reported_not_run() {
    let fx = Fx::new("setup");
    let mut pol = fx.policy("echo ran");
    pol["cwd"] = json!(s(&fx.base.join("missing")));
    let o = run_policy(pol);
    assert!(o.setup_error.is_some());
    assert!(!text(&o.stdout).contains("ran"));
}
