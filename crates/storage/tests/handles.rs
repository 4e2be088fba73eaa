//! `close()` leaves no file handle in the store's directory, while the store value is still alive
//! (as a JS object is until it is garbage-collected). On Windows an open handle makes the directory
//! impossible to remove (found by the cross smoke under Wine: the log kept its active segment open
//! until it was dropped). Linux does not block the removal, so there the test counts the process's
//! descriptors (`/proc/self/fd`) and mappings (`/proc/self/maps`) that point into the directory;
//! elsewhere (Windows under Wine in `.ci/cross.sh`) removing the directory is the check.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use std::path::{Path, PathBuf};

use ku0_storage::log::TYPE_JSON;
use ku0_storage::{
    CheckpointMeta, CheckpointOptions, CheckpointStore, Durability, EventLog, LogOptions,
};

/// What the process holds inside `dir`: open descriptors and mapped files (Linux only; elsewhere
/// `None`, and the removal below is the only check).
#[derive(Debug, PartialEq, Eq)]
struct Held {
    fds: Vec<PathBuf>,
    maps: Vec<String>,
}

#[cfg(target_os = "linux")]
fn held(dir: &Path) -> Option<Held> {
    let dir = std::fs::canonicalize(dir).unwrap();
    let mut fds = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        // The descriptor read_dir itself uses may be gone by now: skip what cannot be read.
        if let Ok(target) = std::fs::read_link(e.path())
            && target.starts_with(&dir)
        {
            fds.push(target);
        }
    }
    let prefix = format!("{}/", dir.display());
    let maps = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&prefix))
        .map(str::to_string)
        .collect();
    Some(Held { fds, maps })
}

#[cfg(not(target_os = "linux"))]
fn held(_dir: &Path) -> Option<Held> {
    None
}

fn nothing_held(dir: &Path, what: &str) {
    if let Some(h) = held(dir) {
        assert_eq!(
            h,
            Held {
                fds: vec![],
                maps: vec![]
            },
            "{what}: still held in {}",
            dir.display()
        );
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!(
        "{{\"i\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 40) as usize)
    )
    .into_bytes()
}

/// Appends across several segment rolls, replays (copying and mapped), and checks that the log
/// holds its segment open before close (so the counting sees handles at all) and nothing after.
fn log_close_releases_everything(durability: Durability, fail_first: bool) {
    let tag = format!("handles-{durability:?}-{fail_first}").to_lowercase();
    let root = common::tmpdir(&tag);
    let dir = root.join("log");
    let log = EventLog::open(
        &dir,
        LogOptions {
            durability,
            segment_size: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 1..=300u64 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    log.flush().unwrap();
    assert_eq!(log.replay(0, None).unwrap().len(), 300);
    {
        let mapped = log.replay_mapped(0, None).unwrap();
        assert_eq!(mapped.len(), 300);
        if let Some(h) = held(&dir) {
            assert!(
                !h.maps.is_empty(),
                "a mapped replay maps its segments: {h:?}"
            );
        }
    }
    if let Some(h) = held(&dir) {
        // The active segment and the LOCK file are open while the log is.
        assert!(
            h.fds.len() >= 2,
            "an open log holds its segment and lock: {h:?}"
        );
        assert!(h.maps.is_empty(), "a dropped mapped batch unmaps: {h:?}");
    }
    if fail_first {
        log.inject_failure("test: simulated fsync failure");
    }
    // A failed log closes without a flush (nothing more can be made durable), and reports no error.
    log.close().unwrap();
    nothing_held(&dir, "after close()");
    // The log value is still alive here: removing its directory must work on every platform.
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| {
        panic!(
            "removing {} after close() with the log still alive: {e}",
            root.display()
        )
    });
    assert!(!root.exists());
    // Closing again and dropping are harmless once the directory is gone.
    let _ = log.close();
    drop(log);
}

#[test]
fn group_log_close_releases_every_handle() {
    log_close_releases_everything(Durability::Group, false);
}

#[test]
fn process_log_close_releases_every_handle() {
    log_close_releases_everything(Durability::Process, false);
}

#[test]
fn sync_log_close_releases_every_handle() {
    log_close_releases_everything(Durability::Sync, false);
}

#[test]
fn failed_log_close_releases_every_handle() {
    log_close_releases_everything(Durability::Group, true);
}

#[test]
fn checkpoint_store_close_releases_every_handle() {
    let root = common::tmpdir("handles-ckpt");
    let dir = root.join("cp");
    let store = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    for i in 0..5 {
        let meta = CheckpointMeta {
            id: format!("cp-{i}"),
            agent_id: "a1".into(),
            agent_type: "coder".into(),
            task: "t".into(),
            status: "completed".into(),
            created_at: 1_700_000_000_000.0 + f64::from(i),
            current_step: 1.0,
            max_steps: 5.0,
            has_error: false,
        };
        let doc = format!(
            "{{\"messages\":[{}]}}",
            "\"m\",".repeat(i as usize) + "\"end\""
        );
        store.save(meta, doc.as_bytes()).unwrap();
        assert!(store.load(&format!("cp-{i}")).unwrap().is_some());
    }
    if let Some(h) = held(&dir) {
        assert!(!h.fds.is_empty(), "an open store holds its lock: {h:?}");
    }
    store.close();
    nothing_held(&dir, "after CheckpointStore::close()");
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| {
        panic!(
            "removing {} after close() with the store still alive: {e}",
            root.display()
        )
    });
    drop(store);
}
