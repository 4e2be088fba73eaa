//! Network namespace for the allowlist mode: a long-lived "keeper" (one per sandbox session)
//! owns a user + network namespace whose only interface is loopback, and forwards TCP
//! connections made to its loopback listener to the egress proxy's unix socket outside. Each
//! sandboxed command joins that namespace (`setns`), so the proxy is the only reachable endpoint:
//! there is no route to any other address.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::sys;
use crate::{Result, SandboxError};

/// Brings the loopback interface of the current network namespace up.
pub(crate) fn lo_up() -> Result<()> {
    // SAFETY: plain socket + ioctl on a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(SandboxError::last_os("socket for lo"));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as libc::Ioctl, &mut ifr) < 0 {
            libc::close(fd);
            return Err(SandboxError::last_os("SIOCGIFFLAGS lo"));
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS as libc::Ioctl, &ifr) < 0 {
            libc::close(fd);
            return Err(SandboxError::last_os("SIOCSIFFLAGS lo"));
        }
        libc::close(fd);
    }
    Ok(())
}

/// Concurrent connections one keeper forwards (one session); more are closed at once. Each
/// costs two threads with [`FORWARD_STACK`] stacks and two descriptors in the keeper, so a
/// session costs the host at most ~256 small threads, whatever the command does.
pub const KEEPER_MAX_CONNECTIONS: usize = 128;
/// What a refused connection reads (the egress proxy answers the same beyond its own cap).
const CONN_LIMIT_REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nX-Ku0-Error: ERR_KU0_SANDBOX_CONN_LIMIT\r\nConnection: close\r\n\r\n";
/// Stack size of a forwarding thread (they only copy through a 8 KiB buffer).
const FORWARD_STACK: usize = 64 * 1024;

fn spawn_small(f: impl FnOnce() + Send + 'static) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .stack_size(FORWARD_STACK)
        .spawn(f)
        .ok()
}

fn forward(tcp: std::net::TcpStream, path: PathBuf) {
    let Ok(unix) = UnixStream::connect(&path) else {
        return;
    };
    let (Ok(mut tcp_r), Ok(mut unix_w)) = (tcp.try_clone(), unix.try_clone()) else {
        return;
    };
    let Some(up) = spawn_small(move || {
        let _ = std::io::copy(&mut tcp_r, &mut unix_w);
        let _ = unix_w.shutdown(std::net::Shutdown::Write);
    }) else {
        return;
    };
    let mut unix_r = unix;
    let mut tcp_w = tcp;
    let _ = std::io::copy(&mut unix_r, &mut tcp_w);
    let _ = tcp_w.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// Runs the keeper: prints the loopback port of its forwarder on stdout, then serves until its
/// stdin is closed (the manager went away).
pub fn run_keeper(proxy_socket: &Path) -> Result<std::convert::Infallible> {
    // SAFETY: trivial getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET).map_err(|e| SandboxError::Os {
        what: "unshare user+net".into(),
        source: e,
    })?;
    sys::write_file("/proc/self/setgroups", "deny")?;
    sys::write_file("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    sys::write_file("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
    lo_up()?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| SandboxError::Os {
        what: "bind forwarder".into(),
        source: e,
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| SandboxError::Os {
            what: "forwarder address".into(),
            source: e,
        })?
        .port();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{port}");
    let _ = out.flush();
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: read from stdin; EOF or error means the manager is gone.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                // SAFETY: exit the whole keeper.
                unsafe { libc::_exit(0) };
            }
        }
    });
    let path = proxy_socket.to_path_buf();
    let active = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for stream in listener.incoming().flatten() {
        use std::sync::atomic::Ordering;
        if active.fetch_add(1, Ordering::AcqRel) >= KEEPER_MAX_CONNECTIONS {
            // Refused with the proxy's typed answer, before any thread or proxy connection is
            // spent on it (a fresh socket's send buffer takes the short reply without blocking).
            active.fetch_sub(1, Ordering::AcqRel);
            let mut stream = stream;
            let _ = stream.write_all(CONN_LIMIT_REPLY);
            drop(stream);
            continue;
        }
        let p = path.clone();
        let a = active.clone();
        if spawn_small(move || {
            forward(stream, p);
            a.fetch_sub(1, Ordering::AcqRel);
        })
        .is_none()
        {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
    Err(SandboxError::Unavailable(
        "forwarder listener closed".into(),
    ))
}

/// Joins the keeper's user and network namespaces, after checking that `/proc/<pid>/ns/net`
/// is still the namespace the caller expects (a recycled pid fails closed).
pub fn join(pid: u32, expected_net_ino: u64) -> Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let open = |what: &str| {
        std::fs::File::open(format!("/proc/{pid}/ns/{what}")).map_err(|e| SandboxError::Os {
            what: format!("open netns keeper {pid} {what}"),
            source: e,
        })
    };
    let user = open("user")?;
    let net = open("net")?;
    let ino = net
        .metadata()
        .map_err(|e| SandboxError::Os {
            what: "stat keeper netns".into(),
            source: e,
        })?
        .ino();
    if ino != expected_net_ino {
        return Err(SandboxError::Unavailable(format!(
            "network namespace of keeper {pid} changed (pid reused?)"
        )));
    }
    // SAFETY: setns on descriptors we opened; the helper is single-threaded.
    unsafe {
        if libc::setns(user.as_raw_fd(), libc::CLONE_NEWUSER) < 0 {
            return Err(SandboxError::last_os("setns user (keeper)"));
        }
        if libc::setns(net.as_raw_fd(), libc::CLONE_NEWNET) < 0 {
            return Err(SandboxError::last_os("setns net (keeper)"));
        }
    }
    Ok(())
}
