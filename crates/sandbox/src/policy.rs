//! Platform-neutral policy model. The TypeScript adapters build an [`ExecPolicy`] (JSON,
//! camelCase) and hand it to the helper; absent lists get the defaults below.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Result, SandboxError};

/// Network access of the sandboxed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// No sockets except `AF_UNIX` and loopback inside an own, empty network namespace (no host
    /// sockets, listeners or routes visible; no abstract sockets outside the sandbox).
    #[default]
    None,
    /// TCP egress only to the manager's filtering proxy (see `NetworkPolicy::proxy_port`).
    Allowlist,
    /// Unrestricted network.
    Full,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicy {
    pub mode: NetworkMode,
    /// Hosts allowed through the proxy (informational for the helper; the proxy enforces them).
    pub allowed_hosts: Vec<String>,
    /// Loopback TCP port of the filtering proxy (allowlist mode): the only TCP port the command
    /// may connect to (Landlock ABI >= 4).
    pub proxy_port: Option<u16>,
    /// Pid of the session's netns keeper to join (allowlist mode), with the inode of its
    /// network namespace (checked before joining; a mismatch fails closed).
    pub netns_pid: Option<u32>,
    pub netns_ino: Option<u64>,
    /// Let the command reach abstract unix sockets outside the sandbox in `full` mode (X11,
    /// D-Bus, …). Default: scoped to the sandbox (Landlock ABI >= 6) in every mode.
    pub abstract_unix: bool,
}

/// Resource limits. `None` means "no limit from us" (the inherited one stays).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// RLIMIT_CPU in seconds.
    pub cpu_time_sec: Option<u64>,
    /// Memory limit: RLIMIT_DATA per process (heap and private writable mappings), and the cgroup
    /// memory limit of the whole sandbox when `cgroups` is on and the hierarchy is writable.
    pub memory_bytes: Option<u64>,
    /// Explicit RLIMIT_AS per process in bytes.
    pub address_space_bytes: Option<u64>,
    /// CPU share of one core in percent (cgroup cpu quota when available).
    pub cpu_percent: Option<u32>,
    /// Maximum number of processes in the sandbox: the pid namespace's own `pid_max` (Linux 6.14+,
    /// never below the kernel minimum of 301), RLIMIT_NPROC (binds non-root users only) and the
    /// pids cgroup when `cgroups` is on.
    pub max_processes: Option<u64>,
    /// RLIMIT_NOFILE.
    pub max_open_files: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub max_file_size_bytes: Option<u64>,
    /// Size of the private /tmp (tmpfs) in bytes.
    pub tmp_size_bytes: Option<u64>,
    /// Also join per-run cgroups (pids, memory, cpu quota) when writable. Exact aggregate limits,
    /// but moving a process between cgroups costs an RCU grace period (1-15 ms on this VM), so it
    /// is opt-in; without it: per-namespace pid_max, RLIMIT_NPROC/DATA/AS per process.
    pub cgroups: bool,
}

/// Which guarantees must hold; the helper refuses to run (fail closed) when one is missing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Requirements {
    pub landlock: bool,
    pub seccomp: bool,
    pub namespaces: bool,
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            landlock: true,
            seccomp: true,
            namespaces: true,
        }
    }
}

/// Everything the helper needs to run one command.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecPolicy {
    /// Command argv; `argv[0]` is looked up in the policy's `PATH` when it has no slash.
    pub argv: Vec<String>,
    /// Working directory (must be inside a readable or writable root).
    pub cwd: Option<String>,
    /// Complete environment of the command (already scrubbed by the caller).
    pub env: BTreeMap<String, String>,
    /// Directories (or files) the command may write.
    pub writable_roots: Vec<String>,
    /// Paths inside writable roots that stay read-only (`.git/hooks`, `.git/config`, …).
    /// `None` = the defaults for each writable root (see [`default_read_only_paths`]).
    pub read_only_paths: Option<Vec<String>>,
    /// Directories (or files) the command may read and execute. `None` = system defaults.
    pub readable_roots: Option<Vec<String>>,
    /// Paths that are hidden even inside readable roots. `None` = defaults (secrets).
    pub denied_paths: Option<Vec<String>>,
    pub network: NetworkPolicy,
    pub limits: Limits,
    pub require: Requirements,
    /// HOME of the host user, used for the default denied paths.
    pub host_home: Option<String>,
    /// Run a reaper as pid 1 with the command as its child (like `docker run --init`). Default:
    /// the command itself is pid 1 of its namespace (like plain `docker run`), one process less.
    pub reaper: bool,
    /// Leave git's configuration and hooks writable (see [`crate::git`]). Default: protected.
    pub git_metadata_writable: bool,
    /// How the Windows helper turns `argv` into its command line. `None`: every argument quoted
    /// by the `CommandLineToArgvW` rules. `Some(Shell::Cmd)`: `argv` is exactly
    /// `[<cmd.exe>, "/d", "/s", "/c", <command>]` and `<command>` is passed verbatim to cmd
    /// (see [`crate::windows::cmdline::cmd_command_line`]). Windows only: the Linux and macOS
    /// helpers refuse a policy that sets it.
    pub shell: Option<Shell>,
}

/// A shell whose command line the Windows helper builds itself (see [`ExecPolicy::shell`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// `cmd.exe /d /s /c "<command>"`, the command verbatim inside the outer quotes.
    Cmd,
}

/// System directories the command may read by default (only those that exist are used).
pub const DEFAULT_READABLE_ROOTS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

/// Files under the default readable roots that hold host secrets.
pub const DEFAULT_DENIED_SYSTEM: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/root",
];

/// Secret directories below a home directory that are always denied.
pub const DEFAULT_DENIED_HOME: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".config/gcloud",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
];

/// Names of denied paths that are files (a missing one gets an empty file as placeholder; every
/// other missing denied path gets an empty directory, see [`ensure_denied_placeholder`]).
pub const DENIED_FILE_NAMES: &[&str] = &[".netrc", ".npmrc", ".pypirc", ".git-credentials"];

/// Whether a missing denied path is made uncreatable with a file (else a directory): the names
/// of [`DENIED_FILE_NAMES`] and names with an extension (`secret.txt`).
pub fn denied_is_file(path: &std::path::Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    DENIED_FILE_NAMES.contains(&name) || name.trim_start_matches('.').contains('.')
}

/// Makes a missing denied path uncreatable: creates it (and missing parents) on the host as an
/// empty placeholder (directory 0700 or file 0600, see [`denied_is_file`]) so the helper can mount
/// its unreadable stand-in onto it, exactly like the git placeholders. Nothing happens when the
/// path exists (never replaced) or is a dangling symlink. The caller checks that the path is
/// inside a writable root (elsewhere the command cannot create it anyway).
pub fn ensure_denied_placeholder(path: &std::path::Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        owner_only_dir(&mut dirs).create(parent)?;
    }
    let r = if denied_is_file(path) {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        owner_only_file(&mut file).open(path).map(drop)
    } else {
        owner_only_dir(&mut std::fs::DirBuilder::new()).create(path)
    };
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Directories the placeholders create are the owner's only (0700); no mode bits off Unix.
fn owner_only_dir(b: &mut std::fs::DirBuilder) -> &mut std::fs::DirBuilder {
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(b, 0o700);
    b
}

/// Placeholder files are the owner's only (0600); no mode bits off Unix.
fn owner_only_file(o: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(o, 0o600);
    o
}

/// Default size cap of the host-side file helpers (`read_beneath` / `write_beneath`): 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// Read-only carve-outs inside each writable root.
pub const DEFAULT_READ_ONLY_IN_ROOT: &[&str] = &[".git/hooks", ".git/config", ".ku0"];

/// Default read-only carve-outs for the given writable roots.
pub fn default_read_only_paths(writable_roots: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for root in writable_roots {
        for rel in DEFAULT_READ_ONLY_IN_ROOT {
            out.push(format!("{}/{}", root.trim_end_matches('/'), rel));
        }
    }
    out
}

/// Every read-only carve-out of these writable roots: [`DEFAULT_READ_ONLY_IN_ROOT`] and the
/// git-dir integrity paths of [`crate::git`]. The helper mounts this list read-only (creating
/// placeholders for missing git paths) and the preflight refuses writes to it: one list, two
/// enforcers.
pub fn protected_in_roots(writable_roots: &[String]) -> Vec<String> {
    let mut out = default_read_only_paths(writable_roots);
    // A `.git` symlink is pinned by the helper but not listed: the preflight resolves every
    // listed path, and its target (the git dir) must stay writable.
    for g in crate::git::protected_paths_of(writable_roots)
        .into_iter()
        .filter(|g| !g.link_only)
    {
        let p = g.path.to_string_lossy().into_owned();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Default denied paths for a host home directory.
pub fn default_denied_paths(home: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = DEFAULT_DENIED_SYSTEM
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(home) = home.filter(|h| h.starts_with('/') && *h != "/") {
        for rel in DEFAULT_DENIED_HOME {
            out.push(format!("{}/{}", home.trim_end_matches('/'), rel));
        }
    }
    out
}

/// Every policy default in one JSON document (camelCase): the binding exports it as
/// `policyDefaults()`, and `packages/native-sandbox/src/defaults.generated.ts` ([`defaults_ts`])
/// checks it in for the JS fallback (a test here and one in the package fail when they drift).
pub fn defaults_json() -> String {
    let v = serde_json::json!({
        "readableRoots": DEFAULT_READABLE_ROOTS,
        "deniedSystem": DEFAULT_DENIED_SYSTEM,
        "deniedHome": DEFAULT_DENIED_HOME,
        "deniedFileNames": DENIED_FILE_NAMES,
        "readOnlyInRoot": DEFAULT_READ_ONLY_IN_ROOT,
        "gitDirProtected": crate::git::GIT_DIR_PROTECTED
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>(),
        "nestedRepositories": {
            "maxDepth": crate::git::NESTED_MAX_DEPTH,
            "maxDirs": crate::git::NESTED_MAX_DIRS,
            "maxRepos": crate::git::NESTED_MAX_REPOS,
            "skip": crate::git::NESTED_SKIP,
        },
        "maxFileBytes": DEFAULT_MAX_FILE_BYTES,
        // The macOS (Seatbelt) backend's additions, which its preflight uses too (written, not run).
        "macos": {
            "systemReadable": crate::macos::profile::MACOS_SYSTEM_READ,
            "deniedSystem": crate::macos::profile::MACOS_DENIED_SYSTEM,
            "privateLinks": crate::macos::profile::PRIVATE_LINKS,
            "firmlinkRoots": crate::macos::profile::FIRMLINK_ROOTS,
            "dataVolume": crate::macos::profile::DATA_VOLUME,
            "hiddenVolumes": crate::macos::profile::SYSTEM_VOLUMES_HIDDEN,
        },
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// The checked-in TypeScript copy of [`defaults_json`] for the package's JS fallback.
pub fn defaults_ts() -> String {
    format!(
        "// biome-ignore-all format: generated by `KU0_UPDATE_DEFAULTS=1 cargo test -p ku0-sandbox defaults_` from\n\
         // crates/sandbox/src/policy.rs (`defaults_json`); do not edit. defaults.test.ts checks it against the binding.\n\n\
         /** Every sandbox policy default of the engine (readable roots, denied paths, carve-outs, git names,\n \
         * nested-repository bounds, file cap): the JS fallback's only copy. */\n\
         export const POLICY_DEFAULTS = {};\n",
        defaults_json().trim_end()
    )
}

/// Whether `p` is absolute for the policy's structural check: `/…` everywhere (a Linux policy
/// stays valid JSON on every host, e.g. for the binding's `validatePolicy` and the WSL fallback),
/// and on Windows also a drive-absolute or UNC path that [`crate::windows::winpath::WinPath`]
/// accepts. The Windows plan ([`crate::windows::plan::plan`]) then refuses every path that is not
/// a Windows path (a `/…` path is rooted without a drive there).
pub fn is_host_absolute(p: &str) -> bool {
    #[cfg(windows)]
    if crate::windows::winpath::WinPath::parse(p).is_ok() {
        return true;
    }
    p.starts_with('/')
}

impl ExecPolicy {
    /// Parses and validates a JSON policy.
    pub fn from_json(json: &str) -> Result<Self> {
        let policy: ExecPolicy =
            serde_json::from_str(json).map_err(|e| SandboxError::InvalidPolicy(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Structural validation (absolute paths, no NUL bytes, non-empty argv).
    pub fn validate(&self) -> Result<()> {
        if self.argv.is_empty() {
            return Err(SandboxError::InvalidPolicy("argv is empty".into()));
        }
        let check_path = |p: &str, what: &str| -> Result<()> {
            if !is_host_absolute(p) {
                return Err(SandboxError::InvalidPolicy(format!(
                    "{what} must be absolute: {p:?}"
                )));
            }
            if p.contains('\0') {
                return Err(SandboxError::InvalidPolicy(format!("{what} contains NUL")));
            }
            Ok(())
        };
        for p in &self.writable_roots {
            check_path(p, "writable root")?;
        }
        for p in self.readable_roots.iter().flatten() {
            check_path(p, "readable root")?;
        }
        for p in self.read_only_paths.iter().flatten() {
            check_path(p, "read-only path")?;
        }
        for p in self.denied_paths.iter().flatten() {
            check_path(p, "denied path")?;
        }
        if let Some(cwd) = &self.cwd {
            check_path(cwd, "cwd")?;
        }
        for a in &self.argv {
            if a.contains('\0') {
                return Err(SandboxError::InvalidPolicy("argv contains NUL".into()));
            }
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
                return Err(SandboxError::InvalidPolicy(format!("bad env var {k:?}")));
            }
        }
        if self.network.netns_pid.is_some() != self.network.netns_ino.is_some() {
            return Err(SandboxError::InvalidPolicy(
                "netnsPid and netnsIno go together".into(),
            ));
        }
        if self.network.mode == NetworkMode::Allowlist && self.network.proxy_port.is_none() {
            return Err(SandboxError::InvalidPolicy(
                "network allowlist needs a proxyPort".into(),
            ));
        }
        Ok(())
    }

    pub fn effective_readable_roots(&self) -> Vec<String> {
        match &self.readable_roots {
            Some(r) => r.clone(),
            None => DEFAULT_READABLE_ROOTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    pub fn effective_denied_paths(&self) -> Vec<String> {
        match &self.denied_paths {
            Some(d) => d.clone(),
            None => default_denied_paths(self.host_home.as_deref()),
        }
    }

    pub fn effective_read_only_paths(&self) -> Vec<String> {
        match &self.read_only_paths {
            Some(r) => r.clone(),
            None => default_read_only_paths(&self.writable_roots),
        }
    }

    /// Git-dir integrity carve-outs of the writable roots (empty when
    /// `gitMetadataWritable`).
    pub fn git_protected(&self) -> Vec<crate::git::GitProtected> {
        if self.git_metadata_writable {
            return Vec::new();
        }
        crate::git::protected_paths_of(&self.writable_roots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_policy_with_defaults() {
        let p = ExecPolicy::from_json(r#"{"argv":["/bin/true"],"writableRoots":["/w"]}"#).unwrap();
        assert_eq!(p.network.mode, NetworkMode::None);
        assert!(p.require.landlock && p.require.seccomp && p.require.namespaces);
        assert!(p.effective_readable_roots().contains(&"/usr".to_string()));
        assert!(
            p.effective_read_only_paths()
                .contains(&"/w/.git/hooks".to_string())
        );
    }

    #[test]
    fn rejects_relative_and_empty() {
        assert!(ExecPolicy::from_json(r#"{"argv":[]}"#).is_err());
        assert!(ExecPolicy::from_json(r#"{"argv":["x"],"writableRoots":["rel"]}"#).is_err());
        assert!(ExecPolicy::from_json(r#"{"argv":["x"],"network":{"mode":"allowlist"}}"#).is_err());
        assert!(ExecPolicy::from_json(r#"{"argv":["x"],"env":{"A=B":"c"}}"#).is_err());
    }

    #[test]
    fn denied_defaults_include_home_secrets() {
        let d = default_denied_paths(Some("/home/u"));
        assert!(d.contains(&"/home/u/.ssh".to_string()));
        assert!(d.contains(&"/etc/shadow".to_string()));
        assert!(!default_denied_paths(Some("/")).iter().any(|p| p == "/.ssh"));
    }

    /// The JS fallback's copy of the defaults. `KU0_UPDATE_DEFAULTS=1 cargo test -p ku0-sandbox
    /// defaults_` rewrites it.
    #[test]
    fn defaults_checked_in_match() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../packages/native-sandbox/src/defaults.generated.ts");
        let now = defaults_ts();
        if std::env::var_os("KU0_UPDATE_DEFAULTS").is_some() {
            std::fs::write(&path, &now).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            checked_in, now,
            "packages/native-sandbox/src/defaults.generated.ts is stale: run KU0_UPDATE_DEFAULTS=1 cargo test -p ku0-sandbox defaults_"
        );
    }

    // Placeholders are made only for the Linux backend (the only one that runs commands); the
    // denied paths are built with `/`, so the prefix check below is Unix-shaped.
    #[cfg(unix)]
    #[test]
    fn missing_denied_paths_get_placeholders_of_their_kind() {
        let d = std::env::temp_dir().join(format!("ku0-denied-ph-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for p in default_denied_paths(Some(d.to_str().unwrap())) {
            if p.starts_with(d.to_str().unwrap()) {
                ensure_denied_placeholder(std::path::Path::new(&p)).unwrap();
            }
        }
        assert!(d.join(".ssh").is_dir());
        assert!(d.join(".config/gcloud").is_dir());
        assert!(d.join(".netrc").is_file());
        assert_eq!(std::fs::read(d.join(".npmrc")).unwrap(), b"");
        std::fs::write(d.join(".pypirc"), "kept").unwrap();
        ensure_denied_placeholder(&d.join(".pypirc")).unwrap();
        assert_eq!(std::fs::read(d.join(".pypirc")).unwrap(), b"kept");
        assert!(denied_is_file(std::path::Path::new("/h/secret.txt")));
        assert!(!denied_is_file(std::path::Path::new("/h/.aws")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
