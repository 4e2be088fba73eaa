//! The helper's main path, top-down: [`run`] / [`run_prewarmed`] prepare the mount plan
//! ([`plan`]), enter the namespaces ([`namespaces`]) and fork pid 1 ([`init`]), which builds the
//! constructed root ([`mounts`]) and becomes (or forks) the command; the command drops its
//! capabilities ([`caps`]), locks itself down and execs. In prewarm mode pid 1 first waits for the
//! command message ([`prewarm`]). The helper's first process stays outside, waits and relays the
//! command's status.

mod caps;
mod init;
mod mounts;
mod namespaces;
mod plan;
mod prewarm;

pub use mounts::{PROC_MASKED_DIRS, PROC_MASKED_FILES};
pub use namespaces::NsMode;

use super::{fs_rules, seccomp, sys};
use crate::policy::ExecPolicy;
use crate::unix::relay_status;
use crate::{EXIT_SETUP_FAILED, Result, SandboxError};
use init::run_init;
use namespaces::enter_namespaces;
use plan::{Entry, prepare};
use prewarm::prewarmed_init;

/// Runs the policy. Returns only on setup failure before the first fork; afterwards the
/// process exits with the command's status (or re-raises its signal).
pub fn run(policy: &ExecPolicy) -> Result<std::convert::Infallible> {
    run_mode(policy, false)
}

/// Prewarm mode: everything up to the command is set up from the session `policy` (namespaces,
/// constructed root, pid 1), then pid 1 waits for a length-prefixed command message on stdin
/// (`{argv, env, cwd, limits}`) and runs it. Spawned ahead of time, this takes the setup off the
/// command's critical path.
pub fn run_prewarmed(policy: &ExecPolicy) -> Result<std::convert::Infallible> {
    run_mode(policy, true)
}

fn run_mode(policy: &ExecPolicy, prewarm: bool) -> Result<std::convert::Infallible> {
    if policy.require.seccomp && !seccomp::available() {
        return Err(SandboxError::Unavailable("seccomp is not available".into()));
    }
    if policy.require.landlock && fs_rules::kernel_abi() < 1 {
        return Err(SandboxError::Unavailable(
            "Landlock is not available".into(),
        ));
    }
    let mut prep = prepare(policy)?;
    trace("prepared");
    sys::set_rlimit(libc::RLIMIT_CORE, 0)?;
    // RLIMIT_NPROC does not bind host root; a pids cgroup does (best effort, reported by probe).
    // SAFETY: trivial getter.
    let is_root = unsafe { libc::geteuid() } == 0;
    let mut cgroups = if is_root && policy.limits.cgroups {
        super::cgroup::CgroupGuard::setup(
            policy.limits.max_processes,
            policy.limits.memory_bytes,
            policy.limits.cpu_percent,
        )
    } else {
        super::cgroup::CgroupGuard::default()
    };
    if !cgroups.memory_limited
        && let Some(mem) = policy.limits.memory_bytes
    {
        // RLIMIT_DATA per process does not count shared memory: refuse the ways to pin it and
        // keep the private /tmp (tmpfs pages) within the limit too.
        prep.data_limit = Some(mem);
        prep.filters.push(seccomp::shared_memory_filter()?);
        for e in prep.entries.iter_mut() {
            if let Entry::Tmpfs { size, .. } = e {
                *size = (*size).min(mem);
            }
        }
    }
    trace("cgroups");
    if let (Some(pid), Some(ino)) = (policy.network.netns_pid, policy.network.netns_ino) {
        super::netns::join(pid, ino)?;
    }
    let own_net = policy.network.mode == crate::policy::NetworkMode::None
        && policy.network.netns_pid.is_none();
    let ns = enter_namespaces(policy.require.namespaces, own_net)?;
    trace("namespaces");
    let status_pipe = pipe_cloexec()?;
    let life_pipe = pipe_cloexec()?;
    // SAFETY: the helper is single-threaded.
    let init = unsafe { libc::fork() };
    if init < 0 {
        return Err(SandboxError::last_os("fork"));
    }
    if init == 0 {
        if prewarm {
            prewarmed_init(policy, prep, ns, status_pipe[1], life_pipe);
        }
        run_init(policy, &prep, ns, status_pipe[1], life_pipe);
    }
    // Parent (outside the namespaces): wait for init, relay the command's status.
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(status_pipe[1]);
        libc::close(life_pipe[0]);
    }
    let st = crate::unix::wait_child(init);
    trace("init reaped");
    cgroups.leave();
    trace("cgroups left");
    if !policy.reaper {
        if ns == NsMode::None {
            // No pid namespace: kill whatever the command left in its session's group.
            // SAFETY: signal the group the command created with setsid.
            unsafe { libc::kill(-init, libc::SIGKILL) };
        }
        relay_status(st);
    }
    let mut buf = [0u8; 4];
    let mut got = 0usize;
    while got < 4 {
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(status_pipe[0], buf[got..].as_mut_ptr().cast(), 4 - got) };
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    if got < 4 {
        // init failed during setup (it already printed why) or was killed.
        let code = if libc::WIFEXITED(st) {
            libc::WEXITSTATUS(st)
        } else {
            EXIT_SETUP_FAILED
        };
        // SAFETY: exit.
        unsafe { libc::_exit(if code == 0 { EXIT_SETUP_FAILED } else { code }) };
    }
    relay_status(i32::from_ne_bytes(buf))
}

fn pipe_cloexec() -> Result<[libc::c_int; 2]> {
    let mut fds = [0; 2];
    // SAFETY: valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(SandboxError::last_os("pipe2"));
    }
    Ok(fds)
}

static TRACE: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();

/// Stage timing for performance work ([`crate::TRACE_ENV`] set on a helper run by hand).
fn trace(stage: &str) {
    let start =
        TRACE.get_or_init(|| std::env::var_os(crate::TRACE_ENV).map(|_| std::time::Instant::now()));
    if let Some(t) = start {
        let line = format!(
            "ku0-trace {:>8}us pid={} {stage}\n",
            t.elapsed().as_micros(),
            std::process::id()
        );
        sys::write_all_fd(2, line.as_bytes());
    }
}
