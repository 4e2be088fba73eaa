//! File reads and writes confined to a root directory, resolved by the kernel with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (no check-then-open race: a symlink or `..`
//! that leaves the root, including a dangling leaf or an ancestor swapped for a symlink after a
//! preflight check, fails with EXDEV). Kernels without openat2 fall back to a component-by-component
//! `O_NOFOLLOW` walk that refuses every symlink. Writes refuse files with more than one hard link
//! (they may alias a file outside the root) before truncating anything.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn errno(e: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(e)
}

fn cpath(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| errno(libc::EINVAL))
}

fn open_root(root: &Path) -> std::io::Result<OwnedFd> {
    let c = cpath(root)?;
    // SAFETY: valid path; the fd is owned below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Rejects absolute paths (the kernel would too) with a clear error.
fn check_rel(rel: &Path) -> std::io::Result<()> {
    if rel.is_absolute() || rel.as_os_str().is_empty() {
        return Err(errno(libc::EXDEV));
    }
    Ok(())
}

fn openat2(dir: &OwnedFd, rel: &Path, flags: i32, mode: u32) -> std::io::Result<OwnedFd> {
    let c = cpath(rel)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid fd, path and open_how of the declared size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Fallback walk: every component opened with O_NOFOLLOW; `..` and symlinks refused.
fn walk_open(dir: &OwnedFd, rel: &Path, flags: i32, mode: u32) -> std::io::Result<OwnedFd> {
    let comps: Vec<_> = rel.components().collect();
    let mut cur: Option<OwnedFd> = None;
    for (i, comp) in comps.iter().enumerate() {
        let name = match comp {
            Component::Normal(n) => CString::new(n.as_bytes()).map_err(|_| errno(libc::EINVAL))?,
            Component::CurDir => continue,
            _ => return Err(errno(libc::EXDEV)),
        };
        let base = cur.as_ref().unwrap_or(dir).as_raw_fd();
        let last = i + 1 == comps.len();
        let f = if last {
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC
        } else {
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        };
        // SAFETY: valid dir fd and name.
        let fd = unsafe { libc::openat(base, name.as_ptr(), f, mode) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor.
        cur = Some(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    cur.ok_or_else(|| errno(libc::EINVAL))
}

fn open_beneath(root: &Path, rel: &Path, flags: i32, mode: u32) -> std::io::Result<OwnedFd> {
    check_rel(rel)?;
    let dir = open_root(root)?;
    match openat2(&dir, rel, flags, mode) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => walk_open(&dir, rel, flags, mode),
        other => other,
    }
}

pub use crate::policy::DEFAULT_MAX_FILE_BYTES;

/// The path is not a regular file (FIFO, socket, device, directory): refused before any byte is
/// read or written, so a FIFO the sandbox planted cannot block the host.
#[derive(Debug, thiserror::Error)]
#[error("not a regular file")]
pub struct NotRegularFile;

fn not_regular() -> std::io::Error {
    std::io::Error::other(NotRegularFile)
}

/// True for the helpers' own "not a regular file" refusal (see [`crate::SandboxError::from_file_io`],
/// which classifies every file-helper error).
pub fn is_not_regular_file(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<NotRegularFile>())
}

/// Stable error code of a file-helper error (`ERR_KU0_…`).
pub fn error_code(e: std::io::Error) -> &'static str {
    crate::SandboxError::from_file_io(e).code()
}

/// Opens with O_NONBLOCK (a FIFO or device never blocks the opener) and refuses anything but a
/// regular file.
fn open_regular(root: &Path, rel: &Path, flags: i32, mode: u32) -> std::io::Result<File> {
    let fd =
        open_beneath(root, rel, flags | libc::O_NONBLOCK | libc::O_NOCTTY, mode).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                not_regular()
            } else {
                e
            }
        })?;
    let f = File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(f)
}

/// Reads `rel` (relative to `root`), refusing any resolution that leaves `root`, non-regular
/// files and files above [`DEFAULT_MAX_FILE_BYTES`].
pub fn read_beneath(root: &Path, rel: &Path) -> std::io::Result<Vec<u8>> {
    read_beneath_capped(root, rel, DEFAULT_MAX_FILE_BYTES)
}

/// [`read_beneath`] with an explicit size cap (EFBIG above it, also when the file grows while
/// it is read). A sparse file counts by its apparent size.
pub fn read_beneath_capped(root: &Path, rel: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    let f = open_regular(root, rel, libc::O_RDONLY, 0)?;
    let size = f.metadata()?.len();
    if size > max_bytes {
        return Err(errno(libc::EFBIG));
    }
    let mut out = Vec::with_capacity(size as usize);
    f.take(max_bytes.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max_bytes {
        return Err(errno(libc::EFBIG));
    }
    Ok(out)
}

/// Creates missing parent directories of `rel` beneath `root` (each step resolved beneath).
fn mkdirs_beneath(root: &Path, rel: &Path) -> std::io::Result<()> {
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    let mut acc = std::path::PathBuf::new();
    for comp in parent.components() {
        match comp {
            Component::Normal(n) => acc.push(n),
            Component::CurDir => continue,
            _ => return Err(errno(libc::EXDEV)),
        }
        let dir = open_root(root)?;
        match openat2(&dir, &acc, libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let (Some(p), Some(name)) = (acc.parent(), acc.file_name()) else {
                    return Err(errno(libc::EINVAL));
                };
                let pfd = if p.as_os_str().is_empty() {
                    open_root(root)?
                } else {
                    openat2(&dir, p, libc::O_PATH | libc::O_DIRECTORY, 0)?
                };
                let c = CString::new(name.as_bytes()).map_err(|_| errno(libc::EINVAL))?;
                // SAFETY: valid dir fd and name.
                if unsafe { libc::mkdirat(pfd.as_raw_fd(), c.as_ptr(), 0o755) } < 0 {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        return Err(err);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `data` to `rel` beneath `root` (created with mode 0644, replaced otherwise).
pub fn write_beneath(root: &Path, rel: &Path, data: &[u8], mkdirs: bool) -> std::io::Result<()> {
    write_beneath_capped(root, rel, data, mkdirs, DEFAULT_MAX_FILE_BYTES)
}

/// [`write_beneath`] with an explicit size cap on `data` (EFBIG above it). Non-regular targets
/// (a FIFO the sandbox planted, a device) are refused without blocking and without writing.
pub fn write_beneath_capped(
    root: &Path,
    rel: &Path,
    data: &[u8],
    mkdirs: bool,
    max_bytes: u64,
) -> std::io::Result<()> {
    check_rel(rel)?;
    if data.len() as u64 > max_bytes {
        return Err(errno(libc::EFBIG));
    }
    let mut f = open_write(root, rel, mkdirs)?;
    f.write_all(data)?;
    Ok(())
}

/// Opens `rel` for writing with the rules of [`write_beneath`] (beneath `root`, regular file,
/// one hard link, O_NONBLOCK) and truncates it only after every check passed.
fn open_write(root: &Path, rel: &Path, mkdirs: bool) -> std::io::Result<File> {
    check_rel(rel)?;
    if mkdirs {
        mkdirs_beneath(root, rel)?;
    }
    // No O_TRUNC yet: a hard-linked file must be refused before anything is changed.
    let f = open_regular(root, rel, libc::O_WRONLY | libc::O_CREAT, 0o644)?;
    use std::os::unix::fs::MetadataExt;
    if f.metadata()?.nlink() > 1 {
        return Err(errno(libc::EMLINK));
    }
    f.set_len(0)?;
    Ok(f)
}

/// Largest chunk one [`BeneathStream::read_chunk`] returns (bounds the memory of one call).
pub const MAX_CHUNK_BYTES: usize = 16 << 20;

/// An open regular file beneath a root, read or written chunk by chunk in bounded memory: the
/// same resolution and checks as [`read_beneath`] / [`write_beneath`] at open, no whole-file
/// cap unless one is given (the stream fails with EFBIG when it passes `limit` bytes).
#[derive(Debug)]
pub struct BeneathStream {
    file: File,
    limit: u64,
    done: u64,
    write: bool,
}

impl BeneathStream {
    /// Opens `rel` beneath `root` for reading. A file already larger than `limit` fails (EFBIG).
    pub fn open_read(root: &Path, rel: &Path, limit: Option<u64>) -> std::io::Result<Self> {
        let file = open_regular(root, rel, libc::O_RDONLY, 0)?;
        let limit = limit.unwrap_or(u64::MAX);
        if file.metadata()?.len() > limit {
            return Err(errno(libc::EFBIG));
        }
        Ok(BeneathStream {
            file,
            limit,
            done: 0,
            write: false,
        })
    }

    /// Creates or truncates `rel` beneath `root` for writing (hard-linked and non-regular files
    /// refused before anything changes; `mkdirs` creates missing parents beneath `root`).
    pub fn open_write(
        root: &Path,
        rel: &Path,
        mkdirs: bool,
        limit: Option<u64>,
    ) -> std::io::Result<Self> {
        Ok(BeneathStream {
            file: open_write(root, rel, mkdirs)?,
            limit: limit.unwrap_or(u64::MAX),
            done: 0,
            write: true,
        })
    }

    /// Bytes read or written so far.
    pub fn position(&self) -> u64 {
        self.done
    }

    /// Reads up to `max` bytes (at most [`MAX_CHUNK_BYTES`]); an empty chunk means end of file.
    /// EFBIG once more than `limit` bytes were read (a file that grew while it was streamed).
    pub fn read_chunk(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        if self.write {
            return Err(errno(libc::EBADF));
        }
        let want = max.clamp(1, MAX_CHUNK_BYTES);
        // Reads into the spare capacity (no zeroing), until `want` bytes or end of file.
        let mut buf = Vec::with_capacity(want);
        (&mut self.file).take(want as u64).read_to_end(&mut buf)?;
        self.done += buf.len() as u64;
        if self.done > self.limit {
            return Err(errno(libc::EFBIG));
        }
        Ok(buf)
    }

    /// Fills `buf` (at most [`MAX_CHUNK_BYTES`] of it) from the file; returns how many bytes were
    /// read, fewer than asked only at end of file (0 = end). EFBIG as [`Self::read_chunk`].
    pub fn read_into(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.write {
            return Err(errno(libc::EBADF));
        }
        let want = buf.len().min(MAX_CHUNK_BYTES);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut buf[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.done += got as u64;
        if self.done > self.limit {
            return Err(errno(libc::EFBIG));
        }
        Ok(got)
    }

    /// Appends `data`; EFBIG (nothing written) when it would pass `limit`.
    pub fn write_chunk(&mut self, data: &[u8]) -> std::io::Result<()> {
        if !self.write {
            return Err(errno(libc::EBADF));
        }
        if self.done.saturating_add(data.len() as u64) > self.limit {
            return Err(errno(libc::EFBIG));
        }
        self.file.write_all(data)?;
        self.done += data.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ku0-beneath-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("ws/sub")).unwrap();
        std::fs::create_dir_all(d.join("out")).unwrap();
        std::fs::write(d.join("out/secret"), "secret").unwrap();
        d
    }

    #[test]
    fn reads_and_writes_inside() {
        let d = tmp("ok");
        let ws = d.join("ws");
        write_beneath(&ws, Path::new("sub/a.txt"), b"hi", false).unwrap();
        assert_eq!(read_beneath(&ws, Path::new("sub/a.txt")).unwrap(), b"hi");
        write_beneath(&ws, Path::new("new/deep/b.txt"), b"x", true).unwrap();
        assert_eq!(std::fs::read(ws.join("new/deep/b.txt")).unwrap(), b"x");
        symlink("sub/a.txt", ws.join("inner-link")).unwrap();
        assert_eq!(read_beneath(&ws, Path::new("inner-link")).unwrap(), b"hi");
    }

    #[test]
    fn escapes_fail_and_targets_stay_unchanged() {
        let d = tmp("esc");
        let ws = d.join("ws");
        let out = d.join("out");
        symlink(&out, ws.join("link")).unwrap();
        symlink(out.join("created"), ws.join("dangling")).unwrap();
        symlink("../out/secret", ws.join("rel")).unwrap();
        std::fs::hard_link(out.join("secret"), ws.join("hard")).unwrap();
        for p in [
            "../out/secret",
            "link/secret",
            "rel",
            "sub/../../out/secret",
            "/etc/passwd",
        ] {
            assert!(read_beneath(&ws, Path::new(p)).is_err(), "read {p}");
        }
        for p in [
            "../out/x",
            "link/secret",
            "dangling",
            "rel",
            "hard",
            "/tmp/x",
        ] {
            assert!(
                write_beneath(&ws, Path::new(p), b"pwned", true).is_err(),
                "write {p}"
            );
        }
        assert!(write_beneath(&ws, Path::new("link/newdir/x"), b"pwned", true).is_err());
        assert_eq!(std::fs::read(out.join("secret")).unwrap(), b"secret");
        assert!(!out.join("created").exists());
        assert!(!out.join("x").exists() && !out.join("newdir").exists());
    }

    #[test]
    fn fifo_and_oversize_are_refused_without_blocking() {
        let d = tmp("fifo");
        let ws = d.join("ws");
        let fifo = std::ffi::CString::new(ws.join("pipe").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let t = std::time::Instant::now();
        let e = read_beneath(&ws, Path::new("pipe")).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_NOT_REGULAR_FILE");
        let e = write_beneath(&ws, Path::new("pipe"), b"x", false).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_NOT_REGULAR_FILE");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        let f = std::fs::File::create(ws.join("sparse")).unwrap();
        f.set_len(1 << 30).unwrap();
        let e = read_beneath(&ws, Path::new("sparse")).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_FILE_TOO_LARGE");
        std::fs::write(ws.join("small"), b"12345").unwrap();
        let e = read_beneath_capped(&ws, Path::new("small"), 4).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_FILE_TOO_LARGE");
        let e = write_beneath_capped(&ws, Path::new("small"), b"12345", false, 4).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_FILE_TOO_LARGE");
        assert_eq!(std::fs::read(ws.join("small")).unwrap(), b"12345");
    }

    #[test]
    fn swapped_ancestor_is_refused() {
        let d = tmp("swap");
        let ws = d.join("ws");
        // A preflight saw ws/sub as a directory; it is now swapped for a symlink to the outside.
        std::fs::remove_dir_all(ws.join("sub")).unwrap();
        symlink(d.join("out"), ws.join("sub")).unwrap();
        assert!(write_beneath(&ws, Path::new("sub/secret"), b"pwned", false).is_err());
        assert_eq!(std::fs::read(d.join("out/secret")).unwrap(), b"secret");
    }

    #[test]
    fn streams_any_size_in_chunks_with_the_same_checks() {
        let d = tmp("stream");
        let ws = d.join("ws");
        let f = std::fs::File::create(ws.join("sparse")).unwrap();
        f.set_len((DEFAULT_MAX_FILE_BYTES + 1) * 2).unwrap();
        let mut r = BeneathStream::open_read(&ws, Path::new("sparse"), None).unwrap();
        let mut total = 0u64;
        loop {
            let c = r.read_chunk(4 << 20).unwrap();
            if c.is_empty() {
                break;
            }
            assert!(c.len() <= 4 << 20);
            total += c.len() as u64;
        }
        assert_eq!(total, (DEFAULT_MAX_FILE_BYTES + 1) * 2);
        std::fs::write(ws.join("seven"), b"1234567").unwrap();
        let mut r = BeneathStream::open_read(&ws, Path::new("seven"), None).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(r.read_into(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"1234");
        assert_eq!(r.read_into(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"567");
        assert_eq!(r.read_into(&mut buf).unwrap(), 0);
        assert_eq!(r.position(), 7);
        let e = BeneathStream::open_read(&ws, Path::new("sparse"), Some(10)).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_FILE_TOO_LARGE");
        let mut w = BeneathStream::open_write(&ws, Path::new("n/out.bin"), true, Some(6)).unwrap();
        w.write_chunk(b"abc").unwrap();
        w.write_chunk(b"def").unwrap();
        assert_eq!(
            error_code(w.write_chunk(b"g").unwrap_err()),
            "ERR_KU0_FILE_TOO_LARGE"
        );
        drop(w);
        assert_eq!(std::fs::read(ws.join("n/out.bin")).unwrap(), b"abcdef");
        let fifo = std::ffi::CString::new(ws.join("pipe").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let e = BeneathStream::open_read(&ws, Path::new("pipe"), None).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_NOT_REGULAR_FILE");
        let e = BeneathStream::open_write(&ws, Path::new("pipe"), false, None).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_NOT_REGULAR_FILE");
        symlink(d.join("out"), ws.join("link")).unwrap();
        let e = BeneathStream::open_read(&ws, Path::new("link/secret"), None).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_PATH_ESCAPE");
        let e = BeneathStream::open_write(&ws, Path::new("link/secret"), false, None).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_PATH_ESCAPE");
        std::fs::hard_link(d.join("out/secret"), ws.join("hard")).unwrap();
        let e = BeneathStream::open_write(&ws, Path::new("hard"), false, None).unwrap_err();
        assert_eq!(error_code(e), "ERR_KU0_PATH_HARDLINK");
        assert_eq!(std::fs::read(d.join("out/secret")).unwrap(), b"secret");
    }
}
