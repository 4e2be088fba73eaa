//! What the running kernel lets the helper enforce.

use serde::Serialize;

use super::{fs_rules, seccomp, sys};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub kernel: String,
    pub arch: String,
    pub euid: u32,
    pub landlock_abi: i32,
    pub landlock_fs: bool,
    pub landlock_truncate: bool,
    pub landlock_tcp: bool,
    pub landlock_ioctl_dev: bool,
    pub landlock_scopes: bool,
    pub seccomp: bool,
    pub seccomp_x86_64_filters: bool,
    pub user_namespaces: bool,
    pub root_namespaces_without_userns: bool,
    pub cgroup_pids: bool,
    pub cgroup_memory: bool,
    pub cgroup_cpu: bool,
    /// Linux 6.14+: pid_max is per pid namespace (the default process limit).
    pub pidns_pid_max: bool,
}

/// Tries `unshare(flags)` in a throw-away child.
fn try_unshare(flags: libc::c_int) -> bool {
    // SAFETY: fork in the single-threaded helper; the child only unshares and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        let ok = sys::unshare(flags).is_ok();
        // SAFETY: exit child.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut st = 0;
    // SAFETY: wait for the probe child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = rel
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse::<u32>().ok());
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

pub fn probe() -> Probe {
    let abi = fs_rules::kernel_abi();
    // SAFETY: trivial getter.
    let euid = unsafe { libc::geteuid() };
    let base = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    let mut cg = if euid == 0 {
        super::cgroup::CgroupGuard::setup(Some(1 << 20), Some(1 << 40), Some(100))
    } else {
        super::cgroup::CgroupGuard::default()
    };
    cg.leave();
    Probe {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        arch: std::env::consts::ARCH.to_string(),
        euid,
        landlock_abi: abi,
        landlock_fs: abi >= 1,
        landlock_truncate: abi >= 3,
        landlock_tcp: abi >= 4,
        landlock_ioctl_dev: abi >= 5,
        landlock_scopes: abi >= 6,
        seccomp: seccomp::available(),
        seccomp_x86_64_filters: cfg!(target_arch = "x86_64"),
        user_namespaces: try_unshare(libc::CLONE_NEWUSER | base),
        root_namespaces_without_userns: euid == 0 && try_unshare(base),
        cgroup_pids: cg.pids_limited,
        cgroup_memory: cg.memory_limited,
        cgroup_cpu: cg.cpu_limited,
        pidns_pid_max: kernel_at_least(6, 14),
    }
}
