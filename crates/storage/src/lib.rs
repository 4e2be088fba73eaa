//! ku0 storage engine: a crash-safe segmented event log and a delta-encoded checkpoint store.
//!
//! The on-disk format is specified in `docs/storage.md`; the JS fallback of
//! `@ku0/native-storage` implements the same bytes.

#![deny(clippy::allow_attributes_without_reason)]

pub mod checkpoint;
pub mod error;
pub mod lock;
pub mod log;
pub mod runtime_layout;
pub mod seam;
pub mod util;

pub use checkpoint::{
    CheckpointFilter, CheckpointMeta, CheckpointOptions, CheckpointStore, SortBy,
};
pub use error::{Error, Result};
pub use log::{Durability, EventLog, LogOptions, MappedBatch, Mapping, ReplayBatch, VerifyReport};
