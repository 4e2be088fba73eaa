//! Escape suite: every test runs a real attack inside the sandbox (via the `ku0-sandbox-exec`
//! helper and the `attack` example) and asserts that the attempt failed AND its target is
//! unchanged. Network tests only target servers this test starts on loopback.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: an unexpected error should fail loudly with its message"
)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const HELPER: &str = env!("CARGO_BIN_EXE_ku0-sandbox-exec");

fn attack_bin() -> PathBuf {
    // target/<profile>/deps/escape-… -> target/<profile>/examples/attack
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/attack");
    assert!(
        p.exists(),
        "build the attack example first: {}",
        p.display()
    );
    p
}

mod common;
use common::{Tree, s};

struct Fx {
    tree: Tree,
    attack: PathBuf,
}

impl std::ops::Deref for Fx {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.tree
    }
}

impl Fx {
    fn new(name: &str) -> Fx {
        Fx {
            tree: Tree::at(PathBuf::from(format!(
                "/tmp/ku0-esc-{}-{}",
                name,
                std::process::id()
            ))),
            attack: attack_bin(),
        }
    }

    fn policy(&self, script: &str) -> Value {
        let mut readable: Vec<String> = ["/usr", "/bin", "/lib", "/lib64", "/etc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        readable.push(s(self.attack.parent().unwrap()));
        readable.push(s(&self.home));
        json!({
            "argv": ["/bin/sh", "-c", script],
            "env": {"PATH": "/usr/bin:/bin", "HOME": s(&self.home), "TMPDIR": "/tmp",
                    "A": s(&self.attack)},
            "cwd": s(&self.ws),
            "writableRoots": [s(&self.ws)],
            "readableRoots": readable,
            "hostHome": s(&self.home),
            "limits": {"maxProcesses": 64, "memoryBytes": 1u64 << 30, "cpuTimeSec": 30},
        })
    }

    fn run(&self, script: &str) -> Out {
        self.run_policy(self.policy(script))
    }

    fn run_policy(&self, policy: Value) -> Out {
        run_policy(policy, Duration::from_secs(20))
    }

    fn outside_unchanged(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("target.txt")).unwrap(),
            "original"
        );
        let mut names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec!["target.txt"]);
        let mode = std::fs::metadata(self.outside.join("target.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o644);
    }
}

#[derive(Debug)]
struct Out {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn blocked(&self) {
        assert!(
            !self.stdout.contains("ESCAPED"),
            "escaped: {} / {}",
            self.stdout,
            self.stderr
        );
    }
}

fn run_policy(policy: Value, timeout: Duration) -> Out {
    let mut child = Command::new(HELPER)
        .env_clear()
        .env(ku0_sandbox::POLICY_ENV, policy.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > timeout {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    use std::os::unix::process::ExitStatusExt;
    Out {
        code: status.code(),
        signal: status.signal(),
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

#[test]
fn sanity_command_runs_and_writes_workspace() {
    let fx = Fx::new("sanity");
    let o = fx.run("echo hi > out.txt && cat out.txt && cat $HOME/notes.txt");
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout, "hi\nreadable");
    assert_eq!(
        std::fs::read_to_string(fx.ws.join("out.txt")).unwrap(),
        "hi\n"
    );
}

#[test]
fn write_outside_by_absolute_path() {
    let fx = Fx::new("abs");
    let t = s(&fx.outside.join("target.txt"));
    let o = fx.run(&format!(
        "echo pwned > {t}; echo pwned > {t}.new; rm -f {t}"
    ));
    assert!(!o.stderr.is_empty());
    fx.outside_unchanged();
}

#[test]
fn write_outside_by_dotdot() {
    let fx = Fx::new("dotdot");
    let o =
        fx.run("echo pwned > ../outside/target.txt; echo x > ../outside/new; mkdir ../outside/d");
    assert!(
        o.stderr.contains("No such file")
            || o.stderr.contains("denied")
            || o.stderr.contains("Read-only"),
        "{o:?}"
    );
    fx.outside_unchanged();
}

#[test]
fn write_outside_by_tmpdir() {
    let fx = Fx::new("tmpdir");
    let t = s(&fx.outside.join("target.txt"));
    let o = fx.run(&format!(
        "echo pwned > $TMPDIR/x && cat {t}; echo pwned > {t}"
    ));
    // /tmp is a private tmpfs: the host file is invisible and unchanged.
    assert!(!o.stdout.contains("original"), "{o:?}");
    fx.outside_unchanged();
}

#[test]
fn write_through_symlink_to_outside() {
    let fx = Fx::new("symlink");
    std::os::unix::fs::symlink(&fx.outside, fx.ws.join("link")).unwrap();
    std::os::unix::fs::symlink(fx.outside.join("target.txt"), fx.ws.join("flink")).unwrap();
    fx.run("echo pwned > link/target.txt; echo pwned > flink; echo x > link/new");
    fx.outside_unchanged();
}

#[test]
fn write_through_dangling_symlink() {
    let fx = Fx::new("dangling");
    std::os::unix::fs::symlink(fx.outside.join("created.txt"), fx.ws.join("dangling")).unwrap();
    fx.run("echo pwned > dangling; cp /etc/hostname dangling");
    fx.outside_unchanged();
}

#[test]
fn write_through_symlinked_ancestor() {
    let fx = Fx::new("ancestor");
    std::os::unix::fs::symlink(&fx.base, fx.ws.join("anc")).unwrap();
    fx.run("mkdir -p anc/outside/sub; echo pwned > anc/outside/target.txt; ln -sf / anc2; echo x > anc2/tmp/x");
    fx.outside_unchanged();
}

#[test]
fn hard_link_to_outside_file() {
    let fx = Fx::new("hardlink");
    let t = s(&fx.outside.join("target.txt"));
    let o = fx.run(&format!(
        "ln {t} hl && echo pwned > hl; ln /etc/hostname h2 && echo x >> h2; echo done"
    ));
    assert!(!fx.ws.join("hl").exists(), "{o:?}");
    assert!(!fx.ws.join("h2").exists(), "{o:?}");
    fx.outside_unchanged();
}

#[test]
fn git_hooks_and_config_are_read_only() {
    let fx = Fx::new("git");
    let o = fx.run(
        "echo evil > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; \
         echo '[core] fsmonitor=evil' >> .git/config; rm -rf .git/hooks; mv .git .git2; \
         mv .git/config .git/c2; ln -s /x .git/hooks/post-checkout; echo ok > normal.txt",
    );
    assert!(!fx.ws.join(".git/hooks/pre-commit").exists(), "{o:?}");
    assert!(!fx.ws.join(".git/hooks/post-checkout").exists());
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git/config")).unwrap(),
        "[core]\n"
    );
    assert!(fx.ws.join(".git/hooks").is_dir());
    assert!(!fx.ws.join(".git2").exists());
    assert!(
        fx.ws.join("normal.txt").exists(),
        "normal writes keep working"
    );
}

#[test]
fn read_ssh_secret_denied() {
    let fx = Fx::new("ssh");
    let o = fx.run("cat $HOME/.ssh/id_rsa; ls -la $HOME/.ssh; cat /etc/shadow");
    assert!(!o.stdout.contains("SECRET-KEY"), "{o:?}");
    assert!(!o.stdout.contains("root:"), "{o:?}");
    assert!(o.stderr.contains("Permission denied"), "{o:?}");
}

#[test]
fn host_paths_outside_roots_are_invisible() {
    let fx = Fx::new("invisible");
    let o = fx.run(&format!(
        "ls {}; cat /root/.bashrc; ls /home; ls /var; ls /run; ls /sys; echo end",
        s(&fx.outside)
    ));
    assert!(!o.stdout.contains("target.txt"), "{o:?}");
    assert_eq!(o.stdout.trim(), "end", "{o:?}");
}

/// Adds `path` to the policy's readable roots.
fn readable(p: &mut Value, path: &Path) {
    p["readableRoots"]
        .as_array_mut()
        .unwrap()
        .push(json!(s(path)));
}

fn readable_outside_policy(fx: &Fx, script: &str) -> Value {
    let mut p = fx.policy(script);
    readable(&mut p, &fx.outside);
    p
}

#[test]
fn chmod_truncate_xattr_outside_readable_root() {
    let fx = Fx::new("meta");
    let t = s(&fx.outside.join("target.txt"));
    for attack in ["chmod", "truncate", "setxattr", "chmod_suid"] {
        let o = fx.run_policy(readable_outside_policy(&fx, &format!("$A {attack} {t}")));
        assert_eq!(o.code, Some(3), "{attack}: {o:?}");
        o.blocked();
    }
    let o = fx.run_policy(readable_outside_policy(
        &fx,
        &format!("cat {t}; touch -d 2000-01-01 {t}"),
    ));
    assert_eq!(o.stdout, "original", "{o:?}");
    fx.outside_unchanged();
}

#[test]
fn mknod_denied() {
    let fx = Fx::new("mknod");
    let o = fx.run("$A mknod ./null2");
    assert_eq!(o.code, Some(3), "{o:?}");
    assert!(!fx.ws.join("null2").exists());
}

#[test]
fn setuid_copy_denied() {
    let fx = Fx::new("suid");
    let o = fx.run("cp /bin/sh ./sh && chmod u+s ./sh; chmod g+s ./sh; $A open_suid ./made; $A chmod_suid ./sh");
    o.blocked();
    let mode = std::fs::metadata(fx.ws.join("sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o6000, 0, "{o:?}");
    if let Ok(m) = std::fs::metadata(fx.ws.join("made")) {
        assert_eq!(m.permissions().mode() & 0o6000, 0);
    }
}

#[test]
fn ptrace_and_proc_mem_of_parent_denied() {
    let fx = Fx::new("ptrace");
    for a in ["ptrace 1", "proc_mem 1", "ptrace $PPID"] {
        let o = fx.run(&format!("$A {a}"));
        assert_eq!(o.code, Some(3), "{a}: {o:?}");
    }
    // The host-side helper and test process are not even visible.
    let me = std::process::id();
    let o = fx.run(&format!(
        "test -e /proc/{me} && echo VISIBLE; $A proc_mem {me}"
    ));
    assert!(!o.stdout.contains("VISIBLE"), "{o:?}");
    o.blocked();
}

#[test]
fn parent_environment_not_leaked() {
    let fx = Fx::new("environ");
    let mut child = Command::new(HELPER)
        .env(
            ku0_sandbox::POLICY_ENV,
            fx.policy("env; cat /proc/1/environ; cat /proc/$PPID/environ; echo")
                .to_string(),
        )
        .env("OPENAI_API_KEY", "sk-LEAKED")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    assert!(!out.contains("sk-LEAKED"), "{out}");
    assert!(!out.contains(ku0_sandbox::POLICY_ENV), "{out}");
}

#[test]
fn inherited_fds_closed() {
    let fx = Fx::new("fds");
    // Leak a descriptor (no CLOEXEC) into the helper.
    let f = std::fs::File::open(fx.outside.join("target.txt")).unwrap();
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: clear CLOEXEC on our own fd.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    // `/proc/self/fd/N` rather than `<&N`: dash parses only one-digit descriptors in a
    // redirection, and under a parallel test run this one is often 10 or more.
    let o = fx.run(&format!("cat /proc/self/fd/{fd} 2>/dev/null; $A fds"));
    assert!(!o.stdout.contains("original"), "{o:?}");
    assert_eq!(o.code, Some(3), "{o:?}");
    drop(f);
}

#[test]
fn tiocsti_io_uring_unshare_clone3_x32_denied() {
    let fx = Fx::new("syscalls");
    for a in [
        "tiocsti", "io_uring", "unshare", "clone_ns", "clone3", "x32", "keyctl", "bpf", "perf",
        "mount",
    ] {
        let o = fx.run(&format!("$A {a}"));
        assert_eq!(o.code, Some(3), "{a}: {o:?}");
        o.blocked();
    }
}

#[test]
fn i386_syscall_kills_process() {
    let fx = Fx::new("i386");
    let o = fx.run("$A i386; echo status=$?");
    o.blocked();
    assert!(o.stdout.contains("status=159"), "SIGSYS expected: {o:?}");
}

#[test]
fn fork_bomb_contained() {
    let fx = Fx::new("forkbomb");
    let mut p = fx.policy("bomb() { bomb | bomb & }; bomb; sleep 1; echo survived");
    p["limits"]["maxProcesses"] = json!(32);
    let start = Instant::now();
    let o = run_policy(p, Duration::from_secs(20));
    assert!(start.elapsed() < Duration::from_secs(15), "{o:?}");
    assert!(
        o.stderr.contains("fork") || o.stderr.contains("Resource"),
        "{o:?}"
    );
    // Host still forks fine.
    assert!(Command::new("/bin/true").status().unwrap().success());
}

#[test]
fn memory_bomb_contained() {
    let fx = Fx::new("membomb");
    let mut p = fx.policy("x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}");
    p["limits"]["memoryBytes"] = json!(128u64 << 20);
    let o = run_policy(p, Duration::from_secs(30));
    assert!(!o.stdout.contains("400000000"), "{o:?}");
}

#[test]
fn grandchild_dies_with_sandbox() {
    let fx = Fx::new("grandchild");
    let marker = format!("{}.{}", 4000 + std::process::id() % 1000, 25);
    let script = format!("(setsid sleep {marker} &) ; (sleep {marker} &); sleep {marker}");
    let o = run_policy(fx.policy(&script), Duration::from_millis(600));
    assert!(o.signal == Some(9), "{o:?}");
    std::thread::sleep(Duration::from_millis(300));
    let mut alive = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(&marker)
        {
            alive.push(e.file_name());
        }
    }
    assert!(alive.is_empty(), "survivors: {alive:?}");
}

#[test]
fn grandchild_dies_when_command_exits() {
    let fx = Fx::new("bg");
    let o = fx.run("(sleep 1; echo late > late.txt) & echo started");
    assert_eq!(o.stdout.trim(), "started");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!fx.ws.join("late.txt").exists());
}

#[test]
fn network_none_sockets_denied() {
    let fx = Fx::new("netnone");
    // family type [proto]: v4/v6 TCP and UDP, raw, netlink, packet, vsock
    for a in [
        "2 1", "2 2", "10 1", "10 2", "2 3 1", "16 3 0", "17 3 0", "40 1", "2 5",
    ] {
        let o = fx.run(&format!("$A socket {a}"));
        assert_eq!(o.code, Some(3), "socket {a}: {o:?}");
    }
    let o = fx.run("$A socket 1 1");
    assert_eq!(o.code, Some(0), "AF_UNIX sockets stay allowed: {o:?}");
}

#[test]
fn network_none_loopback_server_unreachable() {
    let fx = Fx::new("tcp");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let o = fx.run(&format!(
        "$A tcp 127.0.0.1 {port}; bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED'; \
         getent hosts localhost.localdomain example.com; echo end"
    ));
    assert!(
        !o.stdout.contains("ESCAPED") && !o.stdout.contains("CONNECTED"),
        "{o:?}"
    );
    assert!(
        listener.accept().is_err(),
        "a connection reached the test server"
    );
}

#[test]
fn abstract_and_path_unix_sockets_outside_denied() {
    let fx = Fx::new("unix");
    let name = format!("ku0-esc-{}", std::process::id());
    // Abstract socket in the host namespace.
    let _listener = listen_abstract(&name);
    let sock_path = fx.outside.join("s.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    l.set_nonblocking(true).unwrap();
    let o = fx.run(&format!("$A abstract {name}"));
    assert_eq!(o.code, Some(3), "{o:?}");
    let o = fx.run(&format!("$A unix {}", s(&sock_path)));
    assert_eq!(o.code, Some(3), "{o:?}");
    assert!(l.accept().is_err());
}

#[test]
fn signals_to_host_processes_denied() {
    let fx = Fx::new("kill");
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let o = fx.run(&format!(
        "$A kill {}; kill -9 {}; echo end",
        sleeper.id(),
        sleeper.id()
    ));
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "host process was killed"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn proc_sys_and_dev_writes_denied() {
    let fx = Fx::new("procsys");
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    fx.run("echo pwned > /proc/sys/kernel/hostname; hostname pwned; echo x > /dev/sda; ls /dev");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before
    );
}

#[test]
fn no_capabilities_and_no_new_privs() {
    let fx = Fx::new("caps");
    let o =
        fx.run("grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
    assert!(o.stdout.contains("CapEff:\t0000000000000000"), "{o:?}");
    assert!(o.stdout.contains("CapBnd:\t0000000000000000"), "{o:?}");
    assert!(o.stdout.contains("NoNewPrivs:\t1"), "{o:?}");
    assert!(o.stdout.contains("Seccomp:\t2"), "{o:?}");
}

#[test]
fn setup_failure_is_reported_not_run() {
    let mut p =
        json!({"argv": ["/bin/sh", "-c", "echo RAN"], "writableRoots": ["/nonexistent/ku0"]});
    let o = run_policy(p.take(), Duration::from_secs(5));
    assert_eq!(o.code, Some(125));
    assert!(o.stderr.starts_with("ku0-sandbox-exec:"), "{o:?}");
    assert!(!o.stdout.contains("RAN"));
}

#[test]
fn network_allowlist_only_the_proxy_port() {
    let fx = Fx::new("allowlist");
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let pp = proxy.local_addr().unwrap().port();
    let op = other.local_addr().unwrap().port();
    let mut p = fx.policy("");
    p["network"] = json!({"mode": "allowlist", "proxyPort": pp, "allowedHosts": ["example.com"]});
    let run = |script: &str| {
        let mut q = p.clone();
        q["argv"] = json!(["/bin/sh", "-c", script]);
        run_policy(q, Duration::from_secs(20))
    };
    let o = run(&format!("$A tcp 127.0.0.1 {op}"));
    assert_eq!(o.code, Some(3), "other port must be refused: {o:?}");
    assert!(other.accept().is_err());
    for a in ["2 2", "10 2", "2 3 1", "16 3 0", "17 3 0", "40 1"] {
        let o = run(&format!("$A socket {a}"));
        assert_eq!(o.code, Some(3), "socket {a}: {o:?}");
    }
    let o = run(&format!("$A tcp 127.0.0.1 {pp}"));
    assert_eq!(o.code, Some(0), "the proxy port stays reachable: {o:?}");
}

#[test]
fn proc_root_and_cwd_links_stay_inside() {
    let fx = Fx::new("procroot");
    let t = s(&fx.outside.join("target.txt"));
    let o = fx.run(&format!(
        "cat /proc/1/root{t}; echo x > /proc/self/root{t}; ls /proc/1/cwd/..; cat /proc/self/cwd/../outside/target.txt; echo end"
    ));
    assert!(!o.stdout.contains("original"), "{o:?}");
    fx.outside_unchanged();
}

#[test]
fn workspace_without_git_and_private_tmp_does_not_persist() {
    let fx = Fx::new("tmp-persist");
    fx.run("echo one > /tmp/persist.txt");
    let o = fx.run("cat /tmp/persist.txt; echo end");
    assert_eq!(
        o.stdout.trim(),
        "end",
        "private /tmp must be fresh per command: {o:?}"
    );
}

#[test]
fn process_limit_via_pid_max() {
    let fx = Fx::new("pidmax");
    let mut p = fx.policy("$A forks 2000");
    p["limits"]["maxProcesses"] = json!(64);
    let o = run_policy(p, Duration::from_secs(30));
    // pid_max is clamped to the kernel minimum (301): at most ~300 processes ever exist.
    let count: usize = o
        .stdout
        .trim()
        .strip_prefix("FORKED ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count > 10 && count <= 301, "{o:?}");
}

#[test]
fn reaper_mode_relays_status_and_kills_background_jobs() {
    let fx = Fx::new("reaper");
    let mut p = fx.policy("(sleep 1; echo late > late.txt) & echo $$; exit 7");
    p["reaper"] = json!(true);
    let o = run_policy(p, Duration::from_secs(20));
    assert_eq!(o.code, Some(7), "{o:?}");
    assert_eq!(
        o.stdout.trim(),
        "2",
        "the command is pid 2 under the reaper: {o:?}"
    );
    let mut p = fx.policy("kill -KILL $$");
    p["reaper"] = json!(true);
    let o = run_policy(p, Duration::from_secs(20));
    assert_eq!(o.signal, Some(9), "signal relayed: {o:?}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!fx.ws.join("late.txt").exists());
}

#[test]
fn default_mode_command_is_pid_1_and_status_relayed() {
    let fx = Fx::new("pid1");
    let o = fx.run("echo $$; exit 42");
    assert_eq!(o.code, Some(42), "{o:?}");
    assert_eq!(o.stdout.trim(), "1");
    let o = fx.run("exec $A i386");
    assert_eq!(
        o.signal,
        Some(libc::SIGSYS),
        "seccomp kill relayed as a signal: {o:?}"
    );
}

#[test]
fn allowlist_network_namespace_reaches_only_the_proxy() {
    use std::io::{BufRead, Write};
    use std::os::unix::fs::MetadataExt;
    let fx = Fx::new("netns");
    let sock = fx.base.join("proxy.sock");
    let proxy = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for mut c in proxy.incoming().flatten() {
            let _ = c.write_all(b"PROXY-OK\n");
        }
    });
    let host_server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    host_server.set_nonblocking(true).unwrap();
    let hp = host_server.local_addr().unwrap().port();
    let mut keeper = Command::new(HELPER)
        .args(["--netns-keeper", &s(&sock)])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(keeper.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let ino = std::fs::metadata(format!("/proc/{}/ns/net", keeper.id()))
        .unwrap()
        .ino();
    let policy = |script: &str, ino: u64| {
        let mut p = fx.policy(script);
        p["network"] = json!({"mode": "allowlist", "proxyPort": port,
                              "netnsPid": keeper.id(), "netnsIno": ino});
        p
    };
    let o = run_policy(
        policy(
            &format!(
                "tail -n +3 /proc/net/dev | cut -d: -f1; bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}; cat <&3'"
            ),
            ino,
        ),
        Duration::from_secs(20),
    );
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["lo", "PROXY-OK"],
        "{o:?}"
    );
    // The host's loopback server is not reachable from the namespace (other port, other netns).
    let o = run_policy(
        policy(&format!("$A tcp 127.0.0.1 {hp}"), ino),
        Duration::from_secs(20),
    );
    assert_eq!(o.code, Some(3), "{o:?}");
    assert!(host_server.accept().is_err());
    // A stale or recycled keeper pid fails closed.
    let o = run_policy(policy("echo RAN", ino + 1), Duration::from_secs(20));
    assert_eq!(o.code, Some(125), "{o:?}");
    assert!(!o.stdout.contains("RAN"));
    drop(keeper.stdin.take());
    let _ = keeper.kill();
    let _ = keeper.wait();
}

/// Runs `script` through `--prewarm`: the session policy first, then the command message.
fn run_prewarmed(session: &Value, script: &str) -> Out {
    use std::io::Write;
    let mut child = Command::new(HELPER)
        .arg("--prewarm")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let s = session.to_string();
    stdin
        .write_all(format!("{}\n{s}", s.len()).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let msg =
        json!({"argv": ["/bin/sh", "-c", script], "env": session["env"], "cwd": session["cwd"]})
            .to_string();
    stdin
        .write_all(format!("{}\n{msg}", msg.len()).as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    Out {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn prewarmed_path_enforces_the_same_policy() {
    let fx = Fx::new("prewarm");
    let session = fx.policy("true");
    let t = s(&fx.outside.join("target.txt"));
    let o = run_prewarmed(
        &session,
        "echo $$; cat /proc/self/status | grep -E '^(CapEff|NoNewPrivs|Seccomp):'",
    );
    assert!(o.stdout.starts_with("1\n"), "{o:?}");
    assert!(
        o.stdout.contains("CapEff:\t0000000000000000") && o.stdout.contains("Seccomp:\t2"),
        "{o:?}"
    );
    for a in [
        "io_uring",
        "unshare",
        "ptrace 1",
        "x32",
        "mount",
        "socket 2 1",
    ] {
        let o = run_prewarmed(&session, &format!("$A {a}"));
        assert_eq!(o.code, Some(3), "{a}: {o:?}");
    }
    let o = run_prewarmed(
        &session,
        &format!(
            "echo pwned > {t}; echo x > .git/hooks/pre-commit; cat $HOME/.ssh/id_rsa; echo ok > in.txt"
        ),
    );
    assert!(!o.stdout.contains("SECRET"), "{o:?}");
    fx.outside_unchanged();
    assert!(!fx.ws.join(".git/hooks/pre-commit").exists());
    assert!(fx.ws.join("in.txt").exists(), "{o:?}");
}

// ---- Git-dir integrity: the host's git must never run code the sandbox chose ----------------

/// Host git with no user/system configuration (only the repository's own).
fn host_git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=host",
            "-c",
            "user.email=host@example.invalid",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", "/nonexistent")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap()
}

fn host_git_ok(dir: &Path, args: &[&str]) -> String {
    let o = host_git(dir, args);
    assert!(o.status.success(), "git {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The fixture of a git test, or `None` (the test skipped, with its reason on stderr) without git.
fn git_fx(name: &str) -> Option<Fx> {
    if !have_git() {
        eprintln!("skipped: git not installed");
        return None;
    }
    Some(Fx::new(name))
}

/// Config that makes the host's git run `touch <outside>/PWNED` (fsmonitor runs on status).
fn evil_config(fx: &Fx) -> String {
    format!(
        "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {0}/PWNED\n\thooksPath = {1}/evil/hooks\n",
        s(&fx.outside),
        s(&fx.ws)
    )
}

fn evil_hook(fx: &Fx) -> String {
    format!("#!/bin/sh\ntouch {}/PWNED\n", s(&fx.outside))
}

/// The attacker's files the sandboxed scripts copy into place, kept beside the workspace.
#[derive(Clone, Copy)]
enum Evil {
    /// `<base>/evil.config`: [`evil_config`].
    Config,
    /// `<base>/evil.hook`: [`evil_hook`].
    Hook,
}

/// The policy for `script` with the attacker's files in `evil` written to the fixture base and
/// readable in the sandbox.
fn evil_policy(fx: &Fx, script: &str, evil: &[Evil]) -> Value {
    let mut p = fx.policy(script);
    for &e in evil {
        let (name, body) = match e {
            Evil::Config => ("evil.config", evil_config(fx)),
            Evil::Hook => ("evil.hook", evil_hook(fx)),
        };
        let path = fx.base.join(name);
        std::fs::write(&path, body).unwrap();
        readable(&mut p, &path);
    }
    p
}

/// Runs the host's git the way a user would after the attack: status, config, a commit (hooks).
fn host_git_runs_no_attacker_code(fx: &Fx, repo: &Path) -> String {
    let _ = host_git(repo, &["status"]);
    let _ = host_git(repo, &["commit", "--allow-empty", "-qm", "host"]);
    let cfg = host_git(repo, &["config", "--list", "--show-origin"]);
    assert!(
        !fx.outside.join("PWNED").exists(),
        "the host's git ran attacker code"
    );
    fx.outside_unchanged();
    String::from_utf8_lossy(&cfg.stdout).into_owned()
}

fn fresh_repo(fx: &Fx) {
    let _ = std::fs::remove_dir_all(fx.ws.join(".git"));
    host_git_ok(&fx.ws, &["init", "-q", "."]);
    std::fs::write(fx.ws.join("f.txt"), "1").unwrap();
    host_git_ok(&fx.ws, &["add", "f.txt"]);
    host_git_ok(&fx.ws, &["commit", "-qm", "init"]);
}

#[test]
fn git_dir_redirects_and_missing_paths_held() {
    let Some(fx) = git_fx("gitdir") else {
        return;
    };
    fresh_repo(&fx);
    // Paths that do not exist when the session starts.
    for d in ["hooks", "info"] {
        let _ = std::fs::remove_dir_all(fx.ws.join(".git").join(d));
    }
    let cfg_before = host_git_ok(&fx.ws, &["config", "--list", "--local"]);
    let script = format!(
        "E={base}/evil.config; H={base}/evil.hook; mkdir -p evil/hooks; cp $E evil/config; \
         cp $H evil/hooks/pre-commit; chmod +x evil/hooks/pre-commit; \
         printf '%s\\n' \"$PWD/evil\" > .git/commondir; \
         mkdir .git/hooks; cp $H .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; \
         cp $H .git/hooks/fsmonitor-watchman; \
         cat $E > .git/config.worktree; cat $E >> .git/config; \
         mkdir -p .git/info; echo '* filter=evil' > .git/info/attributes; \
         mkdir -p .git/modules/sub; cp $E .git/modules/sub/config; \
         mkdir -p .git/worktrees/w; cp $E .git/worktrees/w/config.worktree; \
         git config core.fsmonitor \"touch {out}/PWNED\"; \
         mv .git/hooks .git/h2; mv .git .git-old; rm -rf .git/info; \
         echo hi > a.txt; git add a.txt && git -c user.name=sb -c user.email=sb@x commit -qm sandboxed \
           && echo COMMITTED; git branch feature && echo BRANCHED; \
         : > .git/index.lock && rm .git/index.lock && echo LOCKOK",
        base = s(&fx.base),
        out = s(&fx.outside)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Config, Evil::Hook]));
    // Ordinary git use inside the sandbox keeps working (index, objects, refs, lock files).
    assert!(o.stdout.contains("COMMITTED"), "{o:?}");
    assert!(o.stdout.contains("BRANCHED"), "{o:?}");
    assert!(o.stdout.contains("LOCKOK"), "{o:?}");
    assert!(host_git_ok(&fx.ws, &["log", "--format=%s"]).contains("sandboxed"));
    // Every redirect and config/hook path held, including the ones missing at start.
    let cfg_after = host_git_runs_no_attacker_code(&fx, &fx.ws);
    assert!(!cfg_after.contains("fsmonitor"), "{cfg_after}");
    assert_eq!(
        host_git_ok(&fx.ws, &["config", "--list", "--local"]),
        cfg_before
    );
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git/commondir")).unwrap(),
        ".\n"
    );
    assert_eq!(
        std::fs::read_dir(fx.ws.join(".git/hooks")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(fx.ws.join(".git/info")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(fx.ws.join(".git/modules"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(fx.ws.join(".git/worktrees"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git/config.worktree")).unwrap(),
        ""
    );
    assert!(!fx.ws.join(".git-old").exists());
}

#[test]
fn git_worktree_pointer_file_held() {
    let Some(fx) = git_fx("gitwt") else {
        return;
    };
    let main = fx.base.join("main");
    std::fs::create_dir_all(&main).unwrap();
    host_git_ok(&main, &["init", "-q", "."]);
    host_git_ok(&main, &["commit", "--allow-empty", "-qm", "init"]);
    std::fs::remove_dir_all(&fx.ws).unwrap();
    host_git_ok(&main, &["worktree", "add", "-q", &s(&fx.ws)]);
    let pointer = std::fs::read_to_string(fx.ws.join(".git")).unwrap();
    let script = format!(
        "mkdir -p evil/objects evil/refs; echo 'ref: refs/heads/x' > evil/HEAD; \
         cp {base}/evil.config evil/config; \
         printf 'gitdir: %s/evil\\n' \"$PWD\" > .git; rm -f .git; mv .git g2; echo ok > normal.txt",
        base = s(&fx.base)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Config]));
    assert!(fx.ws.join("normal.txt").exists(), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git")).unwrap(),
        pointer
    );
    host_git_runs_no_attacker_code(&fx, &fx.ws);
}

#[test]
fn git_init_in_a_plain_workspace_held() {
    let Some(fx) = git_fx("gitinit") else {
        return;
    };
    std::fs::remove_dir_all(fx.ws.join(".git")).unwrap();
    let script = format!(
        "git init -q .; git config core.fsmonitor 'touch {out}/PWNED'; rmdir .git; \
         mkdir -p .git && printf '[core]\\n\\tfsmonitor = touch {out}/PWNED\\n' > .git/config; \
         echo ok > normal.txt",
        out = s(&fx.outside)
    );
    let o = fx.run(&script);
    assert!(fx.ws.join("normal.txt").exists(), "{o:?}");
    // The placeholder: an empty directory, which git does not take for a repository.
    assert_eq!(std::fs::read_dir(fx.ws.join(".git")).unwrap().count(), 0);
    host_git_runs_no_attacker_code(&fx, &fx.ws);
}

#[test]
fn git_hooks_path_includes_and_submodule_dirs_held() {
    let Some(fx) = git_fx("gitcfg") else {
        return;
    };
    fresh_repo(&fx);
    std::fs::create_dir_all(fx.ws.join(".git/modules/sub")).unwrap();
    std::fs::write(fx.ws.join(".git/modules/sub/config"), "[core]\n").unwrap();
    host_git_ok(&fx.ws, &["config", "core.hooksPath", ".husky"]);
    host_git_ok(&fx.ws, &["config", "include.path", "../team.gitconfig"]);
    let script = format!(
        "mkdir -p .husky; cp {b}/evil.hook .husky/pre-commit; chmod +x .husky/pre-commit; \
         cp {b}/evil.config team.gitconfig; cat {b}/evil.config >> .git/modules/sub/config; \
         mkdir .git/modules/other; echo ok > normal.txt",
        b = s(&fx.base)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Hook, Evil::Config]));
    assert!(fx.ws.join("normal.txt").exists(), "{o:?}");
    assert!(!fx.ws.join(".husky/pre-commit").exists());
    assert_eq!(
        std::fs::read_to_string(fx.ws.join("team.gitconfig")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(fx.ws.join(".git/modules/sub/config")).unwrap(),
        "[core]\n"
    );
    assert!(!fx.ws.join(".git/modules/other").exists());
    host_git_runs_no_attacker_code(&fx, &fx.ws);
}

#[test]
fn nested_repository_hooks_and_config_held() {
    let Some(fx) = git_fx("gitnested") else {
        return;
    };
    fresh_repo(&fx);
    // A vendored repository with its own `.git` directory, two levels down, without hooks/ yet.
    let nested = fx.ws.join("vendor/lib");
    std::fs::create_dir_all(&nested).unwrap();
    host_git_ok(&nested, &["init", "-q", "."]);
    std::fs::remove_dir_all(nested.join(".git/hooks")).unwrap();
    std::fs::write(nested.join("g.txt"), "1").unwrap();
    host_git_ok(&nested, &["add", "g.txt"]);
    host_git_ok(&nested, &["commit", "-qm", "init"]);
    let config_before = std::fs::read_to_string(nested.join(".git/config")).unwrap();
    let script = format!(
        "cd vendor/lib; mkdir -p .git/hooks; cp {b}/evil.hook .git/hooks/pre-commit; \
         chmod +x .git/hooks/pre-commit; cat {b}/evil.config >> .git/config; \
         mv .git .git-old; mkdir .git; cp {b}/evil.config .git/config; cd ../..; \
         mv vendor vendor-old; mv vendor/lib vendor/lib-old; mkdir -p vendor/lib/.git; \
         cp {b}/evil.config vendor/lib/.git/config; echo ok > vendor/lib/normal.txt",
        b = s(&fx.base)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Hook, Evil::Config]));
    assert!(nested.join("normal.txt").exists(), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(nested.join(".git/config")).unwrap(),
        config_before
    );
    assert!(!nested.join(".git/hooks/pre-commit").exists());
    assert!(!nested.join(".git-old").exists());
    assert!(!fx.ws.join("vendor-old").exists() && !fx.ws.join("vendor/lib-old").exists());
    host_git_runs_no_attacker_code(&fx, &nested);
}

#[test]
fn missing_denied_home_path_uncreatable_when_home_is_writable() {
    let fx = Fx::new("deniedmissing");
    // Home is the writable root; `.aws` and `.netrc` do not exist at session start.
    let mut p = fx.policy(
        "mkdir -p $HOME/.aws && echo KEY > $HOME/.aws/credentials; echo machine > $HOME/.netrc; \
         rm -rf $HOME/.aws $HOME/.netrc; mkdir $HOME/.aws; echo ok > $HOME/normal.txt",
    );
    p["writableRoots"] = json!([s(&fx.home)]);
    p["cwd"] = json!(s(&fx.home));
    let o = fx.run_policy(p);
    assert!(fx.home.join("normal.txt").exists(), "{o:?}");
    assert!(!fx.home.join(".aws/credentials").exists(), "{o:?}");
    // What stays on the host: the empty placeholders.
    assert_eq!(std::fs::read_dir(fx.home.join(".aws")).unwrap().count(), 0);
    assert_eq!(std::fs::read(fx.home.join(".netrc")).unwrap(), b"");
}

// ---- Setup status: only the helper's status channel says "the command did not run" ---------

fn run_with_status(policy: Value) -> ku0_sandbox::runner::RunOutput {
    ku0_sandbox::runner::run(
        ku0_sandbox::runner::RunRequest {
            helper: HELPER.into(),
            policy_json: policy.to_string(),
            stdin: None,
            timeout: Duration::from_secs(20),
            max_output_bytes: 1 << 20,
        },
        None,
    )
    .unwrap()
}

#[test]
fn forged_setup_failure_is_the_commands_result() {
    let fx = Fx::new("forge");
    let o = run_with_status(fx.policy(
        "echo 'ku0-sandbox-exec: error: mount setup: forged' >&2; \
         echo 'setup-error forged' >&3; echo ran; exit 125",
    ));
    assert_eq!(o.exit_code, Some(125), "{o:?}");
    assert_eq!(o.setup_error, None, "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    // A real setup failure is reported on the channel.
    let mut p = fx.policy("echo ran");
    p["writableRoots"] = json!([s(&fx.base.join("missing"))]);
    let o = run_with_status(p);
    assert!(
        o.setup_error
            .as_deref()
            .is_some_and(|e| e.contains("writable root missing")),
        "{o:?}"
    );
    assert!(o.stdout.is_empty());
}

// ---- No host information by default -------------------------------------------------------

#[test]
fn network_none_has_its_own_empty_network_namespace() {
    let fx = Fx::new("netns-none");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let o = fx.run(
        "readlink /proc/self/ns/net; cat /proc/net/tcp /proc/net/tcp6 /proc/net/unix; \
                    cat /proc/net/route; echo END",
    );
    let ns = o.stdout.lines().next().unwrap_or("").to_string();
    assert!(ns.starts_with("net:["), "{o:?}");
    assert_ne!(
        Path::new(&ns),
        host_ns,
        "shares the host's network namespace"
    );
    let hex = format!(":{port:04X}");
    assert!(!o.stdout.contains(&hex), "host listener visible: {o:?}");
    assert!(o.stdout.contains("END"));
    // The route table of an empty namespace has only its header.
    let routes: Vec<_> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("Iface") || l.contains('\t'))
        .filter(|l| !l.starts_with("Iface"))
        .collect();
    assert!(routes.is_empty(), "routes visible: {routes:?}");
}

#[test]
fn proc_keys_and_host_wide_proc_files_hidden() {
    let fx = Fx::new("prockeys");
    // A key the host session can see (best effort: keyrings may be unavailable).
    let desc = std::ffi::CString::new(format!("ku0-esc-key-{}", std::process::id())).unwrap();
    let ty = std::ffi::CString::new("user").unwrap();
    // SAFETY: add_key with valid strings and a small payload into the session keyring.
    unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            b"x".as_ptr(),
            1usize,
            -3i32,
        )
    };
    let o = fx.run(
        "for f in /proc/keys /proc/key-users /proc/timer_list /proc/sched_debug; do \
           if [ -e $f ]; then c=$(cat $f 2>/dev/null | wc -c); echo \"$f $c\"; fi; done; echo END",
    );
    assert!(o.stdout.contains("END"), "{o:?}");
    for line in o.stdout.lines().filter(|l| l.starts_with("/proc/")) {
        assert!(
            line.ends_with(" 0"),
            "host information readable: {line} ({o:?})"
        );
    }
    assert!(!o.stdout.contains(desc.to_str().unwrap()));
}

#[test]
fn full_network_scopes_abstract_unix_sockets_unless_asked() {
    let fx = Fx::new("abstract-full");
    let name = format!("ku0-esc-full-{}", std::process::id());
    let _listener = listen_abstract(&name);
    let abi = ku0_sandbox::linux::fs_rules::kernel_abi();
    let mut p = fx.policy(&format!("$A abstract {name}"));
    p["network"] = json!({"mode": "full"});
    let o = fx.run_policy(p.clone());
    if abi >= 6 {
        assert_eq!(o.code, Some(3), "{o:?}");
    }
    p["network"] = json!({"mode": "full", "abstractUnix": true});
    let o = fx.run_policy(p);
    assert_eq!(
        o.code,
        Some(0),
        "the policy can ask for host abstract sockets: {o:?}"
    );
}

/// A listening abstract unix socket named `name` in the host's network namespace, closed on drop.
fn listen_abstract(name: &str) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) with constant arguments; the result is checked before it is owned.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) address.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as u16;
    assert!(
        name.len() + 1 < addr.sun_path.len(),
        "abstract name too long"
    );
    for (i, b) in name.bytes().enumerate() {
        addr.sun_path[i + 1] = b as libc::c_char;
    }
    let len = (2 + 1 + name.len()) as u32;
    use std::os::fd::AsRawFd;
    // SAFETY: `addr` is a valid sockaddr_un and `len` covers the family, the NUL and the name.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: listen(2) on the socket owned above.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), 4) };
    assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
    fd
}

// ---- Resource accounting without cgroups --------------------------------------------------

#[test]
fn memory_limit_counts_shared_memory_without_cgroups() {
    let fx = Fx::new("shmem");
    for kind in ["memfd", "anon", "sysv"] {
        let mut p = fx.policy(&format!("$A shmem {kind} 384"));
        p["limits"]["memoryBytes"] = json!(128u64 << 20);
        let o = fx.run_policy(p);
        assert_eq!(
            o.code,
            Some(3),
            "{kind}: 384 MiB pinned with a 128 MiB limit: {o:?}"
        );
    }
    // The private /tmp (tmpfs) is capped by the memory limit as well.
    let mut p = fx.policy("head -c 200000000 /dev/zero > /tmp/fill; echo rc=$?; wc -c < /tmp/fill");
    p["limits"]["memoryBytes"] = json!(128u64 << 20);
    let o = fx.run_policy(p);
    let size: u64 = o
        .stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(size <= 128 << 20, "tmpfs above the limit: {o:?}");
    // Without a memory limit, shared memory stays available.
    let mut p = fx.policy("$A shmem memfd 16");
    p["limits"].as_object_mut().unwrap().remove("memoryBytes");
    let o = fx.run_policy(p);
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn git_dangling_hooks_symlink_target_held() {
    let Some(fx) = git_fx("gitdangle") else {
        return;
    };
    fresh_repo(&fx);
    let _ = std::fs::remove_dir_all(fx.ws.join(".git/hooks"));
    // A link planted before the session (e.g. by an older, unprotected run) to a missing directory.
    std::os::unix::fs::symlink("../shared-hooks", fx.ws.join(".git/hooks")).unwrap();
    let script = format!(
        "mkdir -p shared-hooks; cp {b}/evil.hook shared-hooks/pre-commit; chmod +x shared-hooks/pre-commit; \
         rm -f .git/hooks; mv .git/hooks .git/h2; mkdir -p .git/hooks; \
         cp {b}/evil.hook .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; echo ok > normal.txt",
        b = s(&fx.base)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Hook]));
    assert!(fx.ws.join("normal.txt").exists(), "{o:?}");
    assert!(!fx.ws.join("shared-hooks/pre-commit").exists(), "{o:?}");
    // The link itself could not be removed or replaced.
    assert!(
        std::fs::symlink_metadata(fx.ws.join(".git/hooks"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    host_git_runs_no_attacker_code(&fx, &fx.ws);
}

#[test]
fn git_symlinked_dot_git_cannot_be_replaced() {
    let Some(fx) = git_fx("gitlink") else {
        return;
    };
    fresh_repo(&fx);
    std::fs::rename(fx.ws.join(".git"), fx.ws.join("repo.git")).unwrap();
    std::os::unix::fs::symlink("repo.git", fx.ws.join(".git")).unwrap();
    let script = format!(
        "rm -f .git; mv .git g2; mkdir -p evil/objects evil/refs; echo 'ref: refs/heads/x' > evil/HEAD; \
         cp {b}/evil.config evil/config; ln -sfn evil .git; \
         echo hi > a.txt; git add a.txt && git -c user.name=sb -c user.email=sb@x commit -qm sandboxed \
           && echo COMMITTED",
        b = s(&fx.base)
    );
    let o = fx.run_policy(evil_policy(&fx, &script, &[Evil::Config]));
    assert_eq!(
        std::fs::read_link(fx.ws.join(".git")).unwrap(),
        Path::new("repo.git"),
        "{o:?}"
    );
    assert!(o.stdout.contains("COMMITTED"), "{o:?}");
    host_git_runs_no_attacker_code(&fx, &fx.ws);
}
