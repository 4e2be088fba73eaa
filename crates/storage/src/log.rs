//! Segmented, CRC32C-checked, append-only event log (format: docs/storage.md §2).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::lock::DirLock;
use crate::util::{self, crc32c, crc32c_append, le_i64, le_u32, le_u64};

pub const SEG_MAGIC: [u8; 8] = *b"KU0LOG\x00\x01";
pub const IDX_MAGIC: [u8; 8] = *b"KU0LIDX1";
pub const FLOOR_MAGIC: [u8; 8] = *b"KU0FLOOR";
pub const HWM_MAGIC: [u8; 8] = *b"KU0HWM01";
pub const SEG_HEADER: u64 = 32;
pub const REC_HEADER: usize = 40;
pub const INDEX_INTERVAL: u64 = 16 * 1024;
pub const FORMAT_VERSION: u32 = 1;

/// Record type of a JSON `TaskGraphEvent`.
pub const TYPE_JSON: u16 = 1;
/// Record type of opaque bytes (the runtime seam's `appendEvent`).
pub const TYPE_BYTES: u16 = 2;

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

/// Replayed records in bulk: all payloads concatenated plus per-record tables.
#[derive(Debug, Default, Clone)]
pub struct ReplayBatch {
    pub data: Vec<u8>,
    /// `offsets[i]..offsets[i+1]` is record i's payload in `data` (len = n + 1).
    pub offsets: Vec<u32>,
    pub seqs: Vec<u64>,
    pub timestamps: Vec<i64>,
    pub types: Vec<u16>,
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

pub fn segment_name(base: u64) -> String {
    format!("{base:020}.log")
}

fn index_name(base: u64) -> String {
    format!("{base:020}.idx")
}

fn parse_segment_name(name: &str) -> Option<u64> {
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

#[derive(Clone)]
struct SealedSeg {
    base: u64,
    path: PathBuf,
    index: Option<Arc<SegIndex>>,
}

#[derive(Debug)]
struct SegIndex {
    entries: Vec<(u64, u64)>,
    last_seq: u64,
    end: u64,
}

fn encode_index(idx: &SegIndex) -> Vec<u8> {
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
#[allow(clippy::type_complexity)]
pub fn decode_index_file(b: &[u8]) -> Option<(Vec<(u64, u64)>, u64, u64)> {
    decode_index(b).map(|i| (i.entries, i.last_seq, i.end))
}

fn decode_index(b: &[u8]) -> Option<SegIndex> {
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

struct Writer {
    file: Arc<File>,
    base: u64,
    path: PathBuf,
    offset: u64,
    next_seq: u64,
    index: Vec<(u64, u64)>,
    last_index_off: u64,
    buf: Vec<u8>,
    sealed: Vec<SealedSeg>,
    floor: u64,
    closed: bool,
    lock: Option<DirLock>,
}

/// Called once with the outcome of a [`EventLog::flush_notify`] request.
pub type FlushCallback = Box<dyn FnOnce(Result<()>) + Send>;

struct SyncState {
    written: u64,
    failed: Option<String>,
    closing: bool,
    flusher_waiting: bool,
    waiters: Vec<(u64, FlushCallback)>,
}

struct Shared {
    dir: PathBuf,
    opts: LogOptions,
    writer: Mutex<Writer>,
    state: Mutex<SyncState>,
    cv: Condvar,
    durable: AtomicU64,
    failed: AtomicBool,
}

/// The event log. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct EventLog {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

fn lock_poisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_whole(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
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

fn read_floor(dir: &Path) -> Result<u64> {
    let path = dir.join("FLOOR");
    match fs::read(&path) {
        Ok(b) => {
            if b.len() != 20 || b[0..8] != FLOOR_MAGIC || crc32c(&b[0..16]) != le_u32(&b, 16) {
                return Err(Error::Corruption {
                    path,
                    offset: 0,
                    seq: None,
                    reason: "FLOOR file is malformed or fails its CRC".into(),
                });
            }
            Ok(le_u64(&b, 8))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn read_hwm(dir: &Path) -> Result<u64> {
    let path = dir.join("HWM");
    match fs::read(&path) {
        Ok(b) => {
            if b.len() != 20 || b[0..8] != HWM_MAGIC || crc32c(&b[0..16]) != le_u32(&b, 16) {
                return Err(Error::Corruption {
                    path,
                    offset: 0,
                    seq: None,
                    reason: "HWM file is malformed or fails its CRC".into(),
                });
            }
            Ok(le_u64(&b, 8))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn write_hwm(dir: &Path, seq: u64) -> Result<()> {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&HWM_MAGIC);
    b.extend_from_slice(&seq.to_le_bytes());
    let crc = crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    write_atomic(dir, "HWM", &b, true)
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

fn create_segment(dir: &Path, base: u64, opts: &LogOptions) -> Result<(File, PathBuf)> {
    let path = dir.join(segment_name(base));
    let tmp = dir.join(format!("{}.tmp", segment_name(base)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    util::write_all_at(&file, &encode_segment_header(base, util::now_ms()), 0)
        .map_err(|e| Error::io(&tmp, e))?;
    if opts.preallocate {
        util::preallocate(&file, opts.segment_size.max(SEG_HEADER))
            .map_err(|e| Error::io(&tmp, e))?;
    }
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    util::fsync_dir(dir)?;
    Ok((file, path))
}

/// Where a replay enters one segment of its plan.
enum SegmentEntry {
    /// The whole segment lies before the start: the next segment must begin at `next`.
    Skip { next: u64 },
    /// Read records from `offset`, whose first record has sequence id `seq`.
    ReadFrom { offset: u64, seq: u64 },
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
        return Ok(SegmentEntry::ReadFrom {
            offset: SEG_HEADER,
            seq: base,
        });
    };
    if i.last_seq < start && base < start {
        return Ok(SegmentEntry::Skip {
            next: i.last_seq + 1,
        });
    }
    if start <= base {
        return Ok(SegmentEntry::ReadFrom {
            offset: SEG_HEADER,
            seq: base,
        });
    }
    let p = i.entries.partition_point(|e| e.0 <= start);
    Ok(match p.checked_sub(1).and_then(|k| i.entries.get(k)) {
        Some(&(seq, offset)) => SegmentEntry::ReadFrom { offset, seq },
        None => SegmentEntry::ReadFrom {
            offset: SEG_HEADER,
            seq: base,
        },
    })
}

impl EventLog {
    /// Opens (creating if needed) the log in `dir`, recovering from a crash if necessary.
    pub fn open(dir: impl AsRef<Path>, opts: LogOptions) -> Result<EventLog> {
        let dir = dir.as_ref().to_path_buf();
        if opts.segment_size < SEG_HEADER + REC_HEADER as u64 {
            return Err(Error::InvalidArg("segmentSize is too small".into()));
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        // Remove leftovers of interrupted temp writes.
        for entry in fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
        {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".tmp"))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        let floor = read_floor(&dir)?;
        let mut segs = list_segments(&dir)?;
        for (base, path) in &segs {
            let mut h = [0u8; 32];
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let n = util::read_at(&f, &mut h, 0).map_err(|e| Error::io(path, e))?;
            check_segment_header(&h[..n], *base).map_err(|reason| Error::Corruption {
                path: path.clone(),
                offset: 0,
                seq: None,
                reason,
            })?;
        }
        if segs.is_empty() {
            let (_, path) = create_segment(&dir, floor.max(1), &opts)?;
            segs.push((floor.max(1), path));
        }
        let Some((base, path)) = segs.pop() else {
            return Err(Error::InvalidArg("no segment".into()));
        };
        // An index of the last segment is stale by definition (an interrupted roll may have written
        // it, and the segment grows again now): remove it durably before appending.
        let stale_idx = dir.join(index_name(base));
        if stale_idx.exists() {
            fs::remove_file(&stale_idx).map_err(|e| Error::io(&stale_idx, e))?;
            util::fsync_dir(&dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let buf = read_whole(&path)?;
        let scan = scan_segment(&buf, base, opts.max_record, |_, _| {});
        let hwm = read_hwm(&dir)?;
        if scan.stop.is_none() && scan.next_seq <= hwm {
            return Err(Error::Corruption {
                path,
                offset: scan.end as u64,
                seq: Some(scan.next_seq),
                reason: format!(
                    "the log ends before sequence id {hwm}, which a clean close had made durable"
                ),
            });
        }
        if let Some(reason) = &scan.stop {
            let k = scan.next_seq;
            let durable_claim = scan
                .max_durable
                .max(scan.resync.map(|r| r.2).unwrap_or(0))
                .max(hwm);
            if k <= durable_claim {
                return Err(Error::Corruption {
                    path,
                    offset: scan.end as u64,
                    seq: Some(k),
                    reason: format!(
                        "{reason}; the record had been made durable (durable mark {durable_claim})"
                    ),
                });
            }
            // Torn, never-durable tail: cut it off and zero-extend again.
            file.set_len(scan.end as u64)
                .map_err(|e| Error::io(&path, e))?;
            if opts.preallocate {
                util::preallocate(&file, opts.segment_size.max(scan.end as u64))
                    .map_err(|e| Error::io(&path, e))?;
            }
        }
        // Everything present is made durable now, so the durable mark starts at the tail.
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        drop(buf);
        let sealed = segs
            .into_iter()
            .map(|(base, path)| SealedSeg {
                base,
                path,
                index: None,
            })
            .collect();
        let last_index_off = scan.index.last().map(|e| e.1).unwrap_or(0);
        let next_seq = scan.next_seq;
        let writer = Writer {
            file: Arc::new(file),
            base,
            path,
            offset: scan.end as u64,
            next_seq,
            index: scan.index,
            last_index_off,
            buf: Vec::with_capacity(4096),
            sealed,
            floor,
            closed: false,
            lock: Some(lock),
        };
        let shared = Arc::new(Shared {
            dir,
            opts: opts.clone(),
            writer: Mutex::new(writer),
            state: Mutex::new(SyncState {
                written: next_seq - 1,
                failed: None,
                closing: false,
                flusher_waiting: false,
                waiters: Vec::new(),
            }),
            cv: Condvar::new(),
            durable: AtomicU64::new(next_seq - 1),
            failed: AtomicBool::new(false),
        });
        let flusher = if opts.durability == Durability::Group {
            let s = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("ku0-storage-flusher".into())
                    .spawn(move || flusher_loop(&s))
                    .map_err(|e| Error::io(&shared.dir, e))?,
            )
        } else {
            None
        };
        Ok(EventLog {
            shared,
            flusher: Mutex::new(flusher),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn durability(&self) -> Durability {
        self.shared.opts.durability
    }

    /// Next sequence id to be assigned.
    pub fn next_seq(&self) -> u64 {
        lock_poisoned(&self.shared.writer).next_seq
    }

    /// Highest sequence id known durable.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    pub fn failed(&self) -> Option<String> {
        lock_poisoned(&self.shared.state).failed.clone()
    }

    fn check_failed(&self) -> Result<()> {
        if self.shared.failed.load(Ordering::Acquire) {
            let msg = lock_poisoned(&self.shared.state)
                .failed
                .clone()
                .unwrap_or_default();
            return Err(Error::Failed(msg));
        }
        Ok(())
    }

    /// Appends one record and returns its sequence id (see [`Durability`] for when it is durable).
    pub fn append(&self, typ: u16, payload: &[u8]) -> Result<u64> {
        self.append_at(typ, util::now_ms(), payload)
    }

    pub fn append_at(&self, typ: u16, ts: i64, payload: &[u8]) -> Result<u64> {
        let sh = &*self.shared;
        if payload.len() > sh.opts.max_record as usize {
            return Err(Error::TooLarge {
                size: payload.len() as u64,
                max: u64::from(sh.opts.max_record),
            });
        }
        let mut w = lock_poisoned(&sh.writer);
        if w.closed {
            return Err(Error::Closed);
        }
        self.check_failed()?;
        let rec_len = (REC_HEADER + payload.len()) as u64;
        if w.offset > SEG_HEADER && w.offset + rec_len > sh.opts.segment_size {
            self.roll(&mut w)?;
        }
        let seq = w.next_seq;
        let durable = sh.durable.load(Ordering::Acquire);
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        encode_record(&mut buf, seq, ts, typ, durable, payload);
        let res = util::write_all_at(&w.file, &buf, w.offset);
        w.buf = buf;
        if let Err(e) = res {
            return Err(self.fail(format!("write to {} failed: {e}", w.path.display())));
        }
        let off = w.offset;
        if w.index.is_empty() || off - w.last_index_off >= INDEX_INTERVAL {
            w.index.push((seq, off));
            w.last_index_off = off;
        }
        w.offset += rec_len;
        w.next_seq += 1;
        match sh.opts.durability {
            Durability::Process => {}
            Durability::Group => {
                let mut st = lock_poisoned(&sh.state);
                st.written = seq;
                if st.flusher_waiting {
                    sh.cv.notify_all();
                }
            }
            Durability::Sync => {
                if let Err(e) = w.file.sync_data() {
                    return Err(self.fail(format!("fdatasync of {} failed: {e}", w.path.display())));
                }
                sh.durable.store(seq, Ordering::Release);
                lock_poisoned(&sh.state).written = seq;
            }
        }
        Ok(seq)
    }

    fn fail(&self, msg: String) -> Error {
        let sh = &*self.shared;
        let mut st = lock_poisoned(&sh.state);
        if st.failed.is_none() {
            st.failed = Some(msg.clone());
        }
        sh.failed.store(true, Ordering::Release);
        sh.cv.notify_all();
        let m = st.failed.clone().unwrap_or(msg);
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        for (_, cb) in waiters {
            cb(Err(Error::Failed(m.clone())));
        }
        Error::Failed(m)
    }

    /// Non-blocking flush: `cb` runs (on the flusher thread, or inline) once everything appended
    /// before the call is durable, or with the error that prevents it. In `process` and `sync`
    /// mode it runs inline after [`EventLog::flush`].
    pub fn flush_notify(&self, cb: FlushCallback) {
        let sh = &*self.shared;
        if sh.opts.durability != Durability::Group {
            cb(self.flush());
            return;
        }
        let mut st = lock_poisoned(&sh.state);
        if let Some(f) = &st.failed {
            let e = Error::Failed(f.clone());
            drop(st);
            cb(Err(e));
            return;
        }
        let target = st.written;
        if sh.durable.load(Ordering::Acquire) >= target {
            drop(st);
            cb(Ok(()));
            return;
        }
        if st.closing {
            drop(st);
            cb(Err(Error::Closed));
            return;
        }
        st.waiters.push((target, cb));
        sh.cv.notify_all();
    }

    /// Seals the active segment and opens the next one. Caller holds the writer lock.
    fn roll(&self, w: &mut Writer) -> Result<()> {
        let sh = &*self.shared;
        if let Err(e) = w.file.sync_data() {
            return Err(self.fail(format!("fdatasync of {} failed: {e}", w.path.display())));
        }
        let last = w.next_seq - 1;
        sh.durable.fetch_max(last, Ordering::AcqRel);
        let idx = Arc::new(SegIndex {
            entries: std::mem::take(&mut w.index),
            last_seq: last,
            end: w.offset,
        });
        // The index is an optimisation (rebuildable), so a failure to write it is not fatal.
        let _ = write_atomic(&sh.dir, &index_name(w.base), &encode_index(&idx), false);
        let (file, path) = match create_segment(&sh.dir, w.next_seq, &sh.opts) {
            Ok(v) => v,
            Err(e) => return Err(self.fail(format!("creating the next segment failed: {e}"))),
        };
        let old_path = std::mem::replace(&mut w.path, path);
        w.sealed.push(SealedSeg {
            base: w.base,
            path: old_path,
            index: Some(idx),
        });
        w.file = Arc::new(file);
        w.base = w.next_seq;
        w.offset = SEG_HEADER;
        w.last_index_off = 0;
        Ok(())
    }

    /// Waits until everything appended before the call is durable.
    pub fn flush(&self) -> Result<()> {
        let sh = &*self.shared;
        match sh.opts.durability {
            Durability::Group => {
                let mut st = lock_poisoned(&sh.state);
                let target = st.written;
                sh.cv.notify_all();
                loop {
                    if let Some(f) = &st.failed {
                        return Err(Error::Failed(f.clone()));
                    }
                    if sh.durable.load(Ordering::Acquire) >= target {
                        return Ok(());
                    }
                    if st.closing && self.flusher_gone() {
                        return Err(Error::Closed);
                    }
                    st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            }
            Durability::Process | Durability::Sync => {
                let w = lock_poisoned(&sh.writer);
                self.check_failed()?;
                if w.closed {
                    return Ok(());
                }
                let target = w.next_seq - 1;
                if sh.durable.load(Ordering::Acquire) >= target {
                    return Ok(());
                }
                if let Err(e) = w.file.sync_data() {
                    return Err(self.fail(format!("fdatasync of {} failed: {e}", w.path.display())));
                }
                sh.durable.fetch_max(target, Ordering::AcqRel);
                Ok(())
            }
        }
    }

    fn flusher_gone(&self) -> bool {
        lock_poisoned(&self.flusher)
            .as_ref()
            .is_none_or(|h| h.is_finished())
    }

    /// Flushes, stops the flusher and releases the directory lock. Idempotent.
    pub fn close(&self) -> Result<()> {
        let sh = &*self.shared;
        let flush_res = if self.failed().is_none() {
            self.flush()
        } else {
            Ok(())
        };
        {
            let mut st = lock_poisoned(&sh.state);
            st.closing = true;
            sh.cv.notify_all();
        }
        if let Some(h) = lock_poisoned(&self.flusher).take() {
            let _ = h.join();
        }
        let leftover = std::mem::take(&mut lock_poisoned(&sh.state).waiters);
        for (target, cb) in leftover {
            if sh.durable.load(Ordering::Acquire) >= target {
                cb(Ok(()));
            } else {
                cb(Err(Error::Closed));
            }
        }
        let mut w = lock_poisoned(&sh.writer);
        if !w.closed {
            w.closed = true;
            if self.failed().is_none() {
                let last = w.next_seq - 1;
                if let Err(e) = w.file.sync_data() {
                    drop(w);
                    return Err(self.fail(format!("fdatasync at close failed: {e}")));
                }
                sh.durable.fetch_max(last, Ordering::AcqRel);
                // Record the durable high-water mark so that recovery never mistakes damage to
                // cleanly-closed records for a torn tail.
                write_hwm(&sh.dir, last)?;
            }
            if let Some(mut l) = w.lock.take() {
                l.release();
            }
        }
        flush_res.map(|_| ())
    }

    /// Snapshot of the segments a replay from `from` reads (and the effective start id).
    #[allow(clippy::type_complexity)]
    fn plan(
        &self,
        from: u64,
    ) -> Result<Option<(Vec<(u64, PathBuf, u64, Option<Arc<SegIndex>>)>, u64)>> {
        let sh = &*self.shared;
        let mut w = lock_poisoned(&sh.writer);
        let start = from.max(w.floor);
        if start >= w.next_seq {
            return Ok(None);
        }
        let mut plan: Vec<(u64, PathBuf, u64, Option<Arc<SegIndex>>)> = Vec::new();
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
            plan.push((s.base, s.path.clone(), end, idx));
        }
        let active_idx = Arc::new(SegIndex {
            entries: w.index.clone(),
            last_seq: w.next_seq - 1,
            end: w.offset,
        });
        plan.push((w.base, w.path.clone(), w.offset, Some(active_idx)));
        Ok(Some((plan, start)))
    }

    /// Like [`EventLog::replay`] but without copying: each touched segment is memory-mapped (read
    /// from the page cache) and records are returned as byte ranges into those mappings.
    pub fn replay_mapped(&self, from: u64, limit: Option<usize>) -> Result<MappedBatch> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = MappedBatch::default();
        if limit == 0 {
            return Ok(out);
        }
        let Some((plan, start)) = self.plan(from)? else {
            return Ok(out);
        };
        let max_record = self.shared.opts.max_record;
        let mut expected: Option<u64> = None;
        for (base, path, end, idx) in plan {
            if out.len() >= limit {
                break;
            }
            let (off, seq0) = match segment_entry(expected, base, &path, idx.as_deref(), start)? {
                SegmentEntry::Skip { next } => {
                    expected = Some(next);
                    continue;
                }
                SegmentEntry::ReadFrom { offset, seq } => (offset, seq),
            };
            let map = Arc::new(Mapping::map(&path, end)?);
            let map_index = out.maps.len() as u32;
            let next = map_range(
                &map, &path, off, seq0, start, limit, max_record, map_index, &mut out,
            )
            .or_else(|e| {
                if off != SEG_HEADER {
                    map_range(
                        &map, &path, SEG_HEADER, base, start, limit, max_record, map_index,
                        &mut out,
                    )
                } else {
                    Err(e)
                }
            })?;
            if out.map_of.last().is_some_and(|&m| m == map_index) {
                out.maps.push(map);
            }
            expected = Some(next);
        }
        Ok(out)
    }

    /// Returns up to `limit` records with sequence id >= `from` (and >= the prune floor).
    pub fn replay(&self, from: u64, limit: Option<usize>) -> Result<ReplayBatch> {
        let sh = &*self.shared;
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = ReplayBatch {
            offsets: vec![0],
            ..Default::default()
        };
        if limit == 0 {
            return Ok(out);
        }
        let Some((plan, start)) = self.plan(from)? else {
            return Ok(out);
        };
        let mut expected: Option<u64> = None;
        for (base, path, end, idx) in plan {
            if out.len() >= limit {
                break;
            }
            let (off, seq0) = match segment_entry(expected, base, &path, idx.as_deref(), start)? {
                SegmentEntry::Skip { next } => {
                    expected = Some(next);
                    continue;
                }
                SegmentEntry::ReadFrom { offset, seq } => (offset, seq),
            };
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let next = read_range(
                &file,
                &path,
                off,
                end,
                seq0,
                start,
                limit,
                sh.opts.max_record,
                &mut out,
            )
            .or_else(|e| {
                if off != SEG_HEADER {
                    // A stale sparse index: fall back to scanning the segment from its start.
                    out.truncate_to_valid();
                    read_range(
                        &file,
                        &path,
                        SEG_HEADER,
                        end,
                        base,
                        start,
                        limit,
                        sh.opts.max_record,
                        &mut out,
                    )
                } else {
                    Err(e)
                }
            })?;
            expected = Some(next);
        }
        Ok(out)
    }

    /// Logically deletes every record with sequence id < `before`; deletes whole segments below it.
    pub fn prune(&self, before: u64) -> Result<u64> {
        let sh = &*self.shared;
        let mut w = lock_poisoned(&sh.writer);
        if w.closed {
            return Err(Error::Closed);
        }
        let new_floor = before.min(w.next_seq);
        if new_floor <= w.floor {
            return Ok(0);
        }
        let first_present = w.sealed.first().map(|s| s.base).unwrap_or(w.base);
        let first_live = w.floor.max(first_present);
        let removed = new_floor.saturating_sub(first_live);
        let mut floor_buf = Vec::with_capacity(20);
        floor_buf.extend_from_slice(&FLOOR_MAGIC);
        floor_buf.extend_from_slice(&new_floor.to_le_bytes());
        let crc = crc32c(&floor_buf);
        floor_buf.extend_from_slice(&crc.to_le_bytes());
        write_atomic(&sh.dir, "FLOOR", &floor_buf, true)?;
        w.floor = new_floor;
        let mut keep_from = 0;
        for i in 0..w.sealed.len() {
            let next_base = w.sealed.get(i + 1).map(|s| s.base).unwrap_or(w.base);
            if next_base <= new_floor {
                let s = &w.sealed[i];
                fs::remove_file(&s.path).map_err(|e| Error::io(&s.path, e))?;
                let _ = fs::remove_file(sh.dir.join(index_name(s.base)));
                keep_from = i + 1;
            } else {
                break;
            }
        }
        if keep_from > 0 {
            w.sealed.drain(0..keep_from);
            util::fsync_dir(&sh.dir)?;
        }
        Ok(removed)
    }

    /// Test hook: simulate an fsync failure (puts the log into the failed state).
    #[doc(hidden)]
    pub fn inject_failure(&self, msg: &str) {
        let _ = self.fail(msg.to_string());
    }
}

impl ReplayBatch {
    fn truncate_to_valid(&mut self) {
        // Called only before any record of the failing segment was kept: nothing to undo beyond
        // what read_range already rolled back.
    }
}

#[cfg(target_os = "linux")]
const MAP_FLAGS: libc::c_int = libc::MAP_SHARED | libc::MAP_POPULATE;
#[cfg(all(unix, not(target_os = "linux")))]
const MAP_FLAGS: libc::c_int = libc::MAP_SHARED;

/// A read-only view of the first `len` bytes of a segment: an mmap on unix, a heap copy elsewhere.
pub struct Mapping {
    ptr: *const u8,
    len: usize,
    #[allow(dead_code)]
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

#[allow(clippy::too_many_arguments)]
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
            match parse_record(data, off, Some(seq), max_record) {
                Parsed::Ok(h) => {
                    if h.seq >= start {
                        let s = u32::try_from(off + REC_HEADER)
                            .map_err(|_| Error::InvalidArg("segment over 4 GiB".into()))?;
                        let e = u32::try_from(off + h.len)
                            .map_err(|_| Error::InvalidArg("segment over 4 GiB".into()))?;
                        out.map_of.push(map_index);
                        out.starts.push(s);
                        out.ends.push(e);
                        out.seqs.push(h.seq);
                        out.timestamps.push(h.ts);
                        out.types.push(h.typ);
                    }
                    off += h.len;
                    seq += 1;
                }
                Parsed::End => {
                    return Err(Error::Corruption {
                        path: path.to_path_buf(),
                        offset: off as u64,
                        seq: Some(seq),
                        reason: "zero length inside the committed range".into(),
                    });
                }
                Parsed::Bad(reason) => {
                    return Err(Error::Corruption {
                        path: path.to_path_buf(),
                        offset: off as u64,
                        seq: Some(seq),
                        reason,
                    });
                }
            }
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
    }
    res
}

/// Reads records `[off, end)` of one segment into `out`: the raw bytes are read straight into
/// `out.data` (one copy from the page cache), validated, and the payloads compacted in place.
#[allow(clippy::too_many_arguments)]
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
        // Small limits read small chunks; whole replays read large ones.
        let mut chunk: u64 = if limit < 1024 { 64 * 1024 } else { 16 << 20 };
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
                let h = match parse_record(&out.data[r..], 0, Some(seq), max_record) {
                    Parsed::Ok(h) => h,
                    Parsed::End => {
                        return Err(Error::Corruption {
                            path: path.to_path_buf(),
                            offset: file_pos,
                            seq: Some(seq),
                            reason: "zero length inside the committed range".into(),
                        });
                    }
                    Parsed::Bad(reason) => {
                        return Err(Error::Corruption {
                            path: path.to_path_buf(),
                            offset: file_pos,
                            seq: Some(seq),
                            reason,
                        });
                    }
                };
                if h.seq >= start {
                    let plen = h.len - REC_HEADER;
                    out.data.copy_within(r + REC_HEADER..r + h.len, w);
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
    }
    res
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

fn flusher_loop(sh: &Shared) {
    loop {
        {
            let mut st = lock_poisoned(&sh.state);
            loop {
                if st.failed.is_some() {
                    return;
                }
                if st.written > sh.durable.load(Ordering::Acquire) {
                    break;
                }
                if st.closing {
                    return;
                }
                st.flusher_waiting = true;
                st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                st.flusher_waiting = false;
            }
        }
        if !sh.opts.group_delay.is_zero() {
            // Let concurrent appenders that are about to write join this fdatasync.
            std::thread::sleep(sh.opts.group_delay);
        }
        let (target, file, path) = {
            let w = lock_poisoned(&sh.writer);
            (w.next_seq - 1, Arc::clone(&w.file), w.path.clone())
        };
        let res = file.sync_data();
        let mut st = lock_poisoned(&sh.state);
        let mut done: Vec<(FlushCallback, Result<()>)> = Vec::new();
        match res {
            Ok(()) => {
                sh.durable.fetch_max(target, Ordering::AcqRel);
                let durable = sh.durable.load(Ordering::Acquire);
                let (ready, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut st.waiters)
                    .into_iter()
                    .partition(|(t, _)| *t <= durable);
                st.waiters = rest;
                done.extend(ready.into_iter().map(|(_, cb)| (cb, Ok(()))));
            }
            Err(e) => {
                if st.failed.is_none() {
                    st.failed = Some(format!("fdatasync of {} failed: {e}", path.display()));
                }
                sh.failed.store(true, Ordering::Release);
                let m = st.failed.clone().unwrap_or_default();
                done.extend(
                    std::mem::take(&mut st.waiters)
                        .into_iter()
                        .map(|(_, cb)| (cb, Err(Error::Failed(m.clone())))),
                );
            }
        }
        sh.cv.notify_all();
        drop(st);
        for (cb, r) in done {
            cb(r);
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

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
    match read_floor(dir) {
        Ok(f) => rep.floor = f,
        Err(e) => rep.problems.push(e.to_string()),
    }
    let hwm = match read_hwm(dir) {
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
            || name == "FLOOR"
            || name == "HWM"
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
