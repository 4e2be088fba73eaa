//! The helper's macOS path. **Written, not run**: compiled, clippy-checked and reviewed against
//! the documented API for `aarch64-apple-darwin` and `x86_64-apple-darwin`, never executed (this
//! project has no macOS machine; the release workflow's macOS job is its first run).
//!
//! [`run`]: private TMPDIR (`mkdtemp` under `/private/tmp`, removed afterwards), placeholders for
//! missing carve-outs and denied paths, profile and parameters from [`super::profile`], then one
//! `fork`. The child sets its rlimits, closes inherited descriptors, changes directory, applies
//! the profile to itself with `sandbox_init_with_parameters` (libsystem_sandbox, part of
//! libSystem) and execs the command. The parent waits, kills whatever the command left in the
//! helper's process group, removes the TMPDIR and relays the command's status. Everything that
//! allocates happens before the fork (the helper is single-threaded anyway).
//!
//! Not provided on macOS (there is no equivalent): pid and mount namespaces (a command that calls
//! `setsid` or `setpgid` leaves the process group and survives the kill), seccomp, per-sandbox
//! memory/process limits (`RLIMIT_NPROC` counts every process of the uid, `RLIMIT_DATA` is not
//! enforced by XNU), a private `/tmp` at the path `/tmp` (only `TMPDIR` is private).

use std::ffi::{CString, c_char, c_int};

use super::profile::{self, ProfileInputs};
use crate::policy::ExecPolicy;
use crate::unix::{close_inherited_fds, cstr, die, exec_candidates, relay_status, wait_child};
use crate::{EXIT_SETUP_FAILED, Result, SandboxError};

// libsystem_sandbox (re-exported by libSystem, which every binary links). The declarations match
// <sandbox.h>'s `sandbox_init` family: `flags` 0 means `profile` is SBPL source; `parameters` is
// a NULL-terminated array of alternating key and value strings bound to `(param "key")`; on
// failure `*errorbuf` receives a message to be released with `sandbox_free_error`.
unsafe extern "C" {
    fn sandbox_init_with_parameters(
        profile: *const c_char,
        flags: u64,
        parameters: *const *const c_char,
        errorbuf: *mut *mut c_char,
    ) -> c_int;
    fn sandbox_free_error(errorbuf: *mut c_char);
}

/// What `--probe` reports on macOS: whether a process can apply a Seatbelt profile here (a
/// forked child applies `(version 1)(allow default)` and exits 0).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub backend: &'static str,
    pub arch: &'static str,
    pub euid: u32,
    pub seatbelt: bool,
}

pub fn probe() -> Probe {
    // SAFETY: trivial getter.
    let euid = unsafe { libc::geteuid() };
    Probe {
        backend: profile::BACKEND,
        arch: std::env::consts::ARCH,
        euid,
        seatbelt: apply_in_child("(version 1)\n(allow default)\n"),
    }
}

fn apply_in_child(text: &str) -> bool {
    let Ok(text) = CString::new(text) else {
        return false;
    };
    let params: [*const c_char; 1] = [std::ptr::null()];
    // SAFETY: the helper is single-threaded; the child only calls the sandbox API and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: NUL-terminated profile, NULL-terminated (empty) parameter array, out pointer.
        let rc =
            unsafe { sandbox_init_with_parameters(text.as_ptr(), 0, params.as_ptr(), &mut err) };
        // SAFETY: exits the probe child.
        unsafe { libc::_exit(if rc == 0 { 0 } else { 1 }) };
    }
    let mut st: c_int = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut st, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
    libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0
}

/// Everything the child needs, allocated before the fork.
struct Prepared {
    profile: CString,
    /// Keys and values; `param_ptrs` points into them.
    _params: Vec<CString>,
    param_ptrs: Vec<*const c_char>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    exe_candidates: Vec<CString>,
    cwd: CString,
}

fn prepare(policy: &ExecPolicy, tmpdir: &str) -> Result<Prepared> {
    let canon = |p: &str| profile::canonical_host(p);
    profile::create_placeholders(policy, &canon)?;
    let inputs = ProfileInputs::from_policy(policy, Some(tmpdir), &canon)?;
    let prof = inputs.render()?;
    let mut params = Vec::with_capacity(prof.params.len() * 2);
    for (k, v) in &prof.params {
        params.push(cstr(k)?);
        params.push(cstr(v)?);
    }
    let mut param_ptrs: Vec<*const c_char> = params.iter().map(|c| c.as_ptr()).collect();
    param_ptrs.push(std::ptr::null());
    let mut env = policy.env.clone();
    // TMPDIR is the only private temporary directory here (there is no mount namespace to put
    // one at /tmp); a HOME of /tmp (what the adapters set) moves there too.
    env.insert("TMPDIR".into(), format!("{tmpdir}/"));
    if env.get("HOME").is_none_or(|h| h == "/tmp") {
        env.insert("HOME".into(), tmpdir.to_string());
    }
    let envp = env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Result<Vec<_>>>()?;
    let argv = policy
        .argv
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>>>()?;
    let arg0 = policy
        .argv
        .first()
        .ok_or_else(|| SandboxError::InvalidPolicy("argv is empty".into()))?;
    let exe_candidates = if arg0.contains('/') {
        vec![cstr(arg0)?]
    } else {
        env.get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/bin:/bin:/usr/sbin:/sbin")
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| cstr(&format!("{}/{arg0}", d.trim_end_matches('/'))))
            .collect::<Result<Vec<_>>>()?
    };
    let cwd = match &policy.cwd {
        Some(c) => canon(c),
        None => inputs
            .writable
            .first()
            .cloned()
            .unwrap_or_else(|| tmpdir.into()),
    };
    Ok(Prepared {
        profile: cstr(&prof.text)?,
        _params: params,
        param_ptrs,
        argv,
        envp,
        exe_candidates,
        cwd: cstr(&cwd)?,
    })
}

/// Runs the policy under Seatbelt. Returns only on a setup failure before the fork; afterwards
/// the process exits with the command's status (or re-raises its signal).
pub fn run(policy: &ExecPolicy) -> Result<std::convert::Infallible> {
    let mut template = *b"/private/tmp/ku0-sbx-XXXXXX\0";
    // SAFETY: a writable NUL-terminated template ending in X's; mkdtemp creates it 0700.
    if unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) }.is_null() {
        return Err(SandboxError::last_os("mkdtemp /private/tmp"));
    }
    let tmpdir = String::from_utf8_lossy(&template[..template.len() - 1]).into_owned();
    let prep = match prepare(policy, &tmpdir) {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmpdir);
            return Err(e);
        }
    };
    // SAFETY: the helper is single-threaded.
    let child = unsafe { libc::fork() };
    if child < 0 {
        let _ = std::fs::remove_dir_all(&tmpdir);
        return Err(SandboxError::last_os("fork"));
    }
    if child == 0 {
        child_exec(policy, &prep);
    }
    let st = wait_child(child);
    kill_group_except_self();
    let _ = std::fs::remove_dir_all(&tmpdir);
    relay_status(st)
}

/// SIGKILLs every other process of our process group (what the command left running), until
/// none is left or 64 rounds passed (a fork bomb racing the kill).
fn kill_group_except_self() {
    // SAFETY: trivial getters.
    let (me, pgid) = unsafe { (libc::getpid(), libc::getpgrp()) };
    let mut pids = vec![0 as libc::pid_t; 4096];
    for _ in 0..64 {
        let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as c_int;
        // SAFETY: the buffer holds `bytes` bytes; the call returns how many it filled.
        let n = unsafe { libc::proc_listpgrppids(pgid, pids.as_mut_ptr().cast(), bytes) };
        if n <= 0 {
            return;
        }
        let count = (n as usize / std::mem::size_of::<libc::pid_t>()).min(pids.len());
        let others: Vec<libc::pid_t> = pids[..count]
            .iter()
            .copied()
            .filter(|&p| p > 0 && p != me)
            .collect();
        if others.is_empty() {
            return;
        }
        for p in others {
            // SAFETY: signalling a process of our own group.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        // Reap what we can without blocking (the command's children are reparented to launchd).
        // SAFETY: non-blocking wait for any child.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    }
}

/// In the child: rlimits, descriptors, cwd, Seatbelt, exec. Never returns.
fn child_exec(policy: &ExecPolicy, prep: &Prepared) -> ! {
    if let Err(e) =
        crate::unix::set_command_rlimits(&policy.limits, policy.limits.address_space_bytes)
    {
        die(EXIT_SETUP_FAILED, &format!("{e}"));
    }
    // Inherited descriptors above stderr, except the status channel (close-on-exec already).
    close_inherited_fds();
    // SAFETY: NUL-terminated path.
    if unsafe { libc::chdir(prep.cwd.as_ptr()) } != 0 {
        die(
            EXIT_SETUP_FAILED,
            &format!(
                "chdir {}: {}",
                prep.cwd.to_string_lossy(),
                std::io::Error::last_os_error()
            ),
        );
    }
    let mut err: *mut c_char = std::ptr::null_mut();
    // SAFETY: NUL-terminated profile, NULL-terminated key/value array whose strings outlive the
    // call (owned by `prep`), valid out pointer for the error message.
    let rc = unsafe {
        sandbox_init_with_parameters(prep.profile.as_ptr(), 0, prep.param_ptrs.as_ptr(), &mut err)
    };
    if rc != 0 {
        let msg = if err.is_null() {
            "unknown error".to_string()
        } else {
            // SAFETY: the API returns a NUL-terminated message we release right after copying.
            let m = unsafe { std::ffi::CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: releasing the message the API allocated.
            unsafe { sandbox_free_error(err) };
            m
        };
        die(
            EXIT_SETUP_FAILED,
            &format!("sandbox_init_with_parameters: {msg}"),
        );
    }
    exec_candidates(
        policy.argv.first().map(String::as_str).unwrap_or(""),
        &prep.exe_candidates,
        &prep.argv,
        &prep.envp,
    )
}
