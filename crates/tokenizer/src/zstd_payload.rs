//! Zstd compression for chat payloads: plain buffers, JSON payloads (contracts §1.1), dictionaries,
//! with a hard limit on decompressed size so a small bomb cannot exhaust memory.

use std::cell::RefCell;
use std::io::Read;

thread_local! {
    // Reused per thread: creating a zstd context costs more than compressing a small payload.
    static CCTX: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Default cap on decompressed output (256 MiB).
pub const DEFAULT_MAX_OUTPUT: usize = 256 * 1024 * 1024;

/// Zstd errors, each with a stable code for the binding.
#[derive(Debug, thiserror::Error)]
pub enum ZstdError {
    #[error("compression level {0} is out of range ({min}..={max})", min = level_range().0, max = level_range().1)]
    LevelOutOfRange(i32),
    #[error("input is not a valid zstd frame (corrupt or truncated): {0}")]
    Corrupt(String),
    #[error("decompressed size exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("zstd failure: {0}")]
    Internal(String),
}

impl ZstdError {
    /// Stable `ERR_KU0_*` code.
    pub fn code(&self) -> &'static str {
        match self {
            ZstdError::LevelOutOfRange(_) => "ERR_KU0_ZSTD_LEVEL_OUT_OF_RANGE",
            ZstdError::Corrupt(_) => "ERR_KU0_ZSTD_CORRUPT",
            ZstdError::TooLarge(_) => "ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE",
            ZstdError::Internal(_) => "ERR_KU0_ZSTD_FAILURE",
        }
    }
}

/// Levels zstd accepts (negative = fast modes).
pub fn level_range() -> (i32, i32) {
    let r = zstd::compression_level_range();
    (*r.start(), *r.end())
}

fn check_level(level: i32) -> Result<i32, ZstdError> {
    let (min, max) = level_range();
    if level < min || level > max {
        return Err(ZstdError::LevelOutOfRange(level));
    }
    Ok(level)
}

/// Compresses `data` into one zstd frame (content size recorded in the header).
pub fn compress(data: &[u8], level: i32) -> Result<Vec<u8>, ZstdError> {
    let level = check_level(level)?;
    let internal = |e: std::io::Error| ZstdError::Internal(e.to_string());
    CCTX.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|e| ZstdError::Internal(e.to_string()))?;
        let c = match slot.as_mut() {
            Some(c) => {
                c.set_compression_level(level).map_err(internal)?;
                c
            }
            None => slot.insert(zstd::bulk::Compressor::new(level).map_err(internal)?),
        };
        c.compress(data).map_err(internal)
    })
}

/// Decodes into an exactly sized buffer when the input is one frame whose header states its size (the
/// usual case for frames made by `compress`); `None` when the sizes are unknown or over `max_output`.
fn decompress_sized(data: &[u8], max_output: usize) -> Option<Result<Vec<u8>, ZstdError>> {
    // Exactly one frame, whose header states its size.
    if zstd::zstd_safe::find_frame_compressed_size(data).ok()? != data.len() {
        return None;
    }
    let size = zstd::zstd_safe::get_frame_content_size(data).ok()??;
    let size = usize::try_from(size).ok().filter(|&n| n <= max_output)?;
    Some(DCTX.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|e| ZstdError::Internal(e.to_string()))?;
        let d = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(
                zstd::bulk::Decompressor::new().map_err(|e| ZstdError::Internal(e.to_string()))?,
            ),
        };
        let out = d
            .decompress(data, size)
            .map_err(|e| ZstdError::Corrupt(e.to_string()))?;
        if out.len() != size {
            return Err(ZstdError::Corrupt(format!(
                "frame declares {size} bytes, decoded {}",
                out.len()
            )));
        }
        Ok(out)
    }))
}

fn read_limited<R: Read>(mut reader: R, max_output: usize) -> Result<Vec<u8>, ZstdError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    (&mut reader)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ZstdError::Corrupt(e.to_string()))?;
    if out.len() > max_output {
        return Err(ZstdError::TooLarge(max_output));
    }
    Ok(out)
}

/// Decompresses every frame in `data`, failing on corrupt/truncated input or output over `max_output`.
/// Streams, so memory stays bounded by `max_output` whatever the frame header claims.
pub fn decompress(data: &[u8], max_output: usize) -> Result<Vec<u8>, ZstdError> {
    if data.is_empty() {
        return Err(ZstdError::Corrupt("empty input".into()));
    }
    if let Some(r) = decompress_sized(data, max_output) {
        return r;
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|e| ZstdError::Internal(e.to_string()))?;
    read_limited(decoder, max_output)
}

/// Trains a dictionary (at most `max_size` bytes) from sample payloads.
pub fn train_dictionary<S: AsRef<[u8]>>(
    samples: &[S],
    max_size: usize,
) -> Result<Vec<u8>, ZstdError> {
    let refs: Vec<&[u8]> = samples.iter().map(AsRef::as_ref).collect();
    let total: usize = refs.iter().map(|s| s.len()).sum();
    let sizes: Vec<usize> = refs.iter().map(|s| s.len()).collect();
    let mut flat = Vec::with_capacity(total);
    for s in &refs {
        flat.extend_from_slice(s);
    }
    zstd::dict::from_continuous(&flat, &sizes, max_size)
        .map_err(|e| ZstdError::Internal(e.to_string()))
}

/// Compresses with a dictionary.
pub fn compress_with_dictionary(
    data: &[u8],
    dict: &[u8],
    level: i32,
) -> Result<Vec<u8>, ZstdError> {
    let mut c = zstd::bulk::Compressor::with_dictionary(check_level(level)?, dict)
        .map_err(|e| ZstdError::Internal(e.to_string()))?;
    c.compress(data)
        .map_err(|e| ZstdError::Internal(e.to_string()))
}

/// Decompresses data made with [`compress_with_dictionary`] and the same dictionary.
pub fn decompress_with_dictionary(
    data: &[u8],
    dict: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, ZstdError> {
    if data.is_empty() {
        return Err(ZstdError::Corrupt("empty input".into()));
    }
    let decoder = zstd::stream::read::Decoder::with_dictionary(data, dict)
        .map_err(|e| ZstdError::Internal(e.to_string()))?;
    read_limited(decoder, max_output)
}

/// A compressed JSON payload (contracts §1.1 `CompressedPayload`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedPayload {
    pub data: Vec<u8>,
    pub original_bytes: usize,
    pub compressed_bytes: usize,
    /// `compressed / original` (smaller is better), as the runtime reports it.
    pub compression_ratio: f64,
}

/// `compressPayloadZstd` on already-serialized JSON: `None` below `min_bytes` or when zstd does not
/// shrink it. `level` is clamped to 1..=22 as the contract says.
pub fn compress_payload(
    json: &[u8],
    min_bytes: usize,
    level: i32,
) -> Result<Option<CompressedPayload>, ZstdError> {
    if json.len() < min_bytes {
        return Ok(None);
    }
    let data = compress(json, level.clamp(1, 22))?;
    if data.len() >= json.len() {
        return Ok(None);
    }
    let compressed_bytes = data.len();
    Ok(Some(CompressedPayload {
        original_bytes: json.len(),
        compressed_bytes,
        compression_ratio: compressed_bytes as f64 / json.len() as f64,
        data,
    }))
}

/// `decompressPayloadZstd`: the bytes, or `None` for corrupt/truncated/oversized input.
pub fn decompress_payload(data: &[u8], max_output: usize) -> Option<Vec<u8>> {
    decompress(data, max_output).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut s = String::new();
        for i in 0..500 {
            s.push_str(&format!(
                "{{\"role\":\"user\",\"content\":\"message number {i} about tokens\"}},"
            ));
        }
        s.into_bytes()
    }

    #[test]
    fn roundtrip_levels() {
        let data = sample();
        for level in [1, 3, 9, 19, -5] {
            let c = compress(&data, level).unwrap();
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, DEFAULT_MAX_OUTPUT).unwrap(), data);
        }
        assert!(matches!(
            compress(&data, 99),
            Err(ZstdError::LevelOutOfRange(99))
        ));
    }

    #[test]
    fn concatenated_frames() {
        let a = compress(b"first frame ", 3).unwrap();
        let b = compress(b"second frame", 3).unwrap();
        let both = [a, b].concat();
        assert_eq!(
            decompress(&both, 1024).unwrap(),
            b"first frame second frame"
        );
        assert!(matches!(
            decompress(&both, 10),
            Err(ZstdError::TooLarge(10))
        ));
    }

    #[test]
    fn corrupt_truncated_and_bombs() {
        let data = sample();
        let c = compress(&data, 3).unwrap();
        assert!(matches!(
            decompress(&c[..c.len() / 2], DEFAULT_MAX_OUTPUT),
            Err(ZstdError::Corrupt(_))
        ));
        assert!(matches!(
            decompress(b"not zstd at all", DEFAULT_MAX_OUTPUT),
            Err(ZstdError::Corrupt(_))
        ));
        assert!(matches!(
            decompress(&[], DEFAULT_MAX_OUTPUT),
            Err(ZstdError::Corrupt(_))
        ));
        let mut flipped = c.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        assert!(
            decompress(&flipped, DEFAULT_MAX_OUTPUT)
                .map(|d| d != data)
                .unwrap_or(true)
        );
        // 64 MiB of zeros compresses to a few KB: a bomb for a 1 MiB limit.
        let bomb = compress(&vec![0u8; 64 << 20], 3).unwrap();
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            decompress(&bomb, 1 << 20),
            Err(ZstdError::TooLarge(_))
        ));
        assert_eq!(decompress_payload(&bomb, 1 << 20), None);
    }

    #[test]
    fn payload_rules() {
        let data = sample();
        assert_eq!(compress_payload(b"{}", 2048, 3).unwrap(), None);
        let p = compress_payload(&data, 2048, 3).unwrap().unwrap();
        assert_eq!(p.original_bytes, data.len());
        assert_eq!(p.compressed_bytes, p.data.len());
        assert!(p.compression_ratio < 0.5);
        assert_eq!(
            decompress_payload(&p.data, DEFAULT_MAX_OUTPUT).unwrap(),
            data
        );
        // clamped level
        assert!(compress_payload(&data, 0, 100).unwrap().is_some());
        // incompressible
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(compress_payload(&noise, 0, 3).unwrap(), None);
    }

    #[test]
    fn dictionaries() {
        let samples: Vec<Vec<u8>> = (0..200)
            .map(|i| {
                format!("{{\"role\":\"assistant\",\"content\":\"reply {i}\",\"toolCalls\":[]}}")
                    .into_bytes()
            })
            .collect();
        let dict = train_dictionary(&samples, 4096).unwrap();
        let msg = b"{\"role\":\"assistant\",\"content\":\"reply 999\",\"toolCalls\":[]}";
        let with = compress_with_dictionary(msg, &dict, 3).unwrap();
        let without = compress(msg, 3).unwrap();
        assert!(with.len() < without.len());
        assert_eq!(decompress_with_dictionary(&with, &dict, 1024).unwrap(), msg);
        assert!(decompress_with_dictionary(&with, b"wrong dictionary bytes", 1024).is_err());
    }
}
