//! seccomp filters applied to the command (x86_64 and aarch64; the program kills any other
//! audit architecture, and on x86_64 refuses x32 numbers).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule, sock_filter,
};

use crate::policy::NetworkMode;
use crate::{Result, SandboxError};

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Seccomp(e.to_string())
}

// AUDIT_ARCH_* = EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (linux/audit.h).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 62 | 0x8000_0000 | 0x4000_0000;
#[cfg(target_arch = "x86_64")]
const TARGET_ARCH: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 183 | 0x8000_0000 | 0x4000_0000;
#[cfg(target_arch = "aarch64")]
const TARGET_ARCH: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("ku0-sandbox: seccomp filters exist for x86_64 and aarch64 only");
/// fchmodat2 (Linux 6.6): numbers from 424 on are the same on every architecture, and the libc
/// crate does not define this one for aarch64.
const SYS_FCHMODAT2: i64 = 452;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

const CLONE_NS_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
];

/// Syscalls that always fail with EPERM inside the sandbox.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_userfaultfd,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    #[cfg(target_arch = "x86_64")] // no such syscall on aarch64
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")] // no such syscall on aarch64
    libc::SYS_ioperm,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    #[cfg(target_arch = "x86_64")] // no such syscall on aarch64
    libc::SYS_uselib,
    libc::SYS_vhangup,
    libc::SYS_pidfd_getfd,
];

/// Syscalls that fail with ENOSYS so that libraries fall back (glibc uses clone after clone3).
const NOSYS: &[i64] = &[
    libc::SYS_clone3,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_openat2,
];

fn always() -> Vec<SeccompRule> {
    Vec::new()
}

fn rule(conds: Vec<Cond>) -> Result<SeccompRule> {
    SeccompRule::new(conds).map_err(err)
}

fn cond(arg: u8, len: Len, op: Op, value: u64) -> Result<Cond> {
    Cond::new(arg, len, op, value).map_err(err)
}

/// An ioctl request number as a filter operand (`c_ulong` on glibc, `c_int` on musl).
#[allow(
    clippy::unnecessary_cast,
    reason = "libc::Ioctl is c_ulong on glibc (the cast is a no-op) but c_int on musl"
)]
fn ioctl_nr(req: libc::Ioctl) -> u64 {
    req as u64
}

/// Rules matching a mode argument with the setuid or setgid bit.
fn suid_mode(arg: u8) -> Result<Vec<SeccompRule>> {
    Ok(vec![
        rule(vec![cond(arg, Len::Dword, Op::MaskedEq(0o4000), 0o4000)?])?,
        rule(vec![cond(arg, Len::Dword, Op::MaskedEq(0o2000), 0o2000)?])?,
    ])
}

/// Builds the filters for the given network mode, in the order they must be installed.
pub fn build_filters(network: NetworkMode) -> Result<Vec<BpfProgram>> {
    // Prefix (hand-written; seccompiler has no x32 check and one action per filter):
    // kill foreign architectures, EPERM for x32 numbers (x86_64), ENOSYS for the NOSYS list; then the
    // seccompiler program (EPERM rules) follows in the same filter, so the kernel verifies and
    // JIT-compiles one program instead of three.
    let k = NOSYS.len();
    let mut prefix: BpfProgram = vec![
        // A = seccomp_data.arch
        sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 4,
        },
        sock_filter {
            code: 0x15,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH,
        },
        sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_KILL_PROCESS,
        },
        // A = seccomp_data.nr
        sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    #[cfg(target_arch = "x86_64")]
    prefix.extend([
        // if A >= X32_SYSCALL_BIT -> EPERM
        sock_filter {
            code: 0x35,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
    ]);
    for (i, nr) in NOSYS.iter().enumerate() {
        // jeq nr -> the ENOSYS return placed after the `ja` below
        let jt = u8::try_from(k - i).map_err(err)?;
        prefix.push(sock_filter {
            code: 0x15,
            jt,
            jf: 0,
            k: *nr as u32,
        });
    }
    prefix.push(sock_filter {
        code: 0x05,
        jt: 0,
        jf: 0,
        k: 1,
    }); // ja +1
    prefix.push(sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    });

    // 2. EPERM rules.
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in DENIED {
        rules.insert(*nr, always());
    }
    let mut clone_rules = Vec::new();
    for f in CLONE_NS_FLAGS {
        clone_rules.push(rule(vec![cond(0, Len::Qword, Op::MaskedEq(*f), *f)?])?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    rules.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, Len::Dword, Op::Eq, ioctl_nr(libc::TIOCSTI))?])?,
            rule(vec![cond(
                1,
                Len::Dword,
                Op::Eq,
                ioctl_nr(libc::TIOCLINUX),
            )?])?,
        ],
    );
    rules.insert(libc::SYS_fchmod, suid_mode(1)?);
    rules.insert(libc::SYS_fchmodat, suid_mode(2)?);
    rules.insert(SYS_FCHMODAT2, suid_mode(2)?);
    rules.insert(libc::SYS_openat, suid_mode(3)?);
    rules.insert(libc::SYS_mknodat, suid_mode(2)?);
    // Legacy path calls: x86_64 only (aarch64 has just the *at forms above).
    #[cfg(target_arch = "x86_64")]
    {
        rules.insert(libc::SYS_chmod, suid_mode(1)?);
        rules.insert(libc::SYS_creat, suid_mode(1)?);
        rules.insert(libc::SYS_open, suid_mode(2)?);
        rules.insert(libc::SYS_mknod, suid_mode(1)?);
    }
    let af_unix = libc::AF_UNIX as u64;
    match network {
        NetworkMode::None => {
            rules.insert(
                libc::SYS_socket,
                vec![rule(vec![cond(0, Len::Dword, Op::Ne, af_unix)?])?],
            );
            rules.insert(
                libc::SYS_socketpair,
                vec![rule(vec![cond(0, Len::Dword, Op::Ne, af_unix)?])?],
            );
        }
        NetworkMode::Allowlist => {
            // Only UNIX and TCP/IP stream sockets; Landlock limits TCP to the proxy port.
            let mut socket_rules = vec![rule(vec![
                cond(0, Len::Dword, Op::Ne, af_unix)?,
                cond(0, Len::Dword, Op::Ne, libc::AF_INET as u64)?,
                cond(0, Len::Dword, Op::Ne, libc::AF_INET6 as u64)?,
            ])?];
            // Deny every IP socket type except SOCK_STREAM (no UDP/DNS, raw, SCTP, packet).
            for fam in [libc::AF_INET as u64, libc::AF_INET6 as u64] {
                for ty in [
                    libc::SOCK_DGRAM,
                    libc::SOCK_RAW,
                    libc::SOCK_SEQPACKET,
                    libc::SOCK_RDM,
                    10,
                ] {
                    socket_rules.push(rule(vec![
                        cond(0, Len::Dword, Op::Eq, fam)?,
                        cond(1, Len::Dword, Op::MaskedEq(0xf), ty as u64)?,
                    ])?);
                }
            }
            rules.insert(libc::SYS_socket, socket_rules);
            rules.insert(
                libc::SYS_socketpair,
                vec![rule(vec![cond(0, Len::Dword, Op::Ne, af_unix)?])?],
            );
        }
        NetworkMode::Full => {}
    }
    let eperm: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TARGET_ARCH,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)?;

    prefix.extend(eperm);
    Ok(vec![prefix])
}

/// Extra filter when a memory limit is requested but no memory cgroup enforces it: shared memory
/// is not counted by RLIMIT_DATA, so every way to pin it fails with EPERM — `memfd_create`,
/// `memfd_secret`, SysV `shmget`, and anonymous shared `mmap` (MAP_SHARED or
/// MAP_SHARED_VALIDATE with MAP_ANONYMOUS). File-backed shared mappings stay allowed (their
/// pages are the file system's: /tmp is capped by its tmpfs size, which the helper lowers to the
/// memory limit). x86_64 numbers, like [`build_filters`].
pub fn shared_memory_filter() -> Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_memfd_create, always());
    rules.insert(libc::SYS_memfd_secret, always());
    rules.insert(libc::SYS_shmget, always());
    let anon = libc::MAP_ANONYMOUS as u64;
    let share_type = (libc::MAP_SHARED | libc::MAP_PRIVATE) as u64; // the low two bits
    rules.insert(
        libc::SYS_mmap,
        vec![
            rule(vec![
                cond(3, Len::Dword, Op::MaskedEq(anon), anon)?,
                cond(
                    3,
                    Len::Dword,
                    Op::MaskedEq(share_type),
                    libc::MAP_SHARED as u64,
                )?,
            ])?,
            rule(vec![
                cond(3, Len::Dword, Op::MaskedEq(anon), anon)?,
                cond(3, Len::Dword, Op::MaskedEq(share_type), share_type)?,
            ])?,
        ],
    );
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        seccompiler::TargetArch::x86_64,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)
}

/// Installs the filters on the calling thread (no-new-privs must already be set).
pub fn apply(filters: &[BpfProgram]) -> Result<()> {
    for f in filters {
        seccompiler::apply_filter(f).map_err(err)?;
    }
    Ok(())
}

/// Whether the kernel supports seccomp filters.
pub fn available() -> bool {
    // SAFETY: read-only prctl.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_every_mode() {
        for m in [NetworkMode::None, NetworkMode::Allowlist, NetworkMode::Full] {
            let f = build_filters(m).unwrap();
            assert_eq!(f.len(), 1);
            assert!(f[0].len() > 50);
        }
        assert!(shared_memory_filter().unwrap().len() > 5);
    }
}
