//! Disk full on a real, tiny tmpfs: the log must enter the failed state, refuse further writes, and
//! keep every acknowledged record readable; a checkpoint save that hits ENOSPC must fail without
//! damaging stored checkpoints. Needs root and mount(8): without them each test prints
//! `SKIPPED <test>: <why>` to the terminal (see `common::skip`) and tests nothing;
//! `KU0_REQUIRE_PRIVILEGED_TESTS=1` turns that into a failure.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use std::process::Command;

use ku0_storage::log::TYPE_JSON;
use ku0_storage::{
    CheckpointMeta, CheckpointOptions, CheckpointStore, Durability, EventLog, LogOptions,
};

struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Mounts a `size` tmpfs for `test`, or reports why it cannot (`common::skip`) and returns `None`.
fn mount(test: &str, size: &str) -> Option<Tmpfs> {
    let dir = common::tmpdir(test);
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&dir)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(Tmpfs(dir)),
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            common::skip(
                test,
                &format!(
                    "cannot mount a tmpfs (needs root and mount permission): mount exited {}: {}",
                    o.status,
                    stderr.trim()
                ),
            );
            None
        }
        Err(e) => {
            common::skip(test, &format!("cannot run mount(8): {e}"));
            None
        }
    }
}

#[test]
fn log_on_full_disk_fails_and_stays_readable() {
    let Some(fs) = mount("log_on_full_disk_fails_and_stays_readable", "512k") else {
        return;
    };
    let opts = LogOptions {
        durability: Durability::Sync,
        segment_size: 64 * 1024,
        ..Default::default()
    };
    let log = EventLog::open(&fs.0, opts).unwrap();
    let payload = vec![b'x'; 1000];
    let mut acked = 0u64;
    let err = loop {
        match log.append(TYPE_JSON, &payload) {
            Ok(seq) => acked = seq,
            Err(e) => break e,
        }
        assert!(acked < 10_000, "never ran out of space");
    };
    assert_eq!(err.code(), "ERR_KU0_STORAGE_FAILED", "{err}");
    assert!(acked > 100);
    assert_eq!(
        log.append(TYPE_JSON, b"{}").unwrap_err().code(),
        "ERR_KU0_STORAGE_FAILED"
    );
    assert_eq!(log.flush().unwrap_err().code(), "ERR_KU0_STORAGE_FAILED");
    let r = log.replay(0, None).unwrap();
    assert_eq!(r.len() as u64, acked);
    drop(log);
    // After space is freed a reopen recovers every acknowledged record.
    let log = EventLog::open(
        &fs.0,
        LogOptions {
            segment_size: 64 * 1024,
            preallocate: false,
            ..Default::default()
        },
    );
    match log {
        Ok(log) => assert_eq!(log.replay(0, None).unwrap().len() as u64, acked),
        Err(e) => assert_eq!(e.code(), "ERR_KU0_STORAGE_IO", "{e}"),
    }
}

#[test]
fn checkpoint_save_on_full_disk_fails_cleanly() {
    let Some(fs) = mount("checkpoint_save_on_full_disk_fails_cleanly", "256k") else {
        return;
    };
    let s = CheckpointStore::open(
        &fs.0,
        CheckpointOptions {
            compress: false,
            delta: false,
            ..Default::default()
        },
    )
    .unwrap();
    let meta = |id: &str| CheckpointMeta {
        id: id.into(),
        agent_id: "a".into(),
        agent_type: "t".into(),
        task: String::new(),
        status: "running".into(),
        created_at: 1.0,
        current_step: 0.0,
        max_steps: 0.0,
        has_error: false,
    };
    s.save(meta("small"), b"{\"ok\":true}").unwrap();
    let big = vec![b'y'; 400 * 1024];
    let e = s.save(meta("big"), &big).unwrap_err();
    assert_eq!(e.code(), "ERR_KU0_STORAGE_IO", "{e}");
    assert_eq!(s.load("small").unwrap().unwrap(), b"{\"ok\":true}");
    assert!(s.load("big").unwrap().is_none());
    // No temp file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&fs.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        leftovers
            .iter()
            .all(|n| !n.to_string_lossy().ends_with(".tmp")),
        "{leftovers:?}"
    );
}
