//! The Windows sandbox plan derived from an [`ExecPolicy`]: which paths get which ACL entries for
//! the sandbox's AppContainer SID, which capabilities the container gets, and which Job Object
//! limits apply. Pure data computed from strings (no Windows API, no file system): tested here on
//! Linux; `sys.rs` applies it on Windows (written, not run).
//!
//! Rules (see docs/sandbox.md, "Windows"):
//! - every path is normalized by [`WinPath`] first; a refused spelling refuses the policy;
//! - readable roots get read+execute (inherited by the tree), except those already readable by
//!   every AppContainer (`ALL APPLICATION PACKAGES` on `C:\Windows`, `C:\Program Files`): no ACL
//!   change there (and none is possible without TrustedInstaller). Under LPAC that group does not
//!   apply, so those roots are granted like the others;
//! - writable roots get *modify* (`0x1301BF`: read, write, execute, delete the object itself; no
//!   `FILE_DELETE_CHILD`, `WRITE_DAC`, `WRITE_OWNER`), so a child's explicit deny of `DELETE`
//!   cannot be bypassed through the parent;
//! - read-only carve-outs inside writable roots get an explicit deny of every write right
//!   (explicit deny ACEs precede the inherited allow in canonical order), a placeholder when
//!   missing, and every directory between the writable root and the carve-out is pinned with an
//!   explicit deny of `DELETE` (not inherited), so it can be neither renamed away nor removed
//!   (the Linux backend pins the same directories with bind mounts);
//! - denied paths inside a granted root get an explicit deny of everything (inherited); outside
//!   every granted root the AppContainer cannot open them anyway and nothing is changed;
//! - a readable or writable root inside a denied path, or a writable root inside a read-only
//!   carve-out, is refused: its explicit allow would outrank the inherited deny.

use std::collections::BTreeMap;

use super::cmdline;
use super::winpath::{PathRefusal, WinPath};
use crate::policy::{DEFAULT_DENIED_HOME, ExecPolicy, Limits, NetworkMode, denied_is_file};
use crate::{Result, SandboxError};

/// `FILE_GENERIC_READ | FILE_GENERIC_EXECUTE`.
pub const MASK_READ_EXECUTE: u32 = 0x0012_00A9;
/// "Modify" without `FILE_DELETE_CHILD`: `FILE_GENERIC_READ | FILE_GENERIC_WRITE |
/// FILE_GENERIC_EXECUTE | DELETE`.
pub const MASK_MODIFY: u32 = 0x0013_01BF;
/// Every right that changes a file or directory: `FILE_WRITE_DATA` (`FILE_ADD_FILE`),
/// `FILE_APPEND_DATA` (`FILE_ADD_SUBDIRECTORY`), `FILE_WRITE_EA`, `FILE_DELETE_CHILD`,
/// `FILE_WRITE_ATTRIBUTES`, `DELETE`, `WRITE_DAC`, `WRITE_OWNER`.
pub const MASK_DENY_WRITE: u32 = 0x000D_0156;
/// `FILE_ALL_ACCESS`.
pub const MASK_ALL: u32 = 0x001F_01FF;
/// `DELETE`.
pub const MASK_DELETE: u32 = 0x0001_0000;
/// `FILE_DELETE_CHILD`.
pub const FILE_DELETE_CHILD: u32 = 0x40;

/// Well-known capability SIDs (Microsoft Learn, "Well-known SIDs", capability SIDs).
pub const CAP_INTERNET_CLIENT: &str = "S-1-15-3-1";
pub const CAP_PRIVATE_NETWORK_CLIENT_SERVER: &str = "S-1-15-3-3";

/// What one ACL entry does for the sandbox SID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    ReadExecute,
    Modify,
    DenyWrite,
    DenyAll,
    /// Deny `DELETE` on this directory only (not inherited): pins it in place.
    Pin,
}

impl Grant {
    pub fn mask(self) -> u32 {
        match self {
            Grant::ReadExecute => MASK_READ_EXECUTE,
            Grant::Modify => MASK_MODIFY,
            Grant::DenyWrite => MASK_DENY_WRITE,
            Grant::DenyAll => MASK_ALL,
            Grant::Pin => MASK_DELETE,
        }
    }
    pub fn is_deny(self) -> bool {
        matches!(self, Grant::DenyWrite | Grant::DenyAll | Grant::Pin)
    }
    /// Inherited by files and subdirectories (`OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE`).
    pub fn inherits(self) -> bool {
        !matches!(self, Grant::Pin)
    }
}

/// What to create when a carve-out or denied path is missing (so the deny has an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Dir,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub path: WinPath,
    pub grant: Grant,
    /// Created (when missing) before the entry is applied.
    pub placeholder: Option<Placeholder>,
}

/// Job Object limits (`JOBOBJECT_EXTENDED_LIMIT_INFORMATION`, `JOBOBJECT_CPU_RATE_CONTROL_INFORMATION`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobPlan {
    /// `JOB_OBJECT_LIMIT_ACTIVE_PROCESS`.
    pub active_processes: Option<u32>,
    /// `JOB_OBJECT_LIMIT_JOB_MEMORY` (committed memory of the whole tree).
    pub job_memory: Option<u64>,
    /// `JOB_OBJECT_LIMIT_PROCESS_MEMORY` (per process).
    pub process_memory: Option<u64>,
    /// `JOB_OBJECT_LIMIT_PROCESS_TIME`, user-mode time per process in 100 ns units.
    pub process_user_time_100ns: Option<i64>,
    /// `CpuRate` with `JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | HARD_CAP`: 1/100 of a percent of
    /// all processors (our `cpuPercent` is of one core).
    pub cpu_rate: Option<u32>,
}

/// Everything the Windows helper needs, derived from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPlan {
    /// AppContainer profile name (`ku0.sandbox.<hash of the writable roots>`), at most 64 chars.
    pub profile: String,
    pub lpac: bool,
    pub capabilities: Vec<&'static str>,
    pub acl: Vec<AclEntry>,
    pub job: JobPlan,
    pub cwd: Option<WinPath>,
    /// The child's `lpCommandLine` ([`cmdline::policy_command_line`] of the policy's `argv` and
    /// `shell`): computed here so a command the helper cannot pass on unchanged is refused before
    /// any ACL is touched.
    pub command_line: String,
    /// Policy fields the Windows backend does not enforce (reported, never silently dropped).
    pub not_enforced: Vec<String>,
}

/// Host facts the plan needs (read by the helper on Windows, given by the tests here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Readable roots when the policy has none: `%SystemRoot%`, `%ProgramFiles%`,
    /// `%ProgramFiles(x86)%`, `%ProgramData%` as found.
    pub default_readable: Vec<String>,
    /// Roots every (non-LPAC) AppContainer can already read (`%SystemRoot%`, `%ProgramFiles%`,
    /// `%ProgramFiles(x86)%`).
    pub package_readable: Vec<String>,
    pub logical_cpus: u32,
    /// Run as a less-privileged AppContainer (no `ALL APPLICATION PACKAGES` access).
    pub lpac: bool,
}

fn parse(p: &str, what: &str) -> Result<WinPath> {
    WinPath::parse(p)
        .map_err(|e: PathRefusal| SandboxError::InvalidPolicy(format!("{what} {p:?}: {e}")))
}

/// FNV-1a 64: a stable name for the profile (not a security boundary: the name only needs to be
/// the same for the same roots, so repeated commands reuse one profile and its SID).
fn fnv1a(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Builds the plan. `extra_read_only` carries the git-dir integrity paths found on the host
/// ([`crate::git::protected_paths_of`]), which need the file system.
pub fn plan(
    policy: &ExecPolicy,
    host: &HostFacts,
    extra_read_only: &[String],
) -> Result<SandboxPlan> {
    if policy.argv.is_empty() {
        return Err(SandboxError::InvalidPolicy("argv is empty".into()));
    }
    let command_line = cmdline::policy_command_line(&policy.argv, policy.shell)?;
    let writable: Vec<WinPath> = policy
        .writable_roots
        .iter()
        .map(|p| parse(p, "writable root"))
        .collect::<Result<_>>()?;
    let readable: Vec<WinPath> = match &policy.readable_roots {
        Some(r) => r
            .iter()
            .map(|p| parse(p, "readable root"))
            .collect::<Result<_>>()?,
        None => host
            .default_readable
            .iter()
            .map(|p| parse(p, "default readable root"))
            .collect::<Result<_>>()?,
    };
    let package_readable: Vec<WinPath> = host
        .package_readable
        .iter()
        .map(|p| parse(p, "package-readable root"))
        .collect::<Result<_>>()?;
    let read_only: Vec<WinPath> = policy
        .effective_read_only_paths()
        .iter()
        .chain(if policy.git_metadata_writable {
            [].iter()
        } else {
            extra_read_only.iter()
        })
        .map(|p| parse(p, "read-only path"))
        .collect::<Result<_>>()?;
    let denied: Vec<WinPath> = match &policy.denied_paths {
        Some(d) => d
            .iter()
            .map(|p| parse(p, "denied path"))
            .collect::<Result<_>>()?,
        None => match &policy.host_home {
            Some(h) => {
                let home = parse(h, "host home")?;
                DEFAULT_DENIED_HOME
                    .iter()
                    .map(|rel| {
                        home.join(rel).map_err(|e| {
                            SandboxError::InvalidPolicy(format!("denied path {rel:?}: {e}"))
                        })
                    })
                    .collect::<Result<_>>()?
            }
            None => Vec::new(),
        },
    };

    for root in writable.iter().chain(&readable) {
        if let Some(d) = denied.iter().find(|d| root.starts_with(d)) {
            return Err(SandboxError::InvalidPolicy(format!(
                "root {root} is inside the denied path {d}"
            )));
        }
    }
    for w in &writable {
        if let Some(r) = read_only.iter().find(|r| w.starts_with(r)) {
            return Err(SandboxError::InvalidPolicy(format!(
                "writable root {w} is inside the read-only path {r}"
            )));
        }
    }

    // One entry per (path key, grant); the first spelling wins.
    let mut acl: BTreeMap<(String, Grant), AclEntry> = BTreeMap::new();
    let mut add = |path: &WinPath, grant: Grant, placeholder: Option<Placeholder>| {
        acl.entry((path.key(), grant)).or_insert_with(|| AclEntry {
            path: path.clone(),
            grant,
            placeholder,
        });
    };
    for r in &readable {
        let covered = !host.lpac && package_readable.iter().any(|p| r.starts_with(p));
        if !covered {
            add(r, Grant::ReadExecute, None);
        }
    }
    for w in &writable {
        add(w, Grant::Modify, None);
    }
    for ro in &read_only {
        let Some(root) = writable.iter().find(|w| ro.starts_with(w)) else {
            continue; // not writable anyway
        };
        let name = ro.components.last().map(String::as_str).unwrap_or("");
        let placeholder = if denied_is_file(std::path::Path::new(name))
            || matches!(
                name.to_ascii_lowercase().as_str(),
                "config" | "config.worktree" | "commondir"
            ) {
            Placeholder::File
        } else {
            Placeholder::Dir
        };
        add(ro, Grant::DenyWrite, Some(placeholder));
        let mut dir = ro.parent();
        while let Some(d) = dir {
            if d.components.len() <= root.components.len() {
                break;
            }
            add(&d, Grant::Pin, None);
            dir = d.parent();
        }
    }
    for d in &denied {
        let inside_writable = writable.iter().any(|w| d.starts_with(w));
        let reachable = inside_writable
            || readable.iter().any(|r| d.starts_with(r))
            || (!host.lpac && package_readable.iter().any(|p| d.starts_with(p)));
        if !reachable {
            continue;
        }
        let name = d.components.last().map(String::as_str).unwrap_or("");
        let placeholder = inside_writable.then(|| {
            if denied_is_file(std::path::Path::new(name)) {
                Placeholder::File
            } else {
                Placeholder::Dir
            }
        });
        add(d, Grant::DenyAll, placeholder);
    }
    let mut acl: Vec<AclEntry> = acl.into_values().collect();
    // Allows first, then denies, each in path order (the FFI writes each into its object's DACL
    // in canonical order; this order only makes the plan readable and stable).
    acl.sort_by(|a, b| {
        (a.grant.is_deny(), a.path.key(), a.grant).cmp(&(b.grant.is_deny(), b.path.key(), b.grant))
    });

    let cwd = match &policy.cwd {
        Some(c) => {
            let c = parse(c, "cwd")?;
            let inside = writable.iter().chain(&readable).any(|r| c.starts_with(r))
                || (!host.lpac && package_readable.iter().any(|r| c.starts_with(r)));
            if !inside {
                return Err(SandboxError::InvalidPolicy(format!(
                    "cwd {c} is not inside a readable or writable root"
                )));
            }
            Some(c)
        }
        None => None,
    };

    let capabilities = match policy.network.mode {
        NetworkMode::None => Vec::new(),
        NetworkMode::Full => vec![CAP_INTERNET_CLIENT, CAP_PRIVATE_NETWORK_CLIENT_SERVER],
        NetworkMode::Allowlist => {
            return Err(SandboxError::Unavailable(
                "network allowlist on Windows: an AppContainer cannot reach the loopback proxy without an \
                 administrator's loopback exemption; use a fallback (Docker, WSL) or network none/full"
                    .into(),
            ));
        }
    };

    let mut keys: Vec<String> = writable.iter().map(WinPath::key).collect();
    keys.sort();
    let profile = format!("ku0.sandbox.{:016x}", fnv1a(&keys.join("\n")));

    let (job, not_enforced) = job_plan(&policy.limits, host.logical_cpus);
    Ok(SandboxPlan {
        profile,
        lpac: host.lpac,
        capabilities,
        acl,
        job,
        cwd,
        command_line,
        not_enforced,
    })
}

/// Job Object limits from [`Limits`], and the limits Windows has no equivalent for.
pub fn job_plan(l: &Limits, logical_cpus: u32) -> (JobPlan, Vec<String>) {
    let mut not = Vec::new();
    let job = JobPlan {
        active_processes: l
            .max_processes
            .map(|n| n.clamp(1, u64::from(u32::MAX)) as u32),
        job_memory: l.memory_bytes,
        process_memory: l.address_space_bytes,
        process_user_time_100ns: l
            .cpu_time_sec
            .map(|s| s.saturating_mul(10_000_000).min(i64::MAX as u64) as i64),
        cpu_rate: l.cpu_percent.map(|p| {
            let cpus = u64::from(logical_cpus.max(1));
            (u64::from(p) * 100 / cpus).clamp(1, 10_000) as u32
        }),
    };
    if l.max_open_files.is_some() {
        not.push("maxOpenFiles (no per-process handle limit on Windows)".into());
    }
    if l.max_file_size_bytes.is_some() {
        not.push("maxFileSizeBytes (no RLIMIT_FSIZE on Windows)".into());
    }
    if l.tmp_size_bytes.is_some() {
        not.push("tmpSizeBytes (no private size-limited temp directory on Windows)".into());
    }
    if l.cgroups {
        not.push("cgroups (Linux only; the Job Object limits apply instead)".into());
    }
    (job, not)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(lpac: bool) -> HostFacts {
        HostFacts {
            default_readable: vec![
                r"C:\Windows".into(),
                r"C:\Program Files".into(),
                r"C:\ProgramData".into(),
            ],
            package_readable: vec![r"C:\Windows".into(), r"C:\Program Files".into()],
            logical_cpus: 4,
            lpac,
        }
    }

    fn policy(json: &str) -> ExecPolicy {
        serde_json::from_str(json).unwrap()
    }

    fn entries(p: &SandboxPlan) -> Vec<(String, Grant, Option<Placeholder>)> {
        p.acl
            .iter()
            .map(|e| (e.path.display(), e.grant, e.placeholder))
            .collect()
    }

    #[test]
    fn workspace_policy_plan() {
        let p = policy(
            r#"{"argv":["cmd"],"writableRoots":["C:\\Users\\u\\ws"],"hostHome":"C:\\Users\\u","cwd":"C:\\Users\\u\\ws\\src"}"#,
        );
        let plan = plan(&p, &host(false), &[r"C:\Users\u\ws\.git\info".into()]).unwrap();
        let e = entries(&plan);
        use Grant::*;
        assert_eq!(
            e,
            vec![
                (r"C:\ProgramData".into(), ReadExecute, None),
                (r"C:\Users\u\ws".into(), Modify, None),
                (r"C:\Users\u\ws\.git".into(), Pin, None),
                (
                    r"C:\Users\u\ws\.git\config".into(),
                    DenyWrite,
                    Some(Placeholder::File)
                ),
                (
                    r"C:\Users\u\ws\.git\hooks".into(),
                    DenyWrite,
                    Some(Placeholder::Dir)
                ),
                (
                    r"C:\Users\u\ws\.git\info".into(),
                    DenyWrite,
                    Some(Placeholder::Dir)
                ),
                (
                    r"C:\Users\u\ws\.ku0".into(),
                    DenyWrite,
                    Some(Placeholder::Dir)
                ),
            ]
        );
        assert!(plan.capabilities.is_empty());
        assert_eq!(plan.cwd.unwrap().display(), r"C:\Users\u\ws\src");
        assert!(plan.profile.starts_with("ku0.sandbox.") && plan.profile.len() <= 64);
        // The home secrets are outside every granted root: nothing changed there.
        assert!(!e.iter().any(|(p, _, _)| p.contains(".ssh")));
    }

    #[test]
    fn home_as_writable_root_denies_secrets_with_placeholders() {
        let p = policy(
            r#"{"argv":["cmd"],"writableRoots":["C:\\Users\\u"],"hostHome":"c:\\users\\U","readableRoots":[]}"#,
        );
        let plan = plan(&p, &host(true), &[]).unwrap();
        let e = entries(&plan);
        assert!(e.contains(&(
            r"C:\users\U\.ssh".into(),
            Grant::DenyAll,
            Some(Placeholder::Dir)
        )));
        assert!(e.contains(&(
            r"C:\users\U\.netrc".into(),
            Grant::DenyAll,
            Some(Placeholder::File)
        )));
        assert!(e.contains(&(
            r"C:\users\U\.config\gcloud".into(),
            Grant::DenyAll,
            Some(Placeholder::Dir)
        )));
        assert!(e.contains(&(r"C:\Users\u\.git".into(), Grant::Pin, None)));
    }

    #[test]
    fn lpac_grants_system_roots_itself() {
        let p = policy(r#"{"argv":["cmd"]}"#);
        let normal = entries(&plan(&p, &host(false), &[]).unwrap());
        let lpac = entries(&plan(&p, &host(true), &[]).unwrap());
        assert_eq!(normal.len(), 1);
        assert_eq!(lpac.len(), 3);
        assert!(lpac.contains(&(r"C:\Windows".into(), Grant::ReadExecute, None)));
    }

    #[test]
    fn refusals() {
        let h = host(false);
        let refuse = |json: &str| plan(&policy(json), &h, &[]).unwrap_err();
        let e = refuse(r#"{"argv":["x"],"writableRoots":["C:\\ws\\GIT~1"]}"#);
        assert_eq!(e.code(), "ERR_KU0_INVALID_ARG");
        assert!(e.to_string().contains("short name"), "{e}");
        assert!(
            refuse(r#"{"argv":["x"],"writableRoots":["\\\\.\\pipe\\x"]}"#)
                .to_string()
                .contains("device")
        );
        assert!(
            refuse(r#"{"argv":["x"],"writableRoots":["C:\\ws:s"]}"#)
                .to_string()
                .contains("stream")
        );
        assert!(
            refuse(r#"{"argv":["x"],"writableRoots":["/w"]}"#)
                .to_string()
                .contains("rooted")
        );
        // An explicit allow inside a denied or read-only path would outrank the inherited deny.
        assert!(
            refuse(
                r#"{"argv":["x"],"writableRoots":["C:\\u\\.ssh\\w"],"deniedPaths":["c:\\U\\.SSH"]}"#
            )
            .to_string()
            .contains("inside the denied path")
        );
        assert!(
            refuse(r#"{"argv":["x"],"writableRoots":["C:\\w","C:\\w\\.git\\hooks\\x"]}"#)
                .to_string()
                .contains("inside the read-only path")
        );
        assert!(
            refuse(r#"{"argv":["x"],"writableRoots":["C:\\w"],"cwd":"D:\\"}"#)
                .to_string()
                .contains("cwd")
        );
        let e = refuse(r#"{"argv":["x"],"network":{"mode":"allowlist","proxyPort":1}}"#);
        assert_eq!(e.code(), "ERR_KU0_SANDBOX_UNAVAILABLE");
        assert!(plan(&policy(r#"{"argv":[]}"#), &h, &[]).is_err());
        // The cmd shell form: a line break would end cmd's command (refused before any ACL), and
        // the marker needs the exact argv shape.
        let e = refuse(r#"{"argv":["C:\\cmd.exe","/d","/s","/c","a\nb"],"shell":"cmd"}"#);
        assert_eq!(e.code(), "ERR_KU0_INVALID_ARG");
        assert!(e.to_string().contains("cmd.exe command"), "{e}");
        assert!(
            refuse(r#"{"argv":["C:\\cmd.exe","/c","dir"],"shell":"cmd"}"#)
                .to_string()
                .contains("shell \"cmd\" needs argv")
        );
        // Without the marker the same argv is quoted argument by argument.
        let p = plan(
            &policy(r#"{"argv":["C:\\cmd.exe","/d","/s","/c","echo \"x\""]}"#),
            &h,
            &[],
        )
        .unwrap();
        assert_eq!(p.command_line, r#"C:\cmd.exe /d /s /c "echo \"x\"""#);
    }

    #[test]
    fn network_and_trailing_dot_aliases() {
        let p = policy(
            r#"{"argv":["x"],"writableRoots":["C:\\w"],"readOnlyPaths":["C:\\w\\.git.\\hooks "],"network":{"mode":"full"}}"#,
        );
        let plan = plan(&p, &host(false), &[]).unwrap();
        assert_eq!(
            plan.capabilities,
            vec![CAP_INTERNET_CLIENT, CAP_PRIVATE_NETWORK_CLIENT_SERVER]
        );
        assert!(entries(&plan).contains(&(
            r"C:\w\.git\hooks".into(),
            Grant::DenyWrite,
            Some(Placeholder::Dir)
        )));
    }

    #[test]
    fn same_roots_same_profile_case_insensitively() {
        let a = plan(
            &policy(r#"{"argv":["x"],"writableRoots":["C:\\A","d:\\b"]}"#),
            &host(false),
            &[],
        )
        .unwrap();
        let b = plan(
            &policy(r#"{"argv":["y"],"writableRoots":["D:\\B","c:\\a\\"]}"#),
            &host(false),
            &[],
        )
        .unwrap();
        let c = plan(
            &policy(r#"{"argv":["y"],"writableRoots":["C:\\A"]}"#),
            &host(false),
            &[],
        )
        .unwrap();
        assert_eq!(a.profile, b.profile);
        assert_ne!(a.profile, c.profile);
    }

    #[test]
    fn masks_and_job_limits() {
        // Modify never carries FILE_DELETE_CHILD (it would bypass a child's deny of DELETE).
        assert_eq!(MASK_MODIFY & FILE_DELETE_CHILD, 0);
        assert_eq!(MASK_DENY_WRITE & MASK_DELETE, MASK_DELETE);
        assert_eq!(MASK_DENY_WRITE & FILE_DELETE_CHILD, FILE_DELETE_CHILD);
        // The deny of writes leaves reading alone (FILE_READ_DATA 1, READ_CONTROL, SYNCHRONIZE).
        assert_eq!(MASK_DENY_WRITE & (0x1 | 0x0002_0000 | 0x0010_0000), 0);
        let l = Limits {
            cpu_time_sec: Some(2),
            memory_bytes: Some(1 << 30),
            cpu_percent: Some(50),
            max_processes: Some(64),
            max_open_files: Some(10),
            cgroups: true,
            ..Default::default()
        };
        let (job, not) = job_plan(&l, 4);
        assert_eq!(job.process_user_time_100ns, Some(20_000_000));
        assert_eq!(job.cpu_rate, Some(1250)); // half a core of four = 12.5 %
        assert_eq!(job.active_processes, Some(64));
        assert_eq!(job.job_memory, Some(1 << 30));
        assert_eq!(not.len(), 2);
        assert_eq!(
            job_plan(
                &Limits {
                    cpu_percent: Some(800),
                    ..Default::default()
                },
                2
            )
            .0
            .cpu_rate,
            Some(10_000)
        );
    }

    /// The policy `buildExecPolicy({ platform: "win32" })` builds (packages/native-sandbox: its
    /// test asserts it builds exactly this file) is one the plan accepts, with the intended ACL,
    /// capabilities, cwd and Job limits.
    #[test]
    fn golden_policy_from_typescript() {
        // Parsed without `validate()`, whose absolute-path check takes Windows spellings only when
        // compiled for Windows (`is_host_absolute`); the plan below refuses every non-Windows path.
        let p: ExecPolicy = serde_json::from_str(include_str!("golden_policy.json")).unwrap();
        let plan = plan(&p, &host(false), &[]).unwrap();
        use Grant::*;
        assert_eq!(
            entries(&plan),
            vec![
                (r"C:\Program Files (x86)".into(), ReadExecute, None),
                (r"C:\ProgramData".into(), ReadExecute, None),
                (r"C:\Users\u\ws".into(), Modify, None),
                (r"C:\Users\u\ws\.git".into(), Pin, None),
                (
                    r"C:\Users\u\ws\.git\config".into(),
                    DenyWrite,
                    Some(Placeholder::File)
                ),
                (
                    r"C:\Users\u\ws\.git\hooks".into(),
                    DenyWrite,
                    Some(Placeholder::Dir)
                ),
                (
                    r"C:\Users\u\ws\.ku0".into(),
                    DenyWrite,
                    Some(Placeholder::Dir)
                ),
            ]
        );
        assert!(plan.capabilities.is_empty());
        assert_eq!(plan.cwd.unwrap().display(), r"C:\Users\u\ws\src");
        assert_eq!(
            plan.job,
            JobPlan {
                active_processes: Some(512),
                job_memory: Some(512 * 1024 * 1024),
                process_memory: None,
                process_user_time_100ns: Some(31 * 10_000_000),
                cpu_rate: Some(1250),
            }
        );
        // Only Job-enforceable limits are sent: nothing is reported as not enforced.
        assert!(plan.not_enforced.is_empty(), "{:?}", plan.not_enforced);
        // The shell form: cmd runs the command verbatim (quotes and a trailing backslash included).
        assert_eq!(p.shell, Some(crate::Shell::Cmd));
        assert_eq!(
            plan.command_line,
            r#""C:\Windows\System32\cmd.exe" /d /s /c "git commit -m "fix" && dir /b C:\Users\u\ws\""#
        );
        assert_eq!(p.argv[0], r"C:\Windows\System32\cmd.exe");
        assert_eq!(p.host_home.as_deref(), Some(r"C:\Users\u"));
    }
}
