//! The index file format (`KU0SYMIX`, version 1), shared with the JS fallback (`src/persist.ts`).
//!
//! All integers little-endian. A 32-byte header, then the body:
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | magic `KU0SYMIX` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | writer: 1 = native engine, 2 = JS fallback (informational; both read both) |
//! | 16 | 8 | body length in bytes |
//! | 24 | 4 | CRC32C of the body |
//! | 28 | 4 | CRC32C of header bytes 0..28 |
//!
//! Body: `u32 S`, `u32[S]` UTF-8 byte lengths, the `S` strings' bytes back to back, zero padding to a
//! multiple of 8 (file offset); `u32 F` files, `u32 N` symbols, `u32[F]` file key (string index),
//! `u32[F]` symbols per file (sum = N), then five `u32[N]` columns name, kind, file, container, detail
//! (string indexes; `0xFFFFFFFF` = absent container/detail), zero padding to a multiple of 8, and `f64[4N]`
//! positions (line, column, endLine, endColumn per symbol). Files are listed in the order their symbols
//! were inserted (each update gives a file's symbols consecutive sequence numbers), symbols in insertion
//! order, so re-inserting them in file order reproduces every tie-break. Derived data (normalized strings,
//! words, n-gram postings) is not stored: the loader rebuilds it.

use crate::index::{MAX_SYMBOLS, SymbolIndex};
use crate::pool::NONE;

pub const MAGIC: [u8; 8] = *b"KU0SYMIX";
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 32;
pub const WRITER_NATIVE: u32 = 1;
pub const WRITER_JS: u32 = 2;
const ABSENT: u32 = u32::MAX;

/// Errors of the file format (the engine-wide [`crate::Error`]).
pub type PersistError = crate::Error;

fn corrupt(msg: impl Into<String>) -> PersistError {
    PersistError::Corrupt(msg.into())
}

fn pad8(out: &mut Vec<u8>) {
    // The body starts at offset 32, so body-relative alignment is file alignment.
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}

fn put_u32s(out: &mut Vec<u8>, xs: &[u32]) {
    out.reserve(xs.len() * 4);
    for &x in xs {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Wraps a body in the header (magic, version, writer, length, checksums).
pub fn frame(body: &[u8], writer: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&writer.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    let header_crc = crc32c::crc32c(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Checks the header and checksums; returns `(writer, body)`.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), PersistError> {
    if bytes.len() < MAGIC.len() {
        return if MAGIC.starts_with(bytes) {
            Err(corrupt(format!(
                "truncated: {} bytes, no complete header",
                bytes.len()
            )))
        } else {
            Err(PersistError::Foreign)
        };
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(PersistError::Foreign);
    }
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(format!(
            "truncated: {} bytes, no complete header",
            bytes.len()
        )));
    }
    if crc32c::crc32c(&bytes[..28]) != le_u32(bytes, 28) {
        return Err(corrupt("header checksum mismatch"));
    }
    let version = le_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(PersistError::Version(version));
    }
    let writer = le_u32(bytes, 12);
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[16..24]);
    let body_len = u64::from_le_bytes(len);
    let body = &bytes[HEADER_LEN..];
    if body_len != body.len() as u64 {
        return Err(corrupt(format!(
            "body is {} bytes, header says {body_len} (truncated or trailing data)",
            body.len()
        )));
    }
    if crc32c::crc32c(body) != le_u32(bytes, 24) {
        return Err(corrupt("body checksum mismatch"));
    }
    Ok((writer, body))
}

/// Serializes the whole index (see the module docs for the format).
pub fn encode(idx: &SymbolIndex) -> Vec<u8> {
    let (raw, kinds) = idx.raw_pool();
    let files = idx.files_in_seq_order();
    let n: usize = files.iter().map(|f| f.1.len()).sum();
    let mut strings: Vec<&str> = Vec::new();
    let mut raw_map = vec![NONE; raw.capacity()];
    let mut kind_map = vec![NONE; kinds.capacity()];
    let mut keys = Vec::with_capacity(files.len());
    let mut counts = Vec::with_capacity(files.len());
    let mut cols: [Vec<u32>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut pos: Vec<u8> = Vec::with_capacity(n * 32);
    for &(key, ids) in &files {
        let k = match raw.find(key) {
            Some(rid) => map(&mut strings, &mut raw_map, rid, raw.str(rid)),
            None => {
                strings.push(key);
                (strings.len() - 1) as u32
            }
        };
        keys.push(k);
        counts.push(ids.len() as u32);
        for &id in ids {
            let ([name, file, container, detail], kind) = idx.symbol_ids(id);
            cols[0].push(map(&mut strings, &mut raw_map, name, raw.str(name)));
            cols[1].push(map(&mut strings, &mut kind_map, kind, kinds.str(kind)));
            cols[2].push(map(&mut strings, &mut raw_map, file, raw.str(file)));
            for (c, rid) in [(3, container), (4, detail)] {
                cols[c].push(if rid == NONE {
                    ABSENT
                } else {
                    map(&mut strings, &mut raw_map, rid, raw.str(rid))
                });
            }
            for x in idx.symbol_pos(id) {
                pos.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    let text_len: usize = strings.iter().map(|s| s.len()).sum();
    let mut body = Vec::with_capacity(16 + strings.len() * 4 + text_len + files.len() * 8 + n * 52);
    body.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for s in &strings {
        body.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    for s in &strings {
        body.extend_from_slice(s.as_bytes());
    }
    pad8(&mut body);
    body.extend_from_slice(&(files.len() as u32).to_le_bytes());
    body.extend_from_slice(&(n as u32).to_le_bytes());
    put_u32s(&mut body, &keys);
    put_u32s(&mut body, &counts);
    for col in &cols {
        put_u32s(&mut body, col);
    }
    pad8(&mut body);
    body.extend_from_slice(&pos);
    frame(&body, WRITER_NATIVE)
}

/// Table index of pool string `id`, adding it to `strings` on first use.
fn map<'a>(strings: &mut Vec<&'a str>, table: &mut [u32], id: u32, s: &'a str) -> u32 {
    let slot = &mut table[id as usize];
    if *slot == NONE {
        *slot = strings.len() as u32;
        strings.push(s);
    }
    *slot
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PersistError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt(format!("body ends inside {what}")))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32, PersistError> {
        Ok(le_u32(self.take(4, what)?, 0))
    }

    fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>, PersistError> {
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| corrupt(format!("{what}: count too large")))?,
            what,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn align8(&mut self) -> Result<(), PersistError> {
        let pad = (8 - self.at % 8) % 8;
        if self.take(pad, "padding")?.iter().any(|&b| b != 0) {
            return Err(corrupt("non-zero padding"));
        }
        Ok(())
    }
}

/// Reads an index file's bytes into a fresh index (derived postings are rebuilt).
pub fn decode(bytes: &[u8]) -> Result<SymbolIndex, PersistError> {
    let (_writer, body) = unframe(bytes)?;
    let mut c = Cursor { b: body, at: 0 };
    let s_count = c.u32("string count")? as usize;
    let lens = c.u32s(s_count, "string lengths")?;
    let total = lens
        .iter()
        .try_fold(0usize, |acc, &l| acc.checked_add(l as usize))
        .ok_or_else(|| corrupt("string lengths overflow"))?;
    let text = std::str::from_utf8(c.take(total, "string bytes")?)
        .map_err(|_| corrupt("strings are not valid UTF-8"))?;
    let mut strings: Vec<&str> = Vec::with_capacity(s_count);
    let mut at = 0usize;
    for &l in &lens {
        let end = at + l as usize;
        strings.push(
            text.get(at..end)
                .ok_or_else(|| corrupt("string length splits a UTF-8 character"))?,
        );
        at = end;
    }
    c.align8()?;
    let f_count = c.u32("file count")? as usize;
    let n = c.u32("symbol count")? as usize;
    if n > MAX_SYMBOLS {
        return Err(corrupt(format!("{n} symbols exceed the index limit")));
    }
    let keys = c.u32s(f_count, "file keys")?;
    let counts = c.u32s(f_count, "file symbol counts")?;
    let sum = counts
        .iter()
        .try_fold(0usize, |acc, &x| acc.checked_add(x as usize));
    if sum != Some(n) {
        return Err(corrupt(
            "file symbol counts do not add up to the symbol count",
        ));
    }
    let mut cols: Vec<Vec<u32>> = Vec::with_capacity(5);
    for what in ["names", "kinds", "files", "containers", "details"] {
        cols.push(c.u32s(n, what)?);
    }
    let s_len = strings.len() as u32;
    let bad_ref = || corrupt("string index out of range");
    if keys.iter().any(|&k| k >= s_len) {
        return Err(bad_ref());
    }
    for (ci, col) in cols.iter().enumerate() {
        let optional = ci >= 3;
        if col
            .iter()
            .any(|&x| x >= s_len && !(optional && x == ABSENT))
        {
            return Err(bad_ref());
        }
    }
    c.align8()?;
    let pos_bytes = c.take(
        n.checked_mul(32)
            .ok_or_else(|| corrupt("position count too large"))?,
        "positions",
    )?;
    if c.at != body.len() {
        return Err(corrupt("trailing bytes after the positions"));
    }
    let mut idx = SymbolIndex::new().map_err(|e| corrupt(e.to_string()))?;
    let files: Vec<(u32, u32)> = keys.iter().copied().zip(counts.iter().copied()).collect();
    let pos = |i: usize| -> [f64; 4] {
        let mut out = [0.0; 4];
        for (k, x) in out.iter_mut().enumerate() {
            let at = i * 32 + k * 8;
            let mut w = [0u8; 8];
            w.copy_from_slice(&pos_bytes[at..at + 8]);
            *x = f64::from_le_bytes(w);
        }
        out
    };
    idx.load_table(
        &strings,
        &files,
        [&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]],
        &pos,
    )
    .map_err(corrupt)?;
    Ok(idx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;
    use crate::index::{QueryOptions, SymbolInput};

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() as usize) % xs.len()]
        }
    }

    type Owned = (String, String, Option<String>, Option<String>, [f64; 4]);

    const WORDS: &[&str] = &[
        "auth", "Service", "login", "get", "User", "id", "ab", "数据", "Über", "Loader", "x",
        "HTTP", "parse", "Symbol", "Graph", "é", "",
    ];

    /// Random files with duplicates, 2-char names, unicode, absent/empty containers and details, and
    /// re-updates and removes so the insertion order is not the file order.
    fn random_index(seed: u64, files: usize) -> SymbolIndex {
        let mut r = Lcg(seed);
        let mut idx = SymbolIndex::new().unwrap();
        for step in 0..files * 2 {
            let path = format!("/w/{}.ts", r.next() % files as u64);
            if step % 7 == 3 {
                idx.remove_file(&path);
                continue;
            }
            let count = (r.next() % 6) as usize;
            let owned: Vec<Owned> = (0..count)
                .map(|_| {
                    let name = format!("{}{}", r.pick(WORDS), r.pick(WORDS));
                    let kind = r.pick(&["Class", "method", "Function"]).to_string();
                    let has_container = !r.next().is_multiple_of(3);
                    let container = has_container.then(|| r.pick(WORDS).to_string());
                    let detail = r
                        .next()
                        .is_multiple_of(2)
                        .then(|| format!("{} {}", r.pick(WORDS), r.pick(WORDS)));
                    let line = (r.next() % 4) as f64;
                    (name, kind, container, detail, [line, -0.0, line + 1.5, 3.0])
                })
                .collect();
            let file = if step % 5 == 0 {
                "/other/file.ts".to_string()
            } else {
                path.clone()
            };
            let symbols = owned.iter().map(|(n, k, c, d, p)| SymbolInput {
                name: n,
                kind: k,
                file: &file,
                container: c.as_deref(),
                detail: d.as_deref(),
                line: p[0],
                column: p[1],
                end_line: p[2],
                end_column: p[3],
            });
            idx.update_file(&path, symbols).unwrap();
        }
        idx
    }

    fn answers(idx: &mut SymbolIndex) -> Vec<String> {
        let mut out = vec![format!("{:?}", idx.stats())];
        for q in [
            "auth",
            "ab",
            "get user",
            "service login",
            "数据",
            "ber",
            "parse symbol graph",
            "zz",
        ] {
            for (limit, fuzzy) in [(3, false), (1000, false), (-2, false), (10, true)] {
                let opts = QueryOptions {
                    limit,
                    kinds: None,
                    fuzzy,
                };
                let hits = idx.query(q, &opts);
                let rows: Vec<String> = hits
                    .iter()
                    .map(|h| format!("{} {:?}", h.score, idx.symbol(h.id).unwrap()))
                    .collect();
                out.push(format!("{q} {limit} {fuzzy}: {rows:?}"));
            }
        }
        out
    }

    #[test]
    fn round_trip_answers_equal() {
        for seed in 1..20 {
            let mut a = random_index(seed, 12);
            let bytes = a.to_bytes();
            let mut b = SymbolIndex::from_bytes(&bytes).unwrap();
            assert_eq!(answers(&mut a), answers(&mut b), "seed {seed}");
            // Saving the loaded index gives the same bytes (canonical order).
            assert_eq!(b.to_bytes(), bytes, "seed {seed}");
        }
    }

    #[test]
    fn empty_index_round_trips() {
        let a = SymbolIndex::new().unwrap();
        let b = SymbolIndex::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(b.stats(), (0, 0));
    }

    fn code(r: Result<SymbolIndex, PersistError>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => e.code().to_string(),
        }
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let bytes = random_index(7, 10).to_bytes();
        assert_eq!(code(SymbolIndex::from_bytes(&[])), "ERR_KU0_INDEX_CORRUPT");
        assert_eq!(
            code(SymbolIndex::from_bytes(b"KU0S")),
            "ERR_KU0_INDEX_CORRUPT"
        );
        assert_eq!(
            code(SymbolIndex::from_bytes(b"{\"json\": true}")),
            "ERR_KU0_INDEX_FOREIGN"
        );
        assert_eq!(
            code(SymbolIndex::from_bytes(b"PK")),
            "ERR_KU0_INDEX_FOREIGN"
        );
        for cut in [8, 31, 32, 33, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(
                code(SymbolIndex::from_bytes(&bytes[..cut])),
                "ERR_KU0_INDEX_CORRUPT",
                "cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            code(SymbolIndex::from_bytes(&longer)),
            "ERR_KU0_INDEX_CORRUPT"
        );
        // Every single bit flip is detected: magic → foreign, anything else → corrupt.
        for i in 0..bytes.len() {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let want = if i < 8 {
                    "ERR_KU0_INDEX_FOREIGN"
                } else {
                    "ERR_KU0_INDEX_CORRUPT"
                };
                assert_eq!(
                    code(SymbolIndex::from_bytes(&b)),
                    want,
                    "byte {i} bit {bit}"
                );
            }
        }
        // A future version with a valid header checksum.
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32c::crc32c(&future[..28]);
        future[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            code(SymbolIndex::from_bytes(&future)),
            "ERR_KU0_INDEX_VERSION"
        );
    }

    #[test]
    fn structurally_invalid_bodies_with_valid_checksums_are_corrupt() {
        // String index out of range, counts that do not add up, a duplicate file, bad UTF-8.
        let mut body = Vec::new();
        put_u32s(&mut body, &[1, 1]);
        body.push(b'a');
        pad8(&mut body);
        let good = |body: &mut Vec<u8>, name: u32, counts: &[u32]| {
            put_u32s(body, &[counts.len() as u32, counts.iter().sum()]);
            put_u32s(body, &vec![0; counts.len()]);
            put_u32s(body, counts);
            let n: u32 = counts.iter().sum();
            for c in 0..5 {
                put_u32s(body, &vec![if c == 0 { name } else { 0 }; n as usize]);
            }
            pad8(body);
            body.extend(std::iter::repeat_n(0u8, n as usize * 32));
        };
        let mut ok = body.clone();
        good(&mut ok, 0, &[1]);
        assert_eq!(
            SymbolIndex::from_bytes(&frame(&ok, WRITER_JS))
                .unwrap()
                .stats(),
            (1, 1)
        );
        let mut out_of_range = body.clone();
        good(&mut out_of_range, 5, &[1]);
        let mut dup = body.clone();
        good(&mut dup, 0, &[1, 1]);
        let mut bad_utf8 = ok.clone();
        bad_utf8[8] = 0xff;
        for b in [out_of_range, dup, bad_utf8] {
            assert_eq!(
                code(SymbolIndex::from_bytes(&frame(&b, WRITER_JS))),
                "ERR_KU0_INDEX_CORRUPT"
            );
        }
    }

    #[test]
    #[ignore = "timing; run with --release --ignored --nocapture"]
    fn load_time_100k() {
        let mut idx = SymbolIndex::new().unwrap();
        let names: Vec<String> = (0..100_000)
            .map(|i| format!("symbolName{}Helper{}", i % 5000, i % 7))
            .collect();
        for f in 0..5000 {
            let path = format!("/w/pkg{}/file{f}.ts", f % 50);
            let syms = (0..20).map(|j| SymbolInput {
                name: &names[f * 20 + j],
                kind: "Method",
                file: &path,
                container: Some("SomeContainer"),
                detail: Some("(a: string) => void"),
                line: j as f64,
                column: 0.0,
                end_line: j as f64,
                end_column: 10.0,
            });
            idx.update_file(&path, syms).unwrap();
        }
        let t = std::time::Instant::now();
        let bytes = idx.to_bytes();
        let save = t.elapsed();
        let t = std::time::Instant::now();
        let b = SymbolIndex::from_bytes(&bytes).unwrap();
        eprintln!(
            "save {save:?} load {:?} bytes {} stats {:?}",
            t.elapsed(),
            bytes.len(),
            b.stats()
        );
    }
}
