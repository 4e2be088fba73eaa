//! N-API binding for `ku0-storage`: type and error conversion only. Replay hands JS one buffer
//! plus offset tables (no object per event); checkpoint I/O has async variants that run on the
//! libuv thread pool. Also exports the runtime seam class `StorageEngine` (contracts §4.3). Every
//! export goes through `ku0-napi-boundary` (`#[guard]`).

use std::path::PathBuf;
use std::sync::Arc;

use ku0_napi_boundary::{List, arg, coded, guard};
use ku0_storage::log::{TYPE_BYTES, TYPE_JSON};
use ku0_storage::{
    CheckpointFilter, CheckpointMeta, CheckpointOptions, CheckpointStore, Durability, EventLog,
    LogOptions, Mapping, SortBy,
};
use napi::bindgen_prelude::{
    AsyncTask, BigInt, Buffer, BufferSlice, Either, Float64Array, Object, Uint8Array, Uint16Array,
    Uint32Array,
};
use napi::{Env, JsStringLatin1, Task};
use napi_derive::napi;

fn to_napi(e: ku0_storage::Error) -> napi::Error {
    coded(e.code(), e.is_argument_error(), e)
}

fn range(msg: String) -> napi::Error {
    coded("ERR_KU0_OUT_OF_RANGE", true, msg)
}

/// Longest group-commit delay accepted (one second): the flusher sleeps this long per batch.
const MAX_GROUP_DELAY_MICROS: f64 = 1_000_000.0;

fn seq_arg(v: f64, name: &str) -> napi::Result<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
        return Err(range(format!(
            "{name} must be a non-negative safe integer, got {v}"
        )));
    }
    Ok(v as u64)
}

fn bigint_arg(v: &BigInt, name: &str) -> napi::Result<u64> {
    let (signed, value, lossless) = v.get_u64();
    if signed || !lossless {
        return Err(range(format!(
            "{name} must be a non-negative 64-bit integer"
        )));
    }
    Ok(value)
}

#[napi(object)]
pub struct EventLogOptions {
    /// "process" | "group" (default) | "sync".
    pub durability: Option<String>,
    /// Target segment size in bytes (default 32 MiB).
    pub segment_size: Option<f64>,
    /// Largest record payload in bytes (default 16 MiB; at most 2^32 - 65).
    pub max_record_bytes: Option<f64>,
    /// Zero-fill new segments up front (default true).
    pub preallocate: Option<bool>,
    /// Group mode: microseconds the flusher waits for more appends before each fdatasync (default 200,
    /// at most 1 000 000).
    pub group_delay_micros: Option<f64>,
}

/// Replayed records: `data.subarray(offsets[i], offsets[i + 1])` is record i's payload.
#[napi(object)]
pub struct ReplayResult {
    pub data: Buffer,
    pub offsets: Uint32Array,
    pub seqs: Float64Array,
    pub timestamps: Float64Array,
    pub types: Uint16Array,
    /// `ascii[i]` is 1 when record i's payload is all ASCII (decodes the same as Latin-1), else 0.
    pub ascii: Uint8Array,
}

/// The memory-mapped segments of one `NativeEventLog.replay()`, kept alive by this handle (and by
/// the strings and Buffers made over them).
#[napi(js_name = "NativeMappedSegments")]
pub struct JsMappedSegments {
    maps: Vec<Arc<Mapping>>,
}

#[guard]
#[napi]
impl JsMappedSegments {
    /// Not constructible from JavaScript (`NativeEventLog.replay` returns one): without this,
    /// napi-rs's own stand-in constructor would throw an error with no `ERR_KU0_…` code.
    #[napi(constructor, catch_unwind, skip_typescript)]
    pub fn new() -> napi::Result<Self> {
        Err(ku0_napi_boundary::invalid_arg(
            "NativeMappedSegments is not constructible; NativeEventLog.replay returns one",
        ))
    }

    /// The mappings as external Buffers (no copy; JS only reads them), one per mapping, in order.
    #[napi(catch_unwind)]
    pub fn buffers<'env>(&self, env: &'env Env) -> napi::Result<Vec<BufferSlice<'env>>> {
        let mut buffers = Vec::with_capacity(self.maps.len());
        for m in &self.maps {
            let ptr = m.as_ptr().cast_mut();
            let len = m.len();
            // SAFETY: the mapping stays alive (an Arc clone is the finalize hint) until V8 collects
            // the Buffer; JS only reads it (the mapping is read-only).
            let slice =
                unsafe { BufferSlice::from_external(env, ptr, len, m.clone(), |_, m| drop(m)) }?;
            buffers.push(slice);
        }
        Ok(buffers)
    }
}

#[napi(js_name = "NativeEventLog")]
pub struct JsEventLog {
    log: Arc<EventLog>,
}

#[guard]
#[napi]
impl JsEventLog {
    #[napi(constructor, catch_unwind)]
    pub fn new(dir: String, options: Option<EventLogOptions>) -> napi::Result<Self> {
        let mut o = LogOptions::default();
        if let Some(opts) = options {
            if let Some(d) = opts.durability {
                o.durability = d.parse::<Durability>().map_err(to_napi)?;
            }
            if let Some(s) = opts.segment_size {
                o.segment_size = seq_arg(s, "segmentSize")?;
            }
            if let Some(m) = opts.max_record_bytes {
                let m = arg::count(m, "maxRecordBytes", u64::from(u32::MAX - 64))?;
                o.max_record = u32::try_from(m).unwrap_or(u32::MAX - 64);
            }
            if let Some(p) = opts.preallocate {
                o.preallocate = p;
            }
            if let Some(d) = opts.group_delay_micros {
                let d = arg::integer(d, "groupDelayMicros", 0.0, MAX_GROUP_DELAY_MICROS)?;
                o.group_delay = std::time::Duration::from_micros(d.unsigned_abs());
            }
        }
        let log = EventLog::open(PathBuf::from(dir), o).map_err(to_napi)?;
        Ok(JsEventLog { log: Arc::new(log) })
    }

    /// Appends a JSON event (UTF-8 string); returns its sequence id.
    #[napi(catch_unwind)]
    pub fn append_json(&self, json: String) -> napi::Result<f64> {
        self.log
            .append(TYPE_JSON, json.as_bytes())
            .map(|s| s as f64)
            .map_err(to_napi)
    }

    /// Appends raw bytes with a record type (default 2 = bytes); returns its sequence id.
    #[napi(catch_unwind)]
    pub fn append(&self, data: Uint8Array, record_type: Option<f64>) -> napi::Result<f64> {
        let t = match record_type {
            None => TYPE_BYTES,
            Some(t) => u16::try_from(arg::count(t, "recordType", u64::from(u16::MAX))?)
                .map_err(|_| range("recordType must fit in 16 bits".into()))?,
        };
        self.log.append(t, &data).map(|s| s as f64).map_err(to_napi)
    }

    /// Records with sequence id >= `from` (at most `limit`), in bulk and without copying: each
    /// touched segment is memory-mapped. `strings[k]` is mapping k as an external one-byte
    /// (Latin-1) string (no copy) and `ascii[i]` is 1 when record i's payload is all ASCII, so that
    /// record's text is `strings[bufferIndex[i]].slice(starts[i], ends[i])` without any decoding.
    /// `segments.buffers()` hands the same mappings out as external Buffers, made on demand: record
    /// i's payload is `buffers[bufferIndex[i]].subarray(starts[i], ends[i])`. (V8 counts an
    /// external Buffer's bytes as external memory, so handing out 32 MiB Buffers on every replay
    /// pulls full GCs forward; external strings are not counted that way.) Every record's CRC is
    /// checked.
    #[napi(
        catch_unwind,
        ts_return_type = "{ segments: NativeMappedSegments; strings: string[]; bufferIndex: Uint32Array; starts: Uint32Array; ends: Uint32Array; seqs: Float64Array; timestamps: Float64Array; types: Uint16Array; ascii: Uint8Array }"
    )]
    pub fn replay<'env>(
        &self,
        env: &'env Env,
        from: f64,
        limit: Option<f64>,
    ) -> napi::Result<Object<'env>> {
        let from = seq_arg(from, "fromSequenceId")?;
        let limit = match limit {
            Some(l) => Some(usize::try_from(seq_arg(l, "limit")?).unwrap_or(usize::MAX)),
            None => None,
        };
        let b = self.log.replay_mapped(from, limit).map_err(to_napi)?;
        let mut strings = Vec::with_capacity(b.maps.len());
        for m in &b.maps {
            // SAFETY: the mapping is read-only (PROT_READ, or an owned copy nothing writes) and
            // stays alive until V8 collects the string (an Arc clone is the finalize hint, dropped
            // by the finalizer, synchronously if V8 copies); Latin-1 accepts every byte, so the
            // string is valid whatever the bytes are. `len` is at least 1 (a mapped segment holds
            // its header).
            let text = unsafe {
                JsStringLatin1::from_external(env, m.as_ptr(), m.len(), m.clone(), |_, m| drop(m))
            }?;
            strings.push(text);
        }
        let mut obj = Object::new(env)?;
        obj.set("segments", JsMappedSegments { maps: b.maps })?;
        obj.set("strings", strings)?;
        obj.set("ascii", Uint8Array::new(b.ascii))?;
        obj.set("bufferIndex", Uint32Array::new(b.map_of))?;
        obj.set("starts", Uint32Array::new(b.starts))?;
        obj.set("ends", Uint32Array::new(b.ends))?;
        obj.set(
            "seqs",
            Float64Array::new(b.seqs.into_iter().map(|s| s as f64).collect()),
        )?;
        obj.set(
            "timestamps",
            Float64Array::new(b.timestamps.into_iter().map(|t| t as f64).collect()),
        )?;
        obj.set("types", Uint16Array::new(b.types))?;
        Ok(obj)
    }

    /// Copying variant of `replay`: one contiguous buffer of payloads plus an offset table.
    #[napi(catch_unwind)]
    pub fn replay_copy(&self, from: f64, limit: Option<f64>) -> napi::Result<ReplayResult> {
        let from = seq_arg(from, "fromSequenceId")?;
        let limit = match limit {
            Some(l) => Some(usize::try_from(seq_arg(l, "limit")?).unwrap_or(usize::MAX)),
            None => None,
        };
        let b = self.log.replay(from, limit).map_err(to_napi)?;
        Ok(ReplayResult {
            data: Buffer::from(b.data),
            offsets: Uint32Array::new(b.offsets),
            seqs: Float64Array::new(b.seqs.into_iter().map(|s| s as f64).collect()),
            timestamps: Float64Array::new(b.timestamps.into_iter().map(|t| t as f64).collect()),
            types: Uint16Array::new(b.types),
            ascii: Uint8Array::new(b.ascii),
        })
    }

    /// Removes records with sequence id < `before`; returns how many were removed.
    #[napi(catch_unwind)]
    pub fn prune(&self, before: f64) -> napi::Result<f64> {
        let before = seq_arg(before, "beforeSequenceId")?;
        self.log.prune(before).map(|n| n as f64).map_err(to_napi)
    }

    /// Resolves once everything appended before the call is durable. In group mode the call kicks
    /// the flusher (its fdatasync starts at once, not after the group delay) and the promise is
    /// settled by the flusher thread (no libuv worker is held while waiting). The TS facade calls
    /// this once per microtask checkpoint for all the `flush()`es of that burst, so they share one
    /// fdatasync and one thread-safe-function hop.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        type Settle = Box<dyn FnOnce(Env) -> napi::Result<()> + Send>;
        let (deferred, promise) = env.create_deferred::<(), Settle>()?;
        self.log.flush_notify(Box::new(move |res| match res {
            Ok(()) => deferred.resolve(Box::new(|_| Ok(()))),
            Err(e) => {
                let e = to_napi(e);
                deferred.resolve(Box::new(move |env| {
                    Err(ku0_napi_boundary::coded_js_error(env, e))
                }))
            }
        }));
        Ok(promise)
    }

    #[napi(catch_unwind)]
    pub fn flush_sync(&self) -> napi::Result<()> {
        self.log.flush().map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn close(&self) -> napi::Result<()> {
        self.log.close().map_err(to_napi)
    }

    #[napi]
    pub fn next_seq(&self) -> f64 {
        self.log.next_seq() as f64
    }

    #[napi]
    pub fn durable_seq(&self) -> f64 {
        self.log.durable_seq() as f64
    }

    /// The failure message when the log is in the failed state.
    #[napi]
    pub fn failure(&self) -> Option<String> {
        self.log.failed()
    }

    /// Test hook: put the log into the failed state as an fsync error would.
    #[napi]
    pub fn inject_failure(&self, message: String) {
        self.log.inject_failure(&message);
    }

    /// Test hook: fdatasyncs this log has issued for its records since it was opened.
    #[napi]
    pub fn sync_count(&self) -> f64 {
        self.log.sync_count() as f64
    }
}

#[napi(object)]
pub struct CheckpointStoreOptions {
    pub max_chain: Option<f64>,
    pub max_payload_bytes: Option<f64>,
    pub level: Option<i32>,
    pub compress: Option<bool>,
    pub delta: Option<bool>,
}

#[napi(object)]
pub struct NativeCheckpointMeta {
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

impl From<NativeCheckpointMeta> for CheckpointMeta {
    fn from(m: NativeCheckpointMeta) -> Self {
        CheckpointMeta {
            id: m.id,
            agent_id: m.agent_id,
            agent_type: m.agent_type,
            task: m.task,
            status: m.status,
            created_at: m.created_at,
            current_step: m.current_step,
            max_steps: m.max_steps,
            has_error: m.has_error,
        }
    }
}

impl From<CheckpointMeta> for NativeCheckpointMeta {
    fn from(m: CheckpointMeta) -> Self {
        NativeCheckpointMeta {
            id: m.id,
            agent_id: m.agent_id,
            agent_type: m.agent_type,
            task: m.task,
            status: m.status,
            created_at: m.created_at,
            current_step: m.current_step,
            max_steps: m.max_steps,
            has_error: m.has_error,
        }
    }
}

#[napi(object)]
pub struct NativeListFilter {
    #[napi(ts_type = "Array<string>")]
    pub statuses: Option<List<String>>,
    pub agent_type: Option<String>,
    pub created_after: Option<f64>,
    pub created_before: Option<f64>,
    pub limit: Option<f64>,
    /// "createdAt" (default) | "status".
    pub sort_by: Option<String>,
    /// "asc" | "desc" (default).
    pub sort_order: Option<String>,
}

#[napi(js_name = "NativeCheckpointStore")]
pub struct JsCheckpointStore {
    store: Arc<CheckpointStore>,
}

pub struct SaveTask(Arc<CheckpointStore>, Option<CheckpointMeta>, Vec<u8>);
#[guard]
impl Task for SaveTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> napi::Result<()> {
        let meta = self.1.take().ok_or_else(|| {
            coded(
                ku0_napi_boundary::NATIVE_FAILURE,
                false,
                "save task ran twice",
            )
        })?;
        self.0
            .save_owned(meta, std::mem::take(&mut self.2))
            .map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, _o: ()) -> napi::Result<()> {
        Ok(())
    }
}

pub struct LoadTask(Arc<CheckpointStore>, String);
#[guard]
impl Task for LoadTask {
    type Output = Option<Vec<u8>>;
    type JsValue = Option<Buffer>;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        self.0.load(&self.1).map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, o: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(o.map(Buffer::from))
    }
}

pub struct DeleteTask(Arc<CheckpointStore>, String);
#[guard]
impl Task for DeleteTask {
    type Output = bool;
    type JsValue = bool;
    fn compute(&mut self) -> napi::Result<bool> {
        self.0.delete(&self.1).map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, o: bool) -> napi::Result<bool> {
        Ok(o)
    }
}

pub struct PruneTask(Arc<CheckpointStore>, f64, f64);
#[guard]
impl Task for PruneTask {
    type Output = u64;
    type JsValue = f64;
    fn compute(&mut self) -> napi::Result<u64> {
        self.0.prune(self.1, self.2).map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, o: u64) -> napi::Result<f64> {
        Ok(o as f64)
    }
}

fn filter_from(f: Option<NativeListFilter>) -> napi::Result<CheckpointFilter> {
    let Some(f) = f else {
        return Ok(CheckpointFilter::default());
    };
    let sort_by = match f.sort_by.as_deref() {
        None | Some("createdAt") => SortBy::CreatedAt,
        Some("status") => SortBy::Status,
        Some(o) => {
            return Err(ku0_napi_boundary::invalid_arg(format!("sortBy {o:?}")));
        }
    };
    let ascending = match f.sort_order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return Err(ku0_napi_boundary::invalid_arg(format!("sortOrder {o:?}")));
        }
    };
    Ok(CheckpointFilter {
        statuses: f.statuses.map(List::into_vec),
        agent_type: f.agent_type,
        created_after: f.created_after,
        created_before: f.created_before,
        limit: match f.limit {
            Some(l) => {
                Some(usize::try_from(arg::count(l, "limit", u64::MAX)?).unwrap_or(usize::MAX))
            }
            None => None,
        },
        sort_by,
        ascending,
    })
}

#[guard]
#[napi]
impl JsCheckpointStore {
    #[napi(constructor, catch_unwind)]
    pub fn new(dir: String, options: Option<CheckpointStoreOptions>) -> napi::Result<Self> {
        let mut o = CheckpointOptions::default();
        if let Some(opts) = options {
            if let Some(c) = opts.max_chain {
                let c = arg::count(c, "maxChain", u64::from(ku0_storage::checkpoint::MAX_CHAIN))?;
                o.max_chain = u32::try_from(c).unwrap_or(ku0_storage::checkpoint::MAX_CHAIN);
            }
            if let Some(m) = opts.max_payload_bytes {
                o.max_payload =
                    usize::try_from(seq_arg(m, "maxPayloadBytes")?).unwrap_or(usize::MAX);
            }
            if let Some(l) = opts.level {
                o.level = l;
            }
            if let Some(c) = opts.compress {
                o.compress = c;
            }
            if let Some(d) = opts.delta {
                o.delta = d;
            }
        }
        let store = CheckpointStore::open(PathBuf::from(dir), o).map_err(to_napi)?;
        Ok(JsCheckpointStore {
            store: Arc::new(store),
        })
    }

    /// Saves the checkpoint document (UTF-8 JSON bytes) off the main thread. The bytes are copied
    /// before the call returns, so the caller may reuse `doc` at once.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self, meta: NativeCheckpointMeta, doc: Uint8Array) -> AsyncTask<SaveTask> {
        // Into the store's spare document buffer: already-mapped memory, not a fresh 1 MB
        // allocation that page-faults on this thread every save.
        let mut owned = self.store.doc_buffer(doc.len());
        owned.extend_from_slice(&doc);
        AsyncTask::new(SaveTask(Arc::clone(&self.store), Some(meta.into()), owned))
    }

    #[napi(catch_unwind)]
    pub fn save_sync(&self, meta: NativeCheckpointMeta, doc: Uint8Array) -> napi::Result<()> {
        self.store.save(meta.into(), &doc).map_err(to_napi)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn load(&self, id: String) -> AsyncTask<LoadTask> {
        AsyncTask::new(LoadTask(Arc::clone(&self.store), id))
    }

    #[napi(catch_unwind)]
    pub fn load_sync(&self, id: String) -> napi::Result<Option<Buffer>> {
        self.store
            .load(&id)
            .map(|o| o.map(Buffer::from))
            .map_err(to_napi)
    }

    /// `loadSync` for a caller that parses the document as text: a document that is all ASCII
    /// (what `JSON.stringify` of ASCII-only data gives) comes back as a JS string backed by the
    /// decoded bytes themselves (an external one-byte string: no copy and no UTF-8 decoding pass;
    /// ASCII decodes the same as Latin-1 and as UTF-8); any other document as a Buffer, exactly as
    /// `loadSync` returns it.
    #[napi(catch_unwind, ts_return_type = "string | Buffer | null")]
    pub fn load_text_sync<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> napi::Result<Option<Either<JsStringLatin1<'env>, Buffer>>> {
        let Some(doc) = self.store.load(&id).map_err(to_napi)? else {
            return Ok(None);
        };
        if doc.is_ascii() {
            return JsStringLatin1::from_data(env, doc).map(|s| Some(Either::A(s)));
        }
        Ok(Some(Either::B(Buffer::from(doc))))
    }

    #[napi(catch_unwind)]
    pub fn list(
        &self,
        filter: Option<NativeListFilter>,
    ) -> napi::Result<Vec<NativeCheckpointMeta>> {
        let f = filter_from(filter)?;
        Ok(self.store.list(&f).into_iter().map(Into::into).collect())
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete(&self, id: String) -> AsyncTask<DeleteTask> {
        AsyncTask::new(DeleteTask(Arc::clone(&self.store), id))
    }

    #[napi(catch_unwind)]
    pub fn delete_sync(&self, id: String) -> napi::Result<bool> {
        self.store.delete(&id).map_err(to_napi)
    }

    /// Deletes checkpoints with createdAt < nowMs - olderThanMs; resolves to how many.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn prune(&self, older_than_ms: f64, now_ms: f64) -> napi::Result<AsyncTask<PruneTask>> {
        arg::finite(older_than_ms, "olderThanMs")?;
        arg::finite(now_ms, "nowMs")?;
        Ok(AsyncTask::new(PruneTask(
            Arc::clone(&self.store),
            older_than_ms,
            now_ms,
        )))
    }

    #[napi]
    pub fn chain_len(&self, id: String) -> Option<u32> {
        self.store.chain_len(&id)
    }

    /// Length of the stored document in bytes (from the index, no I/O); null when unknown.
    #[napi]
    pub fn doc_len(&self, id: String) -> Option<f64> {
        self.store.doc_len(&id).map(|n| n as f64)
    }

    #[napi]
    pub fn stored_size(&self, id: String) -> Option<f64> {
        self.store.stored_size(&id).map(|n| n as f64)
    }

    /// Files that could not be indexed at open, as "id: reason".
    #[napi]
    pub fn damaged(&self) -> Vec<String> {
        self.store
            .damaged()
            .into_iter()
            .map(|(a, b)| format!("{a}: {b}"))
            .collect()
    }

    #[napi]
    pub fn close(&self) {
        self.store.close();
    }
}

const SEAM_OFFSET: u64 = ku0_storage::seam::EVENT_ID_OFFSET;

/// The runtime's native seam (`@ku0/storage-engine-rs`): events under `<root>/events`,
/// checkpoints under `<root>/checkpoints`, same formats as the adapters. Like the runtime's engine,
/// the seam numbers events from 0: seam id `n` is the log's sequence id `n + 1` (the on-disk log
/// keeps its 1-based ids; `SEAM_OFFSET` maps them both ways).
#[napi]
pub struct StorageEngine {
    log: Arc<EventLog>,
    ckpt: Arc<CheckpointStore>,
}

#[guard]
#[napi]
impl StorageEngine {
    /// `durability` defaults to `sync` (the runtime's engine fdatasyncs every `appendEvent`);
    /// `allow_runtime_layout` is for the one-shot import only (see `ku0_storage::seam::SeamOptions`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        root_dir: String,
        durability: Option<String>,
        allow_runtime_layout: Option<bool>,
    ) -> napi::Result<Self> {
        let mut options = ku0_storage::seam::SeamOptions::default();
        if let Some(d) = durability {
            options.durability = d.parse::<Durability>().map_err(to_napi)?;
        }
        options.allow_runtime_layout = allow_runtime_layout == Some(true);
        let s = ku0_storage::seam::open(&PathBuf::from(root_dir), options).map_err(to_napi)?;
        Ok(StorageEngine {
            log: Arc::new(s.log),
            ckpt: Arc::new(s.checkpoints),
        })
    }

    #[napi(catch_unwind)]
    pub fn save_checkpoint(&self, id: String, data: Uint8Array) -> napi::Result<()> {
        let meta = ku0_storage::seam::checkpoint_meta(id, ku0_storage::util::now_ms() as f64);
        self.ckpt.save(meta, &data).map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn load_checkpoint(&self, id: String) -> napi::Result<Option<Uint8Array>> {
        self.ckpt
            .load(&id)
            .map(|o| o.map(Uint8Array::new))
            .map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn delete_checkpoint(&self, id: String) -> napi::Result<bool> {
        self.ckpt.delete(&id).map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn append_event(&self, data: Uint8Array) -> napi::Result<BigInt> {
        self.log
            .append(TYPE_BYTES, &data)
            .map(|seq| BigInt::from(seq.saturating_sub(SEAM_OFFSET)))
            .map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn replay_events(&self, from: BigInt, limit: Option<f64>) -> napi::Result<Vec<Uint8Array>> {
        let from = bigint_arg(&from, "from")?.saturating_add(SEAM_OFFSET);
        let limit = match limit {
            Some(l) => {
                Some(usize::try_from(arg::count(l, "limit", u64::MAX)?).unwrap_or(usize::MAX))
            }
            None => None,
        };
        let b = self.log.replay(from, limit).map_err(to_napi)?;
        Ok((0..b.len())
            .map(|i| Uint8Array::new(b.payload(i).to_vec()))
            .collect())
    }

    #[napi(catch_unwind)]
    pub fn prune_events(&self, before: BigInt) -> napi::Result<BigInt> {
        let before = bigint_arg(&before, "before")?.saturating_add(SEAM_OFFSET);
        self.log.prune(before).map(BigInt::from).map_err(to_napi)
    }

    /// Makes every appended event durable.
    #[napi(catch_unwind)]
    pub fn flush(&self) -> napi::Result<()> {
        self.log.flush().map_err(to_napi)
    }

    #[napi(catch_unwind)]
    pub fn close(&self) -> napi::Result<()> {
        self.ckpt.close();
        self.log.close().map_err(to_napi)
    }
}

#[napi(object)]
pub struct VerifyResult {
    pub segments: u32,
    pub records: f64,
    pub first_seq: Option<f64>,
    pub last_seq: Option<f64>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Checks every record CRC of an event-log directory without opening it for writing.
#[guard]
#[napi(catch_unwind)]
pub fn verify_event_log(dir: String) -> napi::Result<VerifyResult> {
    let rep = ku0_storage::log::verify_dir(&PathBuf::from(dir), u32::MAX - 64, |_, _, _| {})
        .map_err(to_napi)?;
    Ok(VerifyResult {
        segments: u32::try_from(rep.segments).unwrap_or(u32::MAX),
        records: rep.records as f64,
        first_seq: rep.first_seq.map(|s| s as f64),
        last_seq: rep.last_seq.map(|s| s as f64),
        problems: rep.problems,
        notes: rep.notes,
    })
}

/// Loader self-check: returns CRC32C("123456789") computed by the engine (0xE3069283).
#[guard]
#[napi(catch_unwind)]
pub fn self_check() -> napi::Result<u32> {
    Ok(ku0_storage::util::crc32c(b"123456789"))
}
