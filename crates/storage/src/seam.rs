//! The runtime's `StorageEngine` seam (`@ku0/storage-engine-rs`) as engine logic, so every front end
//! (the napi binding, a future sidecar) shares one directory layout and one checkpoint-metadata rule.
//!
//! Layout: events under `<root>/events`, checkpoints under `<root>/checkpoints`, both in the formats
//! of `docs/storage.md` (the adapters read the same directories).

use std::path::{Path, PathBuf};

use crate::{
    CheckpointMeta, CheckpointOptions, CheckpointStore, Durability, EventLog, LogOptions, Result,
};

/// Sub-directory of the seam root holding the event log.
pub const EVENTS_DIR: &str = "events";
/// Sub-directory of the seam root holding the checkpoint store.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Both stores of a seam root.
pub struct SeamStore {
    pub log: EventLog,
    pub checkpoints: CheckpointStore,
}

/// `<root>/events` and `<root>/checkpoints`.
pub fn layout(root: &Path) -> (PathBuf, PathBuf) {
    (root.join(EVENTS_DIR), root.join(CHECKPOINTS_DIR))
}

/// The seam numbers events from 0, as the runtime's engine does; the log on disk keeps its 1-based
/// sequence ids. Seam id `n` is log sequence id `n + EVENT_ID_OFFSET`.
pub const EVENT_ID_OFFSET: u64 = 1;

/// How the seam opens a root.
#[derive(Debug, Clone, Copy)]
pub struct SeamOptions {
    /// Defaults to `Sync`: the runtime's engine fdatasyncs every `appendEvent` before returning,
    /// and the seam keeps that promise unless told otherwise.
    pub durability: Durability,
    /// Open a root that still holds the runtime's own layout (the one-shot import only, which opens
    /// the root while the runtime's original files are still there). Otherwise such a root is refused
    /// with `ERR_KU0_STORAGE_NEEDS_IMPORT` instead of looking empty.
    pub allow_runtime_layout: bool,
}

impl Default for SeamOptions {
    fn default() -> Self {
        SeamOptions {
            durability: Durability::Sync,
            allow_runtime_layout: false,
        }
    }
}

/// Opens (creating) both stores of `root`.
pub fn open(root: &Path, options: SeamOptions) -> Result<SeamStore> {
    if !options.allow_runtime_layout {
        crate::runtime_layout::refuse_runtime_layout(root)?;
    }
    let (events, checkpoints) = layout(root);
    let log = EventLog::open(
        events,
        LogOptions {
            durability: options.durability,
            ..LogOptions::default()
        },
    )?;
    let checkpoints = CheckpointStore::open(checkpoints, CheckpointOptions::default())?;
    Ok(SeamStore { log, checkpoints })
}

/// The metadata the seam records for `saveCheckpoint(id, data)`: the seam carries no metadata, so
/// everything but the id and the creation time is empty.
pub fn checkpoint_meta(id: String, created_at_ms: f64) -> CheckpointMeta {
    CheckpointMeta {
        id,
        agent_id: String::new(),
        agent_type: String::new(),
        task: String::new(),
        status: String::new(),
        created_at: created_at_ms,
        current_step: 0.0,
        max_steps: 0.0,
        has_error: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let dir = std::env::temp_dir().join(format!("ku0-seam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = open(&dir, SeamOptions::default()).unwrap();
        assert!(dir.join(EVENTS_DIR).is_dir());
        assert!(dir.join(CHECKPOINTS_DIR).is_dir());
        s.checkpoints
            .save(checkpoint_meta("a".into(), 1.0), b"{}")
            .unwrap();
        assert_eq!(
            s.checkpoints.load("a").unwrap().as_deref(),
            Some(&b"{}"[..])
        );
        let m = s.checkpoints.list(&Default::default());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].created_at, 1.0);
        assert_eq!(m[0].status, "");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
