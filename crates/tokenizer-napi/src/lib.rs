//! N-API binding for `ku0-tokenizer`. Only type and error conversion lives here: every call crosses
//! N-API once with whole strings / arrays, and panics become JS errors (`catch_unwind`).
//!
//! Two naming schemes are exported: the package's camelCase API and the runtime's snake_case seam
//! (`@ku0/tokenizer-rs`, contracts §1.2), so `TOKENIZER_RS_NATIVE_PATH` can point at this `.node`.

use ku0_tokenizer::Encoding;
use napi_derive::napi;

fn enc(model: Option<&str>) -> Encoding {
    Encoding::for_model(model)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Exact tiktoken token count of `text` for `model`'s encoding.
#[napi(catch_unwind)]
pub fn count_tokens(text: String, model: Option<String>) -> u32 {
    to_u32(ku0_tokenizer::count(&text, enc(model.as_deref())))
}

/// Counts for many texts in one crossing.
#[napi(catch_unwind)]
pub fn count_tokens_batch(texts: Vec<String>, model: Option<String>) -> Vec<u32> {
    let e = enc(model.as_deref());
    texts
        .iter()
        .map(|t| to_u32(ku0_tokenizer::count(t, e)))
        .collect()
}

/// The encoding name `model` maps to (`cl100k_base`, `o200k_base`, …).
#[napi(catch_unwind)]
pub fn encoding_for_model(model: Option<String>) -> &'static str {
    enc(model.as_deref()).name()
}

/// Runtime seam: `count_tokens(text, model)`.
#[napi(js_name = "count_tokens", catch_unwind)]
pub fn seam_count_tokens(text: String, model: Option<String>) -> u32 {
    count_tokens(text, model)
}

/// Runtime seam: `count_tokens_batch(texts, model)`.
#[napi(js_name = "count_tokens_batch", catch_unwind)]
pub fn seam_count_tokens_batch(texts: Vec<String>, model: Option<String>) -> Vec<u32> {
    count_tokens_batch(texts, model)
}
