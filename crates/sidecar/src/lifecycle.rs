//! Daemon lifecycle files, modelled on turborepo's daemon: a per-user private runtime directory, a
//! lock file that admits one daemon, a socket whose path fits `sun_path`, a small JSON state file for
//! clients, and a readiness line written on a pipe the spawner passed in (no polling).
//!
//! Layout (`<dir>` = `$KU0_SIDECAR_DIR`, else `$XDG_RUNTIME_DIR/ku0`, else `/tmp/ku0-<uid>`):
//! - `<dir>/sidecar.lock`  flock(2)ed exclusively by the running daemon for its whole life
//! - `<dir>/sidecar.sock`  the gRPC socket, mode 0600 (a short fallback path if too long)
//! - `<dir>/sidecar.json`  `{pid, socket, version, protocol, startedAtMs}` written once listening

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Longest socket path `bind(2)` takes: `sun_path` minus the NUL (108 on Linux, 104 on macOS/BSD).
#[cfg(target_os = "linux")]
pub const MAX_SOCKET_PATH: usize = 107;
#[cfg(not(target_os = "linux"))]
pub const MAX_SOCKET_PATH: usize = 103;

pub const LOCK_FILE: &str = "sidecar.lock";
pub const SOCKET_FILE: &str = "sidecar.sock";
pub const STATE_FILE: &str = "sidecar.json";

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("runtime dir {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("runtime dir {0} is not owned by this user (uid {1})")]
    NotOwned(PathBuf, u32),
    #[error("no socket path of at most {MAX_SOCKET_PATH} bytes for runtime dir {0}")]
    SocketPathTooLong(PathBuf),
    #[error("invalid argument: {0}")]
    InvalidArg(String),
}

impl LifecycleError {
    /// Stable code, as in every ku0 engine.
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::Io { .. } => "ERR_KU0_SIDECAR_IO",
            LifecycleError::NotOwned(..) => "ERR_KU0_SIDECAR_RUNTIME_DIR",
            LifecycleError::SocketPathTooLong(_) => "ERR_KU0_SIDECAR_SOCKET_PATH",
            LifecycleError::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LifecycleError + '_ {
    move |source| LifecycleError::Io {
        path: path.to_owned(),
        source,
    }
}

pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The default runtime directory (see the module docs), from the given environment values.
pub fn default_runtime_dir(ku0_dir: Option<&str>, xdg_runtime_dir: Option<&str>) -> PathBuf {
    if let Some(d) = ku0_dir.filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(x) = xdg_runtime_dir.filter(|x| !x.is_empty() && Path::new(x).is_absolute()) {
        return Path::new(x).join("ku0");
    }
    PathBuf::from(format!("/tmp/ku0-{}", uid()))
}

/// Creates `dir` (and parents) with mode 0700, or checks an existing one is ours and makes it 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), LifecycleError> {
    match fs::create_dir_all(dir) {
        Ok(()) => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        return Err(io_err(dir)(io::Error::other("not a directory")));
    }
    if meta.uid() != uid() {
        return Err(LifecycleError::NotOwned(dir.to_owned(), uid()));
    }
    if meta.mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    }
    Ok(())
}

/// FNV-1a: a stable short name for the fallback socket (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `<dir>/sidecar.sock` when it fits `sun_path`, else `/tmp/ku0-<uid>/s-<hash of dir>.sock`
/// (the fallback directory is made private too). Clients never compute this: they read the state file.
pub fn socket_path(dir: &Path) -> Result<PathBuf, LifecycleError> {
    let primary = dir.join(SOCKET_FILE);
    if primary.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(primary);
    }
    let short_dir = PathBuf::from(format!("/tmp/ku0-{}", uid()));
    let fallback = short_dir.join(format!(
        "s-{:016x}.sock",
        fnv1a(dir.as_os_str().as_encoded_bytes())
    ));
    if fallback.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(LifecycleError::SocketPathTooLong(dir.to_owned()));
    }
    ensure_private_dir(&short_dir)?;
    Ok(fallback)
}

/// The exclusive daemon lock: held (flock LOCK_EX) for as long as this value lives. The kernel drops
/// it when the process dies, so a crashed daemon never leaves a stale lock.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

impl DaemonLock {
    /// `Ok(None)` when another live process holds the lock.
    pub fn try_acquire(path: &Path) -> Result<Option<DaemonLock>, LifecycleError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io_err(path))?;
        // SAFETY: the fd is open and owned by `file` for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(DaemonLock { _file: file }));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(io_err(path)(err))
        }
    }
}

/// Removes a socket file left by a daemon that died without cleaning up. Only call while holding the
/// lock: then no live daemon can own it. Refuses to remove anything that is not a socket.
pub fn remove_stale_socket(path: &Path) -> Result<bool, LifecycleError> {
    use std::os::unix::fs::FileTypeExt;
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            fs::remove_file(path).map_err(io_err(path))?;
            Ok(true)
        }
        Ok(_) => Err(io_err(path)(io::Error::other(
            "exists and is not a socket; not removing it",
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// What clients read to find the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub pid: u32,
    pub socket: PathBuf,
    pub version: String,
    pub protocol: u32,
    pub started_at_ms: u64,
}

impl State {
    /// Writes the state file atomically (temp file, mode 0600, then rename).
    pub fn write(&self, path: &Path) -> Result<(), LifecycleError> {
        let tmp = path.with_extension(format!("json.{}.tmp", self.pid));
        let json =
            serde_json::to_vec(self).map_err(|e| io_err(path)(io::Error::other(e.to_string())))?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(&json).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))
    }

    pub fn read(path: &Path) -> Option<State> {
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes the state file if it still describes process `pid` (never another daemon's).
    pub fn remove_if_ours(path: &Path, pid: u32) {
        if State::read(path).is_some_and(|s| s.pid == pid) {
            let _ = fs::remove_file(path);
        }
    }
}

/// Writes one line on the readiness fd the spawner passed (`--ready-fd N`) and closes it. The spawner
/// blocks on reading the pipe; EOF without a line means the daemon died before listening.
pub fn signal_ready(fd: RawFd, line: &str) -> Result<(), LifecycleError> {
    if fd < 3 {
        return Err(LifecycleError::InvalidArg(format!(
            "ready fd must be >= 3 (not stdio), got {fd}"
        )));
    }
    // SAFETY: the fd was inherited for this purpose and is not used anywhere else; `File` owns and
    // closes it.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let path = PathBuf::from(format!("fd {fd}"));
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ku0-sidecar-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn runtime_dir_precedence() {
        assert_eq!(
            default_runtime_dir(Some("/x/y"), Some("/run/user/1")),
            PathBuf::from("/x/y")
        );
        assert_eq!(
            default_runtime_dir(None, Some("/run/user/1")),
            PathBuf::from("/run/user/1/ku0")
        );
        assert_eq!(
            default_runtime_dir(Some(""), Some("relative")),
            PathBuf::from(format!("/tmp/ku0-{}", uid()))
        );
    }

    #[test]
    fn private_dir_is_0700_even_if_it_existed_open() {
        let d = tmpdir("priv");
        fs::create_dir_all(&d).ok();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).ok();
        assert!(ensure_private_dir(&d).is_ok());
        let mode = fs::metadata(&d).map(|m| m.mode() & 0o777).ok();
        assert_eq!(mode, Some(0o700));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn long_dir_gets_a_short_socket_path() {
        let short = Path::new("/tmp/k");
        assert_eq!(socket_path(short).ok(), Some(short.join(SOCKET_FILE)));
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(150)));
        let p = socket_path(&long).ok();
        assert!(
            p.as_ref()
                .is_some_and(|p| p.as_os_str().len() <= MAX_SOCKET_PATH)
        );
        assert!(
            p.as_ref()
                .is_some_and(|p| p.starts_with(format!("/tmp/ku0-{}", uid())))
        );
        // stable for the same dir, different for another
        assert_eq!(socket_path(&long).ok(), p);
        let other = PathBuf::from(format!("/tmp/{}", "e".repeat(150)));
        assert_ne!(socket_path(&other).ok(), p);
    }

    #[test]
    fn lock_admits_one_holder_and_frees_on_drop() {
        let d = tmpdir("lock");
        assert!(ensure_private_dir(&d).is_ok());
        let p = d.join(LOCK_FILE);
        let first = DaemonLock::try_acquire(&p).ok().flatten();
        assert!(first.is_some());
        // a second open file description conflicts, as another process would
        assert!(matches!(DaemonLock::try_acquire(&p), Ok(None)));
        drop(first);
        assert!(matches!(DaemonLock::try_acquire(&p), Ok(Some(_))));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn stale_socket_is_removed_but_not_other_files() {
        let d = tmpdir("stale");
        assert!(ensure_private_dir(&d).is_ok());
        let s = d.join(SOCKET_FILE);
        let l = UnixListener::bind(&s);
        assert!(l.is_ok());
        drop(l); // std does not unlink: the file stays, as after a crash
        assert!(s.exists());
        assert!(matches!(remove_stale_socket(&s), Ok(true)));
        assert!(!s.exists());
        assert!(matches!(remove_stale_socket(&s), Ok(false)));
        let f = d.join("regular");
        fs::write(&f, b"x").ok();
        assert!(remove_stale_socket(&f).is_err());
        assert!(f.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn state_round_trips_and_is_removed_only_by_its_owner() {
        let d = tmpdir("state");
        assert!(ensure_private_dir(&d).is_ok());
        let p = d.join(STATE_FILE);
        let s = State {
            pid: 4242,
            socket: d.join(SOCKET_FILE),
            version: "0.1.0".into(),
            protocol: 1,
            started_at_ms: 7,
        };
        assert!(s.write(&p).is_ok());
        assert_eq!(fs::metadata(&p).map(|m| m.mode() & 0o777).ok(), Some(0o600));
        assert_eq!(State::read(&p), Some(s.clone()));
        State::remove_if_ours(&p, 1);
        assert!(p.exists());
        State::remove_if_ours(&p, 4242);
        assert!(!p.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn ready_line_goes_through_the_pipe() {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid two-element array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        assert!(signal_ready(fds[1], "ready 1 2 /x").is_ok());
        // SAFETY: fds[0] is the open read end, owned here.
        let mut r = unsafe { File::from_raw_fd(fds[0]) };
        let mut s = String::new();
        assert!(io::Read::read_to_string(&mut r, &mut s).is_ok());
        assert_eq!(s, "ready 1 2 /x\n");
        assert!(signal_ready(1, "x").is_err());
    }
}
