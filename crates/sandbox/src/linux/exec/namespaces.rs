//! Entering the user, mount, pid, ipc, uts (and, for network `none`, net) namespaces.

use crate::linux::sys;
use crate::{Result, SandboxError};

/// How far namespace isolation could go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsMode {
    /// user + mount + pid (+ipc, uts) namespaces.
    Full,
    /// mount + pid namespaces without a user namespace (host root only).
    RootNoUserns,
    /// No namespaces.
    None,
}

/// Enters the namespaces. Returns what could be entered. `own_net`: a fresh network namespace
/// with only loopback (network `none`: no host sockets, listeners, routes or abstract sockets
/// are visible or reachable).
pub(super) fn enter_namespaces(require: bool, own_net: bool) -> Result<NsMode> {
    // SAFETY: trivial getters.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    let net = if own_net { libc::CLONE_NEWNET } else { 0 };
    let base =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | net;
    if sys::unshare(libc::CLONE_NEWUSER | base).is_ok() {
        sys::write_file("/proc/self/setgroups", "deny")?;
        sys::write_file("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
        sys::write_file("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
        if own_net {
            crate::linux::netns::lo_up()?;
        }
        return Ok(NsMode::Full);
    }
    if euid == 0 && sys::unshare(base).is_ok() {
        if own_net {
            crate::linux::netns::lo_up()?;
        }
        return Ok(NsMode::RootNoUserns);
    }
    if require {
        return Err(SandboxError::Unavailable(
            "user/mount/pid namespaces are not available (policy requires them)".into(),
        ));
    }
    Ok(NsMode::None)
}
