//! On-disk bytes of the log (docs/storage.md §2): segment files (32-byte header, then records),
//! records (40-byte header with CRC32C, then the payload), the scan that validates a segment and
//! finds where it stops, and the sparse index files of sealed segments.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::util::{crc32c, crc32c_append, le_i64, le_u32, le_u64};

pub const SEG_MAGIC: [u8; 8] = *b"KU0LOG\x00\x01";
pub const IDX_MAGIC: [u8; 8] = *b"KU0LIDX1";
pub const SEG_HEADER: u64 = 32;
pub const REC_HEADER: usize = 40;
pub const INDEX_INTERVAL: u64 = 16 * 1024;
pub const FORMAT_VERSION: u32 = 1;

/// Record type of a JSON `TaskGraphEvent`.
pub const TYPE_JSON: u16 = 1;
/// Record type of opaque bytes (the runtime seam's `appendEvent`).
pub const TYPE_BYTES: u16 = 2;

pub fn segment_name(base: u64) -> String {
    format!("{base:020}.log")
}

pub(super) fn index_name(base: u64) -> String {
    format!("{base:020}.idx")
}

pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn encode_segment_header(base: u64, created_ms: i64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[0..8].copy_from_slice(&SEG_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&base.to_le_bytes());
    h[24..32].copy_from_slice(&created_ms.to_le_bytes());
    let crc = crc32c_append(crc32c(&h[0..12]), &h[16..32]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

pub fn check_segment_header(h: &[u8], base: u64) -> std::result::Result<(), String> {
    if h.len() < 32 {
        return Err("segment shorter than its 32-byte header".into());
    }
    if h[0..8] != SEG_MAGIC {
        return Err("bad segment magic (not a ku0 log segment)".into());
    }
    let crc = crc32c_append(crc32c(&h[0..12]), &h[16..32]);
    if crc != le_u32(h, 12) {
        return Err("segment header CRC mismatch".into());
    }
    let version = le_u32(h, 8);
    if version != FORMAT_VERSION {
        return Err(format!("unsupported segment format version {version}"));
    }
    if le_u64(h, 16) != base {
        return Err(format!(
            "header base {} does not match file name base {base}",
            le_u64(h, 16)
        ));
    }
    Ok(())
}

/// Appends the encoded record to `out`.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, ts: i64, typ: u16, durable: u64, payload: &[u8]) {
    let start = out.len();
    let total = (REC_HEADER + payload.len()) as u32;
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&typ.to_le_bytes());
    out.extend_from_slice(&[0u8; 6]);
    out.extend_from_slice(&durable.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c_append(crc32c(&out[start..start + 4]), &out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Clone, Copy, Debug)]
pub struct RecHdr {
    pub len: usize,
    pub seq: u64,
    pub ts: i64,
    pub typ: u16,
    pub durable: u64,
}

pub enum Parsed {
    Ok(RecHdr),
    End,
    Bad(String),
}

/// Validates the record at `off` of `buf` (which must hold the whole record to succeed).
pub fn parse_record(buf: &[u8], off: usize, expected: Option<u64>, max_record: u32) -> Parsed {
    if off + 4 > buf.len() {
        return Parsed::End;
    }
    let total = le_u32(buf, off) as usize;
    if total == 0 {
        return Parsed::End;
    }
    if total < REC_HEADER || total > REC_HEADER + max_record as usize {
        return Parsed::Bad(format!("implausible record length {total}"));
    }
    if off + total > buf.len() {
        return Parsed::Bad(format!(
            "record of {total} bytes runs past the end of the data"
        ));
    }
    let rec = &buf[off..off + total];
    let crc = crc32c_append(crc32c(&rec[0..4]), &rec[8..]);
    if crc != le_u32(rec, 4) {
        return Parsed::Bad("record CRC mismatch".into());
    }
    let seq = le_u64(rec, 8);
    if let Some(e) = expected
        && seq != e
    {
        return Parsed::Bad(format!("sequence id {seq} where {e} was expected"));
    }
    Parsed::Ok(RecHdr {
        len: total,
        seq,
        ts: le_i64(rec, 16),
        typ: u16::from_le_bytes([rec[24], rec[25]]),
        durable: le_u64(rec, 32),
    })
}

/// Result of scanning one segment held in memory.
pub struct SegScan {
    pub end: usize,
    pub next_seq: u64,
    pub max_durable: u64,
    pub records: u64,
    pub index: Vec<(u64, u64)>,
    /// Why the scan stopped before `buf.len()` with non-zero data (None: clean end).
    pub stop: Option<String>,
    /// A valid record found past the stop point: (offset, seq, durable_seq) with the highest durable mark.
    pub resync: Option<(usize, u64, u64)>,
}

pub fn scan_segment(
    buf: &[u8],
    base: u64,
    max_record: u32,
    mut each: impl FnMut(&RecHdr, usize),
) -> SegScan {
    let mut off = SEG_HEADER as usize;
    let mut seq = base;
    let mut max_durable = 0u64;
    let mut index = Vec::new();
    let mut last_idx_off: Option<usize> = None;
    let mut records = 0u64;
    let stop;
    loop {
        match parse_record(buf, off, Some(seq), max_record) {
            Parsed::Ok(h) => {
                if last_idx_off.is_none_or(|l| (off - l) as u64 >= INDEX_INTERVAL) {
                    index.push((seq, off as u64));
                    last_idx_off = Some(off);
                }
                each(&h, off);
                max_durable = max_durable.max(h.durable);
                off += h.len;
                seq += 1;
                records += 1;
            }
            Parsed::End => {
                stop = None;
                break;
            }
            Parsed::Bad(reason) => {
                stop = Some(reason);
                break;
            }
        }
    }
    let resync = find_resync(buf, off, seq, max_record);
    let stop = match (stop, resync) {
        (None, Some(_)) => Some("zero length field before further valid records".to_string()),
        (s, _) => s,
    };
    SegScan {
        end: off,
        next_seq: seq,
        max_durable,
        records,
        index,
        stop,
        resync,
    }
}

/// Looks for valid records after a stop point; returns the one with the highest durable mark.
fn find_resync(
    buf: &[u8],
    from: usize,
    expected: u64,
    max_record: u32,
) -> Option<(usize, u64, u64)> {
    let mut best: Option<(usize, u64, u64)> = None;
    let mut pos = from + 1;
    while pos + REC_HEADER <= buf.len() {
        // Skip zero runs quickly.
        if buf[pos] == 0 {
            let aligned_end = (pos + 64).min(buf.len());
            if buf[pos..aligned_end].iter().all(|&b| b == 0) {
                pos = aligned_end;
                continue;
            }
        }
        let total = le_u32(buf, pos) as usize;
        if total >= REC_HEADER
            && total <= REC_HEADER + max_record as usize
            && pos + total <= buf.len()
        {
            let seq = le_u64(buf, pos + 8);
            if seq > expected
                && seq - expected < (1 << 40)
                && let Parsed::Ok(h) = parse_record(buf, pos, None, max_record)
            {
                if best.is_none_or(|b| h.durable > b.2) {
                    best = Some((pos, h.seq, h.durable));
                }
                pos += h.len;
                continue;
            }
        }
        pos += 1;
    }
    best
}

/// Sparse index of one segment: `(seq, offset)` about every [`INDEX_INTERVAL`] bytes, the last
/// sequence id and the end offset of its records.
#[derive(Debug)]
pub(super) struct SegIndex {
    pub(super) entries: Vec<(u64, u64)>,
    pub(super) last_seq: u64,
    pub(super) end: u64,
}

pub(super) fn encode_index(idx: &SegIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + idx.entries.len() * 16);
    out.extend_from_slice(&IDX_MAGIC);
    out.extend_from_slice(&(idx.entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    for (s, o) in &idx.entries {
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&idx.last_seq.to_le_bytes());
    out.extend_from_slice(&idx.end.to_le_bytes());
    let crc = crc32c(&out[16..]);
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Encodes a sparse index file (exposed for tests and tools).
#[doc(hidden)]
pub fn encode_index_file(entries: Vec<(u64, u64)>, last_seq: u64, end: u64) -> Vec<u8> {
    encode_index(&SegIndex {
        entries,
        last_seq,
        end,
    })
}

/// Decodes a sparse index file: `(entries, last_seq, end)`, or `None` when damaged (exposed for the
/// fuzz targets and tools).
#[doc(hidden)]
#[allow(
    clippy::type_complexity,
    reason = "a plain tuple keeps SegIndex private to the log; only fuzz targets and tools call this"
)]
pub fn decode_index_file(b: &[u8]) -> Option<(Vec<(u64, u64)>, u64, u64)> {
    decode_index(b).map(|i| (i.entries, i.last_seq, i.end))
}

pub(super) fn decode_index(b: &[u8]) -> Option<SegIndex> {
    if b.len() < 32 || b[0..8] != IDX_MAGIC {
        return None;
    }
    let n = le_u32(b, 8) as usize;
    if b.len() != 16 + n * 16 + 16 || crc32c(&b[16..]) != le_u32(b, 12) {
        return None;
    }
    let entries = (0..n)
        .map(|i| (le_u64(b, 16 + i * 16), le_u64(b, 24 + i * 16)))
        .collect();
    Some(SegIndex {
        entries,
        last_seq: le_u64(b, 16 + n * 16),
        end: le_u64(b, 24 + n * 16),
    })
}

pub(super) fn read_whole(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

pub(super) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_segment_name(name) {
            segs.push((base, entry.path()));
        }
    }
    segs.sort_by_key(|(b, _)| *b);
    Ok(segs)
}
