//! kill -9 of a process saving checkpoints while background rebases run (docs/storage.md §3.2): the
//! child saves one agent's checkpoints with `max_chain` 3 (a rebase after every third delta) and
//! reports each acknowledged save; the parent SIGKILLs it at a random point, reopens the directory
//! and checks that nothing is damaged, every acknowledged checkpoint loads with its exact document,
//! no chain is longer than `2 * max_chain` (saves made while a rebase ran count their chains from
//! the rebased checkpoint; a kill before that rebase lands leaves them up to `max_chain` links
//! longer), and no temp file survives the open.
#![cfg(unix)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use ku0_storage::{CheckpointMeta, CheckpointOptions, CheckpointStore};

const CHILD_DIR: &str = "KU0_CKPT_KILL_CHILD_DIR";
const CHILD_START: &str = "KU0_CKPT_KILL_CHILD_START";

fn opts() -> CheckpointOptions {
    CheckpointOptions {
        max_chain: 3,
        ..CheckpointOptions::default()
    }
}

fn meta(i: u64) -> CheckpointMeta {
    CheckpointMeta {
        id: format!("c{i}"),
        agent_id: "a".into(),
        agent_type: String::new(),
        task: String::new(),
        status: "running".into(),
        created_at: i as f64,
        current_step: i as f64,
        max_steps: 0.0,
        has_error: false,
    }
}

/// Document of save `i`: a growing message list, so successive saves are deltas of each other.
fn doc(i: u64) -> Vec<u8> {
    let msgs: Vec<String> = (0..200 + i)
        .map(|k| {
            format!(
                "{{\"k\":{k},\"t\":\"{}\"}}",
                "w".repeat(200 + (k % 37) as usize)
            )
        })
        .collect();
    format!("{{\"messages\":[{}],\"step\":{i}}}", msgs.join(",")).into_bytes()
}

/// The child: saves from `KU0_CKPT_KILL_CHILD_START` on until killed (a no-op in a normal run).
#[test]
fn kill_child_entry() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let start: u64 = std::env::var(CHILD_START).unwrap().parse().unwrap();
    let s = CheckpointStore::open(&dir, opts()).unwrap();
    let mut out = std::io::stdout().lock();
    for i in start..start + 100_000 {
        s.save(meta(i), &doc(i)).unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn kill_during_saves_and_rebases_keeps_every_acknowledged_checkpoint() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = common::tmpdir("ckpt-kill");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = 0u64;
    let mut acknowledged: Vec<u64> = Vec::new();
    for iter in 0..30 {
        // Under a cross runner (qemu-user for aarch64 in `.ci/cross.sh`, which names it in
        // KU0_TEST_RUNNER) the child goes through the same runner.
        let runner = std::env::var("KU0_TEST_RUNNER").unwrap_or_default();
        let mut words = runner.split_whitespace();
        let mut cmd = match words.next() {
            Some(r) => {
                let mut c = Command::new(r);
                c.args(words).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let mut child = cmd
            .args([
                "--exact",
                "kill_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &dir)
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let kill_after = 1 + rng.below(12);
        let mut acked: Option<u64> = None;
        let mut seen = 0;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("ack ") {
                let i: u64 = v.parse().unwrap();
                acknowledged.push(i);
                acked = Some(i);
                seen += 1;
                if seen >= kill_after {
                    // Land the kill somewhere in a later save or its rebase.
                    std::thread::sleep(std::time::Duration::from_micros(rng.below(3000)));
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let s = CheckpointStore::open(&dir, opts()).unwrap();
        assert!(
            s.damaged().is_empty(),
            "iteration {iter}: {:?}",
            s.damaged()
        );
        let last = acked.expect("the child acknowledged no save");
        for &i in &acknowledged {
            let id = format!("c{i}");
            let got = s.load(&id).unwrap();
            assert!(
                got == Some(doc(i)),
                "iteration {iter}: {id} missing or different"
            );
            assert!(s.chain_len(&id).unwrap() <= 2 * 3, "iteration {iter}: {id}");
        }
        // The save in flight at the kill (not acknowledged) is absent or whole; the next child starts
        // after it.
        if let Some(d) = s.load(&format!("c{}", last + 1)).unwrap() {
            assert!(
                d == doc(last + 1),
                "iteration {iter}: unacknowledged save is not whole"
            );
        }
        s.close();
        drop(s);
        let tmp: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(tmp.is_empty(), "iteration {iter}: {tmp:?}");
        next = last + 2;
    }
    // The rebases ran: without them every fourth checkpoint would end a 3-delta chain; with them
    // only one whose rebase a kill interrupted does.
    let s = CheckpointStore::open(&dir, opts()).unwrap();
    let ends = acknowledged
        .iter()
        .filter(|i| s.chain_len(&format!("c{i}")) == Some(3))
        .count();
    assert!(
        ends <= 30 && ends * 8 < acknowledged.len(),
        "{ends} of {} checkpoints end a 3-delta chain",
        acknowledged.len()
    );
    s.close();
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
