//! N-API binding for `ku0-tokenizer`. Only type and error conversion lives here: every call crosses
//! N-API once with whole strings / arrays / buffers; every export goes through `ku0-napi-boundary`
//! (`#[guard]`: panics and errors become JS errors with an `ERR_KU0_…` `code`).
//!
//! Two naming schemes are exported: the package's camelCase API and the runtime's snake_case seam
//! (`@ku0/tokenizer-rs`, contracts §1.2), so `TOKENIZER_RS_NATIVE_PATH` can point at this `.node`.

use ku0_napi_boundary::{List, MAX_ARRAY_LEN, arg, array_to_vec, coded, guard};
use ku0_tokenizer::cache::{SHARED, count_cached, count_cached_many};
use ku0_tokenizer::context::{PlanMessage, plan_truncate};
use ku0_tokenizer::truncate::{TruncateMode, truncate};
use ku0_tokenizer::zstd_payload::{self as zp, DEFAULT_MAX_OUTPUT, ZstdError};
use ku0_tokenizer::{Encoding, count};
use napi::JSON;
use napi::bindgen_prelude::*;
use napi_derive::napi;

fn enc(model: Option<&str>) -> Encoding {
    Encoding::for_model(model)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn tok_err(e: ku0_tokenizer::Error) -> Error {
    coded(e.code(), e.is_argument_error(), e)
}

fn zstd_err(e: ZstdError) -> Error {
    tok_err(e.into())
}

fn invalid(msg: impl std::fmt::Display) -> Error {
    tok_err(ku0_tokenizer::Error::InvalidArg(msg.to_string()))
}

fn budget(value: f64, name: &str) -> Result<usize> {
    let n = arg::count(value, name, u64::from(u32::MAX))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

fn max_output(limit: Option<f64>) -> Result<usize> {
    match limit {
        None => Ok(DEFAULT_MAX_OUTPUT),
        Some(v) => budget(v, "maxOutputBytes"),
    }
}

// ---------------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------------

/// Strings of at most this many UTF-16 units are read in one pass (see [`Utf8Text`]); longer ones
/// the way napi-rs reads a `String` (length first, then exactly that many bytes), so the buffer stays
/// bounded by the text's real size.
const ONE_PASS_MAX_UNITS: usize = 8 << 20;

/// A JS string argument as UTF-8, read in one pass: napi-rs's `String` asks V8 for the UTF-8 length
/// (a full scan of the string) and then zero-fills and writes a buffer of that size (two more passes);
/// here the buffer is sized from the UTF-16 length (O(1): at most 3 bytes per unit, a surrogate pair
/// is 4 bytes for 2 units, a lone surrogate becomes the 3-byte U+FFFD) and V8 writes it once. Same
/// result as `String`: lone surrogates become U+FFFD. A value that is not a string fails like `String`.
pub struct Utf8Text(String);

impl TypeName for Utf8Text {
    fn type_name() -> &'static str {
        String::type_name()
    }
    fn value_type() -> ValueType {
        String::value_type()
    }
}

impl ValidateNapiValue for Utf8Text {}

impl FromNapiValue for Utf8Text {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut units = 0usize;
        // SAFETY: `env` and `v` are the live env and argument of this call (napi-rs's contract); a
        // null buffer asks only for the length in UTF-16 units.
        let status = unsafe {
            sys::napi_get_value_string_utf16(env, v, std::ptr::null_mut(), 0, &mut units)
        };
        let cap = units.checked_mul(3).and_then(|n| n.checked_add(1));
        let (sys::Status::napi_ok, Some(cap)) = (status, cap) else {
            // Not a string (or absurdly long): napi-rs's own conversion and its error.
            // SAFETY: forwarded from napi-rs.
            return unsafe { String::from_napi_value(env, v) }.map(Utf8Text);
        };
        if units > ONE_PASS_MAX_UNITS {
            // SAFETY: forwarded from napi-rs.
            return unsafe { String::from_napi_value(env, v) }.map(Utf8Text);
        }
        let mut buf: Vec<u8> = Vec::with_capacity(cap);
        let mut written = 0usize;
        // SAFETY: `buf` has room for `cap` bytes; V8 writes at most `cap - 1` bytes plus a NUL and
        // reports how many bytes of text it wrote in `written`.
        let status = unsafe {
            sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), cap, &mut written)
        };
        if status != sys::Status::napi_ok || written >= cap {
            // SAFETY: forwarded from napi-rs.
            return unsafe { String::from_napi_value(env, v) }.map(Utf8Text);
        }
        // SAFETY: V8 initialized the first `written` bytes (< capacity).
        unsafe { buf.set_len(written) };
        // SAFETY: V8 writes well-formed UTF-8 (lone surrogates replaced by U+FFFD), as napi-rs's own
        // `String` conversion relies on too. The buffer held `3 × units` bytes, which every string of
        // `units` UTF-16 units fits in, so the text is whole, not cut at the end.
        Ok(Utf8Text(unsafe { String::from_utf8_unchecked(buf) }))
    }
}

/// Exact tiktoken token count of `text` for `model`'s encoding (content-cached for texts ≥ 64 bytes).
#[guard]
#[napi(catch_unwind)]
pub fn count_tokens(#[napi(ts_arg_type = "string")] text: Utf8Text, model: Option<String>) -> u32 {
    count_one(&text.0, model.as_deref())
}

fn count_one(text: &str, model: Option<&str>) -> u32 {
    to_u32(count_cached(text, enc(model)))
}

fn count_many(texts: &[String], model: Option<&str>) -> Result<Vec<u32>> {
    Ok(count_cached_many(texts, enc(model))
        .map_err(tok_err)?
        .into_iter()
        .map(to_u32)
        .collect())
}

/// Same count, never touching the content cache (benchmarks, cold measurements).
#[guard]
#[napi(catch_unwind)]
pub fn count_tokens_uncached(
    #[napi(ts_arg_type = "string")] text: Utf8Text,
    model: Option<String>,
) -> u32 {
    to_u32(count(&text.0, enc(model.as_deref())))
}

/// Counts for many texts in one crossing.
#[guard]
#[napi(catch_unwind)]
pub fn count_tokens_batch(
    #[napi(ts_arg_type = "Array<string>")] texts: List<String>,
    model: Option<String>,
) -> Result<Vec<u32>> {
    count_many(&texts, model.as_deref())
}

/// Counts of texts packed into one UTF-8 buffer, `lengths[i]` bytes each, back to back (one
/// crossing, no per-string conversion; content-cached like `countTokensBatch`). A buffer that is not
/// UTF-8, or lengths that split a character or do not add up to the buffer, are `ERR_KU0_INVALID_ARG`.
#[guard]
#[napi(catch_unwind)]
pub fn count_tokens_packed(
    bytes: Uint8Array,
    lengths: Uint32Array,
    model: Option<String>,
) -> Result<Uint32Array> {
    if lengths.len() > MAX_ARRAY_LEN as usize {
        return Err(invalid(format!(
            "lengths has {} entries, more than the {MAX_ARRAY_LEN} allowed",
            lengths.len()
        )));
    }
    let texts = ku0_tokenizer::batch::unpack(&bytes, &lengths).map_err(tok_err)?;
    let counts = count_cached_many(&texts, enc(model.as_deref())).map_err(tok_err)?;
    Ok(Uint32Array::new(counts.into_iter().map(to_u32).collect()))
}

/// Sum of the counts of many texts (one crossing, one number back).
#[guard]
#[napi(catch_unwind)]
pub fn count_tokens_sum(
    #[napi(ts_arg_type = "Array<string>")] texts: List<String>,
    model: Option<String>,
) -> Result<f64> {
    let e = enc(model.as_deref());
    Ok(count_cached_many(&texts, e)
        .map_err(tok_err)?
        .into_iter()
        .map(|n| n as f64)
        .sum())
}

pub struct CountTask {
    text: String,
    enc: Encoding,
}

#[guard]
impl Task for CountTask {
    type Output = usize;
    type JsValue = u32;
    fn compute(&mut self) -> Result<usize> {
        Ok(count(&self.text, self.enc))
    }
    fn resolve(&mut self, _env: Env, output: usize) -> Result<u32> {
        Ok(to_u32(output))
    }
}

/// Counts off the main thread (for inputs of megabytes).
#[guard]
#[napi(ts_return_type = "Promise<number>")]
pub fn count_tokens_async(text: String, model: Option<String>) -> AsyncTask<CountTask> {
    AsyncTask::new(CountTask {
        text,
        enc: enc(model.as_deref()),
    })
}

/// The encoding name `model` maps to (`cl100k_base`, `o200k_base`, …).
#[guard]
#[napi(catch_unwind)]
pub fn encoding_for_model(model: Option<String>) -> &'static str {
    enc(model.as_deref()).name()
}

/// Token ids (tiktoken ranks).
#[guard]
#[napi(catch_unwind)]
pub fn encode(text: String, model: Option<String>) -> Uint32Array {
    Uint32Array::new(ku0_tokenizer::encode(&text, enc(model.as_deref())))
}

/// Text of token ids (a character split at either end becomes U+FFFD).
#[guard]
#[napi(catch_unwind)]
pub fn decode(tokens: Uint32Array, model: Option<String>) -> Result<String> {
    ku0_tokenizer::decode(&tokens, enc(model.as_deref())).map_err(|e| tok_err(e.into()))
}

#[napi(object)]
pub struct CacheStatsJs {
    pub entries: u32,
    pub capacity: u32,
    pub hits: f64,
    pub misses: f64,
}

/// Counters of the process-wide content → count cache.
#[guard]
#[napi(catch_unwind)]
pub fn count_cache_stats() -> CacheStatsJs {
    let s = SHARED.stats();
    CacheStatsJs {
        entries: to_u32(s.entries),
        capacity: to_u32(s.capacity),
        hits: s.hits as f64,
        misses: s.misses as f64,
    }
}

/// Empties the content → count cache.
#[guard]
#[napi(catch_unwind)]
pub fn clear_count_cache() {
    SHARED.clear();
}

/// Sets the cache bound (entries per generation; at most twice this many are kept) and clears it.
#[guard]
#[napi(catch_unwind)]
pub fn set_count_cache_capacity(entries: f64) -> Result<()> {
    let n = arg::count(entries, "entries", u64::from(u32::MAX))?;
    SHARED.set_capacity(usize::try_from(n).unwrap_or(usize::MAX));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Truncation and context compression
// ---------------------------------------------------------------------------------------------

#[napi(object)]
pub struct TruncatedJs {
    pub text: String,
    pub tokens: u32,
    pub truncated: bool,
}

/// Truncates to at most `maxTokens` tokens at token boundaries: mode `head`, `tail` or `head_tail`
/// (with `marker` between the halves, its tokens counted).
#[guard]
#[napi(catch_unwind)]
pub fn truncate_text(
    text: String,
    max_tokens: f64,
    mode: String,
    marker: Option<String>,
    model: Option<String>,
) -> Result<TruncatedJs> {
    let max = budget(max_tokens, "maxTokens")?;
    let mode = match mode.as_str() {
        "head" => TruncateMode::Head,
        "tail" => TruncateMode::Tail,
        "head_tail" | "headTail" | "head+tail" => TruncateMode::HeadTail,
        other => {
            return Err(invalid(format!(
                "mode must be head, tail or head_tail, got {other:?}"
            )));
        }
    };
    let t = truncate(
        &text,
        max,
        mode,
        marker.as_deref().unwrap_or(""),
        enc(model.as_deref()),
    );
    Ok(TruncatedJs {
        text: t.text,
        tokens: to_u32(t.tokens),
        truncated: t.truncated,
    })
}

#[napi(object)]
pub struct PlanResultJs {
    pub call_id: Option<String>,
    /// `JSON.stringify(result)`.
    pub json: String,
}

#[napi(object)]
pub struct PlanMessageJs {
    pub content: Option<String>,
    #[napi(ts_type = "Array<string>")]
    pub call_ids: Option<List<String>>,
    /// Names of the tool calls, parallel to `callIds`.
    #[napi(ts_type = "Array<string>")]
    pub call_names: Option<List<String>>,
    #[napi(ts_type = "Array<PlanResultJs>")]
    pub results: Option<List<PlanResultJs>>,
    /// A `role: "tool"` message (answers the assistant message before it when it has no call id).
    pub tool_message: Option<bool>,
    pub tool_name: Option<String>,
}

#[napi(object)]
pub struct PlanJs {
    pub selected_indices: Vec<u32>,
    pub truncated_index: Option<u32>,
    pub truncated_content: Option<String>,
    pub total_tokens: u32,
    pub input_tokens: u32,
}

/// `obj[key]` when it is an array; `undefined`/`null`/non-arrays read as absent (the runtime ignores them).
fn array_prop<'e>(obj: &Object<'e>, key: &str) -> Result<Option<Array<'e>>> {
    let v: Unknown = obj.get_named_property_unchecked(key)?;
    if v.get_type()? != ValueType::Object || !v.is_array()? {
        return Ok(None);
    }
    // SAFETY: checked to be an array.
    Ok(Some(unsafe { v.cast::<Array>()? }))
}

fn plan_js(messages: &[PlanMessage], max: usize, preserve: usize, e: Encoding) -> PlanJs {
    plan_js_from(plan_truncate(messages, max, preserve, e))
}

fn plan_js_from(p: ku0_tokenizer::context::Plan) -> PlanJs {
    let (truncated_index, truncated_content) = match p.truncated {
        Some((i, t)) => (Some(to_u32(i)), Some(t)),
        None => (None, None),
    };
    PlanJs {
        selected_indices: p.selected.into_iter().map(to_u32).collect(),
        truncated_index,
        truncated_content,
        total_tokens: to_u32(p.total_tokens),
        input_tokens: to_u32(p.input_tokens),
    }
}

/// The "truncate" compression plan for pre-serialized messages (one crossing per history).
#[guard]
#[napi(catch_unwind)]
pub fn plan_compress_context(
    #[napi(ts_arg_type = "Array<PlanMessageJs>")] messages: List<PlanMessageJs>,
    max_tokens: f64,
    preserve_last_n: f64,
    model: Option<String>,
) -> Result<PlanJs> {
    let max = budget(max_tokens, "maxTokens")?;
    let preserve = budget(preserve_last_n, "preserveLastN")?;
    let msgs: Vec<PlanMessage> = messages
        .into_iter()
        .map(|m| PlanMessage {
            content: m.content,
            call_ids: m.call_ids.map(List::into_vec).unwrap_or_default(),
            call_names: m.call_names.map(List::into_vec).unwrap_or_default(),
            results: m
                .results
                .map(List::into_vec)
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.call_id, r.json))
                .collect(),
            tool_message: m.tool_message.unwrap_or(false),
            tool_name: m.tool_name,
        })
        .collect();
    Ok(plan_js(&msgs, max, preserve, enc(model.as_deref())))
}

// ---------------------------------------------------------------------------------------------
// Zstd
// ---------------------------------------------------------------------------------------------

/// Compresses a buffer into one zstd frame.
#[guard]
#[napi(catch_unwind)]
pub fn zstd_compress(data: Uint8Array, level: Option<i32>) -> Result<Buffer> {
    zp::compress(&data, level.unwrap_or(3))
        .map(Buffer::from)
        .map_err(zstd_err)
}

/// Decompresses zstd frames; corrupt/truncated input or output over `maxOutputBytes` (default 256 MiB) throws.
#[guard]
#[napi(catch_unwind)]
pub fn zstd_decompress(data: Uint8Array, max_output_bytes: Option<f64>) -> Result<Buffer> {
    zp::decompress(&data, max_output(max_output_bytes)?)
        .map(Buffer::from)
        .map_err(zstd_err)
}

pub struct ZstdTask {
    data: Vec<u8>,
    level: i32,
    compress: bool,
    max_output: usize,
}

#[guard]
impl Task for ZstdTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        if self.compress {
            zp::compress(&self.data, self.level)
        } else {
            zp::decompress(&self.data, self.max_output)
        }
        .map_err(zstd_err)
    }
    fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
        Ok(Buffer::from(output))
    }
}

/// `zstdCompress` off the main thread.
#[guard]
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn zstd_compress_async(data: Uint8Array, level: Option<i32>) -> AsyncTask<ZstdTask> {
    AsyncTask::new(ZstdTask {
        data: data.to_vec(),
        level: level.unwrap_or(3),
        compress: true,
        max_output: 0,
    })
}

/// `zstdDecompress` off the main thread.
#[guard]
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn zstd_decompress_async(
    data: Uint8Array,
    max_output_bytes: Option<f64>,
) -> Result<AsyncTask<ZstdTask>> {
    Ok(AsyncTask::new(ZstdTask {
        data: data.to_vec(),
        level: 0,
        compress: false,
        max_output: max_output(max_output_bytes)?,
    }))
}

/// Trains a dictionary of at most `maxSize` bytes from sample payloads.
#[guard]
#[napi(catch_unwind)]
pub fn zstd_train_dictionary(
    #[napi(ts_arg_type = "Array<Uint8Array>")] samples: List<Uint8Array>,
    max_size: f64,
) -> Result<Buffer> {
    let max_size = arg::count(max_size, "maxSize", zp::MAX_DICTIONARY_BYTES as u64)?;
    let refs: Vec<&[u8]> = samples.iter().map(|s| &s[..]).collect();
    zp::train_dictionary(&refs, usize::try_from(max_size).unwrap_or(usize::MAX))
        .map(Buffer::from)
        .map_err(zstd_err)
}

/// Compresses with a trained dictionary.
#[guard]
#[napi(catch_unwind)]
pub fn zstd_compress_with_dictionary(
    data: Uint8Array,
    dictionary: Uint8Array,
    level: Option<i32>,
) -> Result<Buffer> {
    zp::compress_with_dictionary(&data, &dictionary, level.unwrap_or(3))
        .map(Buffer::from)
        .map_err(zstd_err)
}

/// Decompresses with the dictionary used to compress.
#[guard]
#[napi(catch_unwind)]
pub fn zstd_decompress_with_dictionary(
    data: Uint8Array,
    dictionary: Uint8Array,
    max_output_bytes: Option<f64>,
) -> Result<Buffer> {
    zp::decompress_with_dictionary(&data, &dictionary, max_output(max_output_bytes)?)
        .map(Buffer::from)
        .map_err(zstd_err)
}

#[napi(object)]
pub struct CompressedPayloadJs {
    pub data: Buffer,
    pub original_bytes: u32,
    pub compressed_bytes: u32,
    pub compression_ratio: f64,
    pub encoding: String,
}

fn payload_js(p: zp::CompressedPayload) -> CompressedPayloadJs {
    CompressedPayloadJs {
        original_bytes: to_u32(p.original_bytes),
        compressed_bytes: to_u32(p.compressed_bytes),
        compression_ratio: p.compression_ratio,
        encoding: "zstd".to_owned(),
        data: Buffer::from(p.data),
    }
}

/// `compressPayloadZstd` on already-serialized JSON bytes.
#[guard]
#[napi(catch_unwind)]
pub fn compress_payload_bytes(
    json: Uint8Array,
    min_bytes: f64,
    level: i32,
) -> Result<Option<CompressedPayloadJs>> {
    let min = budget(min_bytes, "minBytes")?;
    Ok(zp::compress_payload(&json, min, level)
        .map_err(zstd_err)?
        .map(payload_js))
}

/// `decompressPayloadZstd`: bytes, or null for corrupt/truncated/oversized input.
#[guard]
#[napi(catch_unwind)]
pub fn decompress_payload(
    data: Uint8Array,
    max_output_bytes: Option<f64>,
) -> Result<Option<Buffer>> {
    Ok(zp::decompress_payload(&data, max_output(max_output_bytes)?).map(Buffer::from))
}

// ---------------------------------------------------------------------------------------------
// The runtime's snake_case seam (contracts §1.2)
// ---------------------------------------------------------------------------------------------

/// `JSON.stringify(value)`, or `String(value)` when that throws or yields undefined.
fn json_text(env: &Env, value: Unknown) -> Result<String> {
    let global = env.get_global()?;
    let json: JSON = global.get_named_property_unchecked("JSON")?;
    match json.stringify(value) {
        Ok(s) => Ok(s),
        Err(_) => value.coerce_to_string()?.into_utf8()?.into_owned(),
    }
}

/// Runtime seam: `count_tokens(text, model)`.
#[guard]
#[napi(js_name = "count_tokens", catch_unwind)]
pub fn seam_count_tokens(
    #[napi(ts_arg_type = "string")] text: Utf8Text,
    model: Option<String>,
) -> u32 {
    count_one(&text.0, model.as_deref())
}

/// Runtime seam: `count_tokens_batch(texts, model)`.
#[guard]
#[napi(js_name = "count_tokens_batch", catch_unwind)]
pub fn seam_count_tokens_batch(
    #[napi(ts_arg_type = "Array<string>")] texts: List<String>,
    model: Option<String>,
) -> Result<Vec<u32>> {
    count_many(&texts, model.as_deref())
}

/// Runtime seam: `estimate_json_tokens(value, model)`.
#[guard]
#[napi(js_name = "estimate_json_tokens", catch_unwind)]
pub fn seam_estimate_json_tokens(env: Env, value: Unknown, model: Option<String>) -> Result<u32> {
    let text = json_text(&env, value)?;
    Ok(to_u32(count_cached(&text, enc(model.as_deref()))))
}

/// Runtime seam: `compress_payload_zstd(value, minBytes, level?)`.
#[guard]
#[napi(js_name = "compress_payload_zstd", catch_unwind)]
pub fn seam_compress_payload_zstd(
    env: Env,
    value: Unknown,
    min_bytes: Option<f64>,
    level: Option<i32>,
) -> Result<Option<CompressedPayloadJs>> {
    let text = json_text(&env, value)?;
    let min = budget(min_bytes.unwrap_or(2048.0), "minBytes")?;
    Ok(
        zp::compress_payload(text.as_bytes(), min, level.unwrap_or(3))
            .map_err(zstd_err)?
            .map(payload_js),
    )
}

/// Runtime seam: `decompress_payload_zstd(data)`.
#[guard]
#[napi(js_name = "decompress_payload_zstd", catch_unwind)]
pub fn seam_decompress_payload_zstd(data: Uint8Array) -> Option<Buffer> {
    zp::decompress_payload(&data, DEFAULT_MAX_OUTPUT).map(Buffer::from)
}

/// Runtime seam: `compress_context(messages, maxTokens, preserveLastN, model?)` → `CompressedContext`.
#[guard]
#[napi(js_name = "compress_context", catch_unwind)]
pub fn seam_compress_context<'e>(
    env: &'e Env,
    messages: Array<'e>,
    max_tokens: f64,
    preserve_last_n: f64,
    model: Option<String>,
) -> Result<Object<'e>> {
    let max = budget(max_tokens, "maxTokens")?;
    let preserve = budget(preserve_last_n, "preserveLastN")?;
    let n = messages.len();
    if n > MAX_ARRAY_LEN {
        return Err(invalid(format!(
            "messages has length {n}, over the limit of {MAX_ARRAY_LEN}"
        )));
    }
    // Capacity grows with the messages actually read, never from the (caller-controlled) `length`.
    let mut originals: Vec<Object> = Vec::new();
    let mut plan_msgs: Vec<PlanMessage> = Vec::new();
    for i in 0..n {
        let m: Object = messages
            .get(i)?
            .ok_or_else(|| invalid(format!("messages[{i}] is missing")))?;
        let content: Option<String> = m.get("content").ok().flatten();
        let mut call_ids = Vec::new();
        let mut call_names = Vec::new();
        if let Some(calls) = array_prop(&m, "toolCalls")? {
            for c in array_to_vec::<Object>(&calls, MAX_ARRAY_LEN)? {
                call_ids.push(c.get::<String>("id").ok().flatten().unwrap_or_default());
                call_names.push(c.get::<String>("name").ok().flatten().unwrap_or_default());
            }
        }
        let role: Option<String> = m.get("role").ok().flatten();
        let tool_name: Option<String> = m.get("toolName").ok().flatten();
        let mut results = Vec::new();
        if let Some(rs) = array_prop(&m, "toolResults")? {
            for r in array_to_vec::<Object>(&rs, MAX_ARRAY_LEN)? {
                let call_id: Option<String> = r.get("callId").ok().flatten();
                let value: Unknown = r.get_named_property_unchecked("result")?;
                let json = json_text(env, value)?;
                results.push((call_id, json));
            }
        }
        let result: Unknown = m.get_named_property_unchecked("result")?;
        if result.get_type()? != ValueType::Undefined {
            results.push((None, json_text(env, result)?));
        }
        plan_msgs.push(PlanMessage {
            content,
            call_ids,
            call_names,
            results,
            tool_message: role.as_deref() == Some("tool"),
            tool_name,
        });
        originals.push(m);
    }
    let e = enc(model.as_deref());
    let engine_plan = plan_truncate(&plan_msgs, max, preserve, e);
    let removed = engine_plan.removed_count(plan_msgs.len());
    let ratio = engine_plan.compression_ratio(plan_msgs.len());
    let plan = plan_js_from(engine_plan);
    let mut out = env.create_array(to_u32(plan.selected_indices.len()))?;
    for (k, &i) in plan.selected_indices.iter().enumerate() {
        let orig = originals
            .get(i as usize)
            .ok_or_else(|| invalid("plan index out of range"))?;
        if plan.truncated_index == Some(i) {
            let mut copy = Object::new(env)?;
            for key in Object::keys(orig)? {
                let v: Unknown = orig.get_named_property_unchecked(&key)?;
                copy.set(&key, v)?;
            }
            copy.set(
                "content",
                plan.truncated_content.clone().unwrap_or_default(),
            )?;
            out.set(to_u32(k), copy)?;
        } else {
            out.set(to_u32(k), orig)?;
        }
    }
    let mut result = Object::new(env)?;
    result.set("messages", out)?;
    result.set("totalTokens", plan.total_tokens)?;
    result.set("removedCount", to_u32(removed))?;
    result.set("compressionRatio", ratio)?;
    result.set("selectedIndices", plan.selected_indices)?;
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// Streaming zstd
// ---------------------------------------------------------------------------------------------

/// Runs `f` on the stream; a panic poisons the stream (via `abort`) and is re-raised for the
/// boundary guard to turn into `ERR_KU0_NATIVE_PANIC`.
fn guarded<S, T>(
    stream: &mut S,
    abort: fn(&mut S),
    f: impl FnOnce(&mut S) -> std::result::Result<T, ZstdError>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(stream))) {
        Ok(r) => r.map_err(zstd_err),
        Err(p) => {
            abort(stream);
            std::panic::resume_unwind(p)
        }
    }
}

/// Incremental zstd compressor producing one frame: `push` returns the compressed bytes ready so
/// far, `finish` ends the frame. Using the stream after `finish` or an error throws
/// `ERR_KU0_ZSTD_STREAM_FINISHED`.
#[napi]
pub struct ZstdCompressStream {
    inner: zp::CompressStream,
}

#[guard]
#[napi]
impl ZstdCompressStream {
    #[napi(constructor, catch_unwind)]
    pub fn new(level: Option<i32>) -> Result<Self> {
        zp::CompressStream::new(level.unwrap_or(3))
            .map(|inner| Self { inner })
            .map_err(zstd_err)
    }

    #[napi(catch_unwind)]
    pub fn push(&mut self, chunk: Uint8Array) -> Result<Buffer> {
        guarded(&mut self.inner, zp::CompressStream::abort, |s| {
            s.push(&chunk)
        })
        .map(Buffer::from)
    }

    #[napi(catch_unwind)]
    pub fn finish(&mut self) -> Result<Buffer> {
        guarded(&mut self.inner, zp::CompressStream::abort, |s| s.finish()).map(Buffer::from)
    }
}

/// Incremental zstd decompressor (concatenated frames allowed). The running total of decoded bytes is
/// capped at `maxOutputBytes` (default 256 MiB, `ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE`); `finish` throws
/// `ERR_KU0_ZSTD_CORRUPT` when the input ended inside a frame.
#[napi]
pub struct ZstdDecompressStream {
    inner: zp::DecompressStream,
}

#[guard]
#[napi]
impl ZstdDecompressStream {
    #[napi(constructor, catch_unwind)]
    pub fn new(max_output_bytes: Option<f64>) -> Result<Self> {
        zp::DecompressStream::new(max_output(max_output_bytes)?)
            .map(|inner| Self { inner })
            .map_err(zstd_err)
    }

    #[napi(catch_unwind)]
    pub fn push(&mut self, chunk: Uint8Array) -> Result<Buffer> {
        guarded(&mut self.inner, zp::DecompressStream::abort, |s| {
            s.push(&chunk)
        })
        .map(Buffer::from)
    }

    #[napi(catch_unwind)]
    pub fn finish(&mut self) -> Result<Buffer> {
        guarded(&mut self.inner, zp::DecompressStream::abort, |s| s.finish()).map(Buffer::from)
    }

    /// Decompressed bytes produced so far.
    #[napi(getter, catch_unwind)]
    pub fn total_out(&self) -> f64 {
        self.inner.total_out() as f64
    }
}
