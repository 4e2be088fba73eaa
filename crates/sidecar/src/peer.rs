//! Peer credential check of every accepted connection: the kernel's record of the connecting process
//! (`SO_PEERCRED` on Linux, `getpeereid` on the BSDs and macOS, both behind tokio's `peer_cred`) must
//! carry the daemon's own effective uid. The socket is already 0600 in a 0700 directory; this check
//! holds even when those modes are loosened or the socket is reached through an inherited descriptor.
//! A refused connection is closed before any byte is read and logged to the daemon's log (stderr).
//! The BSD/macOS path is written, not run.

use std::io;

use tokio::net::UnixStream;

/// The daemon's effective uid (what the peer's must equal).
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerRefused {
    #[error("peer uid {peer} (pid {pid:?}) is not the daemon's uid {want}")]
    OtherUser {
        peer: u32,
        pid: Option<i32>,
        want: u32,
    },
    #[error("peer credentials unavailable: {0}")]
    NoCredentials(io::Error),
}

impl PeerRefused {
    pub fn code(&self) -> &'static str {
        match self {
            PeerRefused::OtherUser { .. } => "ERR_KU0_SIDECAR_PEER_REFUSED",
            PeerRefused::NoCredentials(_) => "ERR_KU0_SIDECAR_PEER_UNKNOWN",
        }
    }
}

/// `Ok` when the connected peer runs as `want_uid`.
pub fn check(stream: &UnixStream, want_uid: u32) -> Result<(), PeerRefused> {
    let cred = stream.peer_cred().map_err(PeerRefused::NoCredentials)?;
    if cred.uid() == want_uid {
        Ok(())
    } else {
        Err(PeerRefused::OtherUser {
            peer: cred.uid(),
            pid: cred.pid(),
            want: want_uid,
        })
    }
}

/// The accept filter of the server: passes same-uid connections (and accept errors) through, drops and
/// logs the others.
pub fn admit(conn: io::Result<UnixStream>, want_uid: u32) -> Option<io::Result<UnixStream>> {
    match conn {
        Ok(stream) => match check(&stream, want_uid) {
            Ok(()) => Some(Ok(stream)),
            Err(e) => {
                eprintln!("ku0-sidecar: refused connection: {}: {e}", e.code());
                None
            }
        },
        Err(e) => Some(Err(e)),
    }
}
