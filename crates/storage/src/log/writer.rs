//! The writing side of the log: [`EventLog::open`] (lock, recovery of a torn tail), append with
//! its three durability modes, the group-commit flusher thread, segment rolls, close (which leaves
//! the HWM marker) and prune (which moves the FLOOR marker).
//!
//! Group commit: the flusher thread sleeps until something is written. A flush request
//! ([`EventLog::flush`], [`EventLog::flush_notify`]) is a "kick": the flusher starts its fdatasync
//! at once, covering everything written so far (requests that arrive while one is in flight share
//! the next one). Appends that nobody flushes are made durable after at most `group_delay` (a
//! timed wait that a kick cuts short), so appenders that are about to write join that batch.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use super::format::{
    INDEX_INTERVAL, REC_HEADER, SEG_HEADER, SegIndex, check_segment_header, encode_index,
    encode_record, encode_segment_header, index_name, list_segments, read_whole, scan_segment,
    segment_name,
};
use super::markers::{Marker, write_atomic};
use super::{Durability, LogOptions};
use crate::error::{Error, Result};
use crate::lock::DirLock;
use crate::util;

/// The event log. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct EventLog {
    pub(super) shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
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
        let floor = Marker::Floor.read(&dir)?;
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
        let hwm = Marker::Hwm.read(&dir)?;
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
            file: Some(Arc::new(file)),
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
                kick: false,
                waiters: Vec::new(),
            }),
            cv: Condvar::new(),
            durable: AtomicU64::new(next_seq - 1),
            failed: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
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
        let res = util::write_all_at(w.active()?, &buf, w.offset);
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
                if let Err(e) = sh.datasync(w.active()?) {
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
    /// mode it runs inline after [`EventLog::flush`]. In `group` mode the request kicks the
    /// flusher: its fdatasync starts at once (no `group_delay` wait), or right after the one in
    /// flight, and covers everything written by then.
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
        st.kick = true;
        sh.cv.notify_all();
    }

    /// Seals the active segment and opens the next one. Caller holds the writer lock.
    fn roll(&self, w: &mut Writer) -> Result<()> {
        let sh = &*self.shared;
        if let Err(e) = sh.datasync(w.active()?) {
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
        w.file = Some(Arc::new(file));
        w.base = w.next_seq;
        w.offset = SEG_HEADER;
        w.last_index_off = 0;
        Ok(())
    }

    /// Waits until everything appended before the call is durable. In `group` mode this kicks the
    /// flusher as [`EventLog::flush_notify`] does.
    pub fn flush(&self) -> Result<()> {
        let sh = &*self.shared;
        match sh.opts.durability {
            Durability::Group => {
                let mut st = lock_poisoned(&sh.state);
                let target = st.written;
                if sh.durable.load(Ordering::Acquire) < target {
                    st.kick = true;
                }
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
                if let Err(e) = sh.datasync(w.active()?) {
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

    /// Flushes, stops the flusher, closes the active segment and releases the directory lock.
    /// Idempotent. After it returns the log holds no file handle in its directory (the flusher
    /// thread, which borrows the segment's handle for each fdatasync, has been joined), so the
    /// directory can be removed even on Windows, where an open handle blocks that, while the
    /// `EventLog` value itself is still alive (e.g. waiting for a JS garbage collection). Replays
    /// open segments only for the duration of the call; a [`MappedBatch`](super::MappedBatch)
    /// still held by the caller keeps its own mapping (an mmap on Unix, which does not block
    /// removal there; a heap copy elsewhere).
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
                // Close the segment whatever happens below: a failed close must not leave the
                // handle open either.
                let file = w.file.take();
                if let Some(Err(e)) = file.as_ref().map(|f| sh.datasync(f)) {
                    drop(file);
                    w.release_lock();
                    drop(w);
                    return Err(self.fail(format!("fdatasync at close failed: {e}")));
                }
                drop(file);
                sh.durable.fetch_max(last, Ordering::AcqRel);
                // Record the durable high-water mark so that recovery never mistakes damage to
                // cleanly-closed records for a torn tail.
                let hwm = Marker::Hwm.write(&sh.dir, last);
                w.release_lock();
                hwm?;
            }
            w.file = None;
            w.release_lock();
        }
        flush_res.map(|_| ())
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
        Marker::Floor.write(&sh.dir, new_floor)?;
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

    /// Test hook: how many fdatasyncs of a segment this log has issued for its records since it
    /// was opened (appends in `sync` mode, flushes, the group flusher, rolls, close).
    #[doc(hidden)]
    pub fn sync_count(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }
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
                // Nothing to sync: a kick left over from a request the last batch covered.
                st.kick = false;
                if st.closing {
                    return;
                }
                st.flusher_waiting = true;
                st = sh.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                st.flusher_waiting = false;
            }
            // Unflushed appends: let appenders that are about to write join this fdatasync, for
            // at most `group_delay`; a flush request (kick), close or failure ends the wait early.
            if !st.kick && !sh.opts.group_delay.is_zero() {
                // A delay too long for the clock has no deadline: only a kick ends the wait.
                let deadline = Instant::now().checked_add(sh.opts.group_delay);
                while !st.kick && !st.closing && st.failed.is_none() {
                    let left = match deadline {
                        Some(d) => match d.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => left,
                            _ => break,
                        },
                        None => sh.opts.group_delay,
                    };
                    st = sh
                        .cv
                        .wait_timeout(st, left)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                if st.failed.is_some() {
                    return;
                }
            }
            // The fdatasync below covers every request made so far (each one's target is at
            // most what the writer holds when the target is read below).
            st.kick = false;
        }
        let (target, file, path) = {
            let w = lock_poisoned(&sh.writer);
            // `None` only once close() has closed the segment (it joins this thread first, so
            // only a second, concurrent close gets here): nothing left to make durable.
            let Some(file) = w.file.clone() else {
                return;
            };
            (w.next_seq - 1, file, w.path.clone())
        };
        let res = sh.datasync(&file);
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

/// A sealed (read-only) segment; its sparse index is loaded on first replay.
#[derive(Clone)]
pub(super) struct SealedSeg {
    pub(super) base: u64,
    pub(super) path: PathBuf,
    pub(super) index: Option<Arc<SegIndex>>,
}

pub(super) struct Writer {
    /// The active segment, open for writing; `None` after close (which closes it). Shared with the
    /// flusher thread for the length of one fdatasync.
    pub(super) file: Option<Arc<File>>,
    pub(super) base: u64,
    pub(super) path: PathBuf,
    pub(super) offset: u64,
    pub(super) next_seq: u64,
    pub(super) index: Vec<(u64, u64)>,
    pub(super) last_index_off: u64,
    pub(super) buf: Vec<u8>,
    pub(super) sealed: Vec<SealedSeg>,
    pub(super) floor: u64,
    pub(super) closed: bool,
    pub(super) lock: Option<DirLock>,
}

impl Writer {
    /// The active segment's file, or [`Error::Closed`] once close() has closed it.
    fn active(&self) -> Result<&File> {
        self.file.as_deref().ok_or(Error::Closed)
    }

    fn release_lock(&mut self) {
        if let Some(mut l) = self.lock.take() {
            l.release();
        }
    }
}

/// Called once with the outcome of a [`EventLog::flush_notify`] request.
pub type FlushCallback = Box<dyn FnOnce(Result<()>) + Send>;

pub(super) struct SyncState {
    pub(super) written: u64,
    pub(super) failed: Option<String>,
    pub(super) closing: bool,
    pub(super) flusher_waiting: bool,
    /// A flush is waiting: the flusher syncs at once instead of waiting out `group_delay`.
    pub(super) kick: bool,
    pub(super) waiters: Vec<(u64, FlushCallback)>,
}

pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) opts: LogOptions,
    pub(super) writer: Mutex<Writer>,
    pub(super) state: Mutex<SyncState>,
    pub(super) cv: Condvar,
    pub(super) durable: AtomicU64,
    pub(super) failed: AtomicBool,
    /// fdatasyncs issued (the `sync_count` test hook).
    pub(super) syncs: AtomicU64,
}

impl Shared {
    /// fdatasync of a segment, counted for [`EventLog::sync_count`].
    fn datasync(&self, f: &File) -> std::io::Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        f.sync_data()
    }
}

pub(super) fn lock_poisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
