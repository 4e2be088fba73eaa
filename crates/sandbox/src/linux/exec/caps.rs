//! Capability dropping: securebits locked, bounding and ambient sets cleared, capset to zero.

use crate::linux::sys;
use crate::{Result, SandboxError};

/// Drops every capability (bounding, ambient, effective/permitted/inheritable) and locks the
/// securebits so that exec as uid 0 regains nothing.
pub(super) fn drop_caps() -> Result<()> {
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
