//! The daemon's command line (Unix only; see `main.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ku0_sidecar::lifecycle::default_runtime_dir;
use ku0_sidecar::server::{Config, run};

/// Ten minutes without a call and the daemon exits (clients respawn it on demand).
const DEFAULT_IDLE_MS: u64 = 10 * 60 * 1000;

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "ku0-sidecar: {msg}\nusage: ku0-sidecar [--dir DIR] [--idle-timeout-ms N] [--ready-fd N] | --version"
    );
    ExitCode::from(2)
}

pub fn main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let mut dir: Option<PathBuf> = None;
    let mut idle_ms = DEFAULT_IDLE_MS;
    let mut ready_fd = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--version" => {
                println!(
                    "ku0-sidecar {} protocol {}",
                    ku0_sidecar::VERSION,
                    ku0_sidecar::PROTOCOL
                );
                return ExitCode::SUCCESS;
            }
            "--dir" => match args.next() {
                Some(d) if !d.is_empty() => dir = Some(PathBuf::from(d)),
                _ => return usage("--dir needs a path"),
            },
            "--idle-timeout-ms" => match args.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(v) if v > 0 => idle_ms = v,
                _ => return usage("--idle-timeout-ms needs a positive integer"),
            },
            "--ready-fd" => match args.next().and_then(|v| v.parse::<i32>().ok()) {
                Some(v) if v >= 3 => ready_fd = Some(v),
                _ => return usage("--ready-fd needs an fd number >= 3"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let dir = dir.unwrap_or_else(|| {
        default_runtime_dir(
            env("KU0_SIDECAR_DIR").as_deref(),
            env("XDG_RUNTIME_DIR").as_deref(),
        )
    });
    // Test hook for the client's version-mismatch path: pretend to be another release.
    let version = env("KU0_SIDECAR_TEST_VERSION")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| ku0_sidecar::VERSION.to_owned());
    let cfg = Config {
        dir,
        idle_timeout: Duration::from_millis(idle_ms),
        ready_fd,
        version,
        sandbox_helper: ku0_sidecar::sandbox::default_helper(),
    };
    match run(cfg) {
        Ok(outcome) => {
            eprintln!("ku0-sidecar: {outcome:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ku0-sidecar: {} {e}", e.code());
            ExitCode::FAILURE
        }
    }
}
