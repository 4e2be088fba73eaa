//! Thin wrappers over the raw syscalls the helper needs.

use crate::{Result, SandboxError};

/// The Unix-common parts of the helper, used under these names by the Linux modules.
pub use crate::unix::{
    RlimitResource, close_inherited_fds, cstr, die, set_rlimit, set_status_fd, write_all_fd,
};

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

/// Binds `src` (recursively, with `attrs` set) onto `target` without following a symlink at
/// `target`'s last component: the link itself becomes the mount point, so it can be neither
/// removed nor replaced (EBUSY) and lookups through it see `src`.
pub fn bind_onto_link(src: &str, target: &str, attrs: u64) -> Result<()> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const AT_EMPTY_PATH: libc::c_uint = 0x1000;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    let s = cstr(src)?;
    let t = cstr(target)?;
    let empty = cstr("")?;
    // SAFETY: open_tree with a valid path; the fd is closed below on every path.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            s.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    } as libc::c_int;
    check(fd, || format!("open_tree {src}"))?;
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the detached tree's fd, an empty path and an attr struct of the declared size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            empty.as_ptr(),
            AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    } as libc::c_int;
    let r = check(rc, || format!("mount_setattr {src}")).and_then(|()| {
        // SAFETY: move the detached tree onto the target; no MOVE_MOUNT_T_SYMLINKS.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                fd,
                empty.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        } as libc::c_int;
        check(rc, || format!("move_mount {src} -> {target}"))
    });
    // SAFETY: closing our descriptor.
    unsafe { libc::close(fd) };
    r
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
