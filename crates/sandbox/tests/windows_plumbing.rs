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

fn run_echo(args: &[String]) -> Vec<String> {
    let (mut r, w) = std::io::pipe().unwrap();
    let (_ir, iw) = std::io::pipe().unwrap();
    let mut argv = vec![HELPER.to_string(), "--echo-args".to_string()];
    argv.extend_from_slice(args);
    let env = BTreeMap::new();
    let job = Job::new(&JobPlan::default()).unwrap();
    let stdio = [
        iw.as_raw_handle().cast(),
        w.as_raw_handle().cast(),
        w.as_raw_handle().cast(),
    ];
    let child = spawn(
        &SpawnRequest {
            argv: &argv,
            env: &env,
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
    let v: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    v[2..].to_vec()
}

#[test]
fn hostile_arguments_survive_a_real_child() {
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
        assert_eq!(run_echo(&args), args);
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
