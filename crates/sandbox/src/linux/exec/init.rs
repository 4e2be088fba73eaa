//! pid 1 of the sandbox and the command process: arm pid 1, build the root, set the process
//! limit, then the command locks itself down (capabilities, no-new-privs, Landlock, seccomp),
//! applies its rlimits and execs (as pid 1 itself, or forked under a reaper).

use super::caps::drop_caps;
use super::mounts::{build_mounts, finish_root};
use super::namespaces::NsMode;
use super::plan::Prepared;
use super::trace;
use crate::linux::fs_rules::{self, Enforcement, FsRules};
use crate::linux::{seccomp, sys};
use crate::policy::ExecPolicy;
use crate::{EXIT_SETUP_FAILED, Result, SandboxError};

/// pid 1 of the sandbox: builds the mount tree, forks the command, reaps, reports. Never returns.
pub(super) fn run_init(
    policy: &ExecPolicy,
    prep: &Prepared,
    ns: NsMode,
    status_fd: libc::c_int,
    life_pipe: [libc::c_int; 2],
) -> ! {
    arm_init(life_pipe);
    trace("init start");
    if ns != NsMode::None
        && let Err(e) = build_mounts(prep).and_then(|()| finish_root(prep.script.as_deref()))
    {
        sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
    }
    trace("mounts built");
    run_init_after_mounts(policy, prep, ns, status_fd)
}

/// First thing pid 1 does: die with the helper, bail out if it is already gone, non-dumpable.
pub(super) fn arm_init(life_pipe: [libc::c_int; 2]) {
    // SAFETY: plain syscalls in the freshly forked single-threaded child.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::close(life_pipe[1]);
        // If the helper died before PDEATHSIG was armed, the pipe already reports hang-up.
        let mut pfd = libc::pollfd {
            fd: life_pipe[0],
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut pfd, 1, 0) > 0 && (pfd.revents & libc::POLLHUP) != 0 {
            libc::_exit(EXIT_SETUP_FAILED);
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// pid 1 after the mount tree is complete: process limit, then the command (as pid 1 itself, or
/// forked under this reaper). Never returns.
pub(super) fn run_init_after_mounts(
    policy: &ExecPolicy,
    prep: &Prepared,
    ns: NsMode,
    status_fd: libc::c_int,
) -> ! {
    set_pid_max(policy, ns);
    if !policy.reaper {
        // The command becomes pid 1 itself: its exit ends the namespace (and every process left
        // in it). PDEATHSIG survives execve, so the helper's death still kills it.
        // SAFETY: the status pipe is not needed in this mode.
        unsafe { libc::close(status_fd) };
        exec_command(policy, prep);
    }
    // SAFETY: single-threaded.
    let cmd = unsafe { libc::fork() };
    if cmd < 0 {
        sys::die(EXIT_SETUP_FAILED, "error: fork command");
    }
    if cmd == 0 {
        // SAFETY: drop the death signal inherited from init; the pid namespace handles teardown.
        unsafe { libc::close(status_fd) };
        exec_command(policy, prep);
    }
    loop {
        let mut st: libc::c_int = 0;
        // SAFETY: reap any child.
        let r = unsafe { libc::waitpid(-1, &mut st, 0) };
        if r == cmd {
            trace("command reaped");
            sys::write_all_fd(status_fd, &st.to_ne_bytes());
            if ns == NsMode::None {
                // No pid namespace: kill the command's process group (it called setsid).
                // SAFETY: signal the group.
                unsafe { libc::kill(-cmd, libc::SIGKILL) };
            }
            // SAFETY: exiting pid 1 kills every remaining process of the namespace.
            unsafe { libc::_exit(0) };
        }
        if r < 0 {
            let e = std::io::Error::last_os_error().raw_os_error();
            if e == Some(libc::EINTR) {
                continue;
            }
            // SAFETY: nothing left to wait for.
            unsafe { libc::_exit(EXIT_SETUP_FAILED) };
        }
    }
}

/// Linux 6.14+: pid_max is per pid namespace; pids above it cannot be allocated, so at most
/// pid_max - 1 processes exist. Older kernels refuse the write (reported by probe).
pub(super) fn set_pid_max(policy: &ExecPolicy, ns: NsMode) {
    if ns != NsMode::None
        && let Some(n) = policy.limits.max_processes
    {
        let v = n.saturating_add(1).clamp(PID_MAX_MIN, 4_194_304);
        let _ = std::fs::write("/proc/sys/kernel/pid_max", v.to_string());
    }
}

/// The kernel refuses a pid_max below this.
const PID_MAX_MIN: u64 = 301;

/// Runs in the command process: lock down and exec. Never returns.
fn exec_command(policy: &ExecPolicy, prep: &Prepared) -> ! {
    let r = (|| -> Result<()> {
        // SAFETY: plain syscalls.
        unsafe {
            libc::setsid();
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        apply_rlimits(policy, prep)?;
        sys::chdir(&prep.cwd)?;
        // Inherited descriptors above stderr (the status channel stays, close-on-exec).
        sys::close_inherited_fds();
        trace("cmd start");
        lockdown(policy, prep)
    })();
    if let Err(e) = r {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    do_exec(policy, prep)
}

/// Capabilities, no-new-privs, Landlock, seccomp: everything that does not depend on the command.
pub(super) fn lockdown(policy: &ExecPolicy, prep: &Prepared) -> Result<()> {
    drop_caps()?;
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
    let enforcement = fs_rules::apply(&FsRules {
        readable: &prep.readable,
        writable: &prep.writable,
        rw_files: &prep.rw_files,
        network: policy.network.mode,
        proxy_port: policy.network.proxy_port,
        scope_abstract_unix: !policy.network.abstract_unix,
    })?;
    trace("landlock");
    if policy.require.landlock && enforcement == Enforcement::None {
        return Err(SandboxError::Unavailable(
            "Landlock is not enforced by this kernel (policy requires it)".into(),
        ));
    }
    seccomp::apply(&prep.filters)?;
    trace("seccomp");
    Ok(())
}

/// The Unix-common rlimits, plus what only Linux has: the data limit (memory without a memory
/// cgroup) and the process count.
pub(super) fn apply_rlimits(policy: &ExecPolicy, prep: &Prepared) -> Result<()> {
    if let Some(v) = prep.data_limit {
        sys::set_rlimit(libc::RLIMIT_DATA, v)?;
    }
    crate::unix::set_command_rlimits(&policy.limits, prep.address_space)?;
    if let Some(v) = policy.limits.max_processes {
        sys::set_rlimit(libc::RLIMIT_NPROC, v)?;
    }
    Ok(())
}

/// execve over the candidate paths. Never returns.
pub(super) fn do_exec(policy: &ExecPolicy, prep: &Prepared) -> ! {
    crate::unix::exec_candidates(
        &policy.argv[0],
        &prep.exe_candidates,
        &prep.argv,
        &prep.envp,
    )
}
