//! `ku0-sandbox-exec`: runs one command under an [`ExecPolicy`] read from the
//! `KU0_SANDBOX_POLICY` environment variable. `--probe` prints what the kernel can enforce.

#[cfg(target_os = "linux")]
fn main() {
    use ku0_sandbox::linux::{exec, probe, sys};
    use ku0_sandbox::{EXIT_SETUP_FAILED, ExecPolicy, POLICY_ENV};

    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--probe") {
        match serde_json::to_string(&probe::probe()) {
            Ok(s) => println!("{s}"),
            Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("--netns-keeper") {
        let Some(sock) = args.get(2) else {
            sys::die(
                EXIT_SETUP_FAILED,
                "error: --netns-keeper <proxy unix socket>",
            )
        };
        let Err(e) = ku0_sandbox::linux::netns::run_keeper(std::path::Path::new(sock));
        sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
    }
    let json = match std::env::var(POLICY_ENV) {
        Ok(j) => j,
        Err(_) => sys::die(
            EXIT_SETUP_FAILED,
            &format!(
                "error: {POLICY_ENV} is not set (usage: {POLICY_ENV}=<json> ku0-sandbox-exec | --probe)"
            ),
        ),
    };
    let policy = match ExecPolicy::from_json(&json) {
        Ok(p) => p,
        Err(e) => sys::die(EXIT_SETUP_FAILED, &format!("error: {e}")),
    };
    drop(json);
    let Err(e) = exec::run(&policy);
    sys::die(EXIT_SETUP_FAILED, &format!("error: {e}"));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("ku0-sandbox-exec: error: only Linux is implemented");
    std::process::exit(125);
}
