//! The FLOOR and HWM marker files (docs/storage.md §2): 8-byte magic, the sequence id (u64 LE),
//! and a CRC32C of those 16 bytes (u32 LE). FLOOR is the prune floor (records below it are
//! logically deleted); HWM is the durable high-water mark a clean close leaves behind. Both are
//! written atomically (temp file, fsync, rename, directory fsync) and a missing file reads as 0.

use std::fs::{self, File};
use std::path::Path;

use crate::error::{Error, Result};
use crate::util::{self, crc32c, le_u32, le_u64};

pub const FLOOR_MAGIC: [u8; 8] = *b"KU0FLOOR";
pub const HWM_MAGIC: [u8; 8] = *b"KU0HWM01";

/// Size of an encoded marker file.
const MARKER_LEN: usize = 20;

/// Which marker file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// `FLOOR`: every record below this sequence id is logically deleted.
    Floor,
    /// `HWM`: every record up to this sequence id was durable at a clean close.
    Hwm,
}

impl Marker {
    pub fn file_name(self) -> &'static str {
        match self {
            Marker::Floor => "FLOOR",
            Marker::Hwm => "HWM",
        }
    }

    fn magic(self) -> [u8; 8] {
        match self {
            Marker::Floor => FLOOR_MAGIC,
            Marker::Hwm => HWM_MAGIC,
        }
    }

    /// The file's bytes for `seq`.
    pub fn encode(self, seq: u64) -> [u8; MARKER_LEN] {
        let mut b = [0u8; MARKER_LEN];
        b[0..8].copy_from_slice(&self.magic());
        b[8..16].copy_from_slice(&seq.to_le_bytes());
        let crc = crc32c(&b[0..16]);
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The sequence id in `b`, or `None` when `b` is not a well-formed file of this marker.
    pub fn decode(self, b: &[u8]) -> Option<u64> {
        if b.len() != MARKER_LEN || b[0..8] != self.magic() || crc32c(&b[0..16]) != le_u32(b, 16) {
            return None;
        }
        Some(le_u64(b, 8))
    }

    /// Reads the marker in `dir` (0 when the file does not exist).
    pub fn read(self, dir: &Path) -> Result<u64> {
        let path = dir.join(self.file_name());
        match fs::read(&path) {
            Ok(b) => self.decode(&b).ok_or_else(|| Error::Corruption {
                path,
                offset: 0,
                seq: None,
                reason: format!("{} file is malformed or fails its CRC", self.file_name()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Durably replaces the marker in `dir` with `seq`.
    pub fn write(self, dir: &Path, seq: u64) -> Result<()> {
        write_atomic(dir, self.file_name(), &self.encode(seq), true)
    }
}

/// Writes `data` to `dir/name` via temp file + fsync + rename + directory fsync.
pub fn write_atomic(dir: &Path, name: &str, data: &[u8], durable: bool) -> Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let dst = dir.join(name);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
    if durable {
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    drop(f);
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    if durable {
        util::fsync_dir(dir)?;
    }
    Ok(())
}
