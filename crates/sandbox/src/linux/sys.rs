//! Thin wrappers over the raw syscalls the helper needs.

use std::ffi::CString;

use crate::{Result, SandboxError};

pub fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| SandboxError::InvalidPolicy(format!("NUL in {s:?}")))
}

fn check(rc: libc::c_int, what: impl FnOnce() -> String) -> Result<()> {
    if rc < 0 {
        Err(SandboxError::last_os(what()))
    } else {
        Ok(())
    }
}

pub fn mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<()> {
    let src_c = src.map(cstr).transpose()?;
    let target_c = cstr(target)?;
    let fs_c = fstype.map(cstr).transpose()?;
    let data_c = data.map(cstr).transpose()?;
    // SAFETY: all pointers are valid NUL-terminated strings or null.
    let rc = unsafe {
        libc::mount(
            src_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            target_c.as_ptr(),
            fs_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags,
            data_c
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast()),
        )
    };
    check(rc, || format!("mount {src:?} on {target}"))
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_uint = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)`: adds attributes to the mount at `path` (and below when `recursive`).
pub fn mount_setattr(path: &str, recursive: bool, set: u64) -> Result<()> {
    let c = cstr(path)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid path and attr struct of the declared size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(rc as libc::c_int, || format!("mount_setattr {path}"))
}

pub fn pivot_root(new_root: &str, put_old: &str) -> Result<()> {
    let a = cstr(new_root)?;
    let b = cstr(put_old)?;
    // SAFETY: valid strings.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, a.as_ptr(), b.as_ptr()) };
    check(rc as libc::c_int, || "pivot_root".into())
}

pub fn umount_detach(path: &str) -> Result<()> {
    let c = cstr(path)?;
    // SAFETY: valid string.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    check(rc, || format!("umount {path}"))
}

pub fn chdir(path: &str) -> Result<()> {
    let c = cstr(path)?;
    // SAFETY: valid string.
    check(unsafe { libc::chdir(c.as_ptr()) }, || {
        format!("chdir {path}")
    })
}

pub fn unshare(flags: libc::c_int) -> std::io::Result<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::unshare(flags) } < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn write_file(path: &str, data: &str) -> Result<()> {
    std::fs::write(path, data).map_err(|e| SandboxError::Os {
        what: format!("write {path}"),
        source: e,
    })
}

/// Creates every missing directory of `path` (mode 0755).
pub fn mkdir_p(path: &str) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| SandboxError::Os {
        what: format!("mkdir {path}"),
        source: e,
    })
}

/// Creates an empty file to serve as a bind-mount point (parents created).
pub fn touch(path: &str) -> Result<()> {
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent).map_err(|e| SandboxError::Os {
            what: format!("mkdir {}", parent.display()),
            source: e,
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|_| ())
        .map_err(|e| SandboxError::Os {
            what: format!("create {path}"),
            source: e,
        })
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> Result<()> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(rc, || format!("prctl {option}"))
}

/// Type of the `RLIMIT_*` constants: glibc has its own enum type, musl a plain `c_int`.
#[cfg(target_env = "gnu")]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = libc::c_int;

pub fn set_rlimit(resource: RlimitResource, value: u64) -> Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::getrlimit(resource, &mut cur) };
    let v = value.min(cur.rlim_max);
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: v,
    };
    // SAFETY: valid pointer.
    check(unsafe { libc::setrlimit(resource, &lim) }, || {
        format!("setrlimit {resource}")
    })
}

/// Writes the whole buffer to a raw fd (async-signal-safe, no allocation).
pub fn write_all_fd(fd: libc::c_int, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Prints a diagnostic line to stderr and exits with `code` without running destructors.
pub fn die(code: i32, msg: &str) -> ! {
    let line = format!("{} {}\n", crate::DIAG_PREFIX, msg);
    write_all_fd(2, line.as_bytes());
    // SAFETY: terminates the process.
    unsafe { libc::_exit(code) }
}
