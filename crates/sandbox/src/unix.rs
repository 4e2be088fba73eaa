//! What the helper does the same way on every Unix backend (Linux; macOS, where it is **written,
//! not run**): C strings, raw writes, the setup status channel and [`die`], rlimits, closing
//! inherited descriptors, reading the policy frame from stdin, waiting for a child, the exec over
//! the candidate paths and relaying the command's status.

use std::ffi::{CString, c_char, c_int};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::policy::Limits;
use crate::runner::STATUS_SETUP_ERROR;
use crate::{DIAG_PREFIX, EXIT_SETUP_FAILED, Result, SandboxError};

/// A C string for a syscall; a NUL inside is a policy error.
pub fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| SandboxError::InvalidPolicy(format!("NUL in {s:?}")))
}

/// Writes the whole buffer to a raw fd (async-signal-safe, no allocation).
pub fn write_all_fd(fd: c_int, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

static STATUS_FD: AtomicI32 = AtomicI32::new(-1);

/// Makes `fd` the setup status channel: close-on-exec (the command never has it), kept open by
/// [`close_inherited_fds`], written only by [`die`] with [`crate::EXIT_SETUP_FAILED`]. The caller
/// reads it to the end: empty means the setup succeeded and the exit status is the command's.
pub fn set_status_fd(fd: c_int) -> Result<()> {
    // SAFETY: fcntl on a descriptor number; EBADF when it is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(SandboxError::last_os(format!("status fd {fd}")));
    }
    STATUS_FD.store(fd, Ordering::Relaxed);
    Ok(())
}

/// Prints a diagnostic line to stderr and exits with `code` without running destructors. A
/// setup failure ([`crate::EXIT_SETUP_FAILED`]) is also reported on the status channel, which
/// the command cannot write: callers decide "the command did not run" from that channel only.
pub fn die(code: i32, msg: &str) -> ! {
    write_all_fd(2, format!("{DIAG_PREFIX} {msg}\n").as_bytes());
    let s = STATUS_FD.load(Ordering::Relaxed);
    if code == EXIT_SETUP_FAILED && s >= 0 {
        write_all_fd(s, format!("{STATUS_SETUP_ERROR}{msg}\n").as_bytes());
    }
    // SAFETY: terminates the process without running destructors.
    unsafe { libc::_exit(code) }
}

/// Closes every inherited descriptor above stderr except the status channel (close-on-exec).
pub fn close_inherited_fds() {
    let s = STATUS_FD.load(Ordering::Relaxed);
    #[cfg(target_os = "linux")]
    // SAFETY: close_range over descriptor ranges this process owns.
    unsafe {
        if s < 3 {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        } else {
            if s > 3 {
                libc::syscall(libc::SYS_close_range, 3u32, (s - 1) as u32, 0u32);
            }
            libc::syscall(libc::SYS_close_range, (s + 1) as u32, u32::MAX, 0u32);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: trivial getter.
        let max = unsafe { libc::getdtablesize() };
        for fd in (3..max).filter(|&fd| fd != s) {
            // SAFETY: closing descriptors this process owns (EBADF for unused numbers).
            unsafe { libc::close(fd) };
        }
    }
}

/// Reads the policy frame (`<len>\n<json>`, [`crate::frame`]) from fd 0 with unbuffered reads,
/// leaving the rest of stdin to the command.
pub fn read_policy_from_stdin() -> std::result::Result<String, String> {
    let buf = read_frame(0)?;
    String::from_utf8(buf).map_err(|e| e.to_string())
}

/// Reads one frame ([`crate::frame::read_frame`]) from `fd`, which stays open.
pub fn read_frame(fd: c_int) -> std::result::Result<Vec<u8>, String> {
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor stays open for the process' lifetime; ManuallyDrop never closes it.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    crate::frame::read_frame(&mut *f)
}

/// Type of the `RLIMIT_*` constants: glibc has its own enum type, musl and macOS a plain `c_int`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub type RlimitResource = c_int;

/// Sets both the soft and the hard limit to `value`, lowered to the current hard limit (which an
/// unprivileged process cannot raise).
pub fn set_rlimit(resource: RlimitResource, value: u64) -> Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::getrlimit(resource, &mut cur) };
    let v = value.min(cur.rlim_max);
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: v,
    };
    // SAFETY: valid pointer.
    if unsafe { libc::setrlimit(resource, &lim) } < 0 {
        return Err(SandboxError::last_os(format!("setrlimit {resource}")));
    }
    Ok(())
}

/// The command's rlimits every Unix backend sets: no core dumps, CPU seconds (at least 1, what
/// Linux makes of 0 anyway), address space, open files, file size.
pub fn set_command_rlimits(limits: &Limits, address_space: Option<u64>) -> Result<()> {
    set_rlimit(libc::RLIMIT_CORE, 0)?;
    if let Some(v) = limits.cpu_time_sec {
        set_rlimit(libc::RLIMIT_CPU, v.max(1))?;
    }
    if let Some(v) = address_space {
        set_rlimit(libc::RLIMIT_AS, v)?;
    }
    if let Some(v) = limits.max_open_files {
        set_rlimit(libc::RLIMIT_NOFILE, v)?;
    }
    if let Some(v) = limits.max_file_size_bytes {
        set_rlimit(libc::RLIMIT_FSIZE, v)?;
    }
    Ok(())
}

/// Waits for the child `pid` (retrying on `EINTR`) and returns its wait status (0 when waiting
/// failed otherwise).
pub fn wait_child(pid: libc::pid_t) -> c_int {
    let mut st: c_int = 0;
    loop {
        // SAFETY: valid out pointer, our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    st
}

/// Exits with the command's exit code, or re-raises its signal. Never returns.
pub fn relay_status(cmd_status: c_int) -> ! {
    if libc::WIFSIGNALED(cmd_status) {
        let sig = libc::WTERMSIG(cmd_status);
        // SAFETY: re-raise the command's signal on ourselves so the caller sees it.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
    }
    // SAFETY: exit with the command's code.
    unsafe { libc::_exit(libc::WEXITSTATUS(cmd_status)) }
}

/// `execve` over the candidate paths of the command named `name` (`PATH` already resolved);
/// when none runs, dies with 127 (not found) or 126 (found, not executable). Never returns.
pub fn exec_candidates(
    name: &str,
    candidates: &[CString],
    argv: &[CString],
    envp: &[CString],
) -> ! {
    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let mut last = libc::ENOENT;
    for exe in candidates {
        // SAFETY: NUL-terminated arrays of valid C strings.
        unsafe { libc::execve(exe.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOENT);
        if e != libc::ENOENT && e != libc::ENOTDIR {
            last = e;
        }
    }
    let code = if last == libc::ENOENT { 127 } else { 126 };
    die(
        code,
        &format!(
            "cannot execute {name}: {}",
            std::io::Error::from_raw_os_error(last)
        ),
    )
}
