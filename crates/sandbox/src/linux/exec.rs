//! The helper's main path: prepare everything, enter namespaces, fork a pid-1 "init" that
//! builds the mount tree and reaps, and fork the command that locks itself down and execs.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use seccompiler::BpfProgram;

use super::fs_rules::{self, Enforcement, FsRules};
use super::{seccomp, sys};
use crate::policy::ExecPolicy;
use crate::{EXIT_SETUP_FAILED, Result, SandboxError};

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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// Private tmpfs (at /tmp).
    Tmpfs {
        path: String,
        size: u64,
    },
    ReadBind(String),
    WriteBind(String),
    Symlink {
        path: String,
        target: String,
    },
    /// Bind a directory onto itself (rw) so it cannot be renamed or replaced.
    Pin(String),
    ReadOnly(String),
    /// A symlink inside a writable root that git follows: an empty stand-in is bound onto the
    /// link itself, so the link cannot be removed and replaced (its target is read-only).
    LinkPin {
        path: String,
        /// For a `.git` link: the git dir, so the stand-in is a gitfile (`gitdir: <dir>`) and git
        /// inside the sandbox keeps working through it.
        gitdir: Option<String>,
    },
    Deny {
        path: String,
        dir: bool,
    },
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::Tmpfs { path, .. }
            | Entry::ReadBind(path)
            | Entry::WriteBind(path)
            | Entry::Symlink { path, .. }
            | Entry::Pin(path)
            | Entry::ReadOnly(path)
            | Entry::LinkPin { path, .. }
            | Entry::Deny { path, .. } => path,
        }
    }
    fn rank(&self) -> u8 {
        match self {
            Entry::Tmpfs { .. } => 0,
            Entry::Symlink { .. } => 1,
            Entry::ReadBind(_) => 2,
            Entry::WriteBind(_) => 3,
            Entry::Pin(_) => 4,
            Entry::ReadOnly(_) => 5,
            Entry::LinkPin { .. } => 5,
            Entry::Deny { .. } => 6,
        }
    }
}

/// Device nodes bound into the private /dev.
const DEV_FILES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Everything computed before the first fork.
struct Prepared {
    entries: Vec<Entry>,
    exe_candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: String,
    readable: Vec<String>,
    writable: Vec<String>,
    rw_files: Vec<String>,
    filters: Vec<BpfProgram>,
    private_tmp: bool,
    /// A `sh -c` script too long for one execve argument, written to [`SCRIPT_FILE`].
    script: Option<Vec<u8>>,
    /// RLIMIT_AS (explicit only).
    address_space: Option<u64>,
    /// RLIMIT_DATA decided after the cgroup setup.
    data_limit: Option<u64>,
}

fn canonical(p: &str) -> Option<String> {
    std::fs::canonicalize(p)
        .ok()
        .and_then(|c| c.to_str().map(str::to_string))
}

/// The path with its parent resolved physically (the leaf may be missing).
fn canonical_parent(p: &Path) -> Option<std::path::PathBuf> {
    let parent = std::fs::canonicalize(p.parent()?).ok()?;
    Some(parent.join(p.file_name()?))
}

fn depth(p: &str) -> usize {
    p.split('/').filter(|c| !c.is_empty()).count()
}

fn under(path: &str, root: &str) -> bool {
    Path::new(path).starts_with(root)
}

fn prepare(policy: &ExecPolicy) -> Result<Prepared> {
    let mut entries = Vec::new();
    let mut writable = Vec::new();
    for w in &policy.writable_roots {
        let c = canonical(w)
            .ok_or_else(|| SandboxError::InvalidPolicy(format!("writable root missing: {w}")))?;
        if c == "/" {
            return Err(SandboxError::InvalidPolicy("/ cannot be writable".into()));
        }
        writable.push(c);
    }
    let mut readable = Vec::new();
    for r in policy.effective_readable_roots() {
        let meta = match std::fs::symlink_metadata(&r) {
            Ok(m) => m,
            Err(_) => continue,
        };
        if meta.file_type().is_symlink() {
            if let (Ok(target), Some(c)) = (std::fs::read_link(&r), canonical(&r)) {
                entries.push(Entry::Symlink {
                    path: r.clone(),
                    target: target.to_string_lossy().into_owned(),
                });
                if !readable.contains(&c) {
                    readable.push(c);
                }
            }
            continue;
        }
        if let Some(c) = canonical(&r) {
            if c == "/" {
                return Err(SandboxError::InvalidPolicy(
                    "/ cannot be a readable root; list directories explicitly".into(),
                ));
            }
            if !readable.contains(&c) {
                readable.push(c);
            }
        }
    }
    let private_tmp = !writable.iter().chain(readable.iter()).any(|p| p == "/tmp");
    if private_tmp {
        entries.push(Entry::Tmpfs {
            path: "/tmp".into(),
            size: policy.limits.tmp_size_bytes.unwrap_or(256 << 20),
        });
    }
    // Readable roots that lie inside a writable root need no extra bind.
    for r in &readable {
        if r == "/dev" || r == "/proc" || r.starts_with("/dev/") || r.starts_with("/proc/") {
            continue;
        }
        if !writable.iter().any(|w| under(r, w)) {
            entries.push(Entry::ReadBind(r.clone()));
        }
    }
    for w in &writable {
        entries.push(Entry::WriteBind(w.clone()));
    }
    // Git-dir integrity: placeholders for missing paths first (they become mount points), then
    // every protected path read-only and its git dir pinned.
    let mut read_only = policy.effective_read_only_paths();
    for mut g in policy.git_protected() {
        // A protected name that is a symlink: protect what it points to (a dangling link's
        // target gets the placeholder) and pin the link itself.
        let mut link = None;
        let is_link = std::fs::symlink_metadata(&g.path).is_ok_and(|m| m.file_type().is_symlink());
        if g.link_only {
            if is_link
                && let Some(l) =
                    canonical_parent(&g.path).and_then(|l| l.to_str().map(String::from))
                && writable.iter().any(|w| under(&l, w))
            {
                let gitdir = g.path.to_str().and_then(canonical);
                entries.push(Entry::LinkPin { path: l, gitdir });
            }
            continue;
        }
        if is_link {
            match crate::paths::resolve(&g.path, Path::new("/")) {
                Ok(r) => {
                    link = canonical_parent(&g.path);
                    g.path = r.path;
                }
                Err(_) => continue,
            }
        }
        let inside = |p: &Path| {
            p.to_str()
                .is_some_and(|s| writable.iter().any(|w| under(s, w)))
        };
        let target = canonical_parent(&g.path);
        if !target.as_deref().is_some_and(inside) {
            continue;
        }
        match crate::git::ensure_placeholder(&g) {
            Ok(()) => {}
            // Where this uid cannot create the path, the command (same uid) cannot either.
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    || e.raw_os_error() == Some(libc::EROFS) => {}
            Err(e) => {
                return Err(SandboxError::Os {
                    what: format!("git placeholder {}", g.path.display()),
                    source: e,
                });
            }
        }
        if let Some(dir) = g.git_dir.as_ref().and_then(|d| d.to_str())
            && !writable.iter().any(|w| w == dir)
            && writable.iter().any(|w| under(dir, w))
        {
            let pin = Entry::Pin(dir.to_string());
            if !entries.contains(&pin) {
                entries.push(pin);
            }
        }
        if let Some(p) = g.path.to_str()
            && !read_only.iter().any(|r| r == p)
        {
            read_only.push(p.to_string());
        }
        if let Some(l) = link.as_ref().and_then(|l| l.to_str())
            && writable.iter().any(|w| under(l, w))
        {
            entries.push(Entry::LinkPin {
                path: l.to_string(),
                gitdir: None,
            });
        }
    }
    for ro in read_only {
        let Ok(meta) = std::fs::symlink_metadata(&ro) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let Some(c) = canonical(&ro) else { continue };
        if entries.contains(&Entry::ReadOnly(c.clone())) {
            continue;
        }
        if !writable.iter().any(|w| under(&c, w)) {
            continue;
        }
        if let Some(parent) = Path::new(&c).parent().and_then(|p| p.to_str())
            && parent.ends_with("/.git")
            && !writable.iter().any(|w| w == parent)
        {
            let pin = Entry::Pin(parent.to_string());
            if !entries.contains(&pin) {
                entries.push(pin);
            }
        }
        entries.push(Entry::ReadOnly(c));
    }
    for d in policy.effective_denied_paths() {
        if std::fs::symlink_metadata(&d).is_err() {
            // Missing at session start: inside a writable root the command could create it, so
            // it gets a placeholder (like the git paths) that the stand-in is mounted onto.
            let inside = crate::paths::resolve(Path::new(&d), Path::new("/")).is_ok_and(|r| {
                !r.exists
                    && r.path
                        .to_str()
                        .is_some_and(|s| writable.iter().any(|w| under(s, w) && s != w))
            });
            if inside {
                match crate::policy::ensure_denied_placeholder(Path::new(&d)) {
                    Ok(()) => {}
                    Err(e)
                        if e.kind() == std::io::ErrorKind::PermissionDenied
                            || e.raw_os_error() == Some(libc::EROFS) => {}
                    Err(e) => {
                        return Err(SandboxError::Os {
                            what: format!("denied-path placeholder {d}"),
                            source: e,
                        });
                    }
                }
            }
        }
        let Ok(meta) = std::fs::symlink_metadata(&d) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            // The link itself reveals nothing; its target is checked on its own.
            continue;
        }
        let Some(c) = canonical(&d) else { continue };
        let visible = readable
            .iter()
            .chain(writable.iter())
            .any(|root| under(&c, root));
        if visible {
            entries.push(Entry::Deny {
                path: c,
                dir: meta.is_dir(),
            });
        }
    }
    // A protected path must not move away with one of its ancestors (renaming a directory that
    // contains a mount point is allowed; a nested repository's `vendor/` renamed and recreated
    // would hand the host a fresh `.git` of the command's choosing): pin every directory between
    // the writable root and each read-only, link-pinned or denied entry.
    let mut ancestors: Vec<Entry> = Vec::new();
    for e in &entries {
        if !matches!(
            e,
            Entry::ReadOnly(_) | Entry::LinkPin { .. } | Entry::Deny { .. } | Entry::Pin(_)
        ) {
            continue;
        }
        let Some(root) = writable
            .iter()
            .filter(|w| under(e.path(), w))
            .max_by_key(|w| w.len())
        else {
            continue;
        };
        let mut cur = Path::new(e.path()).parent();
        while let Some(a) = cur.and_then(|a| a.to_str()) {
            if a == root || !under(a, root) {
                break;
            }
            let pin = Entry::Pin(a.to_string());
            if !entries.contains(&pin) && !ancestors.contains(&pin) {
                ancestors.push(pin);
            }
            cur = Path::new(a).parent();
        }
    }
    entries.extend(ancestors);
    entries.sort_by(|a, b| {
        depth(a.path())
            .cmp(&depth(b.path()))
            .then(a.rank().cmp(&b.rank()))
            .then(a.path().cmp(b.path()))
    });

    let cmd = command_parts(policy, &writable)?;
    let mut landlock_writable = writable.clone();
    if private_tmp {
        landlock_writable.push("/tmp".into());
    }
    let mut landlock_readable = readable.clone();
    if cmd.script.is_some() {
        landlock_readable.push(SCRIPT_FILE.into());
    }
    landlock_readable.push("/proc".into());
    landlock_readable.push("/dev".into());
    Ok(Prepared {
        entries,
        exe_candidates: cmd.exe_candidates,
        argv: cmd.argv,
        envp: cmd.envp,
        cwd: cmd.cwd,
        readable: landlock_readable,
        writable: landlock_writable,
        rw_files: DEV_FILES.iter().map(|f| format!("/dev/{f}")).collect(),
        filters: seccomp::build_filters(policy.network.mode)?,
        private_tmp,
        address_space: policy.limits.address_space_bytes,
        data_limit: None,
        script: cmd.script,
    })
}

/// The command-dependent part of the preparation (also redone in pid 1 in prewarm mode).
struct CommandParts {
    exe_candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: String,
    script: Option<Vec<u8>>,
}

fn command_parts(policy: &ExecPolicy, writable: &[String]) -> Result<CommandParts> {
    // execve limits each argument to 128 KiB (MAX_ARG_STRLEN): a longer `sh -c` script is written
    // into the constructed root and run as a script file instead.
    let mut script = None;
    let mut argv_src = policy.argv.clone();
    if argv_src.len() == 3 && argv_src[1] == "-c" && argv_src[2].len() > MAX_INLINE_SCRIPT {
        script = Some(std::mem::take(&mut argv_src[2]).into_bytes());
        argv_src = vec![argv_src[0].clone(), SCRIPT_FILE.to_string()];
    }
    let argv: Vec<CString> = argv_src
        .iter()
        .map(|a| sys::cstr(a))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = policy
        .env
        .iter()
        .map(|(k, v)| sys::cstr(&format!("{k}={v}")))
        .collect::<Result<_>>()?;
    let arg0 = policy
        .argv
        .first()
        .ok_or_else(|| SandboxError::InvalidPolicy("argv is empty".into()))?;
    let exe_candidates: Vec<CString> = if arg0.contains('/') {
        vec![sys::cstr(arg0)?]
    } else {
        let path = policy
            .env
            .get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| sys::cstr(&format!("{}/{}", d.trim_end_matches('/'), arg0)))
            .collect::<Result<_>>()?
    };
    let cwd = match &policy.cwd {
        Some(c) => {
            canonical(c).ok_or_else(|| SandboxError::InvalidPolicy(format!("cwd missing: {c}")))?
        }
        None => writable.first().cloned().unwrap_or_else(|| "/".into()),
    };
    Ok(CommandParts {
        exe_candidates,
        argv,
        envp,
        cwd,
        script,
    })
}

/// The per-command message of prewarm mode (sent after the session policy).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandMessage {
    argv: Vec<String>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    cwd: Option<String>,
    #[serde(default)]
    limits: Option<crate::policy::Limits>,
}

/// Reads `<decimal length>\n<payload>` from `fd` with raw reads of exactly that many bytes, so
/// whatever follows stays in the pipe for the command.
pub fn read_len_prefixed(fd: libc::c_int) -> std::result::Result<Vec<u8>, String> {
    fn read_exact(fd: libc::c_int, buf: &mut [u8]) -> std::result::Result<(), String> {
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: reading into a valid buffer.
            let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(std::io::Error::last_os_error().to_string());
            }
            if n == 0 {
                return Err("unexpected end of input".into());
            }
            got += n as usize;
        }
        Ok(())
    }
    let mut len = 0usize;
    let mut digits = 0;
    loop {
        let mut b = [0u8; 1];
        read_exact(fd, &mut b)?;
        match b[0] {
            b'\n' if digits > 0 => break,
            c @ b'0'..=b'9' if digits < 12 => {
                len = len * 10 + usize::from(c - b'0');
                digits += 1;
            }
            _ => return Err("bad length header".into()),
        }
    }
    if len > 64 << 20 {
        return Err("message larger than 64 MiB".into());
    }
    let mut buf = vec![0u8; len];
    read_exact(fd, &mut buf)?;
    Ok(buf)
}

/// Writes a long script (if any) and makes the root tmpfs read-only: the last mount step.
fn finish_root(script: Option<&[u8]>) -> Result<()> {
    if let Some(script) = script {
        std::fs::write(SCRIPT_FILE, script).map_err(|e| SandboxError::Os {
            what: "write command script".into(),
            source: e,
        })?;
        std::fs::set_permissions(
            SCRIPT_FILE,
            std::os::unix::fs::PermissionsExt::from_mode(0o444),
        )
        .map_err(|e| SandboxError::Os {
            what: "chmod command script".into(),
            source: e,
        })?;
    }
    sys::mount_setattr(
        "/",
        false,
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
    )
}

/// First thing pid 1 does: die with the helper, bail out if it is already gone, non-dumpable.
fn arm_init(life_pipe: [libc::c_int; 2]) {
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

/// pid 1 in prewarm mode: builds the mount tree, then reads the command message from stdin,
/// redoes the command-dependent parts and continues like [`run_init`]. Never returns.
fn prewarmed_init(
    session: &ExecPolicy,
    prep: Prepared,
    ns: NsMode,
    status_fd: libc::c_int,
    life_pipe: [libc::c_int; 2],
) -> ! {
    arm_init(life_pipe);
    if ns == NsMode::None {
        sys::die(EXIT_SETUP_FAILED, "error: prewarm mode needs namespaces");
    }
    if let Err(e) = build_mounts(&prep) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
    }
    if session.reaper {
        // The reaper stays unrestricted (it only waits); keep the simple order.
        let (policy, prep) = read_command(session, prep, true);
        if let Err(e) = finish_root(prep.script.as_deref()) {
            sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
        }
        run_init_after_mounts(&policy, &prep, ns, status_fd)
    }
    // The command will be pid 1: finish the root, set the process limit and lock down now, so
    // that only the command's own part remains once it arrives.
    if let Err(e) = finish_root(None) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
    }
    set_pid_max(session, ns);
    // SAFETY: plain syscalls; the status pipe is unused without a reaper.
    unsafe {
        libc::close(status_fd);
        libc::setsid();
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    sys::close_inherited_fds();
    if let Err(e) = lockdown(session, &prep) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    let (policy, prep) = read_command(session, prep, false);
    let r = apply_rlimits(&policy, &prep).and_then(|()| sys::chdir(&prep.cwd));
    if let Err(e) = r {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    do_exec(&policy, &prep)
}

/// Prewarm: reads the command message and rebuilds the command-dependent parts. A long script
/// goes to the root (before it is made read-only) when `script_in_root`, else into /tmp.
fn read_command(
    session: &ExecPolicy,
    mut prep: Prepared,
    script_in_root: bool,
) -> (ExecPolicy, Prepared) {
    let msg = match read_len_prefixed(0)
        .and_then(|b| serde_json::from_slice::<CommandMessage>(&b).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        // The manager dropped this warm sandbox without using it.
        Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: no command: {e}")),
    };
    let mut policy = session.clone();
    policy.argv = msg.argv;
    policy.env = msg.env;
    policy.cwd = msg.cwd;
    if let Some(l) = msg.limits {
        policy.limits.cpu_time_sec = l.cpu_time_sec;
        policy.limits.max_open_files = l.max_open_files;
        policy.limits.max_file_size_bytes = l.max_file_size_bytes;
    }
    if let Err(e) = policy.validate() {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    let writable = policy.writable_roots.clone();
    let cmd = match command_parts(&policy, &writable) {
        Ok(c) => c,
        Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
    };
    if cmd.script.is_some() {
        prep.readable.push(SCRIPT_FILE.into());
    }
    prep.exe_candidates = cmd.exe_candidates;
    prep.argv = cmd.argv;
    prep.envp = cmd.envp;
    prep.cwd = cmd.cwd;
    prep.script = cmd.script;
    if !script_in_root && let Some(script) = prep.script.take() {
        // Private /tmp is writable under Landlock; the root is already read-only.
        let path = format!("/tmp/.ku0-command-{}.sh", std::process::id());
        if let Err(e) = std::fs::write(&path, &script) {
            sys::die(
                EXIT_SETUP_FAILED,
                &format!("error: write command script: {e}"),
            );
        }
        match prep.argv.last_mut() {
            Some(last) => match sys::cstr(&path) {
                Ok(c) => *last = c,
                Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
            },
            None => sys::die(EXIT_SETUP_FAILED, "error: empty argv"),
        }
    }
    (policy, prep)
}

/// Enters the namespaces. Returns what could be entered. `own_net`: a fresh network namespace
/// with only loopback (network `none`: no host sockets, listeners, routes or abstract sockets
/// are visible or reachable).
fn enter_namespaces(require: bool, own_net: bool) -> Result<NsMode> {
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
            super::netns::lo_up()?;
        }
        return Ok(NsMode::Full);
    }
    if euid == 0 && sys::unshare(base).is_ok() {
        if own_net {
            super::netns::lo_up()?;
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

fn bind(src_root: &str, path: &str, is_dir: bool) -> Result<()> {
    let exists = std::fs::symlink_metadata(path).is_ok();
    if !exists {
        if is_dir {
            sys::mkdir_p(path)?;
        } else {
            sys::touch(path)?;
        }
    }
    let src = format!("{src_root}{path}");
    sys::mount(Some(&src), path, None, libc::MS_BIND | libc::MS_REC, None)
}

const EMPTY_FILE: &str = "/.ku0-empty";
/// /proc files that show host-wide information (key descriptions, timers, scheduler state,
/// kernel memory) or act on the host (sysrq): replaced by an empty unreadable file.
pub const PROC_MASKED_FILES: &[&str] = &[
    "/proc/keys",
    "/proc/key-users",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/kcore",
    "/proc/latency_stats",
    "/proc/timer_stats",
    "/proc/sysrq-trigger",
];
/// /proc directories with host hardware details: replaced by an empty unreadable tmpfs.
pub const PROC_MASKED_DIRS: &[&str] = &["/proc/acpi", "/proc/scsi"];
/// Where a long `sh -c` script is placed inside the sandbox (read-only root tmpfs).
const SCRIPT_FILE: &str = "/.ku0-command.sh";
/// Longest `sh -c` argument passed inline (execve's per-argument limit is 128 KiB).
const MAX_INLINE_SCRIPT: usize = 120 * 1024;
/// The kernel refuses a pid_max below this.
const PID_MAX_MIN: u64 = 301;

/// Builds the new root (runs in init, inside the mount namespace).
fn build_mounts(prep: &Prepared) -> Result<()> {
    sys::mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
    // Staging tmpfs that becomes the new root; the old root stays reachable at /oldroot until
    // every bind is made.
    sys::mount(
        Some("tmpfs"),
        "/tmp",
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755,size=1m"),
    )?;
    sys::mkdir_p("/tmp/oldroot")?;
    sys::chdir("/tmp")?;
    sys::pivot_root(".", "oldroot")?;
    sys::chdir("/")?;
    const OLD: &str = "/oldroot";

    // /proc for the new pid namespace, /dev with a few device nodes.
    sys::mkdir_p("/proc")?;
    sys::mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;
    sys::mkdir_p("/dev")?;
    sys::mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )?;
    for f in DEV_FILES {
        let path = format!("/dev/{f}");
        if std::fs::metadata(format!("{OLD}{path}")).is_ok() {
            bind(OLD, &path, false)?;
        }
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, link).map_err(|e| SandboxError::Os {
            what: format!("symlink {link}"),
            source: e,
        })?;
    }
    sys::mkdir_p("/dev/shm")?;
    sys::mount_setattr("/dev", false, sys::MOUNT_ATTR_RDONLY)?;

    // Empty, unreadable stand-ins for denied files.
    sys::touch(EMPTY_FILE)?;
    std::fs::set_permissions(
        EMPTY_FILE,
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .map_err(|e| SandboxError::Os {
        what: "chmod empty".into(),
        source: e,
    })?;

    let ro = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    let mut links = 0usize;
    // Host information in the fresh /proc that the pid namespace does not scope.
    for f in PROC_MASKED_FILES {
        if std::fs::symlink_metadata(f).is_ok() {
            sys::mount(Some(EMPTY_FILE), f, None, libc::MS_BIND, None)?;
            sys::mount_setattr(f, false, ro)?;
        }
    }
    for d in PROC_MASKED_DIRS {
        if std::fs::symlink_metadata(d).is_ok() {
            sys::mount(
                Some("tmpfs"),
                d,
                Some("tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
                Some("mode=000,size=4k"),
            )?;
        }
    }
    for e in &prep.entries {
        match e {
            Entry::Tmpfs { path, size } => {
                sys::mkdir_p(path)?;
                sys::mount(
                    Some("tmpfs"),
                    path,
                    Some("tmpfs"),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    Some(&format!("mode=1777,size={size}")),
                )?;
            }
            Entry::Symlink { path, target } => {
                if std::fs::symlink_metadata(path).is_err() {
                    if let Some(parent) = Path::new(path).parent().and_then(|p| p.to_str()) {
                        sys::mkdir_p(parent)?;
                    }
                    std::os::unix::fs::symlink(target, path).map_err(|e| SandboxError::Os {
                        what: format!("symlink {path}"),
                        source: e,
                    })?;
                }
            }
            Entry::ReadBind(path) => {
                let is_dir = std::fs::metadata(format!("{OLD}{path}"))
                    .map(|m| m.is_dir())
                    .unwrap_or(true);
                bind(OLD, path, is_dir)?;
                sys::mount_setattr(path, true, ro)?;
            }
            Entry::WriteBind(path) => {
                let is_dir = std::fs::metadata(format!("{OLD}{path}"))
                    .map(|m| m.is_dir())
                    .unwrap_or(true);
                bind(OLD, path, is_dir)?;
                sys::mount_setattr(path, true, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV)?;
            }
            Entry::Pin(path) => {
                bind("", path, true)?;
            }
            Entry::ReadOnly(path) => {
                let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(true);
                bind("", path, is_dir)?;
                sys::mount_setattr(path, true, ro)?;
            }
            Entry::LinkPin { path, gitdir } => {
                // A directory cannot be mounted onto a symlink (the kernel wants matching
                // types): a stand-in file pins it. For `.git` it is a gitfile leading to the
                // same git dir; otherwise the empty unreadable file (the target itself is
                // protected by its own read-only entry).
                let src = match gitdir {
                    Some(dir) => {
                        links += 1;
                        let f = format!("/.ku0-gitfile-{links}");
                        std::fs::write(&f, format!("gitdir: {dir}\n")).map_err(|e| {
                            SandboxError::Os {
                                what: format!("write {f}"),
                                source: e,
                            }
                        })?;
                        f
                    }
                    None => EMPTY_FILE.to_string(),
                };
                sys::bind_onto_link(&src, path, ro)?;
            }
            Entry::Deny { path, dir } => {
                if std::fs::symlink_metadata(path).is_err() {
                    continue;
                }
                if *dir {
                    sys::mount(
                        Some("tmpfs"),
                        path,
                        Some("tmpfs"),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
                        Some("mode=000,size=4k"),
                    )?;
                } else {
                    sys::mount(Some(EMPTY_FILE), path, None, libc::MS_BIND, None)?;
                    sys::mount_setattr(path, false, ro)?;
                }
            }
        }
    }
    sys::umount_detach(OLD)?;
    let _ = std::fs::remove_dir(OLD);
    Ok(())
}

const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const SECBIT_NOROOT: u64 = 1 << 0;
const SECBIT_NOROOT_LOCKED: u64 = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: u64 = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: u64 = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: u64 = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: u64 = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: u64 = 1 << 7;

/// Drops every capability (bounding, ambient, effective/permitted/inheritable) and locks the
/// securebits so that exec as uid 0 regains nothing.
fn drop_caps() -> Result<()> {
    // SAFETY: trivial getter.
    let have_caps = unsafe { libc::geteuid() } == 0 || cap_eff_nonzero();
    if have_caps {
        sys::prctl(
            libc::PR_SET_SECUREBITS,
            (SECBIT_NOROOT
                | SECBIT_NOROOT_LOCKED
                | SECBIT_NO_SETUID_FIXUP
                | SECBIT_NO_SETUID_FIXUP_LOCKED
                | SECBIT_KEEP_CAPS_LOCKED
                | SECBIT_NO_CAP_AMBIENT_RAISE
                | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) as libc::c_ulong,
        )?;
        for cap in 0..64 {
            // SAFETY: integer prctl; EINVAL past the last capability ends the loop.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if rc < 0 {
                let errno = std::io::Error::last_os_error().raw_os_error();
                if errno == Some(libc::EINVAL) {
                    break;
                }
                return Err(SandboxError::last_os("drop bounding capability"));
            }
        }
    }
    // SAFETY: integer prctl.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and two data structs as required by version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if rc < 0 {
        return Err(SandboxError::last_os("capset"));
    }
    Ok(())
}

fn cap_eff_nonzero() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("CapEff:"))
                .map(|l| l.trim_start_matches("CapEff:").trim() != "0000000000000000")
        })
        .unwrap_or(false)
}

fn apply_rlimits(policy: &ExecPolicy, prep: &Prepared) -> Result<()> {
    let address_space = prep.address_space;
    if let Some(v) = prep.data_limit {
        sys::set_rlimit(libc::RLIMIT_DATA, v)?;
    }
    let l = &policy.limits;
    sys::set_rlimit(libc::RLIMIT_CORE, 0)?;
    if let Some(v) = l.cpu_time_sec {
        sys::set_rlimit(libc::RLIMIT_CPU, v.max(1))?;
    }
    if let Some(v) = address_space {
        sys::set_rlimit(libc::RLIMIT_AS, v)?;
    }
    if let Some(v) = l.max_processes {
        sys::set_rlimit(libc::RLIMIT_NPROC, v)?;
    }
    if let Some(v) = l.max_open_files {
        sys::set_rlimit(libc::RLIMIT_NOFILE, v)?;
    }
    if let Some(v) = l.max_file_size_bytes {
        sys::set_rlimit(libc::RLIMIT_FSIZE, v)?;
    }
    Ok(())
}

/// Runs in the command process: lock down and exec. Never returns.
fn exec_command(policy: &ExecPolicy, prep: &Prepared, ns: NsMode) -> ! {
    let _ = ns;
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
fn lockdown(policy: &ExecPolicy, prep: &Prepared) -> Result<()> {
    {
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
}

/// execve over the candidate paths. Never returns.
fn do_exec(policy: &ExecPolicy, prep: &Prepared) -> ! {
    let mut argv_ptrs: Vec<*const libc::c_char> = prep.argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = prep.envp.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let mut last = libc::ENOENT;
    for exe in &prep.exe_candidates {
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
    sys::die(
        code,
        &format!(
            "cannot execute {}: {}",
            policy.argv[0],
            std::io::Error::from_raw_os_error(last)
        ),
    )
}

fn pipe_cloexec() -> Result<[libc::c_int; 2]> {
    let mut fds = [0; 2];
    // SAFETY: valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(SandboxError::last_os("pipe2"));
    }
    Ok(fds)
}

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
    let mut st: libc::c_int = 0;
    loop {
        // SAFETY: valid out pointer.
        let r = unsafe { libc::waitpid(init, &mut st, 0) };
        if r == init {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
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

/// Exits with the command's exit code, or re-raises its signal. Never returns.
fn relay_status(cmd_status: libc::c_int) -> ! {
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

/// pid 1 of the sandbox: builds the mount tree, forks the command, reaps, reports. Never returns.
fn run_init(
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

/// Linux 6.14+: pid_max is per pid namespace; pids above it cannot be allocated, so at most
/// pid_max - 1 processes exist. Older kernels refuse the write (reported by probe).
fn set_pid_max(policy: &ExecPolicy, ns: NsMode) {
    if ns != NsMode::None
        && let Some(n) = policy.limits.max_processes
    {
        let v = n.saturating_add(1).clamp(PID_MAX_MIN, 4_194_304);
        let _ = std::fs::write("/proc/sys/kernel/pid_max", v.to_string());
    }
}

/// pid 1 after the mount tree is complete: process limit, then the command (as pid 1 itself, or
/// forked under this reaper). Never returns.
fn run_init_after_mounts(
    policy: &ExecPolicy,
    prep: &Prepared,
    ns: NsMode,
    status_fd: libc::c_int,
) -> ! {
    set_pid_max(policy, ns);
    let _ = prep.private_tmp;
    if !policy.reaper {
        // The command becomes pid 1 itself: its exit ends the namespace (and every process left
        // in it). PDEATHSIG survives execve, so the helper's death still kills it.
        // SAFETY: the status pipe is not needed in this mode.
        unsafe { libc::close(status_fd) };
        exec_command(policy, prep, ns);
    }
    // SAFETY: single-threaded.
    let cmd = unsafe { libc::fork() };
    if cmd < 0 {
        sys::die(EXIT_SETUP_FAILED, "error: fork command");
    }
    if cmd == 0 {
        // SAFETY: drop the death signal inherited from init; the pid namespace handles teardown.
        unsafe { libc::close(status_fd) };
        exec_command(policy, prep, ns);
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

/// Inode identity helper for tests and callers (device, inode).
pub fn identity(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
