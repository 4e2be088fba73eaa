//! Best-effort cgroup limits (pids, memory) for the whole sandbox: a per-run child cgroup the
//! helper joins before it forks, removed when the sandbox ends. Needed because RLIMIT_NPROC does
//! not apply to processes whose user is host root (CI), and RLIMIT_AS is per process.

use std::path::{Path, PathBuf};

const PREFIX: &str = "ku0-sandbox-";

/// One joined cgroup directory and the procs file of its parent (to leave it again).
/// Descriptors are opened up front: the helper shares the sandbox's mount namespace, so after
/// init's `pivot_root` the host paths are gone from its view.
pub struct Joined {
    name: std::ffi::CString,
    base_dir: std::fs::File,
    parent_procs: std::fs::File,
}

/// Cgroups joined for this run; [`CgroupGuard::leave`] removes them.
#[derive(Default)]
pub struct CgroupGuard {
    joined: Vec<Joined>,
    pub pids_limited: bool,
    pub memory_limited: bool,
    pub cpu_limited: bool,
}

fn own_path(controller: &str) -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in s.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.split(',').any(|c| c == controller) {
            return Some(path.to_string());
        }
    }
    None
}

fn v2_path() -> Option<(PathBuf, String)> {
    let s = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = s.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
    for mnt in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if Path::new(mnt).join("cgroup.subtree_control").exists() {
            return Some((PathBuf::from(mnt), path));
        }
    }
    None
}

fn sweep_stale(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn join(base: &Path, files: &[(&str, String)]) -> Option<Joined> {
    sweep_stale(base);
    let dir = base.join(format!("{PREFIX}{}", std::process::id()));
    std::fs::create_dir(&dir).ok()?;
    let ok = files
        .iter()
        .all(|(f, v)| std::fs::write(dir.join(f), v).is_ok())
        && std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).is_ok();
    if !ok {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    let base_dir = std::fs::File::open(base).ok();
    let parent_procs = std::fs::OpenOptions::new()
        .write(true)
        .open(base.join("cgroup.procs"))
        .ok();
    let name = std::ffi::CString::new(format!("{PREFIX}{}", std::process::id())).ok();
    match (base_dir, parent_procs, name) {
        (Some(base_dir), Some(parent_procs), Some(name)) => Some(Joined {
            name,
            base_dir,
            parent_procs,
        }),
        _ => {
            let _ = std::fs::write(base.join("cgroup.procs"), std::process::id().to_string());
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }
}

impl CgroupGuard {
    /// Joins limit cgroups for the requested limits where the hierarchy is writable.
    pub fn setup(
        max_processes: Option<u64>,
        memory_bytes: Option<u64>,
        cpu_percent: Option<u32>,
    ) -> CgroupGuard {
        let mut g = CgroupGuard::default();
        if max_processes.is_none() && memory_bytes.is_none() && cpu_percent.is_none() {
            return g;
        }
        let quota = cpu_percent.map(|p| u64::from(p.max(1)) * 1000);
        // cgroup v2 with delegated controllers.
        if let Some((mnt, path)) = v2_path() {
            let base = mnt.join(path.trim_start_matches('/'));
            let ctrls =
                std::fs::read_to_string(base.join("cgroup.subtree_control")).unwrap_or_default();
            let mut files = Vec::new();
            if let Some(n) = max_processes.filter(|_| ctrls.contains("pids")) {
                files.push(("pids.max", n.to_string()));
            }
            if let Some(m) = memory_bytes.filter(|_| ctrls.contains("memory")) {
                files.push(("memory.max", m.to_string()));
                files.push(("memory.swap.max", "0".to_string()));
            }
            if let Some(q) = quota.filter(|_| ctrls.contains("cpu")) {
                files.push(("cpu.max", format!("{q} 100000")));
            }
            if !files.is_empty() {
                let has_cpu = files.iter().any(|(f, _)| *f == "cpu.max");
                let has_pids = files.iter().any(|(f, _)| *f == "pids.max");
                let has_mem = files.iter().any(|(f, _)| *f == "memory.max");
                // memory.swap.max may be missing without swap accounting: drop it on failure.
                let joined = join(&base, &files).or_else(|| {
                    files.retain(|(f, _)| *f != "memory.swap.max");
                    join(&base, &files)
                });
                if let Some(j) = joined {
                    g.joined.push(j);
                    g.pids_limited |= has_pids;
                    g.memory_limited |= has_mem;
                    g.cpu_limited |= has_cpu;
                }
            }
        }
        // cgroup v1 hierarchies.
        if let Some(n) = max_processes.filter(|_| !g.pids_limited)
            && let Some(p) = own_path("pids")
        {
            let base = Path::new("/sys/fs/cgroup/pids").join(p.trim_start_matches('/'));
            if let Some(j) = join(&base, &[("pids.max", n.to_string())]) {
                g.joined.push(j);
                g.pids_limited = true;
            }
        }
        if let Some(m) = memory_bytes.filter(|_| !g.memory_limited)
            && let Some(p) = own_path("memory")
        {
            let base = Path::new("/sys/fs/cgroup/memory").join(p.trim_start_matches('/'));
            if let Some(j) = join(&base, &[("memory.limit_in_bytes", m.to_string())]) {
                g.joined.push(j);
                g.memory_limited = true;
            }
        }
        if let Some(q) = quota.filter(|_| !g.cpu_limited)
            && let Some(p) = own_path("cpu")
        {
            let base = Path::new("/sys/fs/cgroup/cpu").join(p.trim_start_matches('/'));
            let files = [
                ("cpu.cfs_period_us", "100000".to_string()),
                ("cpu.cfs_quota_us", q.to_string()),
            ];
            if let Some(j) = join(&base, &files) {
                g.joined.push(j);
                g.cpu_limited = true;
            }
        }
        g
    }

    /// Leaves and removes the cgroups (call after every sandboxed process is gone).
    pub fn leave(&mut self) {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        for mut j in self.joined.drain(..) {
            let _ = j
                .parent_procs
                .write_all(std::process::id().to_string().as_bytes());
            // SAFETY: valid directory fd and NUL-terminated name.
            unsafe { libc::unlinkat(j.base_dir.as_raw_fd(), j.name.as_ptr(), libc::AT_REMOVEDIR) };
        }
    }
}
