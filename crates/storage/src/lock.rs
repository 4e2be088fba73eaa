//! One writer per directory: an advisory lock on `<dir>/LOCK` that names its holder.

use std::fs::{File, OpenOptions};
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
        let _ = file.read_to_string(&mut current);
        let current = current.trim().to_string();
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // A released lock (empty holder line) can stay held for a moment by a child process that
            // was forked (e.g. by Node's child_process) while the descriptor was open and has not
            // exec'd yet; retry briefly in that case before reporting the directory as locked.
            let mut attempts = 0;
            loop {
                // SAFETY: valid fd.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                if rc == 0 {
                    break;
                }
                attempts += 1;
                if !current.is_empty() || attempts > 100 {
                    let holder = if current.is_empty() {
                        "unknown holder".to_string()
                    } else {
                        current
                    };
                    return Err(Error::Locked { path, holder });
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
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
            // Dropping the file closes the descriptor, which releases the flock.
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
