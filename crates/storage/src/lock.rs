//! One writer per directory: an advisory lock on `<dir>/LOCK` that names its holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct DirLock {
    file: Option<File>,
    path: PathBuf,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Parses `pid=<n>` out of a holder line.
pub fn holder_pid(line: &str) -> Option<u32> {
    line.split_whitespace()
        .find_map(|tok| tok.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
}

pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for existence/permission.
        let rc = unsafe { libc::kill(p, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut current = String::new();
        // On Windows the lock below is a mandatory byte-range lock (LockFileEx over the whole file), so
        // while another handle holds it the holder line cannot be read: remember why for the error.
        let unreadable = file.read_to_string(&mut current).err();
        let current = current.trim().to_string();
        // `File::try_lock`: flock(LOCK_EX | LOCK_NB) on Unix, LockFileEx(exclusive, fail immediately) on
        // Windows. Either is held per open file (description / handle), so a second open of the same
        // directory is refused in the same process too, and released when the file is closed.
        // A released lock (empty holder line) can stay held for a moment by a child process that was
        // forked (e.g. by Node's child_process) while the descriptor was open and has not exec'd yet;
        // retry briefly in that case before reporting the directory as locked.
        let mut attempts = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            attempts += 1;
            if !current.is_empty() || unreadable.is_some() || attempts > 100 {
                let holder = match (&unreadable, current.is_empty()) {
                    (_, false) => current,
                    (Some(e), true) => format!("another handle (holder line unreadable: {e})"),
                    (None, true) => "unknown holder".to_string(),
                };
                return Err(Error::Locked { path, holder });
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if let Some(pid) = holder_pid(&current)
            && pid != std::process::id()
            && pid_alive(pid)
        {
            // A JS-fallback holder (no flock) that is still alive.
            return Err(Error::Locked {
                path,
                holder: current,
            });
        }
        let line = format!(
            "pid={} host={} since={} engine=native\n",
            std::process::id(),
            hostname(),
            crate::util::now_ms()
        );
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(line.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        Ok(DirLock {
            file: Some(file),
            path,
        })
    }

    pub fn release(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = file.set_len(0);
            // Dropping the file closes the descriptor / handle, which releases the lock.
            drop(file);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        self.release();
    }
}
