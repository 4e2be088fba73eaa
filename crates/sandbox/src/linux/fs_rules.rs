//! Landlock rules for the command (filesystem, TCP ports, scopes), negotiated best-effort with
//! the running kernel's ABI; the caller decides whether a partial result is acceptable.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::policy::NetworkMode;
use crate::{Result, SandboxError};

/// The ABI whose rights we request (the newest this code was tested against).
pub const TARGET_ABI: ABI = ABI::V6;

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Landlock(e.to_string())
}

/// Outcome of applying the ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    Full,
    Partial,
    None,
}

pub struct FsRules<'a> {
    pub readable: &'a [String],
    pub writable: &'a [String],
    /// Device files that may be read and written (`/dev/null`, …).
    pub rw_files: &'a [String],
    pub network: NetworkMode,
    pub proxy_port: Option<u16>,
    /// Scope abstract unix sockets to the sandbox (Landlock ABI >= 6) in every network mode.
    pub scope_abstract_unix: bool,
}

fn add_path(
    ruleset: landlock::RulesetCreated,
    path: &str,
    access: BitFlags<AccessFs>,
) -> Result<landlock::RulesetCreated> {
    let fd = match PathFd::new(path) {
        Ok(fd) => fd,
        Err(_) => return Ok(ruleset), // vanished or hidden path: nothing to allow
    };
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    let access = if is_dir {
        access
    } else {
        access & AccessFs::from_file(TARGET_ABI)
    };
    ruleset.add_rule(PathBeneath::new(fd, access)).map_err(err)
}

/// Applies Landlock to the calling thread (also sets no-new-privs).
pub fn apply(rules: &FsRules<'_>) -> Result<Enforcement> {
    let all = AccessFs::from_all(TARGET_ABI);
    let read = AccessFs::from_read(TARGET_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(err)?;
    if rules.network != NetworkMode::Full {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(err)?;
    }
    if rules.network != NetworkMode::Full || rules.scope_abstract_unix {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket).map_err(err)?;
    }
    ruleset = ruleset.scope(Scope::Signal).map_err(err)?;
    let mut created = ruleset.create().map_err(err)?;
    // Directory listing of the (constructed) root only; files below need their own rule.
    created = add_path(created, "/", AccessFs::ReadDir.into())?;
    for p in rules.readable {
        created = add_path(created, p, read)?;
    }
    for p in rules.writable {
        created = add_path(created, p, all)?;
    }
    for p in rules.rw_files {
        created = add_path(
            created,
            p,
            AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate,
        )?;
    }
    if rules.network == NetworkMode::Allowlist
        && let Some(port) = rules.proxy_port
    {
        created = created
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(err)?;
    }
    let status = created.restrict_self().map_err(err)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    })
}

/// The Landlock ABI version of the running kernel (0 when unsupported).
pub fn kernel_abi() -> i32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    if rc < 0 { 0 } else { rc as i32 }
}
