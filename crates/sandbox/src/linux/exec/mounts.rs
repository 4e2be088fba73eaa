//! Builds the constructed root from the mount plan (runs in pid 1, inside the mount namespace):
//! staging tmpfs and `pivot_root`, `/proc` and `/dev`, the plan's binds, carve-outs and denied
//! stand-ins, masked host-wide `/proc` files; then the root is made read-only.

use std::path::Path;

use super::plan::{DEV_FILES, Entry, Prepared, SCRIPT_FILE};
use crate::linux::sys;
use crate::{Result, SandboxError};

/// Builds the new root (runs in init, inside the mount namespace).
pub(super) fn build_mounts(prep: &Prepared) -> Result<()> {
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
    set_mode(EMPTY_FILE, 0o000, "chmod empty")?;

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

/// Writes a long script (if any) and makes the root tmpfs read-only: the last mount step.
pub(super) fn finish_root(script: Option<&[u8]>) -> Result<()> {
    if let Some(script) = script {
        std::fs::write(SCRIPT_FILE, script).map_err(|e| SandboxError::Os {
            what: "write command script".into(),
            source: e,
        })?;
        set_mode(SCRIPT_FILE, 0o444, "chmod command script")?;
    }
    sys::mount_setattr(
        "/",
        false,
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
    )
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

/// Sets the permission bits of `path`; `what` names the step in an error.
fn set_mode(path: &str, mode: u32, what: &str) -> Result<()> {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).map_err(
        |e| SandboxError::Os {
            what: what.into(),
            source: e,
        },
    )
}

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
