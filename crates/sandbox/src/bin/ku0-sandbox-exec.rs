//! `ku0-sandbox-exec`: runs one command under an [`ExecPolicy`] read from stdin
//! (`--policy-stdin`, `--prewarm`: `<len>\n<json>`, what the spawners use) or, run by hand, from
//! the `KU0_SANDBOX_POLICY` environment variable. `--probe` prints what the kernel can enforce.
//! `--status-fd <n>` names a descriptor on which a setup failure is reported (never the command's).
//! Linux: namespaces + Landlock + seccomp. macOS: Seatbelt (written, not run).

/// Linux and macOS: one `main`, the platform parts in `backend`.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn main() {
    use ku0_sandbox::unix::{die, read_policy_from_stdin, set_status_fd};
    use ku0_sandbox::{EXIT_SETUP_FAILED, ExecPolicy, POLICY_ENV};

    let mut args: Vec<String> = std::env::args().collect();
    // `--status-fd <n>` (anywhere): the setup status channel, see `unix::set_status_fd`.
    if let Some(i) = args.iter().position(|a| a == "--status-fd") {
        let fd = args.get(i + 1).and_then(|v| v.parse::<i32>().ok());
        match fd {
            Some(fd) if fd > 2 => {
                if let Err(e) = set_status_fd(fd) {
                    die(EXIT_SETUP_FAILED, &format!("error: {e}"));
                }
            }
            _ => die(
                EXIT_SETUP_FAILED,
                "error: --status-fd needs a descriptor > 2",
            ),
        }
        args.drain(i..(i + 2).min(args.len()));
    }
    if args.get(1).map(String::as_str) == Some("--probe") {
        match serde_json::to_string(&backend::probe()) {
            Ok(s) => println!("{s}"),
            Err(e) => die(EXIT_SETUP_FAILED, &format!("error: {e}")),
        }
        return;
    }
    backend::mode(&args);
    let prewarm = args.get(1).map(String::as_str) == Some("--prewarm");
    let from_stdin = prewarm || args.get(1).map(String::as_str) == Some("--policy-stdin");
    let json = match if from_stdin {
        read_policy_from_stdin()
    } else {
        std::env::var(POLICY_ENV).map_err(|e| e.to_string())
    } {
        Ok(j) => j,
        Err(_) if !from_stdin => die(
            EXIT_SETUP_FAILED,
            &format!(
                "error: {POLICY_ENV} is not set (usage: {POLICY_ENV}=<json> ku0-sandbox-exec | --policy-stdin | --probe)"
            ),
        ),
        Err(e) => die(EXIT_SETUP_FAILED, &format!("error: policy on stdin: {e}")),
    };
    let policy = match ExecPolicy::from_json(&json) {
        Ok(p) => p,
        Err(e) => die(EXIT_SETUP_FAILED, &format!("error: {e}")),
    };
    drop(json);
    if policy.shell.is_some() {
        die(
            EXIT_SETUP_FAILED,
            "error: the policy's \"shell\" (cmd.exe) is Windows only",
        );
    }
    let Err(e) = backend::run(&policy, prewarm);
    die(EXIT_SETUP_FAILED, &format!("error: {e}"));
}

/// Linux: namespaces + Landlock + seccomp; `--netns-keeper` and `--prewarm` are Linux only.
#[cfg(target_os = "linux")]
mod backend {
    use ku0_sandbox::linux::{exec, netns};
    use ku0_sandbox::unix::die;
    use ku0_sandbox::{EXIT_SETUP_FAILED, ExecPolicy, Result};

    pub use ku0_sandbox::linux::probe::probe;

    /// Runs the modes that take no policy (`--netns-keeper`); returns for the others.
    pub fn mode(args: &[String]) {
        if args.get(1).map(String::as_str) == Some("--netns-keeper") {
            let Some(sock) = args.get(2) else {
                die(
                    EXIT_SETUP_FAILED,
                    "error: --netns-keeper <proxy unix socket>",
                )
            };
            let Err(e) = netns::run_keeper(std::path::Path::new(sock));
            die(EXIT_SETUP_FAILED, &format!("error: {e}"));
        }
    }

    pub fn run(policy: &ExecPolicy, prewarm: bool) -> Result<std::convert::Infallible> {
        if prewarm {
            exec::run_prewarmed(policy)
        } else {
            exec::run(policy)
        }
    }
}

/// macOS (Seatbelt). Written, not run: compiled and clippy-checked for both darwin triples, never
/// executed here (see `ku0_sandbox::macos`).
#[cfg(target_os = "macos")]
mod backend {
    use ku0_sandbox::macos::exec;
    use ku0_sandbox::unix::die;
    use ku0_sandbox::{EXIT_SETUP_FAILED, ExecPolicy, Result};

    pub use exec::probe;

    /// Refuses the Linux-only modes.
    pub fn mode(args: &[String]) {
        if let Some(m @ ("--prewarm" | "--netns-keeper")) = args.get(1).map(String::as_str) {
            die(
                EXIT_SETUP_FAILED,
                &format!("error: {m} is Linux only (the macOS backend runs each command fresh)"),
            );
        }
    }

    pub fn run(policy: &ExecPolicy, _prewarm: bool) -> Result<std::convert::Infallible> {
        exec::run(policy)
    }
}

/// Windows: `--policy-stdin` runs the command in an AppContainer (**written, not run**: see
/// `crates/sandbox/src/windows/`); `--probe` prints `{backend, arch, appcontainer}` for `status()`; `--echo-args` prints `CommandLineToArgvW(GetCommandLineW())` and
/// the environment as JSON and `--sleep-ms <n>` sleeps (the plumbing tests' child, run under Wine).
#[cfg(windows)]
fn main() {
    use ku0_sandbox::windows::{plan, sys};
    use ku0_sandbox::{EXIT_SETUP_FAILED, ExecPolicy};
    fn die(msg: &str) -> ! {
        eprintln!("ku0-sandbox-exec: {msg}");
        std::process::exit(EXIT_SETUP_FAILED);
    }
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--echo-args") => {
            let env: serde_json::Map<String, serde_json::Value> =
                std::env::vars().map(|(k, v)| (k, v.into())).collect();
            let out = serde_json::json!({ "argv": sys::command_line_to_argv(), "env": env });
            println!("{out}");
            return;
        }
        Some("--sleep-ms") => {
            let ms = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return;
        }
        Some("--probe") => {
            // The same shape the TypeScript side reads (`AppContainerProbe` in windows.ts).
            let out = serde_json::json!({
                "backend": "windows-appcontainer",
                "arch": std::env::consts::ARCH,
                "appcontainer": sys::probe_appcontainer(),
            });
            println!("{out}");
            return;
        }
        Some("--policy-stdin") => {}
        _ => die(
            "error: usage: ku0-sandbox-exec --policy-stdin | --probe | --echo-args | --sleep-ms <n>",
        ),
    }
    let json = match sys::read_policy_from_stdin() {
        Ok(j) => j,
        Err(e) => die(&format!("error: policy on stdin: {e}")),
    };
    let policy = match ExecPolicy::from_json(&json) {
        Ok(p) => p,
        Err(e) => die(&format!("error: {e}")),
    };
    let host = sys::host_facts(&policy);
    let git: Vec<String> = if policy.git_metadata_writable {
        Vec::new()
    } else {
        ku0_sandbox::git::protected_paths_of(&policy.writable_roots)
            .into_iter()
            .filter(|g| !g.link_only)
            .map(|g| g.path.to_string_lossy().into_owned())
            .collect()
    };
    let p = match plan::plan(&policy, &host, &git) {
        Ok(p) => p,
        Err(e) => die(&format!("error: {e}")),
    };
    match sys::run_contained(
        &p,
        &policy.argv,
        policy.shell,
        &policy.env,
        sys::own_stdio(),
    ) {
        Ok(code) => std::process::exit(code as i32),
        Err(e) => die(&format!("error: {e}")),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn main() {
    eprintln!(
        "ku0-sandbox-exec: error: the sandbox is not implemented on this platform (Linux; macOS and Windows written, not run)"
    );
    std::process::exit(125);
}
