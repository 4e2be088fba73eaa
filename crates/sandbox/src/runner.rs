//! Runs the helper as a child process and collects its output: one thread, `poll(2)` over
//! stdin/stdout/stderr (no back-pressure deadlock whatever the volume), per-stream caps, wall
//! timeout and cancellation that SIGKILL the helper's process group (the helper's death takes
//! the sandbox's pid 1 and so its whole pid namespace with it).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
#[cfg(unix)]
use std::{
    io::{Read, Write},
    os::fd::AsRawFd,
    os::unix::process::{CommandExt, ExitStatusExt},
    process::{Command, Stdio},
    sync::atomic::Ordering,
    time::Instant,
};

use crate::{Result, SandboxError};

pub struct RunRequest {
    pub helper: PathBuf,
    pub policy_json: String,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

#[derive(Debug, Default)]
pub struct RunOutput {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration: Duration,
    /// The helper's setup failure, read from its status channel (a pipe the command never
    /// holds): `Some` means the command did not run, whatever the exit status and stderr say.
    pub setup_error: Option<String>,
}

#[cfg(unix)]
fn push_capped(buf: &mut Vec<u8>, data: &[u8], cap: usize, truncated: &mut bool) {
    let room = cap.saturating_sub(buf.len());
    if data.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

#[cfg(unix)]
fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Descriptor number of the status channel in the helper.
pub const STATUS_FD: i32 = 3;
#[cfg(unix)]
const MAX_STATUS_BYTES: usize = 64 * 1024;

/// The setup error reported on a status channel (`None`: the setup succeeded or never reported).
pub fn parse_status(buf: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    let msgs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(STATUS_SETUP_ERROR))
        .collect();
    if msgs.is_empty() {
        None
    } else {
        Some(msgs.join("; "))
    }
}

/// Prefix of a setup failure line on the status channel (same as the helper's).
pub const STATUS_SETUP_ERROR: &str = "setup-error ";

/// Which output stream a chunk handed to a [`run_streaming`] sink came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Receives output chunks of [`run_streaming`].
pub type OutputSink<'a> = &'a mut dyn FnMut(OutputStream, &[u8]);

/// Runs the helper to completion (or timeout / cancellation), collecting stdout and stderr.
#[cfg(unix)]
pub fn run(req: RunRequest, cancel: Option<Arc<AtomicBool>>) -> Result<RunOutput> {
    run_inner(req, cancel, None)
}

/// Like [`run`], but every chunk of output (within `max_output_bytes` per stream) goes to `sink` as
/// it is read instead of into [`RunOutput::stdout`]/[`RunOutput::stderr`] (which stay empty; the
/// truncation flags are still set). The sink runs on the calling thread between polls: a sink that
/// blocks back-pressures the command through its pipe.
#[cfg(unix)]
pub fn run_streaming(
    req: RunRequest,
    cancel: Option<Arc<AtomicBool>>,
    sink: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<RunOutput> {
    run_inner(req, cancel, Some(sink))
}

#[cfg(unix)]
fn run_inner(
    req: RunRequest,
    cancel: Option<Arc<AtomicBool>>,
    mut sink: Option<OutputSink<'_>>,
) -> Result<RunOutput> {
    let start = Instant::now();
    let mut cmd = Command::new(&req.helper);
    // The policy goes first on stdin (length-prefixed; the helper reads exactly that much), so
    // neither its size nor its content is limited by or visible in the environment.
    // Setup status channel: the write end becomes the helper's fd 3 (`--status-fd 3`).
    // std's pipe is close-on-exec on every unix (pipe2 where there is one, pipe + FD_CLOEXEC elsewhere).
    let (status_r, status_w) = std::io::pipe().map_err(|source| SandboxError::Os {
        what: "pipe".into(),
        source,
    })?;
    let status_r = std::fs::File::from(std::os::fd::OwnedFd::from(status_r));
    let status_w = std::os::fd::OwnedFd::from(status_w);
    let w = status_w.as_raw_fd();
    // The helper dies with the thread that spawned it (Linux): a front end killed with SIGKILL (the
    // sidecar daemon, the Node process) takes the helper, and through the helper's own PDEATHSIG on
    // the sandbox's pid 1, the whole pid namespace with it. The spawning thread is this one, which
    // lives until the helper has been reaped.
    #[cfg(target_os = "linux")]
    let parent_pid = std::process::id() as libc::pid_t;
    cmd.env_clear()
        .arg("--policy-stdin")
        .arg("--status-fd")
        .arg(STATUS_FD.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: dup2/fcntl are async-signal-safe; runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the signal was armed: nobody would reap or kill us.
                if libc::getppid() != parent_pid {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            if w == STATUS_FD {
                if libc::fcntl(w, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(w, STATUS_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(status_w);
    let mut child = spawned.map_err(|e| SandboxError::Os {
        what: format!("spawn {}", req.helper.display()),
        source: e,
    })?;
    let mut status = Some(status_r);
    let mut status_buf: Vec<u8> = Vec::new();
    let pid = child.id() as i32;
    let kill = || {
        // SAFETY: signal the helper's process group, then the helper.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    };
    let mut out = RunOutput::default();
    let mut stdin = child.stdin.take();
    let mut stdin_data = format!("{}\n", req.policy_json.len()).into_bytes();
    stdin_data.extend_from_slice(req.policy_json.as_bytes());
    stdin_data.extend_from_slice(&req.stdin.unwrap_or_default());
    let mut stdin_off = 0usize;
    let as_file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
    let mut stdout = child.stdout.take().map(|s| as_file(s.into()));
    let mut stderr = child.stderr.take().map(|s| as_file(s.into()));
    for fd in [
        stdin.as_ref().map(|s| s.as_raw_fd()),
        stdout.as_ref().map(|s| s.as_raw_fd()),
        stderr.as_ref().map(|s| s.as_raw_fd()),
        status.as_ref().map(|s| s.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        set_nonblocking(fd);
    }
    if stdin_data.is_empty() {
        stdin = None; // closes it: EOF for the command
    }
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = start + req.timeout;
    let mut killed = false;
    // Bytes handed to the sink so far (stdout, stderr), for the per-stream cap.
    let mut streamed = (0usize, 0usize);
    while stdout.is_some() || stderr.is_some() || status.is_some() {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4);
        let mut which: Vec<u8> = Vec::with_capacity(4);
        if let Some(s) = &status {
            fds.push(libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(3);
        }
        if let Some(s) = &stdout {
            fds.push(libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(1);
        }
        if let Some(s) = &stderr {
            fds.push(libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(2);
        }
        if let Some(s) = &stdin {
            fds.push(libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
            which.push(0);
        }
        let now = Instant::now();
        if !killed && now >= deadline {
            out.timed_out = true;
            kill();
            killed = true;
        }
        if !killed && cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
            out.cancelled = true;
            kill();
            killed = true;
        }
        let wait_ms = if killed {
            50
        } else {
            deadline.saturating_duration_since(now).as_millis().min(20) as i32
        };
        // SAFETY: valid pollfd array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms.max(1)) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            kill();
            return Err(SandboxError::last_os("poll"));
        }
        for (pfd, w) in fds.iter().zip(which.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match w {
                0 => {
                    if let Some(s) = stdin.as_mut() {
                        match s.write(&stdin_data[stdin_off..]) {
                            Ok(k) => stdin_off += k,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => stdin_off = stdin_data.len(), // EPIPE: command closed stdin
                        }
                        if stdin_off >= stdin_data.len() {
                            stdin = None;
                        }
                    }
                }
                3 => {
                    if let Some(s) = status.as_mut() {
                        loop {
                            match s.read(&mut buf) {
                                Ok(0) => {
                                    status = None;
                                    break;
                                }
                                Ok(k) => {
                                    let room = MAX_STATUS_BYTES.saturating_sub(status_buf.len());
                                    status_buf.extend_from_slice(&buf[..k.min(room)]);
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                                Err(_) => {
                                    status = None;
                                    break;
                                }
                            }
                        }
                    }
                }
                _ => {
                    let (stream, out_buf, trunc) = if *w == 1 {
                        (&mut stdout, &mut out.stdout, &mut out.stdout_truncated)
                    } else {
                        (&mut stderr, &mut out.stderr, &mut out.stderr_truncated)
                    };
                    if let Some(s) = stream.as_mut() {
                        loop {
                            match s.read(&mut buf) {
                                Ok(0) => {
                                    *stream = None;
                                    break;
                                }
                                Ok(k) => {
                                    if let Some(f) = sink.as_mut() {
                                        let n = if *w == 1 {
                                            &mut streamed.0
                                        } else {
                                            &mut streamed.1
                                        };
                                        let room = req.max_output_bytes.saturating_sub(*n);
                                        if k > room {
                                            *trunc = true;
                                        }
                                        let take = k.min(room);
                                        *n += take;
                                        if take > 0 {
                                            let which = if *w == 1 {
                                                OutputStream::Stdout
                                            } else {
                                                OutputStream::Stderr
                                            };
                                            f(which, &buf[..take]);
                                        }
                                    } else {
                                        push_capped(
                                            out_buf,
                                            &buf[..k],
                                            req.max_output_bytes,
                                            trunc,
                                        );
                                    }
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                                Err(_) => {
                                    *stream = None;
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    drop(stdin);
    let exit = child.wait().map_err(|e| SandboxError::Os {
        what: "wait helper".into(),
        source: e,
    })?;
    out.exit_code = exit.code();
    out.signal = exit.signal();
    out.setup_error = parse_status(&status_buf);
    out.duration = start.elapsed();
    Ok(out)
}

/// Without a Unix process model there is no helper to run: a typed error, never an unsandboxed run.
#[cfg(not(unix))]
pub fn run(req: RunRequest, cancel: Option<Arc<AtomicBool>>) -> Result<RunOutput> {
    let _ = (req, cancel);
    Err(SandboxError::Unavailable(
        "the sandbox is not implemented on this platform".into(),
    ))
}

/// Without a Unix process model there is no helper to run (see [`run`]).
#[cfg(not(unix))]
pub fn run_streaming(
    req: RunRequest,
    cancel: Option<Arc<AtomicBool>>,
    sink: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<RunOutput> {
    let _ = sink;
    run(req, cancel)
}
