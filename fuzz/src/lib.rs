//! Bodies of the cargo-fuzz targets (`fuzz_targets/*.rs` call these), kept in a library so the corpus
//! replay test (`tests/replay.rs`, run in CI without libFuzzer) exercises exactly the same code.
//!
//! Each body must never panic, abort or hang on any input: a decoder returns an error for bad bytes.
//! Where a checksum would stop the fuzzer at the first gate, the body also decodes a copy with the
//! checksum fixed up, so the mutations reach the parser behind it.

use ku0_storage::checkpoint::{CKPT_HEADER, CKPT_MAGIC};
use ku0_storage::log::{self, Parsed, SEG_HEADER};
use ku0_storage::util::{crc32c, crc32c_append};
use ku0_tokenizer::zstd_payload as zp;
use ku0_tokenizer::{Encoding, count, decode, encode};

/// Output cap for every decompression (the bindings' caps are larger; the logic is the same).
const MAX_OUT: usize = 1 << 20;
/// Record size cap handed to the log parsers.
const MAX_RECORD: u32 = 1 << 20;

/// Event-log records: `parse_record` at every offset of the input.
pub fn storage_record(data: &[u8]) {
    for off in 0..data.len().min(64) {
        if let Parsed::Ok(h) = log::parse_record(data, off, None, MAX_RECORD) {
            assert!(off + h.len <= data.len());
        }
    }
}

/// A whole segment: header check, then the scan that open/replay/verify use.
pub fn storage_segment(data: &[u8]) {
    let _ = log::check_segment_header(data, 0);
    let mut seen = 0u64;
    let scan = log::scan_segment(data, 0, MAX_RECORD, |_, _| seen += 1);
    assert!(scan.end <= data.len().max(SEG_HEADER as usize));
    assert_eq!(scan.records, seen);
    // The same bytes behind a valid header, so the records are reached.
    let mut seg = log::encode_segment_header(7, 0).to_vec();
    seg.extend_from_slice(data);
    let _ = log::check_segment_header(&seg, 7);
    let _ = log::scan_segment(&seg, 7, MAX_RECORD, |_, _| {});
}

/// Sparse index files (`*.idx`), raw and with their checksum fixed up.
pub fn storage_index(data: &[u8]) {
    let _ = log::decode_index_file(data);
    if data.len() >= 16 {
        let mut b = data.to_vec();
        let crc = crc32c(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        if let Some((entries, _, _)) = log::decode_index_file(&b) {
            assert_eq!(b.len(), 32 + entries.len() * 16);
        }
    }
}

/// Checkpoint files (`*.ckpt`), raw and with magic, length and checksum fixed up.
pub fn storage_checkpoint(data: &[u8]) {
    let _ = ku0_storage::checkpoint::decode_checkpoint_file(data);
    if data.len() >= CKPT_HEADER {
        let mut b = data.to_vec();
        b[0..8].copy_from_slice(&CKPT_MAGIC);
        let meta_len = u32::from_le_bytes([b[12], b[13], b[14], b[15]]) as usize;
        let body_len = b.len().saturating_sub(CKPT_HEADER + meta_len);
        if meta_len <= b.len() - CKPT_HEADER {
            b[16..20].copy_from_slice(&(body_len as u32).to_le_bytes());
        }
        let crc = crc32c_append(crc32c(&b[0..24]), &b[28..]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        let _ = ku0_storage::checkpoint::decode_checkpoint_file(&b);
    }
}

/// The `KU0SYMIX` symbol-index file: raw, and the input as a correctly framed body.
pub fn symbol_index_file(data: &[u8]) {
    if let Ok(idx) = ku0_symbol_index::SymbolIndex::from_bytes(data) {
        let _ = idx.to_bytes();
    }
    let framed = ku0_symbol_index::persist::frame(data, ku0_symbol_index::persist::WRITER_JS);
    if let Ok(mut idx) = ku0_symbol_index::SymbolIndex::from_bytes(&framed) {
        let _ = idx.stats();
        let _ = idx.query(
            "a",
            &ku0_symbol_index::QueryOptions {
                limit: 5,
                kinds: None,
                fuzzy: true,
            },
        );
        // what decodes must encode and decode again
        let again = idx.to_bytes();
        assert!(ku0_symbol_index::SymbolIndex::from_bytes(&again).is_ok());
    }
}

/// One-shot zstd: frames, payloads, and dictionary decompression (input split into dict + frame).
pub fn zstd_payload(data: &[u8]) {
    if let Ok(out) = zp::decompress(data, MAX_OUT) {
        assert!(out.len() <= MAX_OUT);
    }
    if let Some(out) = zp::decompress_payload(data, MAX_OUT) {
        assert!(out.len() <= MAX_OUT);
    }
    let split = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (dict, frame) = data.split_at(split);
    if let Ok(out) = zp::decompress_with_dictionary(frame, dict, MAX_OUT) {
        assert!(out.len() <= MAX_OUT);
    }
}

/// Streaming zstd: the input pushed in chunks whose sizes come from the input itself.
pub fn zstd_stream(data: &[u8]) {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let Ok(mut d) = zp::DecompressStream::new(MAX_OUT) else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut total = 0usize;
    for chunk in rest.chunks(step) {
        match d.push(chunk) {
            Ok(out) => total += out.len(),
            Err(_) => break,
        }
    }
    if let Ok(out) = d.finish() {
        total += out.len();
    }
    assert!(total <= MAX_OUT + (1 << 17));
}

/// The sandbox policy reader (JSON from the adapter, read by the helper).
pub fn sandbox_policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = ku0_sandbox::ExecPolicy::from_json(&text) {
        // what validates must re-serialize and validate again
        if let Ok(json) = serde_json_string(&p) {
            assert!(ku0_sandbox::ExecPolicy::from_json(&json).is_ok(), "{json}");
        }
    }
}

fn serde_json_string(p: &ku0_sandbox::ExecPolicy) -> Result<String, String> {
    serde_json::to_string(p).map_err(|e| e.to_string())
}

/// Tokenizer input: every encoding counts, encodes and decodes arbitrary text consistently.
pub fn tokenizer_input(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for enc in Encoding::ALL {
        let ids = encode(&text, enc);
        assert_eq!(count(&text, enc), ids.len());
        match decode(&ids, enc) {
            Ok(back) => assert_eq!(back, text),
            Err(e) => panic!("encode produced an id decode rejects: {e}"),
        }
    }
    // token ids from raw bytes: decode must reject or accept, never panic
    let ids: Vec<u32> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) % 300_000)
        .collect();
    let _ = decode(&ids, Encoding::Cl100kBase);
}
