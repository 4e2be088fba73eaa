//! Puts the daemon together: lock → stale socket cleanup → listen (0600) → state file → readiness line
//! → serve (every accepted connection passes the peer uid check of [`crate::peer`]) until SIGTERM/SIGINT, a `Shutdown` call or the idle timeout → drain → remove socket and
//! state file.

use std::fs;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use crate::activity::Activity;
use crate::control::{ControlService, StopReason};
use crate::lifecycle::{
    DaemonLock, LOCK_FILE, LifecycleError, STATE_FILE, State, ensure_private_dir,
    remove_stale_socket, signal_ready, socket_path,
};
use crate::pb::sandbox::sandbox_server::SandboxServer;
use crate::pb::sidecar::control_server::ControlServer;
use crate::pb::storage::storage_server::StorageServer;
use crate::pb::symbolindex::symbol_index_server::SymbolIndexServer;
use crate::pb::tokenizer::tokenizer_server::TokenizerServer;
use crate::peer;
use crate::sandbox::SandboxService;
use crate::storage::StorageService;
use crate::symbolindex::SymbolIndexService;
use crate::tokenizer::TokenizerService;

/// Largest request the daemon decodes (a batch of long texts); larger ones get RESOURCE_EXHAUSTED.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub idle_timeout: Duration,
    pub ready_fd: Option<RawFd>,
    /// Reported by `Hello`. The crate version; tests of the version-mismatch path override it.
    pub version: String,
    /// The sandbox helper (`ku0-sandbox-exec`); `None`: every `Exec` fails with
    /// `ERR_KU0_SANDBOX_UNAVAILABLE`.
    pub sandbox_helper: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Another daemon holds the lock; this one never listened.
    Busy,
    Stopped(StopReason),
}

fn ready(fd: Option<RawFd>, line: &str) {
    if let Some(fd) = fd
        && let Err(e) = signal_ready(fd, line)
    {
        eprintln!("ku0-sidecar: readiness pipe: {e}");
    }
}

/// Runs the daemon to completion on a current-thread runtime (engine work goes to the blocking pool).
pub fn run(cfg: Config) -> Result<Outcome, LifecycleError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|source| LifecycleError::Io {
            path: cfg.dir.clone(),
            source,
        })?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: Config) -> Result<Outcome, LifecycleError> {
    let dir = cfg.dir.clone();
    if let Err(e) = ensure_private_dir(&dir) {
        ready(cfg.ready_fd, &format!("error {} {e}", e.code()));
        return Err(e);
    }
    let Some(lock) = DaemonLock::try_acquire(&dir.join(LOCK_FILE))? else {
        ready(cfg.ready_fd, "busy");
        return Ok(Outcome::Busy);
    };
    let sock = match socket_path(&dir).and_then(|s| remove_stale_socket(&s).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            ready(cfg.ready_fd, &format!("error {} {e}", e.code()));
            return Err(e);
        }
    };
    let io = |source| LifecycleError::Io {
        path: sock.clone(),
        source,
    };
    let std_listener = std::os::unix::net::UnixListener::bind(&sock).map_err(io)?;
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o600)).map_err(io)?;
    std_listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(io)?;

    let pid = std::process::id();
    let state_path = dir.join(STATE_FILE);
    let started_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    State {
        pid,
        socket: sock.clone(),
        version: cfg.version.clone(),
        protocol: crate::PROTOCOL,
        started_at_ms,
    }
    .write(&state_path)?;

    let activity = Activity::new();
    let want_uid = peer::euid();
    let (stop_tx, mut stop_rx) = watch::channel(StopReason::Running);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<TokenizerServer<TokenizerService>>()
        .await;
    health.set_serving::<ControlServer<ControlService>>().await;
    health.set_serving::<SandboxServer<SandboxService>>().await;
    health.set_serving::<StorageServer<StorageService>>().await;
    health
        .set_serving::<SymbolIndexServer<SymbolIndexService>>()
        .await;

    let mut sigterm = signal(SignalKind::terminate()).map_err(io)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(io)?;
    let idle_timeout = cfg.idle_timeout;
    let idle_activity = activity.clone();
    let stop_for_signals = stop_tx.clone();
    let stopper = async move {
        let reason = tokio::select! {
            _ = sigterm.recv() => StopReason::Signal("SIGTERM"),
            _ = sigint.recv() => StopReason::Signal("SIGINT"),
            _ = idle_activity.wait_idle(idle_timeout) => StopReason::Idle,
            r = async {
                loop {
                    if stop_rx.changed().await.is_err() {
                        return StopReason::Requested("control channel closed".into());
                    }
                    let r = stop_rx.borrow_and_update().clone();
                    if r != StopReason::Running {
                        return r;
                    }
                }
            } => r,
        };
        stop_for_signals.send_replace(reason);
        health
            .set_not_serving::<TokenizerServer<TokenizerService>>()
            .await;
        health
            .set_not_serving::<SandboxServer<SandboxService>>()
            .await;
        health
            .set_not_serving::<StorageServer<StorageService>>()
            .await;
        health
            .set_not_serving::<SymbolIndexServer<SymbolIndexService>>()
            .await;
    };

    ready(
        cfg.ready_fd,
        &format!("ready {} {pid} {}", crate::PROTOCOL, sock.display()),
    );
    eprintln!(
        "ku0-sidecar {} (protocol {}) pid {pid} listening on {} (idle timeout {} ms)",
        cfg.version,
        crate::PROTOCOL,
        sock.display(),
        idle_timeout.as_millis()
    );

    // One entry per application service: each gets the message limits and shares the activity clock.
    // (A new service is one more `add_service` line here, one `set_serving` above and its name in
    // `crate::SERVICES`.)
    let served = Server::builder()
        .add_service(health_service)
        .add_service(ControlServer::new(ControlService::new(
            cfg.version.clone(),
            stop_tx.clone(),
        )))
        .add_service(
            TokenizerServer::new(TokenizerService::new(activity.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            SandboxServer::new(SandboxService::new(
                activity.clone(),
                cfg.sandbox_helper.clone(),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            StorageServer::new(StorageService::new(activity.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            SymbolIndexServer::new(SymbolIndexService::new(activity))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(
            UnixListenerStream::new(listener).filter_map(move |c| peer::admit(c, want_uid)),
            stopper,
        )
        .await;

    // Clean up before reporting: the socket and state belong to this daemon (we hold the lock).
    let _ = fs::remove_file(&sock);
    State::remove_if_ours(&state_path, pid);
    let reason = stop_tx.borrow().clone();
    drop(lock);
    eprintln!("ku0-sidecar pid {pid} stopped: {reason:?}");
    served.map_err(|e| LifecycleError::Io {
        path: sock.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(Outcome::Stopped(reason))
}
