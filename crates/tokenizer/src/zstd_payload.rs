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
    #[error("the stream is finished (finish() was called or an earlier call failed)")]
    StreamFinished,
    #[error("{0}")]
    InvalidArg(String),
}

impl ZstdError {
    /// Stable `ERR_KU0_*` code.
    pub fn code(&self) -> &'static str {
        match self {
            ZstdError::LevelOutOfRange(_) => "ERR_KU0_ZSTD_LEVEL_OUT_OF_RANGE",
            ZstdError::Corrupt(_) => "ERR_KU0_ZSTD_CORRUPT",
            ZstdError::TooLarge(_) => "ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE",
            ZstdError::Internal(_) => "ERR_KU0_ZSTD_FAILURE",
            ZstdError::StreamFinished => "ERR_KU0_ZSTD_STREAM_FINISHED",
            ZstdError::InvalidArg(_) => "ERR_KU0_INVALID_ARG",
        }
    }

    /// True for errors caused by the caller's arguments or input bytes.
    pub fn is_argument_error(&self) -> bool {
        !matches!(self, ZstdError::Internal(_) | ZstdError::StreamFinished)
    }
}

/// Largest dictionary [`train_dictionary`] builds (zstd's own trainer default is 110 KiB).
pub const MAX_DICTIONARY_BYTES: usize = 16 << 20;

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
    if max_size == 0 || max_size > MAX_DICTIONARY_BYTES {
        return Err(ZstdError::InvalidArg(format!(
            "maxSize must be in 1..={MAX_DICTIONARY_BYTES}, got {max_size}"
        )));
    }
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

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

use zstd::stream::raw::{Decoder as RawDecoder, Encoder as RawEncoder, Operation};

fn scratch_buffer(size: usize) -> Vec<u8> {
    vec![0u8; size.max(4096)]
}

/// Incremental compressor producing one zstd frame: feed chunks with [`CompressStream::push`] (returns
/// the compressed bytes that are ready), end with [`CompressStream::finish`]. Any use after `finish`
/// or after an error fails with [`ZstdError::StreamFinished`].
pub struct CompressStream {
    enc: Option<RawEncoder<'static>>,
    scratch: Vec<u8>,
}

impl CompressStream {
    pub fn new(level: i32) -> Result<Self, ZstdError> {
        let level = check_level(level)?;
        let enc = RawEncoder::new(level).map_err(|e| ZstdError::Internal(e.to_string()))?;
        Ok(Self {
            enc: Some(enc),
            scratch: scratch_buffer(zstd::zstd_safe::CCtx::out_size()),
        })
    }

    /// Compresses `chunk`; returns the output zstd has ready (often empty for small chunks).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, ZstdError> {
        let enc = self.enc.as_mut().ok_or(ZstdError::StreamFinished)?;
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < chunk.len() {
            let st = match enc.run_on_buffers(&chunk[pos..], &mut self.scratch) {
                Ok(st) => st,
                Err(e) => {
                    self.enc = None;
                    return Err(ZstdError::Internal(e.to_string()));
                }
            };
            pos += st.bytes_read;
            out.extend_from_slice(&self.scratch[..st.bytes_written]);
        }
        Ok(out)
    }

    /// Ends the frame and returns the remaining output; the stream is unusable afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, ZstdError> {
        let mut enc = self.enc.take().ok_or(ZstdError::StreamFinished)?;
        let mut out = Vec::new();
        loop {
            let mut ob = zstd::zstd_safe::OutBuffer::around(self.scratch.as_mut_slice());
            let remaining = enc
                .finish(&mut ob, true)
                .map_err(|e| ZstdError::Internal(e.to_string()))?;
            let n = ob.pos();
            out.extend_from_slice(&self.scratch[..n]);
            if remaining == 0 {
                return Ok(out);
            }
        }
    }

    /// Marks the stream finished (e.g. after a panic in the caller's wrapper).
    pub fn abort(&mut self) {
        self.enc = None;
    }
}

/// Incremental decompressor for one or more concatenated frames. The total decoded size is capped at
/// `max_output` across all pushes (a small bomb fails as soon as it passes the cap, without buffering
/// more than one scratch buffer past it); [`DecompressStream::finish`] fails on a truncated frame.
pub struct DecompressStream {
    dec: Option<RawDecoder<'static>>,
    scratch: Vec<u8>,
    max_output: usize,
    total: usize,
    /// True when the input so far ends exactly at a frame boundary (and at least one frame was seen).
    at_boundary: bool,
}

impl DecompressStream {
    pub fn new(max_output: usize) -> Result<Self, ZstdError> {
        let dec = RawDecoder::new().map_err(|e| ZstdError::Internal(e.to_string()))?;
        Ok(Self {
            dec: Some(dec),
            scratch: scratch_buffer(zstd::zstd_safe::DCtx::out_size()),
            max_output,
            total: 0,
            at_boundary: false,
        })
    }

    /// Bytes decoded so far.
    pub fn total_out(&self) -> usize {
        self.total
    }

    /// Decodes `chunk`; returns the decompressed bytes it produced.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, ZstdError> {
        let r = self.push_inner(chunk);
        if r.is_err() {
            self.dec = None;
        }
        r
    }

    fn push_inner(&mut self, chunk: &[u8]) -> Result<Vec<u8>, ZstdError> {
        let dec = self.dec.as_mut().ok_or(ZstdError::StreamFinished)?;
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let st = dec
                .run_on_buffers(&chunk[pos..], &mut self.scratch)
                .map_err(|e| ZstdError::Corrupt(e.to_string()))?;
            pos += st.bytes_read;
            if st.remaining == 0 {
                self.at_boundary = true;
            } else if st.bytes_read > 0 || st.bytes_written > 0 {
                self.at_boundary = false;
            }
            self.total = self.total.saturating_add(st.bytes_written);
            if self.total > self.max_output {
                return Err(ZstdError::TooLarge(self.max_output));
            }
            out.extend_from_slice(&self.scratch[..st.bytes_written]);
            let output_full = st.bytes_written == self.scratch.len();
            if pos >= chunk.len() && !(output_full && st.remaining != 0) {
                return Ok(out);
            }
            if st.bytes_read == 0 && st.bytes_written == 0 {
                return Err(ZstdError::Internal("decoder made no progress".into()));
            }
        }
    }

    /// Checks the input ended on a frame boundary; the stream is unusable afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, ZstdError> {
        self.dec.take().ok_or(ZstdError::StreamFinished)?;
        if !self.at_boundary {
            return Err(ZstdError::Corrupt(if self.total == 0 {
                "no complete zstd frame (empty or truncated input)".into()
            } else {
                "truncated frame: input ended inside a zstd frame".into()
            }));
        }
        Ok(Vec::new())
    }

    /// Marks the stream finished (e.g. after a panic in the caller's wrapper).
    pub fn abort(&mut self) {
        self.dec = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod stream_tests {
    use super::*;

    /// Deterministic xorshift so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn corpus(n: usize, rng: &mut Rng) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"fn main() { println!(\"hi\"); }\n",
            b"{\"role\":\"assistant\",\"content\":\"ok\"} ",
            "\u{4f60}\u{597d}\u{4e16}\u{754c} ".as_bytes(),
            "\u{1f600}\u{1f680} ".as_bytes(),
            b"The quick brown fox jumps over the lazy dog. ",
            b"",
        ];
        let mut v = Vec::with_capacity(n + 64);
        while v.len() < n {
            if rng.below(8) == 0 {
                // incompressible bytes too
                for _ in 0..rng.below(64) {
                    v.push(rng.next() as u8);
                }
            } else {
                v.extend_from_slice(words[rng.below(words.len())]);
            }
        }
        v.truncate(n);
        v
    }

    fn chunks<'a>(data: &'a [u8], rng: &mut Rng, max: usize) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let n = (rng.below(max) + 1).min(data.len() - pos);
            out.push(&data[pos..pos + n]);
            pos += n;
        }
        out
    }

    fn stream_compress(data: &[u8], level: i32, rng: &mut Rng, max: usize) -> Vec<u8> {
        let mut c = CompressStream::new(level).unwrap();
        let mut out = Vec::new();
        for ch in chunks(data, rng, max) {
            out.extend(c.push(ch).unwrap());
        }
        out.extend(c.finish().unwrap());
        out
    }

    fn stream_decompress(
        data: &[u8],
        limit: usize,
        rng: &mut Rng,
        max: usize,
    ) -> Result<Vec<u8>, ZstdError> {
        let mut d = DecompressStream::new(limit).unwrap();
        let mut out = Vec::new();
        for ch in chunks(data, rng, max) {
            out.extend(d.push(ch)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trip_random_chunks() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (size, max_chunk, level) in [
            (0usize, 7usize, 3),
            (1, 1, 1),
            (5000, 13, 3),
            (300_000, 70_000, 19),
            (3 << 20, 300_000, 3),
            (1 << 20, 4096, -5),
        ] {
            let data = corpus(size, &mut rng);
            let frame = stream_compress(&data, level, &mut rng, max_chunk);
            // the one-shot decoder agrees with the stream decoder
            assert_eq!(decompress(&frame, DEFAULT_MAX_OUTPUT).unwrap(), data);
            let back = stream_decompress(&frame, DEFAULT_MAX_OUTPUT, &mut rng, max_chunk).unwrap();
            assert_eq!(back, data);
            // and decodes one-shot frames too
            let one = compress(&data, level).unwrap();
            let back =
                stream_decompress(&one, DEFAULT_MAX_OUTPUT, &mut rng, 1 + max_chunk / 3).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn concatenated_frames() {
        let mut rng = Rng(7);
        let a = corpus(10_000, &mut rng);
        let b = corpus(20_000, &mut rng);
        let mut frames = compress(&a, 3).unwrap();
        frames.extend(compress(&b, 3).unwrap());
        let out = stream_decompress(&frames, DEFAULT_MAX_OUTPUT, &mut rng, 999).unwrap();
        assert_eq!(out, [a, b].concat());
    }

    #[test]
    fn truncated_frame_fails_on_finish() {
        let mut rng = Rng(11);
        let data = corpus(200_000, &mut rng);
        let frame = compress(&data, 3).unwrap();
        for cut in [1, 5, frame.len() / 2, frame.len() - 1] {
            let err =
                stream_decompress(&frame[..cut], DEFAULT_MAX_OUTPUT, &mut rng, 5000).unwrap_err();
            assert!(matches!(err, ZstdError::Corrupt(_)), "cut {cut}: {err}");
            assert_eq!(err.code(), "ERR_KU0_ZSTD_CORRUPT");
        }
        // nothing pushed at all
        let mut d = DecompressStream::new(10).unwrap();
        assert!(matches!(d.finish(), Err(ZstdError::Corrupt(_))));
    }

    #[test]
    fn cap_applies_to_running_total() {
        let bomb = compress(&vec![0u8; 64 << 20], 3).unwrap();
        let mut d = DecompressStream::new(1 << 20).unwrap();
        let err = d.push(&bomb).unwrap_err();
        assert!(matches!(err, ZstdError::TooLarge(_)));
        assert_eq!(err.code(), "ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE");
        // the decoder stopped right after the cap instead of inflating the whole bomb
        assert!(d.total_out() <= (1 << 20) + dctx_out_size());
        assert!(matches!(d.push(b"x"), Err(ZstdError::StreamFinished)));
        // running total across pushes: each push is small, the sum is not
        let mut rng = Rng(3);
        let data = corpus(100_000, &mut rng);
        let frame = compress(&data, 3).unwrap();
        let err = stream_decompress(&frame, 99_999, &mut rng, 500).unwrap_err();
        assert!(matches!(err, ZstdError::TooLarge(99_999)));
        assert_eq!(
            stream_decompress(&frame, 100_000, &mut rng, 500).unwrap(),
            data
        );
    }

    fn dctx_out_size() -> usize {
        zstd::zstd_safe::DCtx::out_size().max(4096)
    }

    #[test]
    fn corrupt_input_fails() {
        let mut d = DecompressStream::new(DEFAULT_MAX_OUTPUT).unwrap();
        let err = d.push(b"definitely not a zstd frame").unwrap_err();
        assert_eq!(err.code(), "ERR_KU0_ZSTD_CORRUPT");
        let mut rng = Rng(5);
        let data = corpus(50_000, &mut rng);
        let mut frame = compress(&data, 3).unwrap();
        let mid = frame.len() / 2;
        frame[mid] ^= 0xff;
        frame[mid + 1] ^= 0x5a;
        // either an error, or (checksum-less frames) different bytes — never the original silently
        match stream_decompress(&frame, DEFAULT_MAX_OUTPUT, &mut rng, 777) {
            Ok(out) => assert_ne!(out, data),
            Err(e) => assert_eq!(e.code(), "ERR_KU0_ZSTD_CORRUPT"),
        }
    }

    #[test]
    fn finished_streams_reject_use() {
        let mut c = CompressStream::new(3).unwrap();
        c.push(b"abc").unwrap();
        let frame = c.finish().unwrap();
        assert_eq!(decompress(&frame, 10).unwrap(), b"abc");
        assert!(matches!(c.push(b"x"), Err(ZstdError::StreamFinished)));
        assert!(matches!(c.finish(), Err(ZstdError::StreamFinished)));
        assert_eq!(
            ZstdError::StreamFinished.code(),
            "ERR_KU0_ZSTD_STREAM_FINISHED"
        );
        let mut d = DecompressStream::new(10).unwrap();
        assert_eq!(d.push(&frame).unwrap(), b"abc");
        assert!(d.finish().unwrap().is_empty());
        assert!(matches!(d.push(&frame), Err(ZstdError::StreamFinished)));
        assert!(matches!(
            CompressStream::new(99),
            Err(ZstdError::LevelOutOfRange(99))
        ));
    }
}
