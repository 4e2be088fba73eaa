//! Windows process plumbing without isolation (runs under Wine in `.ci/cross.sh`; Wine has no
//! AppContainer, so this never tests isolation): quoting end to end through a real child's
//! `CommandLineToArgvW`, pipes as the child's stdio, the handle list, the environment block, and
//! Job Object kill-on-close.
#![cfg(windows)]
#![allow(
    clippy::unwrap_used,
    reason = "tests: an unexpected error should fail the test with its message"
)]

use std::collections::BTreeMap;
use std::io::Read;
use std::os::windows::io::AsRawHandle;

use ku0_sandbox::windows::plan::JobPlan;
use ku0_sandbox::windows::sys::{Job, SpawnRequest, spawn};

const HELPER: &str = env!("CARGO_BIN_EXE_ku0-sandbox-exec");

/// Runs the helper's `--echo-args` mode through [`spawn`]; returns what the child's own
/// `CommandLineToArgvW` made of its command line (after the mode flag) and its environment.
fn run_echo(
    args: &[String],
    env: &BTreeMap<String, String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let (mut r, w) = std::io::pipe().unwrap();
    let (_ir, iw) = std::io::pipe().unwrap();
    let mut argv = vec![HELPER.to_string(), "--echo-args".to_string()];
    argv.extend_from_slice(args);
    let job = Job::new(&JobPlan::default()).unwrap();
    let stdio = [
        iw.as_raw_handle().cast(),
        w.as_raw_handle().cast(),
        w.as_raw_handle().cast(),
    ];
    let child = spawn(
        &SpawnRequest {
            argv: &argv,
            shell: None,
            env,
            cwd: None,
            stdio,
        },
        &job,
        None,
    )
    .unwrap();
    drop(w);
    drop(iw);
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert_eq!(child.wait(Some(30_000)).unwrap(), Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let argv: Vec<String> = serde_json::from_value(v["argv"].clone()).unwrap();
    let env: BTreeMap<String, String> = serde_json::from_value(v["env"].clone()).unwrap();
    (argv[2..].to_vec(), env)
}

#[test]
fn hostile_arguments_survive_a_real_child() {
    let env = BTreeMap::new();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "".into(),
            "a b".into(),
            "a\"b".into(),
            "a\\".into(),
            "a\\\\\"".into(),
        ],
        vec![
            "\\\\\\\"".into(),
            "\t".into(),
            "日本 🦀".into(),
            "\"\"".into(),
            "end\\\\".into(),
        ],
        vec!["%PATH%".into(), "^&|<>".into(), "x\\ y\\\\ z".into()],
    ];
    for args in cases {
        assert_eq!(run_echo(&args, &env).0, args);
    }
    // Randomized (deterministic seed): every argument built from the hostile pieces.
    const PIECES: &[&str] = &[
        "\"", "\\", "\\\\", " ", "\t", "a", "é", "🦀", "\\\"", "\"\"", "%", "^", "&",
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for _ in 0..40 {
        let args: Vec<String> = (0..1 + next(5))
            .map(|_| (0..next(7)).map(|_| PIECES[next(PIECES.len())]).collect())
            .collect();
        assert_eq!(run_echo(&args, &env).0, args);
    }
}

#[test]
fn the_environment_block_reaches_the_child() {
    let env: BTreeMap<String, String> = [
        ("Zeta", "1"),
        ("alpha", "x=y"),
        ("EMPTY", ""),
        ("Ünï", "ç 🦀"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (_, got) = run_echo(&[], &env);
    for (k, v) in &env {
        assert_eq!(got.get(k), Some(v), "{k} in {got:?}");
    }
}

#[test]
fn job_kill_on_close_ends_the_tree() {
    let (_ir, iw) = std::io::pipe().unwrap();
    let (_or, ow) = std::io::pipe().unwrap();
    let argv = vec![HELPER.to_string(), "--sleep-ms".into(), "60000".into()];
    let env = BTreeMap::new();
    let job = Job::new(&JobPlan::default()).unwrap();
    let h = ow.as_raw_handle().cast();
    let child = spawn(
        &SpawnRequest {
            argv: &argv,
            shell: None,
            env: &env,
            cwd: None,
            stdio: [iw.as_raw_handle().cast(), h, h],
        },
        &job,
        None,
    )
    .unwrap();
    assert_eq!(
        child.wait(Some(200)).unwrap(),
        None,
        "the sleeper is still running"
    );
    drop(job);
    assert!(
        child.wait(Some(10_000)).unwrap().is_some(),
        "closing the job killed it"
    );
}

#[test]
fn batch_files_are_refused() {
    let env = BTreeMap::new();
    let job = Job::new(&JobPlan::default()).unwrap();
    let argv = vec!["C:\\x\\run.bat".to_string(), "a&b".into()];
    let null = std::ptr::null_mut();
    let e = spawn(
        &SpawnRequest {
            argv: &argv,
            shell: None,
            env: &env,
            cwd: None,
            stdio: [null, null, null],
        },
        &job,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_KU0_INVALID_ARG");
}
