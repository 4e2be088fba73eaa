//! Seatbelt (SBPL) profile generation from an [`ExecPolicy`]: plain Rust, compiled and tested on
//! every platform. The enforcement it feeds (`sandbox_init_with_parameters` on macOS) is
//! **written, not run** (see the module above).
//!
//! Shape of the profile:
//! - `(deny default)`, then explicit allows: fork/exec, signals and process info within the
//!   sandbox, a fixed list of sysctls and mach services (no LaunchServices, no Apple Events, no
//!   pasteboard, no window server), POSIX semaphores, a few `/dev` nodes.
//! - reads: the macOS system roots ([`MACOS_SYSTEM_READ`]), the policy's readable roots, the
//!   writable roots and the private TMPDIR; metadata of their ancestors (path resolution).
//! - writes: the writable roots and the private TMPDIR, each rule excluding (`require-not`) the
//!   read-only carve-outs, the pinned entries and the denied paths inside it, and the same paths
//!   denied again explicitly at the end, so no rule order decides a carve-out.
//! - denied paths excluded from every read rule and denied explicitly; a root that lies inside a
//!   denied path stays usable (as on Linux).
//! - network: none (unix sockets inside the writable roots only), allowlist (additionally TCP to
//!   the proxy's loopback port only), or full.
//!
//! Paths: every path is canonicalized the way the kernel reports it (`/tmp` → `/private/tmp`,
//! `/var` → `/private/var`, `/etc` → `/private/etc`; on the host, symlinks, case and Unicode
//! normalization through `realpath`, see [`canonical_host`]) and passed as a parameter, never
//! spliced into the profile text. Paths below a firmlink (`/Users`, `/private`, `/opt`, …) are
//! also listed under their data-volume spelling (`/System/Volumes/Data/…`), so a deny rule cannot
//! be sidestepped by that alias.

use crate::policy::{ExecPolicy, NetworkMode};
use crate::{Result, SandboxError};

/// Backend name reported by `status()`.
pub const BACKEND: &str = "macos-seatbelt";

/// System paths every command may read on macOS whatever the policy's readable roots (what
/// ordinary tools and dyld need). Missing ones only cost a rule.
pub const MACOS_SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/System",
    "/Library",
    "/opt/homebrew",
    "/private/etc",
    // dyld shared cache (macOS 11+ keeps it under /System; older releases here).
    "/private/var/db/dyld",
    "/private/var/db/timezone",
    // `/bin/sh` execs the shell `/private/var/select/sh` names.
    "/private/var/select",
    // `xcrun` shims (`/usr/bin/git`, `cc`) follow this link to the developer directory.
    "/private/var/db/xcode_select_link",
];

/// Host secrets under [`MACOS_SYSTEM_READ`] (denied in addition to the policy's denied paths).
pub const MACOS_DENIED_SYSTEM: &[&str] = &[
    "/Library/Keychains",
    "/Library/Application Support/com.apple.TCC",
    "/private/etc/master.passwd",
    "/private/etc/sudoers",
    "/private/etc/sudoers.d",
    "/private/etc/ssh",
    // root's home directory on macOS.
    "/private/var/root",
];

/// Device nodes that may be read (and, for `/dev/null` and `/dev/zero`, written).
const DEV_READ: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
];
const DEV_WRITE: &[&str] = &["/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr"];

/// Mach services every command may look up: user and group lookups, notifications, logging and
/// the per-user temp/cache directory helper. Nothing that launches or scripts other programs.
pub const MACH_SERVICES: &[&str] = &[
    "com.apple.system.opendirectoryd.libinfo",
    "com.apple.system.opendirectoryd.membership",
    "com.apple.system.notification_center",
    "com.apple.system.logger",
    "com.apple.logd",
    "com.apple.bsd.dirhelper",
];

/// Mach services added when the command has network (certificate checks, DNS configuration).
pub const MACH_SERVICES_NETWORK: &[&str] = &[
    "com.apple.trustd.agent",
    "com.apple.SecurityServer",
    "com.apple.ocspd",
    "com.apple.SystemConfiguration.configd",
    "com.apple.SystemConfiguration.DNSConfiguration",
    "com.apple.dnssd.service",
    "com.apple.networkd",
];

/// Mach services that must never be reachable (LaunchServices opens apps outside the sandbox,
/// Apple Events script them, the pasteboard and window server leak user data). They are denied
/// by `(deny default)`; the tests check no allow rule names them.
pub const MACH_SERVICES_NEVER: &[&str] = &[
    "com.apple.coreservices.launchservicesd",
    "com.apple.lsd.mapdb",
    "com.apple.lsd.modifydb",
    "com.apple.coreservices.appleevents",
    "com.apple.pasteboard.1",
    "com.apple.windowserver.active",
    "com.apple.security.authhost",
];

const SYSCTLS: &[&str] = &[
    "hw.activecpu",
    "hw.byteorder",
    "hw.cachelinesize",
    "hw.cpufamily",
    "hw.cputype",
    "hw.logicalcpu",
    "hw.logicalcpu_max",
    "hw.machine",
    "hw.memsize",
    "hw.model",
    "hw.ncpu",
    "hw.nperflevels",
    "hw.pagesize",
    "hw.physicalcpu",
    "hw.physicalcpu_max",
    "kern.argmax",
    "kern.hostname",
    "kern.maxfilesperproc",
    "kern.osproductversion",
    "kern.osrelease",
    "kern.ostype",
    "kern.osversion",
    "kern.version",
    "machdep.cpu.brand_string",
    "sysctl.proc_cputype",
    "vm.loadavg",
];
const SYSCTL_PREFIXES: &[&str] = &["hw.optional.", "hw.perflevel"];

/// Top-level names that are firmlinks into the data volume (`/usr/share/firmlinks`): a path
/// below one of them is also reachable as `/System/Volumes/Data<path>`.
pub const FIRMLINK_ROOTS: &[&str] = &[
    "/Applications",
    "/Library",
    "/Users",
    "/Volumes",
    "/cores",
    "/opt",
    "/private",
    "/usr/local",
];
/// Where the data volume is mounted; its firmlinked directories appear there too.
pub const DATA_VOLUME: &str = "/System/Volumes/Data";

/// Volumes under `/System` that a broader readable root (`/System` itself) must not expose: the
/// data volume holds every user's files under their alias spelling, the VM volume the swap files.
/// A root inside one of them (an alias spelling of an allowed root) is allowed on its own.
pub const SYSTEM_VOLUMES_HIDDEN: &[&str] = &["/System/Volumes/Data", "/System/Volumes/VM"];

/// Everything the profile is generated from, with canonical paths. Built from a policy by
/// [`ProfileInputs::from_policy`]; the fields are public so tests can build any combination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInputs {
    pub readable: Vec<String>,
    pub writable: Vec<String>,
    /// Read-only carve-outs inside the writable roots (subpaths).
    pub read_only: Vec<String>,
    /// Entries inside writable roots that must not be renamed, removed or replaced (the git
    /// directories and the ancestors of carve-outs between them and their root; literals).
    pub pinned: Vec<String>,
    pub denied: Vec<String>,
    /// The command's private, writable TMPDIR.
    pub tmpdir: Option<String>,
    pub network: NetworkMode,
    pub proxy_port: Option<u16>,
}

/// A generated profile: SBPL text without any policy path in it, and the parameters
/// (`name`, `value`) `sandbox_init_with_parameters` binds to `(param "name")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub text: String,
    pub params: Vec<(String, String)>,
}

/// `/tmp`, `/var` and `/etc` are symlinks into `/private` on macOS; the kernel reports the
/// `/private` spelling. Lexical only (see [`canonical_host`] for the physical resolution).
pub const PRIVATE_LINKS: &[&str] = &["/tmp", "/var", "/etc"];

/// Lexical canonical form: `.`/`..`/empty components removed, the [`PRIVATE_LINKS`] mapped into
/// `/private`. Deterministic (no file system access); the tests and golden profiles use it.
pub fn canonical_lexical(p: &str) -> String {
    let out = normalize(p);
    for link in PRIVATE_LINKS {
        if out == *link || out.starts_with(&format!("{link}/")) {
            return format!("/private{out}");
        }
    }
    out
}

/// `.`, `..` and empty components removed (lexically).
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return "/".into();
    }
    let mut out = String::new();
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    out
}

/// Physical canonical form on the host: [`crate::paths::resolve`] (the preflight's resolver:
/// every symlink followed, dangling leaves too, missing components appended lexically), then the
/// longest existing prefix through `realpath` (on macOS this also yields the on-disk case and
/// Unicode normalization of each name), then [`canonical_lexical`]. So the profile and the
/// preflight see the same spelling.
pub fn canonical_host(p: &str) -> String {
    // `..` is resolved physically (after the symlink before it), as the kernel does.
    let lex = normalize(p);
    let phys = crate::paths::resolve(std::path::Path::new(p), std::path::Path::new("/"))
        .map(|r| r.path)
        .unwrap_or_else(|_| std::path::PathBuf::from(&lex));
    let mut missing: Vec<&std::ffi::OsStr> = Vec::new();
    let mut cur = Some(phys.as_path());
    while let Some(c) = cur {
        if let Ok(real) = std::fs::canonicalize(c) {
            let mut out = real;
            for m in missing.iter().rev() {
                out.push(m);
            }
            return canonical_lexical(&out.to_string_lossy());
        }
        if let Some(name) = c.file_name() {
            missing.push(name);
        }
        cur = c.parent();
    }
    canonical_lexical(&lex)
}

/// Every spelling under which the kernel may report `p`: itself and, below a firmlink, the
/// data-volume path.
pub fn spellings(p: &str) -> Vec<String> {
    let mut out = vec![p.to_string()];
    if FIRMLINK_ROOTS.iter().any(|f| within(p, f)) {
        out.push(format!("{DATA_VOLUME}{p}"));
    }
    out
}

/// `p` equals `root` or lies below it (whole components).
pub fn within(p: &str, root: &str) -> bool {
    if root == "/" {
        return p.starts_with('/');
    }
    p == root || (p.starts_with(root) && p.as_bytes().get(root.len()) == Some(&b'/'))
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

impl ProfileInputs {
    /// The inputs for `policy` with `canon` as path canonicalization ([`canonical_host`] in the
    /// helper, [`canonical_lexical`] in tests) and `tmpdir` as the private TMPDIR. Reads the file
    /// system only through [`ExecPolicy::git_protected`] (which git paths exist).
    pub fn from_policy(
        policy: &ExecPolicy,
        tmpdir: Option<&str>,
        canon: &dyn Fn(&str) -> String,
    ) -> Result<Self> {
        policy.validate()?;
        let mut inputs = ProfileInputs {
            network: policy.network.mode,
            proxy_port: policy.network.proxy_port,
            tmpdir: tmpdir.map(canon),
            ..Default::default()
        };
        if inputs.network == NetworkMode::Allowlist && inputs.proxy_port.is_none() {
            return Err(SandboxError::InvalidPolicy(
                "network allowlist needs a proxyPort".into(),
            ));
        }
        for w in &policy.writable_roots {
            let c = canon(w);
            if c == "/" {
                return Err(SandboxError::InvalidPolicy("/ cannot be writable".into()));
            }
            push_unique(&mut inputs.writable, c);
        }
        for r in MACOS_SYSTEM_READ
            .iter()
            .map(|s| s.to_string())
            .chain(policy.effective_readable_roots())
        {
            let c = canon(&r);
            if c == "/" {
                return Err(SandboxError::InvalidPolicy(
                    "/ cannot be a readable root; list directories explicitly".into(),
                ));
            }
            push_unique(&mut inputs.readable, c);
        }
        let in_writable = |p: &str, w: &[String]| w.iter().any(|r| within(p, r) && p != r);
        // Carve-outs: the policy's read-only paths and the git integrity list (one list, as on
        // Linux). Both the entry itself (canonical parent + name: a symlink there cannot be
        // replaced) and what it resolves to are protected.
        let mut protected: Vec<String> = policy.effective_read_only_paths();
        let mut git_dirs: Vec<String> = Vec::new();
        for g in policy.git_protected() {
            let p = g.path.to_string_lossy().into_owned();
            if g.link_only {
                // A `.git` symlink: pin the link, its target keeps its ordinary rules.
                git_dirs.push(p);
                continue;
            }
            if let Some(d) = &g.git_dir {
                git_dirs.push(d.to_string_lossy().into_owned());
            }
            protected.push(p);
        }
        for p in protected {
            for c in [canon_entry(&p, canon), canon(&p)] {
                if in_writable(&c, &inputs.writable) {
                    push_unique(&mut inputs.read_only, c);
                }
            }
        }
        for d in git_dirs {
            let c = canon_entry(&d, canon);
            if in_writable(&c, &inputs.writable) {
                push_unique(&mut inputs.pinned, c);
            }
        }
        // Pin every ancestor between a carve-out and its writable root: renaming one away (and
        // back) would carry the carve-out out of its rule.
        let mut ancestors = Vec::new();
        for p in inputs.read_only.iter().chain(inputs.pinned.iter()) {
            for w in inputs.writable.iter().filter(|w| within(p, w)) {
                let mut a = parent(p);
                while let Some(x) = a {
                    if !within(&x, w) || x == *w {
                        break;
                    }
                    ancestors.push(x.clone());
                    a = parent(&x);
                }
            }
        }
        for a in ancestors {
            push_unique(&mut inputs.pinned, a);
        }
        for d in policy
            .effective_denied_paths()
            .into_iter()
            .chain(MACOS_DENIED_SYSTEM.iter().map(|s| s.to_string()))
        {
            push_unique(&mut inputs.denied, canon(&d));
        }
        Ok(inputs)
    }

    /// Renders the profile.
    pub fn render(&self) -> Result<Profile> {
        if self.network == NetworkMode::Allowlist && self.proxy_port.is_none() {
            return Err(SandboxError::InvalidPolicy(
                "network allowlist needs a proxyPort".into(),
            ));
        }
        for p in self
            .readable
            .iter()
            .chain(&self.writable)
            .chain(&self.read_only)
            .chain(&self.pinned)
            .chain(&self.denied)
            .chain(self.tmpdir.iter())
        {
            if !p.starts_with('/') || p.contains('\0') {
                return Err(SandboxError::InvalidPolicy(format!(
                    "profile path must be absolute without NUL: {p:?}"
                )));
            }
        }
        let mut r = Renderer::default();
        r.line("(version 1)");
        r.line("; ku0-sandbox Seatbelt profile, generated from the ExecPolicy (crates/sandbox/src/macos).");
        r.line("; Every path is a parameter; none is part of this text.");
        r.line("(deny default)");
        r.line("(allow process-fork)");
        r.line("(allow process-exec)");
        r.line("(allow signal (target same-sandbox))");
        r.line("(allow process-info* (target same-sandbox))");
        r.line("(allow ipc-posix-sem)");
        let mut sysctl = String::from("(allow sysctl-read");
        for s in SYSCTLS {
            sysctl.push_str(&format!("\n  (sysctl-name \"{s}\")"));
        }
        for s in SYSCTL_PREFIXES {
            sysctl.push_str(&format!("\n  (sysctl-name-prefix \"{s}\")"));
        }
        sysctl.push(')');
        r.line(&sysctl);
        let mut mach: Vec<&str> = MACH_SERVICES.to_vec();
        if self.network != NetworkMode::None {
            mach.extend_from_slice(MACH_SERVICES_NETWORK);
        }
        r.rule(
            "allow mach-lookup",
            mach.iter()
                .map(|m| format!("(global-name \"{m}\")"))
                .collect(),
        );
        r.rule(
            "allow file-read*",
            DEV_READ
                .iter()
                .map(|d| format!("(literal \"{d}\")"))
                .chain(std::iter::once("(subpath \"/dev/fd\")".to_string()))
                .collect(),
        );
        r.rule(
            "allow file-write-data file-ioctl",
            DEV_WRITE
                .iter()
                .map(|d| format!("(literal \"{d}\")"))
                .chain(std::iter::once("(subpath \"/dev/fd\")".to_string()))
                .collect(),
        );

        let writable: Vec<String> = self
            .writable
            .iter()
            .chain(self.tmpdir.iter())
            .flat_map(|w| spellings(w))
            .collect();
        let readable: Vec<String> = self.readable.iter().flat_map(|p| spellings(p)).collect();
        let read_only: Vec<String> = self.read_only.iter().flat_map(|p| spellings(p)).collect();
        let pinned: Vec<String> = self.pinned.iter().flat_map(|p| spellings(p)).collect();
        let denied: Vec<String> = self.denied.iter().flat_map(|p| spellings(p)).collect();
        let roots: Vec<String> = readable.iter().chain(&writable).cloned().collect();

        // Path resolution needs the metadata of every ancestor of a root.
        let mut ancestors: Vec<String> = Vec::new();
        for root in &roots {
            let mut a = parent(root);
            while let Some(x) = a {
                if x == "/" {
                    break;
                }
                push_unique(&mut ancestors, x.clone());
                a = parent(&x);
            }
        }
        let mut meta = vec!["(literal \"/\")".to_string()];
        meta.extend(ancestors.iter().map(|a| r.filter("literal", a)));
        r.rule("allow file-read-metadata", meta);

        // Reads: every root minus the denied paths inside it.
        let read_filters: Vec<String> = roots
            .iter()
            .map(|root| {
                let mut excl: Vec<String> = denied
                    .iter()
                    .filter(|d| within(d, root))
                    .map(|d| r.filter("subpath", d))
                    .collect();
                for v in SYSTEM_VOLUMES_HIDDEN {
                    if within(v, root) && !within(root, v) {
                        excl.push(format!("(subpath \"{v}\")"));
                    }
                }
                r.excluding("subpath", root, &excl)
            })
            .collect();
        r.rule("allow file-read*", read_filters);

        // Writes: the writable roots minus carve-outs, pinned entries and denied paths.
        let write_filters: Vec<String> = writable
            .iter()
            .map(|root| {
                let mut excl: Vec<String> = Vec::new();
                for p in read_only.iter().chain(&denied).filter(|p| within(p, root)) {
                    excl.push(r.filter("subpath", p));
                }
                for p in pinned.iter().filter(|p| within(p, root)) {
                    excl.push(r.filter("literal", p));
                }
                r.excluding("subpath", root, &excl)
            })
            .collect();
        r.rule("allow file-write*", write_filters.clone());

        // The same exclusions as explicit denies (independent of rule precedence).
        let mut ro_deny: Vec<String> = read_only.iter().map(|p| r.filter("subpath", p)).collect();
        ro_deny.extend(pinned.iter().map(|p| r.filter("literal", p)));
        r.rule("deny file-write*", ro_deny);
        // Denied paths, except a root strictly inside one (a workspace under a denied home).
        let denied_filters: Vec<String> = denied
            .iter()
            .map(|d| {
                let excl: Vec<String> = roots
                    .iter()
                    .filter(|root| within(root, d) && *root != d)
                    .map(|root| r.filter("subpath", root))
                    .collect();
                r.excluding("subpath", d, &excl)
            })
            .collect();
        r.rule("deny file-read* file-write*", denied_filters);

        match self.network {
            NetworkMode::Full => {
                r.line("(allow network*)");
                r.line("(allow system-socket)");
            }
            NetworkMode::Allowlist | NetworkMode::None => {
                // Unix sockets only where the command may write anyway (its own servers).
                r.rule("allow network-bind network-outbound", write_filters);
                if let (NetworkMode::Allowlist, Some(port)) = (self.network, self.proxy_port) {
                    // The filtering proxy's loopback port is the only TCP destination.
                    r.line(&format!(
                        "(allow network-outbound (remote ip \"localhost:{port}\"))"
                    ));
                }
            }
        }
        Ok(Profile {
            text: r.text,
            params: r.params,
        })
    }
}

/// The canonical spelling of the entry itself: canonical parent + its own name (a symlink at the
/// leaf is not followed).
fn canon_entry(p: &str, canon: &dyn Fn(&str) -> String) -> String {
    let lex = canonical_lexical(p);
    match (parent(&lex), lex.rsplit('/').next()) {
        (Some(dir), Some(name)) if !name.is_empty() => {
            let d = canon(&dir);
            if d == "/" {
                format!("/{name}")
            } else {
                format!("{d}/{name}")
            }
        }
        _ => lex,
    }
}

fn parent(p: &str) -> Option<String> {
    let i = p.rfind('/')?;
    if p == "/" {
        return None;
    }
    Some(if i == 0 {
        "/".into()
    } else {
        p[..i].to_string()
    })
}

#[derive(Default)]
struct Renderer {
    text: String,
    params: Vec<(String, String)>,
}

impl Renderer {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    /// `(op filters…)`; nothing when there is no filter (an empty rule would match everything).
    fn rule(&mut self, head: &str, filters: Vec<String>) {
        if filters.is_empty() {
            return;
        }
        let mut s = format!("({head}");
        for f in filters {
            s.push_str("\n  ");
            s.push_str(&f);
        }
        s.push(')');
        self.line(&s);
    }

    /// The parameter name bound to `value` (one per distinct value).
    fn param(&mut self, value: &str) -> String {
        if let Some((k, _)) = self.params.iter().find(|(_, v)| v == value) {
            return k.clone();
        }
        let k = format!("P{}", self.params.len());
        self.params.push((k.clone(), value.to_string()));
        k
    }

    fn filter(&mut self, kind: &str, path: &str) -> String {
        let k = self.param(path);
        format!("({kind} (param \"{k}\"))")
    }

    /// `(kind path)` minus the `excl` filters.
    fn excluding(&mut self, kind: &str, path: &str, excl: &[String]) -> String {
        let base = self.filter(kind, path);
        if excl.is_empty() {
            return base;
        }
        let mut s = format!("(require-all {base}");
        for e in excl {
            s.push_str(&format!(" (require-not {e})"));
        }
        s.push(')');
        s
    }
}

/// Creates, on the host and before the profile applies, the placeholders the Linux backend
/// creates too: missing git paths (so a case-folding file system cannot be tricked into a new
/// `CONFIG` that git reads as `config`) and missing denied paths inside writable roots.
/// Permission errors are ignored (where this uid cannot create a path, the command cannot).
pub fn create_placeholders(policy: &ExecPolicy, canon: &dyn Fn(&str) -> String) -> Result<()> {
    let writable: Vec<String> = policy.writable_roots.iter().map(|w| canon(w)).collect();
    let inside = |p: &std::path::Path| {
        let c = canon(&p.to_string_lossy());
        writable.iter().any(|w| within(&c, w) && &c != w)
    };
    let ignore = |e: std::io::Error, what: &std::path::Path| match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => Ok(()),
        _ => Err(SandboxError::Os {
            what: format!("placeholder {}", what.display()),
            source: e,
        }),
    };
    for g in policy.git_protected() {
        if g.link_only || !inside(&g.path) {
            continue;
        }
        if let Err(e) = crate::git::ensure_placeholder(&g) {
            ignore(e, &g.path)?;
        }
    }
    for d in policy.effective_denied_paths() {
        let p = std::path::Path::new(&d);
        if !inside(p) {
            continue;
        }
        if let Err(e) = crate::policy::ensure_denied_placeholder(p) {
            ignore(e, p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_canonical_maps_private_links_and_dots() {
        assert_eq!(canonical_lexical("/tmp"), "/private/tmp");
        assert_eq!(canonical_lexical("/tmp/x/../y/./z"), "/private/tmp/y/z");
        assert_eq!(
            canonical_lexical("/var/folders/ab"),
            "/private/var/folders/ab"
        );
        assert_eq!(canonical_lexical("/etc//hosts"), "/private/etc/hosts");
        assert_eq!(canonical_lexical("/tmpx"), "/tmpx");
        assert_eq!(canonical_lexical("/private/tmp"), "/private/tmp");
        assert_eq!(canonical_lexical("/.."), "/");
        assert_eq!(canonical_lexical("/a/b/"), "/a/b");
    }

    #[test]
    fn spellings_add_the_data_volume_alias() {
        assert_eq!(
            spellings("/Users/u/ws"),
            vec!["/Users/u/ws", "/System/Volumes/Data/Users/u/ws"]
        );
        assert_eq!(spellings("/usr/bin"), vec!["/usr/bin"]);
        assert_eq!(spellings("/usr/local/bin").len(), 2);
        assert_eq!(spellings("/Usersx").len(), 1);
    }

    #[test]
    fn within_is_by_component() {
        assert!(within("/a/b", "/a"));
        assert!(within("/a", "/a"));
        assert!(!within("/ab", "/a"));
        assert!(within("/x", "/"));
    }

    #[cfg(unix)]
    #[test]
    fn host_canonical_follows_symlinks_and_keeps_missing_rest() {
        let d = std::env::temp_dir().join(format!("ku0-sb-canon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("real")).unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
        let real = std::fs::canonicalize(d.join("real")).unwrap();
        let got = canonical_host(&format!("{}/link/missing/x", d.display()));
        assert_eq!(
            got,
            canonical_lexical(&format!("{}/missing/x", real.display()))
        );
        // `..` after a symlink is physical: link/.. is the link target's parent.
        std::fs::create_dir_all(d.join("real/sub")).unwrap();
        std::os::unix::fs::symlink(d.join("real/sub"), d.join("deep")).unwrap();
        assert_eq!(
            canonical_host(&format!("{}/deep/../y", d.display())),
            canonical_lexical(&format!("{}/y", real.display()))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
