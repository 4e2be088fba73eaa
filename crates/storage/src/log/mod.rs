//! Segmented, CRC32C-checked, append-only event log (format: docs/storage.md §2).
//!
//! Reading order: [`writer`] is the entry point ([`EventLog::open`], append, group commit, close,
//! prune); [`replay`] reads records back (copying or memory-mapped); [`verify`] checks a directory
//! offline without taking its lock. Underneath, [`format`] holds the bytes of segments, records and
//! sparse indexes, and [`markers`] the FLOOR and HWM files (one encoding for both) and the atomic
//! file write they use.

mod format;
mod markers;
mod replay;
mod verify;
mod writer;

pub use format::{
    FORMAT_VERSION, IDX_MAGIC, INDEX_INTERVAL, Parsed, REC_HEADER, RecHdr, SEG_HEADER, SEG_MAGIC,
    SegScan, TYPE_BYTES, TYPE_JSON, check_segment_header, decode_index_file, encode_index_file,
    encode_record, encode_segment_header, parse_record, scan_segment, segment_name,
};
pub use markers::{FLOOR_MAGIC, HWM_MAGIC, Marker, write_atomic};
pub use replay::{MappedBatch, Mapping, ReplayBatch};
pub use verify::{VerifyReport, verify_dir};
pub use writer::{EventLog, FlushCallback};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Written to the kernel before append returns (survives a process crash).
    Process,
    /// Concurrent appends share one fdatasync; `flush()` waits for durability.
    Group,
    /// fdatasync before append returns.
    Sync,
}

impl std::str::FromStr for Durability {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "process" => Ok(Durability::Process),
            "group" => Ok(Durability::Group),
            "sync" => Ok(Durability::Sync),
            other => Err(Error::InvalidArg(format!(
                "durability must be \"process\", \"group\" or \"sync\", got {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LogOptions {
    pub durability: Durability,
    /// Target segment size in bytes (a segment is sealed when the next record would not fit).
    pub segment_size: u64,
    /// Maximum payload size of one record.
    pub max_record: u32,
    /// Preallocate (zero-fill) each new segment to `segment_size`.
    pub preallocate: bool,
    /// Group mode: how long the flusher lets more appends join a batch before its fdatasync.
    pub group_delay: std::time::Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            durability: Durability::Group,
            segment_size: 32 * 1024 * 1024,
            max_record: 16 * 1024 * 1024,
            preallocate: true,
            group_delay: std::time::Duration::from_micros(200),
        }
    }
}
