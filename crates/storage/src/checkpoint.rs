//! Delta-encoded, zstd-compressed checkpoint store (format: docs/storage.md §3).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::lock::DirLock;
use crate::util::{self, crc32c, crc32c_append, le_f64, le_u32};

pub const CKPT_MAGIC: [u8; 8] = *b"KU0CKPT1";
pub const CKPT_HEADER: usize = 28;
pub const CODEC_STORED: u8 = 0;
pub const CODEC_ZSTD: u8 = 1;
pub const KIND_FULL: u8 = 0;
pub const KIND_DELTA: u8 = 1;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointMeta {
    pub id: String,
    pub agent_id: String,
    pub agent_type: String,
    pub task: String,
    pub status: String,
    pub created_at: f64,
    pub current_step: f64,
    pub max_steps: f64,
    pub has_error: bool,
}

/// Most base links a load follows before it reports the chain as corrupt (a cycle among damaged
/// files ends there too).
pub const MAX_LOAD_DEPTH: u32 = 64;

/// Largest `max_chain`: a chain reaches at most `2 × max_chain` links (deltas saved while a rebase
/// runs, §3.2), which a load must be able to follow.
pub const MAX_CHAIN: u32 = MAX_LOAD_DEPTH / 2;

#[derive(Clone, Debug)]
pub struct CheckpointOptions {
    /// Longest delta chain before a full snapshot is forced; at most [`MAX_CHAIN`] (a larger value
    /// is taken as [`MAX_CHAIN`]).
    pub max_chain: u32,
    /// Largest accepted checkpoint document.
    pub max_payload: usize,
    /// zstd level.
    pub level: i32,
    /// Write zstd (true) or stored (false) bodies.
    pub compress: bool,
    /// Delta-encode against the agent's previous checkpoint.
    pub delta: bool,
}

impl Default for CheckpointOptions {
    fn default() -> Self {
        CheckpointOptions {
            max_chain: 8,
            max_payload: 64 * 1024 * 1024,
            level: 1,
            compress: true,
            delta: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    CreatedAt,
    Status,
}

#[derive(Clone, Debug, Default)]
pub struct CheckpointFilter {
    pub statuses: Option<Vec<String>>,
    pub agent_type: Option<String>,
    pub created_after: Option<f64>,
    pub created_before: Option<f64>,
    pub limit: Option<usize>,
    pub sort_by: SortBy,
    /// Sort ascending (default: descending).
    pub ascending: bool,
}

#[derive(Clone, Debug)]
struct Entry {
    meta: CheckpointMeta,
    full_len: u32,
    full_crc: u32,
    chain: u32,
    base: Option<String>,
}

struct Inner {
    entries: HashMap<String, Entry>,
    damaged: HashMap<String, String>,
    dependents: HashMap<String, HashSet<String>>,
    latest: HashMap<String, String>,
    cache: HashMap<String, (String, Arc<Vec<u8>>)>,
    lock: Option<DirLock>,
    /// The checkpoint a background rebase is rewriting as a full snapshot, while it runs. A save
    /// may take it (or a delta on it) as its base beyond `max_chain`: the chain counts from it, as
    /// it will once the rebase lands (§3.2).
    rebasing: Option<String>,
}

/// The store's files and index, shared with its background rebase (docs/storage.md §3.2). Its
/// read-only methods are reached through [`CheckpointStore`] (`Deref`); every mutation goes through
/// [`CheckpointStore`]: deletes, prunes and close first wait for a running rebase, saves go on beside
/// it (§3.2).
pub struct StoreCore {
    dir: PathBuf,
    opts: CheckpointOptions,
    inner: Mutex<Inner>,
    tmp_counter: AtomicU64,
    /// A document buffer the cache let go of, handed to the next save ([`StoreCore::doc_buffer`]).
    spare: Mutex<Vec<u8>>,
}

/// Delta-encoded, zstd-compressed checkpoint store (format and guarantees: docs/storage.md §3).
pub struct CheckpointStore {
    core: Arc<StoreCore>,
    /// The background rebase started by the last save that made a chain `max_chain` long, if any,
    /// with its agent id.
    rebase: Mutex<Option<(String, JoinHandle<()>)>>,
}

impl Deref for CheckpointStore {
    type Target = StoreCore;
    fn deref(&self) -> &StoreCore {
        &self.core
    }
}

impl Drop for CheckpointStore {
    fn drop(&mut self) {
        self.settle();
    }
}

/// Validates a checkpoint id (docs/storage.md §3.4).
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > 200 {
        return bad("longer than 200 bytes");
    }
    if let Some(c) = id
        .chars()
        .find(|c| matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'))
    {
        return bad(&format!("contains the reserved character {c:?}"));
    }
    if id.chars().any(|c| c.is_control()) {
        return bad("contains NUL or a control character");
    }
    if id.contains("..") || id == "." {
        return bad("contains \"..\" or is \".\"");
    }
    if id.starts_with('.') {
        return bad("starts with \".\" (reserved for temporary files)");
    }
    if id.ends_with('.') || id.ends_with(' ') {
        return bad("ends with \".\" or a space");
    }
    let stem = id
        .split('.')
        .next()
        .unwrap_or(id)
        .trim_end()
        .to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit()
            && stem.as_bytes()[3] != b'0');
    if reserved {
        return bad("is a reserved Windows device name");
    }
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode_meta(
    m: &CheckpointMeta,
    full_len: u32,
    full_crc: u32,
    chain: u32,
    base: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + m.task.len());
    put_str(&mut out, &m.id);
    put_str(&mut out, &m.agent_id);
    put_str(&mut out, &m.agent_type);
    put_str(&mut out, &m.task);
    put_str(&mut out, &m.status);
    out.extend_from_slice(&m.created_at.to_le_bytes());
    out.extend_from_slice(&m.current_step.to_le_bytes());
    out.extend_from_slice(&m.max_steps.to_le_bytes());
    out.push(u8::from(m.has_error));
    out.extend_from_slice(&full_len.to_le_bytes());
    out.extend_from_slice(&full_crc.to_le_bytes());
    out.extend_from_slice(&chain.to_le_bytes());
    put_str(&mut out, base);
    out
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        if self.at + n > self.b.len() {
            return Err("meta truncated".into());
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(le_u32(self.take(4)?, 0))
    }
    fn f64(&mut self) -> std::result::Result<f64, String> {
        Ok(le_f64(self.take(8)?, 0))
    }
    fn str(&mut self) -> std::result::Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| "meta string is not UTF-8".to_string())
    }
}

fn decode_meta(b: &[u8]) -> std::result::Result<Entry, String> {
    let mut c = Cursor { b, at: 0 };
    let meta = CheckpointMeta {
        id: c.str()?,
        agent_id: c.str()?,
        agent_type: c.str()?,
        task: c.str()?,
        status: c.str()?,
        created_at: c.f64()?,
        current_step: c.f64()?,
        max_steps: c.f64()?,
        has_error: c.take(1)?[0] != 0,
    };
    let full_len = c.u32()?;
    let full_crc = c.u32()?;
    let chain = c.u32()?;
    let base = c.str()?;
    Ok(Entry {
        meta,
        full_len,
        full_crc,
        chain,
        base: if base.is_empty() { None } else { Some(base) },
    })
}

struct Parsed {
    codec: u8,
    kind: u8,
    entry: Entry,
    body_start: usize,
    body_len: usize,
    raw_len: usize,
}

fn parse_file(b: &[u8], check_crc: bool) -> std::result::Result<Parsed, String> {
    if b.len() < CKPT_HEADER {
        return Err("file shorter than the checkpoint header".into());
    }
    if b[0..8] != CKPT_MAGIC {
        return Err("bad magic (not a ku0 checkpoint)".into());
    }
    let codec = b[8];
    let kind = b[9];
    if codec > CODEC_ZSTD || kind > KIND_DELTA {
        return Err(format!("unknown codec {codec} or kind {kind}"));
    }
    let meta_len = le_u32(b, 12) as usize;
    let body_len = le_u32(b, 16) as usize;
    let raw_len = le_u32(b, 20) as usize;
    let end = CKPT_HEADER + meta_len + body_len;
    if check_crc {
        if b.len() != end {
            return Err(format!("file is {} bytes, header says {end}", b.len()));
        }
        let crc = crc32c_append(crc32c(&b[0..24]), &b[28..end]);
        if crc != le_u32(b, 24) {
            return Err("checkpoint CRC mismatch".into());
        }
    } else if b.len() < CKPT_HEADER + meta_len {
        return Err("meta truncated".into());
    }
    let entry = decode_meta(&b[CKPT_HEADER..CKPT_HEADER + meta_len])?;
    Ok(Parsed {
        codec,
        kind,
        entry,
        body_start: CKPT_HEADER + meta_len,
        body_len,
        raw_len,
    })
}

/// Largest header `raw_len` decoded in one pass into a buffer of exactly that size (the default
/// `max_payload` plus a delta body's 8-byte head); larger claims take the streamed path.
const ONE_PASS_DECODE_MAX: usize = (64 << 20) + 8;

thread_local! {
    /// One zstd decompression context per thread, reused across loads (creating one allocates and
    /// initialises its tables on every load otherwise).
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// One-pass zstd decode of `body` into a buffer of exactly `raw_len` bytes with this thread's
/// reused context. `None` when that does not yield exactly `raw_len` bytes (the frame is damaged,
/// or claims more or fewer bytes): the caller then takes the streamed path, which reports the
/// same errors as before this fast path existed.
fn zstd_one_pass(body: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    if raw_len > ONE_PASS_DECODE_MAX {
        return None;
    }
    DCTX.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().ok()?);
        }
        let dctx = slot.as_mut()?;
        let mut out = Vec::with_capacity(raw_len);
        match dctx.decompress_to_buffer(body, &mut out) {
            Ok(n) if n == raw_len && out.len() == raw_len => Some(out),
            _ => None,
        }
    })
}

/// Parses a checkpoint file (CRC checked) and decompresses its body.
fn decode_file(b: &[u8]) -> std::result::Result<(Parsed, Vec<u8>), String> {
    let p = parse_file(b, true)?;
    let body = &b[p.body_start..p.body_start + p.body_len];
    let raw = if p.codec == CODEC_ZSTD {
        if let Some(r) = zstd_one_pass(body, p.raw_len) {
            return Ok((p, r));
        }
        // Streamed, never pre-allocated from the header's `raw_len` (untrusted: up to 4 GiB); at most
        // `raw_len + 1` bytes are decoded, so a mismatch in either direction is caught.
        use std::io::Read;
        let dec =
            zstd::stream::read::Decoder::with_buffer(body).map_err(|e| format!("zstd: {e}"))?;
        let mut r = Vec::new();
        dec.take(p.raw_len as u64 + 1)
            .read_to_end(&mut r)
            .map_err(|e| format!("zstd: {e}"))?;
        if r.len() != p.raw_len {
            return Err("decompressed length mismatch".into());
        }
        r
    } else {
        body.to_vec()
    };
    Ok((p, raw))
}

/// Decodes one checkpoint file's bytes: `(id, is_delta, body)` (a delta body still needs its base),
/// or why it is damaged (exposed for the fuzz targets and tools).
#[doc(hidden)]
pub fn decode_checkpoint_file(b: &[u8]) -> std::result::Result<(String, bool, Vec<u8>), String> {
    let (p, raw) = decode_file(b)?;
    Ok((p.entry.meta.id, p.kind == KIND_DELTA, raw))
}

/// Length of the common prefix: 4 KiB blocks compared as slices (memcmp), then the first differing
/// block byte by byte.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 4096;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix, at most `max`: 4 KiB blocks from the ends as slices, then bytes.
fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    const BLOCK: usize = 4096;
    let (al, bl) = (a.len(), b.len());
    let mut i = 0;
    while i + BLOCK <= max && a[al - i - BLOCK..al - i] == b[bl - i - BLOCK..bl - i] {
        i += BLOCK;
    }
    while i < max && a[al - 1 - i] == b[bl - 1 - i] {
        i += 1;
    }
    i
}

/// Sets the chain of every checkpoint whose base links lead to `root` to its distance from it plus
/// `root`'s own chain (each checkpoint visited once: a cycle among damaged files cannot loop).
fn recount_chains(g: &mut Inner, root: &str) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(p) = stack.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let Some(pc) = g.entries.get(&p).map(|e| e.chain) else {
            continue;
        };
        let deps: Vec<String> = g
            .dependents
            .get(&p)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for d in deps {
            if let Some(e) = g.entries.get_mut(&d)
                && e.base.as_deref() == Some(p.as_str())
            {
                e.chain = pc.saturating_add(1);
                stack.push(d);
            }
        }
    }
}

fn lock_poisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CheckpointStore {
    pub fn open(dir: impl AsRef<Path>, opts: CheckpointOptions) -> Result<CheckpointStore> {
        Ok(CheckpointStore {
            core: Arc::new(StoreCore::open(dir, opts)?),
            rebase: Mutex::new(None),
        })
    }

    /// Waits for the background rebase started by an earlier save, if one is still running.
    pub fn settle(&self) {
        let h = lock_poisoned(&self.rebase).take();
        if let Some((_, h)) = h {
            // A panicking rebase leaves the delta file as it was (it is only replaced by rename).
            let _ = h.join();
        }
    }

    /// Saves `doc` (the checkpoint document) under `meta.id` durably (docs/storage.md §3.3).
    pub fn save(&self, meta: CheckpointMeta, doc: &[u8]) -> Result<()> {
        self.core.check_size(doc.len())?;
        let mut owned = self.core.doc_buffer(doc.len());
        owned.extend_from_slice(doc);
        self.save_owned(meta, owned)
    }

    /// [`CheckpointStore::save`] of a document the caller hands over: it becomes the agent's
    /// cached latest document without another copy.
    pub fn save_owned(&self, meta: CheckpointMeta, doc: Vec<u8>) -> Result<()> {
        // A running rebase is left running, the agent's own too: this save's base may be the
        // checkpoint being rebased, and its delta counts its chain from there (§3.2). A finished
        // rebase is reaped.
        let finished = lock_poisoned(&self.rebase)
            .as_ref()
            .is_some_and(|(_, h)| h.is_finished());
        if finished {
            self.settle();
        }
        let agent = meta.agent_id.clone();
        let Some((id, doc)) = self.core.save(meta, doc)? else {
            return Ok(());
        };
        // One rebase runs at a time (a save reaches `max_chain` again only `max_chain` saves after
        // the last rebase started, so this rarely waits).
        self.settle();
        let core = Arc::clone(&self.core);
        // When the thread cannot be started, the delta stays and the agent's next save writes a
        // full snapshot itself, as it always did.
        let rebased = id.clone();
        match std::thread::Builder::new()
            .name("ku0-ckpt-rebase".into())
            .spawn(move || core.rebase(&id, &doc))
        {
            Ok(h) => *lock_poisoned(&self.rebase) = Some((agent, h)),
            Err(_) => self.core.end_rebase(&rebased),
        }
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<bool> {
        self.settle();
        self.core.delete(id)
    }

    /// Deletes checkpoints with `created_at < now_ms - older_than_ms`; returns how many.
    pub fn prune(&self, older_than_ms: f64, now_ms: f64) -> Result<u64> {
        self.settle();
        self.core.prune(older_than_ms, now_ms)
    }

    pub fn close(&self) {
        self.settle();
        self.core.close();
    }
}

impl StoreCore {
    fn open(dir: impl AsRef<Path>, mut opts: CheckpointOptions) -> Result<StoreCore> {
        opts.max_chain = opts.max_chain.min(MAX_CHAIN);
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        let mut inner = Inner {
            entries: HashMap::new(),
            damaged: HashMap::new(),
            dependents: HashMap::new(),
            latest: HashMap::new(),
            cache: HashMap::new(),
            lock: Some(lock),
            rebasing: None,
        };
        for entry in fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(id) = name.strip_suffix(".ckpt") else {
                continue;
            };
            if validate_id(id).is_err() {
                continue;
            }
            match read_meta(&entry.path()) {
                Ok(e) if e.meta.id == id => {
                    inner.entries.insert(id.to_string(), e);
                }
                Ok(e) => {
                    inner.damaged.insert(
                        id.to_string(),
                        format!("file holds checkpoint {:?}", e.meta.id),
                    );
                }
                Err(reason) => {
                    inner.damaged.insert(id.to_string(), reason);
                }
            }
        }
        let mut latest: HashMap<String, (f64, String)> = HashMap::new();
        for (id, e) in &inner.entries {
            if let Some(b) = &e.base {
                inner
                    .dependents
                    .entry(b.clone())
                    .or_default()
                    .insert(id.clone());
            }
            let cur = latest
                .entry(e.meta.agent_id.clone())
                .or_insert((f64::NEG_INFINITY, String::new()));
            if (e.meta.created_at, id.as_str()) > (cur.0, cur.1.as_str()) {
                *cur = (e.meta.created_at, id.clone());
            }
        }
        inner.latest = latest.into_iter().map(|(a, (_, id))| (a, id)).collect();
        // A delta saved while its base's rebase ran records the chain it had then; when the rebase
        // landed, the chain is shorter. Count it from the files' base links.
        let roots: Vec<String> = inner
            .entries
            .iter()
            .filter(|(_, e)| e.base.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for r in roots {
            recount_chains(&mut inner, &r);
        }
        Ok(StoreCore {
            dir,
            opts,
            inner: Mutex::new(inner),
            tmp_counter: AtomicU64::new(0),
            spare: Mutex::new(Vec::new()),
        })
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.ckpt"))
    }

    /// An empty buffer of at least `len` bytes' capacity for the next save's document (pass it to
    /// [`CheckpointStore::save_owned`]): the last document the cache let go of when it fits, so a
    /// caller copying each document in (the N-API binding) writes into memory that is already
    /// mapped instead of a fresh allocation that page-faults on every save.
    pub fn doc_buffer(&self, len: usize) -> Vec<u8> {
        let mut spare = lock_poisoned(&self.spare);
        if spare.capacity() >= len {
            let mut v = std::mem::take(&mut *spare);
            v.clear();
            v
        } else {
            // A quarter more than asked, so an agent's next, slightly longer document still fits
            // when this one comes back as the spare; never past the largest document a save takes
            // (a larger one, which the save will refuse, gets exactly its own length).
            let max = self.opts.max_payload;
            Vec::with_capacity(if len > max {
                len
            } else {
                len.saturating_add(len / 4).min(max)
            })
        }
    }

    /// Keeps a document the cache replaced as the spare buffer, when nothing else holds it (a
    /// running rebase may) and it is larger than the current spare.
    fn keep_spare(&self, old: Arc<Vec<u8>>) {
        if let Ok(v) = Arc::try_unwrap(old) {
            let mut spare = lock_poisoned(&self.spare);
            if v.capacity() > spare.capacity() {
                *spare = v;
            }
        }
    }

    /// Files that could not be indexed at open (id → reason).
    pub fn damaged(&self) -> Vec<(String, String)> {
        let g = lock_poisoned(&self.inner);
        let mut v: Vec<_> = g
            .damaged
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        v.sort();
        v
    }

    fn check_open(g: &Inner) -> Result<()> {
        if g.lock.is_none() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn check_size(&self, len: usize) -> Result<()> {
        if len > self.opts.max_payload {
            return Err(Error::TooLarge {
                size: len as u64,
                max: self.opts.max_payload as u64,
            });
        }
        Ok(())
    }

    /// Saves; returns the id and document to rebase in the background when this save's delta
    /// made the chain `max_chain` long.
    fn save(&self, meta: CheckpointMeta, doc: Vec<u8>) -> Result<Option<(String, Arc<Vec<u8>>)>> {
        validate_id(&meta.id)?;
        self.check_size(doc.len())?;
        let doc_v = doc;
        let doc: &[u8] = &doc_v;
        let mut g = lock_poisoned(&self.inner);
        Self::check_open(&g)?;
        let id = meta.id.clone();
        self.materialize_dependents(&mut g, &id)?;
        // Choose the base: the agent's latest checkpoint other than this id.
        // (id, chain on disk, chain counted from a running rebase, document)
        let mut base: Option<(String, u32, u32, Arc<Vec<u8>>)> = None;
        if self.opts.delta
            && let Some(bid) = g.latest.get(&meta.agent_id).cloned()
            && bid != id
            && let Some(be) = g.entries.get(&bid).cloned()
            && let eff = self.effective_chain(&g, &bid, be.chain)
            && eff < self.opts.max_chain
        {
            let content = match g.cache.get(&meta.agent_id) {
                Some((cid, c)) if *cid == bid => Some(Arc::clone(c)),
                _ => self.load_full(&bid, 0).ok().map(Arc::new),
            };
            if let Some(c) = content {
                base = Some((bid, be.chain, eff, c));
            }
        }
        let full_crc = crc32c(doc);
        let full_len = u32::try_from(doc.len()).map_err(|_| Error::TooLarge {
            size: doc.len() as u64,
            max: u64::from(u32::MAX),
        })?;
        let mut kind = KIND_FULL;
        let mut chain = 0;
        let mut eff_chain = 0;
        let mut base_id = String::new();
        let mut raw: Vec<u8> = Vec::new();
        if let Some((bid, bchain, beff, bdoc)) = &base {
            let p = common_prefix(bdoc, doc);
            let s = common_suffix(bdoc, doc, bdoc.len().min(doc.len()) - p);
            let middle = &doc[p..doc.len() - s];
            if middle.len() <= doc.len() / 2 {
                raw.reserve(8 + middle.len());
                raw.extend_from_slice(&(p as u32).to_le_bytes());
                raw.extend_from_slice(&(s as u32).to_le_bytes());
                raw.extend_from_slice(middle);
                kind = KIND_DELTA;
                chain = bchain + 1;
                eff_chain = beff + 1;
                base_id = bid.clone();
            }
        }
        let body_raw: &[u8] = if kind == KIND_FULL { doc } else { &raw };
        let tmp = self.write_tmp(&meta, kind, body_raw, full_len, full_crc, chain, &base_id)?;
        self.commit_tmp(&tmp, &meta.id)?;
        // Update the index.
        if let Some(old) = g.entries.remove(&id)
            && let Some(ob) = old.base
            && let Some(set) = g.dependents.get_mut(&ob)
        {
            set.remove(&id);
        }
        g.damaged.remove(&id);
        if kind == KIND_DELTA {
            g.dependents
                .entry(base_id.clone())
                .or_default()
                .insert(id.clone());
        }
        let agent = meta.agent_id.clone();
        g.entries.insert(
            id.clone(),
            Entry {
                meta,
                full_len,
                full_crc,
                chain,
                base: if base_id.is_empty() {
                    None
                } else {
                    Some(base_id)
                },
            },
        );
        // Drop a stale latest pointer for any agent that pointed at this id.
        g.latest.retain(|_, v| *v != id);
        g.latest.insert(agent.clone(), id.clone());
        let doc = Arc::new(doc_v);
        // The delta's base (the cached document this replaces) is no longer needed: dropping it
        // here lets the cache hand that buffer to the next save.
        drop(base);
        if let Some((_, old)) = g.cache.insert(agent, (id.clone(), Arc::clone(&doc))) {
            self.keep_spare(old);
        }
        if kind == KIND_DELTA && eff_chain >= self.opts.max_chain {
            // Marked here, under the index lock, so the agent's next save counts from this
            // checkpoint even when it runs before the rebase thread has started.
            g.rebasing = Some(id.clone());
            return Ok(Some((id, doc)));
        }
        Ok(None)
    }

    /// The chain of `bid` (whose chain on disk is `chain`) counted from the checkpoint a running
    /// rebase rewrites, when that is `bid` or one of its bases within `max_chain` links: what the
    /// chain will be once the rebase lands. Otherwise `chain`.
    fn effective_chain(&self, g: &Inner, bid: &str, chain: u32) -> u32 {
        let Some(r) = g.rebasing.as_deref() else {
            return chain;
        };
        let mut cur = bid;
        for d in 0..self.opts.max_chain {
            if cur == r {
                return d;
            }
            match g.entries.get(cur).and_then(|e| e.base.as_deref()) {
                Some(b) => cur = b,
                None => break,
            }
        }
        chain
    }

    /// Rewrites checkpoint `id` (a delta at the end of a `max_chain` chain, whose document is
    /// `doc`) as a full snapshot of the same document, with the write of every save: temp + fsync
    /// outside the index lock, then, under it and only if the index entry is still the one this
    /// rebase started from (no save, delete or dependent rewrite of `id` came between), rename +
    /// directory fsync. Runs on a background thread after the save that made the chain. Readers see
    /// the old file or the new one, which reconstruct the same document. On any error or change the
    /// delta stays (the temp file is removed), and the agent's next save writes the full snapshot
    /// itself.
    fn rebase(&self, id: &str, doc: &[u8]) {
        self.rebase_inner(id, doc);
        self.end_rebase(id);
    }

    /// Unmarks `id` as the checkpoint being rebased (the save that asked for the rebase marked it;
    /// a later request may have marked another since).
    fn end_rebase(&self, id: &str) {
        let mut g = lock_poisoned(&self.inner);
        if g.rebasing.as_deref() == Some(id) {
            g.rebasing = None;
        }
    }

    fn rebase_inner(&self, id: &str, doc: &[u8]) {
        let started = {
            let g = lock_poisoned(&self.inner);
            if g.lock.is_none() {
                return;
            }
            match g.entries.get(id) {
                Some(e)
                    if e.base.is_some()
                        && e.full_len as usize == doc.len()
                        && crc32c(doc) == e.full_crc =>
                {
                    e.clone()
                }
                _ => return,
            }
        };
        let e = &started;
        let Ok(tmp) = self.write_tmp(&e.meta, KIND_FULL, doc, e.full_len, e.full_crc, 0, "") else {
            return;
        };
        let mut g = lock_poisoned(&self.inner);
        let unchanged = g.lock.is_some()
            && g.entries.get(id).is_some_and(|now| {
                now.meta == e.meta
                    && now.full_len == e.full_len
                    && now.full_crc == e.full_crc
                    && now.chain == e.chain
                    && now.base == e.base
            });
        if !unchanged {
            let _ = fs::remove_file(&tmp);
            return;
        }
        if self.commit_tmp(&tmp, id).is_err() {
            return;
        }
        if let Some(ent) = g.entries.get_mut(id) {
            ent.chain = 0;
            ent.base = None;
        }
        if let Some(b) = &e.base
            && let Some(set) = g.dependents.get_mut(b)
        {
            set.remove(id);
        }
        // Deltas saved on it while the rebase ran now count their chains from it.
        recount_chains(&mut g, id);
    }

    /// Renames a written temp file over `<id>.ckpt` and fsyncs the directory (the temp file is
    /// removed on failure).
    fn commit_tmp(&self, tmp: &Path, id: &str) -> Result<()> {
        let dst = self.path_of(id);
        let res = fs::rename(tmp, &dst)
            .map_err(|e| Error::io(&dst, e))
            .and_then(|()| util::fsync_dir(&self.dir));
        if res.is_err() {
            let _ = fs::remove_file(tmp);
        }
        res
    }

    /// Writes and fsyncs the temp file of a checkpoint file; returns its path.
    #[expect(
        clippy::too_many_arguments,
        reason = "one private writer for full and delta files; the fields are the on-disk header"
    )]
    fn write_tmp(
        &self,
        meta: &CheckpointMeta,
        kind: u8,
        body_raw: &[u8],
        full_len: u32,
        full_crc: u32,
        chain: u32,
        base_id: &str,
    ) -> Result<PathBuf> {
        let meta_b = encode_meta(meta, full_len, full_crc, chain, base_id);
        let (codec, body) = if self.opts.compress {
            let c = zstd::bulk::compress(body_raw, self.opts.level)
                .map_err(|e| Error::io(&self.dir, e))?;
            (CODEC_ZSTD, c)
        } else {
            (CODEC_STORED, body_raw.to_vec())
        };
        let mut head = [0u8; CKPT_HEADER];
        head[0..8].copy_from_slice(&CKPT_MAGIC);
        head[8] = codec;
        head[9] = kind;
        head[12..16].copy_from_slice(&(meta_b.len() as u32).to_le_bytes());
        head[16..20].copy_from_slice(&(body.len() as u32).to_le_bytes());
        head[20..24].copy_from_slice(&(body_raw.len() as u32).to_le_bytes());
        let crc = crc32c_append(crc32c_append(crc32c(&head[0..24]), &meta_b), &body);
        head[24..28].copy_from_slice(&crc.to_le_bytes());
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{}.ckpt.{}.{n}.tmp", meta.id, std::process::id()));
        let res = (|| {
            let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut all = Vec::with_capacity(CKPT_HEADER + meta_b.len() + body.len());
            all.extend_from_slice(&head);
            all.extend_from_slice(&meta_b);
            all.extend_from_slice(&body);
            f.write_all(&all).map_err(|e| Error::io(&tmp, e))?;
            // fdatasync: the bytes and the size of the new file (what a reader needs); its
            // timestamps are not part of the format. The rename and the directory fsync follow.
            f.sync_data().map_err(|e| Error::io(&tmp, e))
        })();
        match res {
            Ok(()) => Ok(tmp),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Rewrites every checkpoint that uses `id` as its delta base as a full snapshot.
    fn materialize_dependents(&self, g: &mut Inner, id: &str) -> Result<()> {
        let deps: Vec<String> = g
            .dependents
            .get(id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for dep in deps {
            let Some(e) = g.entries.get(&dep).cloned() else {
                continue;
            };
            let doc = self.load_full(&dep, 0)?;
            let tmp = self.write_tmp(&e.meta, KIND_FULL, &doc, e.full_len, e.full_crc, 0, "")?;
            self.commit_tmp(&tmp, &e.meta.id)?;
            if let Some(ent) = g.entries.get_mut(&dep) {
                ent.chain = 0;
                ent.base = None;
            }
            recount_chains(g, &dep);
            if let Some(set) = g.dependents.get_mut(id) {
                set.remove(&dep);
            }
        }
        g.dependents.remove(id);
        Ok(())
    }

    fn load_full(&self, id: &str, depth: u32) -> Result<Vec<u8>> {
        let path = self.path_of(id);
        if depth > MAX_LOAD_DEPTH {
            return Err(Error::Corruption {
                path,
                offset: 0,
                seq: None,
                reason: "delta chain too long or cyclic".into(),
            });
        }
        let corrupt = |reason: String| Error::Corruption {
            path: path.clone(),
            offset: 0,
            seq: None,
            reason,
        };
        let b = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(corrupt("checkpoint file is missing".into()));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let (p, raw) = decode_file(&b).map_err(corrupt)?;
        let doc = if p.kind == KIND_DELTA {
            let Some(bid) = &p.entry.base else {
                return Err(corrupt("delta without a base id".into()));
            };
            if raw.len() < 8 {
                return Err(corrupt("delta body truncated".into()));
            }
            let pre = le_u32(&raw, 0) as usize;
            let suf = le_u32(&raw, 4) as usize;
            let base = self.load_full(bid, depth + 1)?;
            if pre + suf > base.len() {
                return Err(corrupt(format!("delta does not fit its base {bid:?}")));
            }
            let mut d = Vec::with_capacity(pre + raw.len() - 8 + suf);
            d.extend_from_slice(&base[..pre]);
            d.extend_from_slice(&raw[8..]);
            d.extend_from_slice(&base[base.len() - suf..]);
            d
        } else {
            raw
        };
        if doc.len() != p.entry.full_len as usize || crc32c(&doc) != p.entry.full_crc {
            return Err(corrupt(
                "reconstructed document fails its length/CRC check".into(),
            ));
        }
        Ok(doc)
    }

    /// Returns the checkpoint document, or None when the id is unknown.
    pub fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        validate_id(id)?;
        let g = lock_poisoned(&self.inner);
        Self::check_open(&g)?;
        if let Some(reason) = g.damaged.get(id) {
            return Err(Error::Corruption {
                path: self.path_of(id),
                offset: 0,
                seq: None,
                reason: reason.clone(),
            });
        }
        let Some(e) = g.entries.get(id) else {
            return Ok(None);
        };
        if let Some((cid, c)) = g.cache.get(&e.meta.agent_id)
            && cid == id
        {
            return Ok(Some(c.as_ref().clone()));
        }
        self.load_full(id, 0).map(Some)
    }

    pub fn meta(&self, id: &str) -> Option<CheckpointMeta> {
        lock_poisoned(&self.inner)
            .entries
            .get(id)
            .map(|e| e.meta.clone())
    }

    /// Delta chain length of a stored checkpoint (0 = full snapshot).
    pub fn chain_len(&self, id: &str) -> Option<u32> {
        lock_poisoned(&self.inner).entries.get(id).map(|e| e.chain)
    }

    fn delete(&self, id: &str) -> Result<bool> {
        validate_id(id)?;
        let mut g = lock_poisoned(&self.inner);
        Self::check_open(&g)?;
        self.delete_locked(&mut g, id)
    }

    fn delete_locked(&self, g: &mut Inner, id: &str) -> Result<bool> {
        let known = g.entries.contains_key(id) || g.damaged.contains_key(id);
        if !known {
            return Ok(false);
        }
        self.materialize_dependents(g, id)?;
        let path = self.path_of(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        util::fsync_dir(&self.dir)?;
        g.damaged.remove(id);
        if let Some(e) = g.entries.remove(id) {
            if let Some(b) = &e.base
                && let Some(set) = g.dependents.get_mut(b)
            {
                set.remove(id);
            }
            let agent = e.meta.agent_id;
            if g.latest.get(&agent).is_some_and(|l| l == id) {
                g.latest.remove(&agent);
                g.cache.remove(&agent);
                let next = g
                    .entries
                    .iter()
                    .filter(|(_, x)| x.meta.agent_id == agent)
                    .max_by(|a, b| {
                        a.1.meta
                            .created_at
                            .total_cmp(&b.1.meta.created_at)
                            .then(a.0.cmp(b.0))
                    })
                    .map(|(k, _)| k.clone());
                if let Some(n) = next {
                    g.latest.insert(agent, n);
                }
            }
        }
        Ok(true)
    }

    fn prune(&self, older_than_ms: f64, now_ms: f64) -> Result<u64> {
        let cutoff = now_ms - older_than_ms;
        let mut g = lock_poisoned(&self.inner);
        Self::check_open(&g)?;
        let mut victims: Vec<(f64, String)> = g
            .entries
            .iter()
            .filter(|(_, e)| e.meta.created_at < cutoff)
            .map(|(k, e)| (e.meta.created_at, k.clone()))
            .collect();
        // Newest first, so dependents go before their bases and are not materialized needlessly.
        victims.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        let mut n = 0;
        for (_, id) in victims {
            if self.delete_locked(&mut g, &id)? {
                n += 1;
            }
        }
        Ok(n)
    }

    pub fn list(&self, f: &CheckpointFilter) -> Vec<CheckpointMeta> {
        let g = lock_poisoned(&self.inner);
        let mut v: Vec<&CheckpointMeta> = g
            .entries
            .values()
            .map(|e| &e.meta)
            .filter(|m| f.statuses.as_ref().is_none_or(|s| s.contains(&m.status)))
            .filter(|m| f.agent_type.as_ref().is_none_or(|a| *a == m.agent_type))
            .filter(|m| f.created_after.is_none_or(|a| m.created_at >= a))
            .filter(|m| f.created_before.is_none_or(|b| m.created_at <= b))
            .collect();
        v.sort_by(|a, b| {
            let o = match f.sort_by {
                SortBy::CreatedAt => a.created_at.total_cmp(&b.created_at),
                SortBy::Status => a.status.cmp(&b.status),
            };
            let o = o.then_with(|| a.id.cmp(&b.id));
            if f.ascending { o } else { o.reverse() }
        });
        if let Some(l) = f.limit
            && l > 0
        {
            v.truncate(l);
        }
        v.into_iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        lock_poisoned(&self.inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes used by the stored file of `id` (for delta-ratio measurements).
    /// Length of the stored document (from the index: no I/O), or None when the id is unknown.
    pub fn doc_len(&self, id: &str) -> Option<u64> {
        lock_poisoned(&self.inner)
            .entries
            .get(id)
            .map(|e| u64::from(e.full_len))
    }

    pub fn stored_size(&self, id: &str) -> Option<u64> {
        fs::metadata(self.path_of(id)).ok().map(|m| m.len())
    }

    fn close(&self) {
        let mut g = lock_poisoned(&self.inner);
        g.cache.clear();
        *lock_poisoned(&self.spare) = Vec::new();
        if let Some(mut l) = g.lock.take() {
            l.release();
        }
    }
}

fn read_meta(path: &Path) -> std::result::Result<Entry, String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut head = [0u8; CKPT_HEADER];
    let n = util::read_at(&f, &mut head, 0).map_err(|e| e.to_string())?;
    if n < CKPT_HEADER {
        return Err("file shorter than the checkpoint header".into());
    }
    let meta_len = le_u32(&head, 12) as usize;
    if meta_len > 1 << 24 {
        return Err("implausible meta length".into());
    }
    let mut b = vec![0u8; CKPT_HEADER + meta_len];
    let n = util::read_at(&f, &mut b, 0).map_err(|e| e.to_string())?;
    b.truncate(n);
    let p = parse_file(&b, false)?;
    let size = f.metadata().map_err(|e| e.to_string())?.len() as usize;
    if size != CKPT_HEADER + meta_len + p.body_len {
        return Err(format!(
            "file is {size} bytes, header says {}",
            CKPT_HEADER + meta_len + p.body_len
        ));
    }
    Ok(p.entry)
}

/// Verifies every checkpoint file in `dir` (CRC, decompression, delta chain) without locking.
pub fn verify_checkpoints(dir: &Path) -> Result<(usize, Vec<String>)> {
    let store = StoreCore {
        dir: dir.to_path_buf(),
        opts: CheckpointOptions::default(),
        inner: Mutex::new(Inner {
            entries: HashMap::new(),
            damaged: HashMap::new(),
            dependents: HashMap::new(),
            latest: HashMap::new(),
            cache: HashMap::new(),
            lock: None,
            rebasing: None,
        }),
        tmp_counter: AtomicU64::new(0),
        spare: Mutex::new(Vec::new()),
    };
    let mut n = 0;
    let mut problems = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix(".ckpt") else {
            continue;
        };
        n += 1;
        if let Err(e) = store.load_full(id, 0) {
            problems.push(format!("{id}: {e}"));
        }
    }
    Ok((n, problems))
}

#[cfg(test)]
mod tests {
    use super::{common_prefix, common_suffix};

    fn naive_prefix(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).take_while(|(x, y)| x == y).count()
    }

    fn naive_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
        a.iter()
            .rev()
            .zip(b.iter().rev())
            .take(max)
            .take_while(|(x, y)| x == y)
            .count()
    }

    #[test]
    fn block_prefix_and_suffix_match_the_byte_by_byte_answer() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let len = next(20_000);
            let base: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut other = base.clone();
            // Cut or grow, then change bytes at random places, often near 4 KiB block edges.
            let grow = next(9000);
            other.extend((0..grow).map(|i| (i % 13) as u8));
            other.truncate(next(other.len() + 1));
            for _ in 0..next(3) {
                if !other.is_empty() {
                    let at = if next(2) == 0 {
                        (next(6) * 4096 + next(3)).saturating_sub(1) % other.len()
                    } else {
                        next(other.len())
                    };
                    other[at] ^= 0x5a;
                }
            }
            let p = common_prefix(&base, &other);
            assert_eq!(p, naive_prefix(&base, &other));
            let max = base.len().min(other.len()) - p;
            assert_eq!(
                common_suffix(&base, &other, max),
                naive_suffix(&base, &other, max)
            );
        }
    }
}

/// A save made while its agent's rebase runs (docs/storage.md §3.2), driven step by step: the
/// store's `save` and `rebase` are called directly, with the running rebase marked as its thread
/// marks it, so the interleaving is exact rather than a race.
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod rebase_tests {
    use super::{CheckpointMeta, CheckpointOptions, StoreCore, lock_poisoned};
    use std::path::PathBuf;

    fn dir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ku0-storage-unit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    /// Chains of at most 3 deltas, so a rebase comes every third save.
    fn opts() -> CheckpointOptions {
        CheckpointOptions {
            max_chain: 3,
            ..Default::default()
        }
    }

    /// Checkpoint `c<i>` of agent `a`, created at `i`.
    fn meta(i: usize) -> CheckpointMeta {
        let created_at = i as f64;
        CheckpointMeta {
            id: format!("c{i}"),
            agent_id: "a".into(),
            created_at,
            ..CheckpointMeta::default()
        }
    }

    /// A growing message list: each document is a small delta of the one before.
    fn doc(i: usize) -> Vec<u8> {
        let msgs: Vec<String> = (0..100 + i)
            .map(|k| format!("{{\"k\":{k},\"t\":\"{}\"}}", "w".repeat(100 + k % 29)))
            .collect();
        format!("{{\"messages\":[{}]}}", msgs.join(",")).into_bytes()
    }

    /// Every checkpoint c0..c<n-1> loads with its exact document.
    fn assert_loads(s: &StoreCore, n: usize) {
        for i in 0..n {
            assert_eq!(s.load(&format!("c{i}")).unwrap().unwrap(), doc(i), "c{i}");
        }
    }

    fn chains(s: &StoreCore, ids: std::ops::Range<usize>) -> Vec<u32> {
        ids.map(|i| s.chain_len(&format!("c{i}")).unwrap())
            .collect()
    }

    /// c0 full, c1..c3 deltas; c3 ends the chain and asks for its rebase, which the save marks as
    /// running at once (before any thread has started it).
    fn chain_with_rebase_running(s: &StoreCore) -> (String, std::sync::Arc<Vec<u8>>) {
        for i in 0..3 {
            assert!(s.save(meta(i), doc(i)).unwrap().is_none());
        }
        let (id, d) = s.save(meta(3), doc(3)).unwrap().unwrap();
        assert_eq!(id, "c3");
        assert_eq!(lock_poisoned(&s.inner).rebasing.as_deref(), Some("c3"));
        (id, d)
    }

    #[test]
    fn saves_during_the_agents_rebase_are_deltas_counted_from_the_rebased_checkpoint() {
        let d = dir("rebase-overlap");
        let s = StoreCore::open(&d, opts()).unwrap();
        let (rid, rdoc) = chain_with_rebase_running(&s);
        // c4 and c5 are deltas on c3 without waiting for its rebase and ask for none; on disk
        // their chains reach back to the full c0.
        assert!(s.save(meta(4), doc(4)).unwrap().is_none());
        assert!(s.save(meta(5), doc(5)).unwrap().is_none());
        assert_eq!(chains(&s, 0..6), [0, 1, 2, 3, 4, 5]);
        // c6 is `max_chain` deltas past c3: it asks for its own rebase (marked at once; the store
        // starts it after c3's has finished).
        let (id6, doc6) = s.save(meta(6), doc(6)).unwrap().unwrap();
        assert_eq!(id6, "c6");
        // c3's rebase lands: the chains after it count from it; c6 stays marked.
        s.rebase(&rid, &rdoc);
        assert_eq!(lock_poisoned(&s.inner).rebasing.as_deref(), Some("c6"));
        assert_eq!(chains(&s, 0..7), [0, 1, 2, 0, 1, 2, 3]);
        s.rebase(&id6, &doc6);
        assert!(lock_poisoned(&s.inner).rebasing.is_none());
        assert_eq!(chains(&s, 0..7), [0, 1, 2, 0, 1, 2, 0]);
        assert_loads(&s, 7);
        s.close();
        drop(s);
        // Reopened, the chains are counted from the files' base links (c4's header still says 4).
        let s = StoreCore::open(&d, opts()).unwrap();
        assert_eq!(chains(&s, 0..7), [0, 1, 2, 0, 1, 2, 0]);
        assert_loads(&s, 7);
        s.close();
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_rebase_that_never_lands_leaves_true_chains_and_the_next_save_is_full() {
        let d = dir("rebase-lost");
        let s = StoreCore::open(&d, opts()).unwrap();
        chain_with_rebase_running(&s);
        assert!(s.save(meta(4), doc(4)).unwrap().is_none());
        // The process dies before the rebase renames its file.
        s.close();
        drop(s);
        let s = StoreCore::open(&d, opts()).unwrap();
        assert_eq!(chains(&s, 0..5), [0, 1, 2, 3, 4]);
        // c4's chain is past `max_chain` with no rebase running: the next save is a full snapshot.
        assert!(s.save(meta(5), doc(5)).unwrap().is_none());
        assert_eq!(s.chain_len("c5"), Some(0));
        assert_loads(&s, 6);
        s.close();
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_max_chain_past_the_cap_keeps_every_chain_loadable() {
        let d = dir("chain-cap");
        let wide = CheckpointOptions {
            max_chain: 1000,
            ..Default::default()
        };
        let s = StoreCore::open(&d, wide.clone()).unwrap();
        for i in 0..80 {
            if let Some((id, doc)) = s.save(meta(i), doc(i)).unwrap() {
                s.rebase(&id, &doc);
            }
        }
        assert!((0..80).all(|i| s.chain_len(&format!("c{i}")).unwrap() < super::MAX_CHAIN));
        s.close();
        drop(s);
        // Reopened (no cached document), every checkpoint loads through its base links.
        let s = StoreCore::open(&d, wide).unwrap();
        assert_loads(&s, 80);
        s.close();
        let _ = std::fs::remove_dir_all(&d);
    }
}
