//! `ku0-sidecar [--dir DIR] [--idle-timeout-ms N] [--ready-fd N]` — see `docs/sidecar.md`.
//!
//! Exit codes: 0 stopped normally or another daemon already runs (`busy` on the ready fd),
//! 2 bad arguments, 1 any other error (`error <code> <message>` on the ready fd when it happened
//! before listening).

#[cfg(unix)]
mod cli;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// The daemon listens on a Unix socket; a Windows transport (named pipes) is not written yet.
#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "ku0-sidecar: not implemented on this platform (Unix sockets only; see docs/sidecar.md)"
    );
    std::process::ExitCode::from(1)
}
