//! The prewarm protocol: pid 1 builds the root (and, without a reaper, locks down) from the
//! session policy, then reads one length-prefixed command message (`{argv, env, cwd, limits}`)
//! from stdin, redoes the command-dependent parts and runs it.

use super::init::{apply_rlimits, arm_init, do_exec, lockdown, run_init_after_mounts, set_pid_max};
use super::mounts::{build_mounts, finish_root};
use super::namespaces::NsMode;
use super::plan::{Prepared, SCRIPT_FILE, command_parts};
use crate::EXIT_SETUP_FAILED;
use crate::linux::sys;
use crate::policy::ExecPolicy;

/// pid 1 in prewarm mode: builds the mount tree, then reads the command message from stdin,
/// redoes the command-dependent parts and continues like [`run_init`]. Never returns.
pub(super) fn prewarmed_init(
    session: &ExecPolicy,
    prep: Prepared,
    ns: NsMode,
    status_fd: libc::c_int,
    life_pipe: [libc::c_int; 2],
) -> ! {
    arm_init(life_pipe);
    if ns == NsMode::None {
        sys::die(EXIT_SETUP_FAILED, "error: prewarm mode needs namespaces");
    }
    if let Err(e) = build_mounts(&prep) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
    }
    if session.reaper {
        // The reaper stays unrestricted (it only waits); keep the simple order.
        let (policy, prep) = read_command(session, prep, true);
        if let Err(e) = finish_root(prep.script.as_deref()) {
            sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
        }
        run_init_after_mounts(&policy, &prep, ns, status_fd)
    }
    // The command will be pid 1: finish the root, set the process limit and lock down now, so
    // that only the command's own part remains once it arrives.
    if let Err(e) = finish_root(None) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: mount setup: {e}"));
    }
    set_pid_max(session, ns);
    // SAFETY: plain syscalls; the status pipe is unused without a reaper.
    unsafe {
        libc::close(status_fd);
        libc::setsid();
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    sys::close_inherited_fds();
    if let Err(e) = lockdown(session, &prep) {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    let (policy, prep) = read_command(session, prep, false);
    let r = apply_rlimits(&policy, &prep).and_then(|()| sys::chdir(&prep.cwd));
    if let Err(e) = r {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    do_exec(&policy, &prep)
}

/// Prewarm: reads the command message and rebuilds the command-dependent parts. A long script
/// goes to the root (before it is made read-only) when `script_in_root`, else into /tmp.
fn read_command(
    session: &ExecPolicy,
    mut prep: Prepared,
    script_in_root: bool,
) -> (ExecPolicy, Prepared) {
    let msg = match crate::unix::read_frame(0)
        .and_then(|b| serde_json::from_slice::<CommandMessage>(&b).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        // The manager dropped this warm sandbox without using it.
        Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: no command: {e}")),
    };
    let mut policy = session.clone();
    policy.argv = msg.argv;
    policy.env = msg.env;
    policy.cwd = msg.cwd;
    if let Some(l) = msg.limits {
        policy.limits.cpu_time_sec = l.cpu_time_sec;
        policy.limits.max_open_files = l.max_open_files;
        policy.limits.max_file_size_bytes = l.max_file_size_bytes;
    }
    if let Err(e) = policy.validate() {
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    let writable = policy.writable_roots.clone();
    let cmd = match command_parts(&policy, &writable) {
        Ok(c) => c,
        Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
    };
    if cmd.script.is_some() {
        prep.readable.push(SCRIPT_FILE.into());
    }
    prep.exe_candidates = cmd.exe_candidates;
    prep.argv = cmd.argv;
    prep.envp = cmd.envp;
    prep.cwd = cmd.cwd;
    prep.script = cmd.script;
    if !script_in_root && let Some(script) = prep.script.take() {
        // Private /tmp is writable under Landlock; the root is already read-only.
        let path = format!("/tmp/.ku0-command-{}.sh", std::process::id());
        if let Err(e) = std::fs::write(&path, &script) {
            sys::die(
                EXIT_SETUP_FAILED,
                &format!("error: write command script: {e}"),
            );
        }
        match prep.argv.last_mut() {
            Some(last) => match sys::cstr(&path) {
                Ok(c) => *last = c,
                Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
            },
            None => sys::die(EXIT_SETUP_FAILED, "error: empty argv"),
        }
    }
    (policy, prep)
}

/// The per-command message of prewarm mode (sent after the session policy).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandMessage {
    argv: Vec<String>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    cwd: Option<String>,
    #[serde(default)]
    limits: Option<crate::policy::Limits>,
}
