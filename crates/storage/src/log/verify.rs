//! Offline check of a log directory ([`verify_dir`], used by the `ku0-storage verify` tool and
//! `verifyLog`): every segment header, record CRC and sequence id, the markers and the sparse
//! indexes, without taking the directory lock.

use std::fs;
use std::path::Path;

use super::format::{
    REC_HEADER, RecHdr, check_segment_header, decode_index, list_segments, parse_segment_name,
    read_whole, scan_segment,
};
use super::markers::Marker;
use crate::error::{Error, Result};

/// Result of [`verify_dir`].
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub segments: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub floor: u64,
    /// Corruption (would make open or replay fail).
    pub problems: Vec<String>,
    /// Non-fatal findings (torn tail that open would truncate, stale index, foreign files).
    pub notes: Vec<String>,
}

/// Checks every segment header, every record CRC and sequence continuity, without taking the lock.
pub fn verify_dir(
    dir: &Path,
    max_record: u32,
    mut each: impl FnMut(&Path, &RecHdr, &[u8]),
) -> Result<VerifyReport> {
    let mut rep = VerifyReport::default();
    match Marker::Floor.read(dir) {
        Ok(f) => rep.floor = f,
        Err(e) => rep.problems.push(e.to_string()),
    }
    let hwm = match Marker::Hwm.read(dir) {
        Ok(h) => h,
        Err(e) => {
            rep.problems.push(e.to_string());
            0
        }
    };
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let known = parse_segment_name(&name).is_some()
            || (name.ends_with(".idx") && name.len() == 24)
            || name == Marker::Floor.file_name()
            || name == Marker::Hwm.file_name()
            || name == "LOCK"
            || name.ends_with(".tmp");
        if !known {
            rep.notes.push(format!("foreign file ignored: {name}"));
        }
    }
    let segs = list_segments(dir)?;
    rep.segments = segs.len();
    let mut expected: Option<u64> = None;
    let n = segs.len();
    for (i, (base, path)) in segs.iter().enumerate() {
        let buf = read_whole(path)?;
        if let Err(reason) = check_segment_header(&buf, *base) {
            rep.problems.push(format!("{}: {reason}", path.display()));
            expected = None;
            continue;
        }
        if let Some(e) = expected
            && e != *base
        {
            rep.problems.push(format!(
                "{}: starts at sequence id {base}, expected {e} (gap)",
                path.display()
            ));
        }
        let scan = scan_segment(&buf, *base, max_record, |h, off| {
            each(path, h, &buf[off + REC_HEADER..off + h.len]);
        });
        rep.records += scan.records;
        if scan.records > 0 {
            rep.first_seq.get_or_insert(*base);
            rep.last_seq = Some(scan.next_seq - 1);
        }
        if let Some(reason) = scan.stop {
            let last = i + 1 == n;
            let claim = scan
                .max_durable
                .max(scan.resync.map(|r| r.2).unwrap_or(0))
                .max(hwm);
            let msg = format!(
                "{} at offset {} (sequence id {}): {reason}",
                path.display(),
                scan.end,
                scan.next_seq
            );
            if last && scan.next_seq > claim {
                rep.notes
                    .push(format!("torn tail, open will truncate it: {msg}"));
            } else {
                rep.problems.push(format!("corruption: {msg}"));
            }
        }
        let idx_path = path.with_extension("idx");
        if let Ok(b) = fs::read(&idx_path) {
            match decode_index(&b) {
                Some(idx)
                    if idx.entries.first().is_some_and(|e| e.0 == *base)
                        && idx.last_seq + 1 == scan.next_seq => {}
                _ => rep.notes.push(format!(
                    "{}: stale or damaged sparse index (rebuilt on use)",
                    idx_path.display()
                )),
            }
        }
        expected = Some(scan.next_seq);
    }
    if rep.last_seq.unwrap_or(0) < hwm && rep.problems.is_empty() {
        rep.problems.push(format!(
            "the log ends at sequence id {} but a clean close had made {hwm} durable",
            rep.last_seq.unwrap_or(0)
        ));
    }
    Ok(rep)
}
