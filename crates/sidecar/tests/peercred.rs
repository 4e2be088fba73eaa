//! The daemon refuses a client running under another uid (`SO_PEERCRED`), and logs the refusal.
//!
//! Runs the real `ku0-sidecar` binary, loosens its runtime dir (0711) and socket (0666) so another user
//! can reach the socket at all, then runs this test binary's `peer_child` as `nobody` (uid 65534) and as
//! the daemon's own uid: the child connects, sends the HTTP/2 preface and a SETTINGS frame, and reports
//! whether the daemon answered or closed the connection. Needs root (to run a child as another uid); as
//! another user the test says so and returns.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test harness: failures are loud, the child reports on stdout"
)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;
const SOCK_ENV: &str = "KU0_PEERCRED_TEST_SOCK";

/// The client half, run as a child process (`peer_child --exact --ignored`).
#[test]
#[ignore = "child process of peer_credentials_refuse_other_uids"]
fn peer_child() {
    let Ok(sock) = std::env::var(SOCK_ENV) else {
        return;
    };
    let mut s = match UnixStream::connect(&sock) {
        Ok(s) => s,
        Err(e) => {
            println!("RESULT CONNECT_ERR {e}");
            return;
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS frame
    // The daemon may close a refused connection before this write (EPIPE) or after it (EOF on read).
    if let Err(e) = s.write_all(&hello) {
        eprintln!("peer_child: write failed: {e}");
        println!("RESULT CLOSED");
        return;
    }
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => println!("RESULT CLOSED"),
        // The server's first frame is its SETTINGS (type 4).
        Ok(n) if n >= 9 && buf[3] == 4 => println!("RESULT ANSWERED"),
        Ok(n) => println!("RESULT OTHER {:?}", &buf[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => println!("RESULT CLOSED"),
        Err(e) => println!("RESULT READ_ERR {e}"),
    }
}

fn run_child(sock: &Path, uid: Option<u32>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "peer_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SOCK_ENV, sock)
    .stdin(Stdio::null())
    .stderr(Stdio::inherit());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        // The harness prints "test peer_child ... " before the child's own output on the same line.
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| format!("no result (status {:?}): {stdout}", out.status))
}

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = i32::try_from(self.child.id()).unwrap_or(i32::MAX);
        // SAFETY: kill has no memory-safety preconditions; pid is our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn peer_credentials_refuse_other_uids() {
    if ku0_sidecar::peer::euid() != 0 {
        eprintln!(
            "skipped: needs root to run a client under another uid (runs as uid {})",
            ku0_sidecar::peer::euid()
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("ku0-peercred-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.with_extension("log");
    let daemon = Daemon {
        child: Command::new(env!("CARGO_BIN_EXE_ku0-sidecar"))
            .arg("--dir")
            .arg(&dir)
            .args(["--idle-timeout-ms", "120000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        dir: dir.clone(),
    };
    let state = dir.join("sidecar.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.exists() {
        assert!(
            Instant::now() < deadline,
            "daemon did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let sock = PathBuf::from(json["socket"].as_str().unwrap());

    // Let another user reach the socket: only the credential check stands in the way now.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();

    assert_eq!(
        run_child(&sock, None),
        "ANSWERED",
        "same uid must be served"
    );
    assert_eq!(
        run_child(&sock, Some(NOBODY)),
        "CLOSED",
        "another uid must be refused"
    );
    // And the daemon still serves its own user afterwards.
    assert_eq!(run_child(&sock, None), "ANSWERED");

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("refused connection: ERR_KU0_SIDECAR_PEER_REFUSED: peer uid 65534"),
        "refusal not logged: {logged}"
    );
    assert_eq!(logged.matches("refused connection").count(), 1, "{logged}");
    drop(daemon);
    let _ = std::fs::remove_file(&log);
}
