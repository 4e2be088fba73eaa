//! The reading side of the log: [`EventLog::replay`] copies records into one [`ReplayBatch`];
//! [`EventLog::replay_mapped`] returns byte ranges into memory-mapped segments. Both take a
//! snapshot of the segment list under the writer lock, enter each segment through its sparse index
//! (falling back to a scan from the segment start when the index is stale), and validate every
//! record's CRC and sequence id.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{
    Parsed, REC_HEADER, RecHdr, SEG_HEADER, SegIndex, decode_index, parse_record, read_whole,
    scan_segment,
};
use super::writer::{EventLog, lock_poisoned};
use crate::error::{Error, Result};
use crate::util::{self, le_u32};

/// Replayed records in bulk: all payloads concatenated plus per-record tables.
#[derive(Debug, Default, Clone)]
pub struct ReplayBatch {
    pub data: Vec<u8>,
    /// `offsets[i]..offsets[i+1]` is record i's payload in `data` (len = n + 1).
    pub offsets: Vec<u32>,
    pub seqs: Vec<u64>,
    pub timestamps: Vec<i64>,
    pub types: Vec<u16>,
    /// `ascii[i]` is 1 when record i's payload is all ASCII (bytes < 0x80), else 0: such a payload
    /// decodes the same as UTF-8 and as Latin-1, so JS can read it from one Latin-1 string.
    pub ascii: Vec<u8>,
}

impl ReplayBatch {
    pub fn len(&self) -> usize {
        self.seqs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
    pub fn payload(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

impl EventLog {
    /// Returns up to `limit` records with sequence id >= `from` (and >= the prune floor).
    pub fn replay(&self, from: u64, limit: Option<usize>) -> Result<ReplayBatch> {
        let limit = limit.unwrap_or(usize::MAX);
        let max_record = self.shared.opts.max_record;
        let mut out = ReplayBatch {
            offsets: vec![0],
            ..Default::default()
        };
        self.walk_segments(
            from,
            limit,
            &mut out,
            ReplayBatch::len,
            |out, seg, entry, start| {
                let file = File::open(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
                entry.read_with_fallback(seg.base, |off, seq| {
                    read_range(
                        &file, &seg.path, off, seg.end, seq, start, limit, max_record, out,
                    )
                })
            },
        )?;
        Ok(out)
    }

    /// Like [`EventLog::replay`] but without copying: each touched segment is memory-mapped (read
    /// from the page cache) and records are returned as byte ranges into those mappings.
    pub fn replay_mapped(&self, from: u64, limit: Option<usize>) -> Result<MappedBatch> {
        let limit = limit.unwrap_or(usize::MAX);
        let max_record = self.shared.opts.max_record;
        let mut out = MappedBatch::default();
        self.walk_segments(
            from,
            limit,
            &mut out,
            MappedBatch::len,
            |out, seg, entry, start| {
                let map = Arc::new(Mapping::map(&seg.path, seg.end)?);
                let map_index = out.maps.len() as u32;
                let next = entry.read_with_fallback(seg.base, |off, seq| {
                    map_range(
                        &map, &seg.path, off, seq, start, limit, max_record, map_index, out,
                    )
                })?;
                if out.map_of.last().is_some_and(|&m| m == map_index) {
                    out.maps.push(map);
                }
                Ok(next)
            },
        )?;
        Ok(out)
    }

    /// The walk both replays share: plans the segments from `from`, checks that each continues the
    /// previous one, skips those wholly before the start, and hands each other segment with its
    /// entry point (and the effective start id) to `read`, which appends its records to `out` and
    /// returns the sequence id the next segment must begin at. Stops once `len(out)` reaches `limit`.
    fn walk_segments<B>(
        &self,
        from: u64,
        limit: usize,
        out: &mut B,
        len: impl Fn(&B) -> usize,
        mut read: impl FnMut(&mut B, &PlannedSegment, ReadFrom, u64) -> Result<u64>,
    ) -> Result<()> {
        if limit == 0 {
            return Ok(());
        }
        let Some((plan, start)) = self.plan(from)? else {
            return Ok(());
        };
        let mut expected: Option<u64> = None;
        for seg in plan {
            if len(out) >= limit {
                break;
            }
            let next =
                match segment_entry(expected, seg.base, &seg.path, seg.idx.as_deref(), start)? {
                    SegmentEntry::Skip { next } => next,
                    SegmentEntry::ReadFrom(entry) => read(out, &seg, entry, start)?,
                };
            expected = Some(next);
        }
        Ok(())
    }

    /// Snapshot of the segments a replay from `from` reads (and the effective start id), or `None`
    /// when nothing at or after `from` exists.
    fn plan(&self, from: u64) -> Result<Option<(Vec<PlannedSegment>, u64)>> {
        let sh = &*self.shared;
        let mut w = lock_poisoned(&sh.writer);
        let start = from.max(w.floor);
        if start >= w.next_seq {
            return Ok(None);
        }
        let mut plan = Vec::new();
        let first_needed = w
            .sealed
            .partition_point(|s| s.base <= start)
            .saturating_sub(1);
        let max_record = sh.opts.max_record;
        for s in w.sealed.iter_mut().skip(first_needed) {
            if s.index.is_none() {
                s.index = Some(Arc::new(load_or_rebuild_index(
                    &s.path, s.base, max_record,
                )?));
            }
            let idx = s.index.clone();
            let end = idx.as_ref().map(|i| i.end).unwrap_or(0);
            plan.push(PlannedSegment {
                base: s.base,
                path: s.path.clone(),
                end,
                idx,
            });
        }
        let active_idx = Arc::new(SegIndex {
            entries: w.index.clone(),
            last_seq: w.next_seq - 1,
            end: w.offset,
        });
        plan.push(PlannedSegment {
            base: w.base,
            path: w.path.clone(),
            end: w.offset,
            idx: Some(active_idx),
        });
        Ok(Some((plan, start)))
    }
}

/// One segment a replay reads: records up to `end`, seeking with `idx` when there is one.
struct PlannedSegment {
    base: u64,
    path: PathBuf,
    end: u64,
    idx: Option<Arc<SegIndex>>,
}

/// Where a replay enters one segment of its plan.
enum SegmentEntry {
    /// The whole segment lies before the start: the next segment must begin at `next`.
    Skip { next: u64 },
    /// Read records from the entry point.
    ReadFrom(ReadFrom),
}

/// An entry point into a segment: `offset`, whose record has sequence id `seq`.
#[derive(Clone, Copy)]
struct ReadFrom {
    offset: u64,
    seq: u64,
}

impl ReadFrom {
    /// The segment start (the first record of segment `base`).
    fn segment_start(base: u64) -> ReadFrom {
        ReadFrom {
            offset: SEG_HEADER,
            seq: base,
        }
    }

    /// Reads from this entry with `read(offset, seq)`; when that fails and the entry came from a
    /// sparse index (it is not the segment start), the index is stale, so the segment is read again
    /// from its start (each reader has already rolled its output back to before the segment).
    fn read_with_fallback(
        self,
        base: u64,
        mut read: impl FnMut(u64, u64) -> Result<u64>,
    ) -> Result<u64> {
        read(self.offset, self.seq).or_else(|e| {
            if self.offset != SEG_HEADER {
                read(SEG_HEADER, base)
            } else {
                Err(e)
            }
        })
    }
}

/// Checks that segment `base` continues the previous one (`expected`), then uses its sparse index
/// (when sealed) to skip it entirely or to seek close to `start`.
fn segment_entry(
    expected: Option<u64>,
    base: u64,
    path: &Path,
    idx: Option<&SegIndex>,
    start: u64,
) -> Result<SegmentEntry> {
    if let Some(e) = expected
        && e != base
    {
        return Err(Error::Corruption {
            path: path.to_path_buf(),
            offset: 0,
            seq: Some(e),
            reason: format!("segment starts at sequence id {base}, expected {e}"),
        });
    }
    let Some(i) = idx else {
        return Ok(SegmentEntry::ReadFrom(ReadFrom::segment_start(base)));
    };
    if i.last_seq < start && base < start {
        return Ok(SegmentEntry::Skip {
            next: i.last_seq + 1,
        });
    }
    if start <= base {
        return Ok(SegmentEntry::ReadFrom(ReadFrom::segment_start(base)));
    }
    let p = i.entries.partition_point(|e| e.0 <= start);
    Ok(SegmentEntry::ReadFrom(
        match p.checked_sub(1).and_then(|k| i.entries.get(k)) {
            Some(&(seq, offset)) => ReadFrom { offset, seq },
            None => ReadFrom::segment_start(base),
        },
    ))
}

/// Reads records `[off, end)` of one segment into `out`: the raw bytes are read straight into
/// `out.data` (one copy from the page cache), validated, and the payloads compacted in place.
#[allow(
    clippy::too_many_arguments,
    reason = "one segment's read position, the replay window and the output; a struct would only rename them"
)]
fn read_range(
    file: &File,
    path: &Path,
    off: u64,
    end: u64,
    mut seq: u64,
    start: u64,
    limit: usize,
    max_record: u32,
    out: &mut ReplayBatch,
) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let rollback = (out.data.len(), out.offsets.len(), out.seqs.len());
    let res = (|| {
        let mut f = file;
        f.seek(SeekFrom::Start(off))
            .map_err(|e| Error::io(path, e))?;
        let span = end.saturating_sub(off);
        // The first read is sized to the limit (about 256 bytes a record, at least 64 KiB, at most
        // 16 MiB; it doubles after every read), so a bounded batch such as one of `replayStream`'s
        // does not read 16 MiB ahead of its last record.
        let mut chunk: u64 = u64::try_from(limit)
            .unwrap_or(u64::MAX)
            .saturating_mul(256)
            .clamp(64 * 1024, 16 << 20);
        if limit == usize::MAX {
            out.data.reserve(usize::try_from(span).unwrap_or(0));
        }
        let mut file_pos = off; // file offset of out.data[r]
        let mut w = out.data.len(); // end of compacted payloads
        let mut r = w; // start of unparsed raw bytes
        let mut remaining = span;
        let mut at_eof = false;
        while out.seqs.len() < limit {
            // Parse every complete record in out.data[r..].
            loop {
                if out.seqs.len() >= limit {
                    break;
                }
                let avail = out.data.len() - r;
                if avail < REC_HEADER {
                    break;
                }
                let total = le_u32(&out.data, r) as usize;
                if total >= REC_HEADER
                    && total <= REC_HEADER + max_record as usize
                    && total > avail
                    && !at_eof
                {
                    chunk = chunk.max(total as u64);
                    break;
                }
                let h = committed_record(
                    parse_record(&out.data[r..], 0, Some(seq), max_record),
                    path,
                    file_pos,
                    seq,
                )?;
                if h.seq >= start {
                    let plen = h.len - REC_HEADER;
                    out.data.copy_within(r + REC_HEADER..r + h.len, w);
                    out.ascii.push(u8::from(out.data[w..w + plen].is_ascii()));
                    w += plen;
                    let o = u32::try_from(w).map_err(|_| {
                        Error::InvalidArg("replay batch exceeds 4 GiB; use a limit".into())
                    })?;
                    out.offsets.push(o);
                    out.seqs.push(h.seq);
                    out.timestamps.push(h.ts);
                    out.types.push(h.typ);
                }
                r += h.len;
                file_pos += h.len as u64;
                seq += 1;
            }
            if out.seqs.len() >= limit || (remaining == 0 && out.data.len() == r) {
                break;
            }
            if remaining == 0 {
                if out.data.len() - r < REC_HEADER {
                    return Err(Error::Corruption {
                        path: path.to_path_buf(),
                        offset: file_pos,
                        seq: Some(seq),
                        reason: "segment ends inside a record".into(),
                    });
                }
                at_eof = true;
                continue;
            }
            // Move the partial record down to the write cursor and read the next chunk after it.
            let tail = out.data.len() - r;
            out.data.copy_within(r..r + tail, w);
            out.data.truncate(w + tail);
            r = w;
            let want = chunk.min(remaining);
            let got = f
                .by_ref()
                .take(want)
                .read_to_end(&mut out.data)
                .map_err(|e| Error::io(path, e))? as u64;
            if got < want {
                return Err(Error::Corruption {
                    path: path.to_path_buf(),
                    offset: file_pos + tail as u64 + got,
                    seq: Some(seq),
                    reason: "segment is shorter than its committed range".into(),
                });
            }
            remaining -= got;
            chunk = (chunk * 2).min(64 << 20);
        }
        out.data.truncate(w);
        Ok(seq)
    })();
    if res.is_err() {
        out.data.truncate(rollback.0);
        out.offsets.truncate(rollback.1);
        out.seqs.truncate(rollback.2);
        out.timestamps.truncate(rollback.2);
        out.types.truncate(rollback.2);
        out.ascii.truncate(rollback.2);
    }
    res
}

#[cfg(target_os = "linux")]
const MAP_FLAGS: libc::c_int = libc::MAP_SHARED | libc::MAP_POPULATE;
#[cfg(all(unix, not(target_os = "linux")))]
const MAP_FLAGS: libc::c_int = libc::MAP_SHARED;

/// A read-only view of the first `len` bytes of a segment: an mmap on unix, a heap copy elsewhere.
pub struct Mapping {
    ptr: *const u8,
    len: usize,
    /// The heap copy `ptr` points into (non-unix); on unix `None` and `ptr` is an mmap.
    #[cfg_attr(
        not(unix),
        allow(
            dead_code,
            reason = "keeps the bytes `ptr` points into alive; never read"
        )
    )]
    owned: Option<Vec<u8>>,
}

// SAFETY: the mapping is read-only and never mutated through this handle; it is unmapped once.
unsafe impl Send for Mapping {}
// SAFETY: see above; shared references only read.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn map(path: &Path, len: u64) -> Result<Mapping> {
        let len = usize::try_from(len)
            .map_err(|_| Error::InvalidArg("segment too large to map".into()))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let size = f.metadata().map_err(|e| Error::io(path, e))?.len();
            if (size as usize) < len {
                return Err(Error::Corruption {
                    path: path.to_path_buf(),
                    offset: size,
                    seq: None,
                    reason: "segment is shorter than its committed range".into(),
                });
            }
            // SAFETY: mapping a regular file read-only; the pointer is checked for MAP_FAILED and
            // unmapped exactly once in Drop. Segments are only appended to while mapped (one writer per
            // directory; recovery truncation never cuts below committed data).
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len.max(1),
                    libc::PROT_READ,
                    MAP_FLAGS,
                    f.as_raw_fd(),
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(Error::io(path, std::io::Error::last_os_error()));
            }
            Ok(Mapping {
                ptr: ptr as *const u8,
                len,
                owned: None,
            })
        }
        #[cfg(not(unix))]
        {
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let mut v = vec![0u8; len];
            let n = util::read_at(&f, &mut v, 0).map_err(|e| Error::io(path, e))?;
            v.truncate(n);
            Ok(Mapping {
                ptr: v.as_ptr(),
                len: v.len(),
                owned: Some(v),
            })
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr/len describe a live mapping (or the owned Vec) for the lifetime of self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Pointer to the first byte (for handing the bytes to JS as an external buffer).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.owned.is_none() {
            // SAFETY: ptr/len came from a successful mmap and are unmapped once.
            unsafe {
                libc::munmap(self.ptr as *mut libc::c_void, self.len.max(1));
            }
        }
    }
}

/// Zero-copy replay result: record i's payload is `maps[map_of[i]][starts[i]..ends[i]]`.
#[derive(Default)]
pub struct MappedBatch {
    pub maps: Vec<Arc<Mapping>>,
    pub map_of: Vec<u32>,
    pub starts: Vec<u32>,
    pub ends: Vec<u32>,
    pub seqs: Vec<u64>,
    pub timestamps: Vec<i64>,
    pub types: Vec<u16>,
    /// `ascii[i]` is 1 when record i's payload is all ASCII (see [`ReplayBatch::ascii`]).
    pub ascii: Vec<u8>,
}

impl MappedBatch {
    pub fn len(&self) -> usize {
        self.seqs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
    pub fn payload(&self, i: usize) -> &[u8] {
        &self.maps[self.map_of[i] as usize].as_slice()
            [self.starts[i] as usize..self.ends[i] as usize]
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one segment's read position, the replay window and the output; a struct would only rename them"
)]
fn map_range(
    map: &Mapping,
    path: &Path,
    off: u64,
    mut seq: u64,
    start: u64,
    limit: usize,
    max_record: u32,
    map_index: u32,
    out: &mut MappedBatch,
) -> Result<u64> {
    let rollback = out.seqs.len();
    let data = map.as_slice();
    let mut off = off as usize;
    let res = (|| {
        while off < data.len() && out.seqs.len() < limit {
            let h = committed_record(
                parse_record(data, off, Some(seq), max_record),
                path,
                off as u64,
                seq,
            )?;
            if h.seq >= start {
                let s = u32::try_from(off + REC_HEADER)
                    .map_err(|_| Error::InvalidArg("segment over 4 GiB".into()))?;
                let e = u32::try_from(off + h.len)
                    .map_err(|_| Error::InvalidArg("segment over 4 GiB".into()))?;
                out.map_of.push(map_index);
                out.ascii
                    .push(u8::from(data[s as usize..e as usize].is_ascii()));
                out.starts.push(s);
                out.ends.push(e);
                out.seqs.push(h.seq);
                out.timestamps.push(h.ts);
                out.types.push(h.typ);
            }
            off += h.len;
            seq += 1;
        }
        Ok(seq)
    })();
    if res.is_err() {
        out.map_of.truncate(rollback);
        out.starts.truncate(rollback);
        out.ends.truncate(rollback);
        out.seqs.truncate(rollback);
        out.timestamps.truncate(rollback);
        out.types.truncate(rollback);
        out.ascii.truncate(rollback);
    }
    res
}

/// A record inside a segment's committed range must parse: an end marker or a bad record there
/// is corruption at `offset` (the record expected to carry `seq`).
fn committed_record(parsed: Parsed, path: &Path, offset: u64, seq: u64) -> Result<RecHdr> {
    let reason = match parsed {
        Parsed::Ok(h) => return Ok(h),
        Parsed::End => "zero length inside the committed range".into(),
        Parsed::Bad(reason) => reason,
    };
    Err(Error::Corruption {
        path: path.to_path_buf(),
        offset,
        seq: Some(seq),
        reason,
    })
}

/// The data of a sealed segment must end exactly at the index's end offset.
fn index_end_matches(path: &Path, end: u64) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut b = [0u8; 4];
    match util::read_at(&f, &mut b, end) {
        Ok(n) if n < 4 => true,
        Ok(_) => u32::from_le_bytes(b) == 0,
        Err(_) => false,
    }
}

fn load_or_rebuild_index(path: &Path, base: u64, max_record: u32) -> Result<SegIndex> {
    let idx_path = path.with_extension("idx");
    if let Ok(b) = fs::read(&idx_path)
        && let Some(idx) = decode_index(&b)
        && idx
            .entries
            .first()
            .is_some_and(|e| e.0 == base && e.1 == SEG_HEADER)
        && index_end_matches(path, idx.end)
    {
        return Ok(idx);
    }
    let buf = read_whole(path)?;
    let scan = scan_segment(&buf, base, max_record, |_, _| {});
    if let Some(reason) = scan.stop {
        return Err(Error::Corruption {
            path: path.to_path_buf(),
            offset: scan.end as u64,
            seq: Some(scan.next_seq),
            reason,
        });
    }
    Ok(SegIndex {
        entries: scan.index,
        last_seq: scan.next_seq - 1,
        end: scan.end as u64,
    })
}
