//! Whole-history batches.
//!
//! * [`unpack`]: the texts of a *packed* batch, one UTF-8 buffer plus each text's byte length. The
//!   binding's `countTokensPacked` takes this form so a history crosses N-API as one byte buffer
//!   (encoded by the caller in one pass per text) instead of one string conversion per text (V8's
//!   `Utf8Length` + `WriteUtf8`, two passes over every string).
//! * [`count_all`]: the counts of many texts, in order, on up to `threads` threads. Threads claim
//!   chunks of about [`CHUNK_BYTES`] from a shared counter instead of owning a fixed share, so a thread
//!   the OS deschedules (a loaded machine) does not hold up the call: the others take its chunks.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cache::PARALLEL_MIN_BYTES;
use crate::{Encoding, Error, count_memo};

/// Bytes of text a counting thread claims at a time.
pub const CHUNK_BYTES: usize = 32 * 1024;

/// The texts of a packed batch: `bytes` holds them back to back, `lengths[i]` is the byte length of
/// text `i`. Fails with [`Error::InvalidArg`] when the buffer is not UTF-8, a length runs past its
/// end or splits a character, or the lengths do not add up to the buffer's length.
pub fn unpack<'a>(bytes: &'a [u8], lengths: &[u32]) -> Result<Vec<&'a str>, Error> {
    let all = std::str::from_utf8(bytes).map_err(|e| {
        Error::InvalidArg(format!(
            "packed texts are not valid UTF-8 (first invalid byte at {})",
            e.valid_up_to()
        ))
    })?;
    let mut out = Vec::with_capacity(lengths.len());
    let mut at = 0usize;
    for (i, &n) in lengths.iter().enumerate() {
        let end = at.saturating_add(n as usize);
        let text = all.get(at..end).ok_or_else(|| {
            Error::InvalidArg(if end > all.len() {
                format!(
                    "lengths[{i}] = {n} runs past the end of the packed texts ({} bytes)",
                    all.len()
                )
            } else {
                format!("lengths[{i}] = {n} ends inside a UTF-8 character")
            })
        })?;
        out.push(text);
        at = end;
    }
    if at != all.len() {
        return Err(Error::InvalidArg(format!(
            "lengths add up to {at} bytes but the packed texts hold {}",
            all.len()
        )));
    }
    Ok(out)
}

/// Counts of `texts` in `enc`, in order. Below [`PARALLEL_MIN_BYTES`] in all (or with one thread, or
/// one text) on the calling thread; otherwise on up to `threads` threads (the calling thread
/// included) that claim chunks of consecutive texts of about [`CHUNK_BYTES`] each. Every thread
/// uses its own piece memo (`fast::count_memo`), so the counts are the same as counting one by one.
pub fn count_all(texts: &[&str], enc: Encoding, threads: usize) -> Vec<usize> {
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    if threads <= 1 || texts.len() < 2 || bytes < PARALLEL_MIN_BYTES {
        return texts.iter().map(|t| count_memo(t, enc)).collect();
    }
    // chunk c is texts[bounds[c]..bounds[c + 1]]
    let mut bounds = vec![0usize];
    let mut acc = 0usize;
    for (j, t) in texts.iter().enumerate() {
        acc += t.len();
        if acc >= CHUNK_BYTES {
            bounds.push(j + 1);
            acc = 0;
        }
    }
    if bounds.last() != Some(&texts.len()) {
        bounds.push(texts.len());
    }
    let chunks = bounds.len() - 1;
    let chunk = |c: usize| -> Vec<usize> {
        let (start, end) = (bounds[c], bounds[c + 1]);
        texts[start..end]
            .iter()
            .map(|t| count_memo(t, enc))
            .collect()
    };
    let next = AtomicUsize::new(0);
    let work = || -> Vec<(usize, Vec<usize>)> {
        let mut done = Vec::new();
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                return done;
            }
            done.push((c, chunk(c)));
        }
    };
    let spawned = threads.min(chunks).saturating_sub(1);
    let mut parts: Vec<Option<Vec<usize>>> = vec![None; chunks];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..spawned).map(|_| s.spawn(work)).collect();
        for (c, counts) in work() {
            parts[c] = Some(counts);
        }
        for h in handles {
            // A panicking worker loses the chunks it claimed; they are redone below (the panic
            // surfaces again there if it is real).
            if let Ok(done) = h.join() {
                for (c, counts) in done {
                    parts[c] = Some(counts);
                }
            }
        }
    });
    let mut out = Vec::with_capacity(texts.len());
    for (c, part) in parts.into_iter().enumerate() {
        out.extend(part.unwrap_or_else(|| chunk(c)));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;
    use crate::count;

    #[test]
    fn unpack_splits_and_validates() {
        let texts = ["héllo", "", "wörld 🌍", "x"];
        let joined: String = texts.concat();
        let lengths: Vec<u32> = texts.iter().map(|t| t.len() as u32).collect();
        assert_eq!(unpack(joined.as_bytes(), &lengths).unwrap(), texts);
        assert_eq!(unpack(b"", &[]).unwrap(), Vec::<&str>::new());
        assert_eq!(unpack(b"", &[0, 0]).unwrap(), vec!["", ""]);
        // past the end, short of the end, inside a character, not UTF-8
        for (bytes, lengths) in [
            (joined.as_bytes(), vec![100]),
            (joined.as_bytes(), vec![u32::MAX, u32::MAX]),
            (joined.as_bytes(), vec![3]),
            ("é".as_bytes(), vec![1, 1]),
            (&[0xff, 0xfe][..], vec![2]),
        ] {
            let err = unpack(bytes, &lengths).unwrap_err();
            assert_eq!(err.code(), "ERR_KU0_INVALID_ARG", "{lengths:?}: {err}");
        }
    }

    #[test]
    fn count_all_matches_one_by_one_on_every_thread_count() {
        // ~600 KB of varied texts: above the parallel threshold, many chunks, uneven sizes
        let mut texts: Vec<String> = Vec::new();
        for i in 0..1500usize {
            let unit = match i % 4 {
                0 => "fn main() { let x = 1; }\n",
                1 => "The quick brown fox jumps over the lazy dog. ",
                2 => "日本語のテキストと emoji 👋🏽 ",
                _ => "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            };
            texts.push(unit.repeat(1 + (i * 7) % 23) + &i.to_string());
        }
        texts.push(String::new());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert!(refs.iter().map(|t| t.len()).sum::<usize>() >= PARALLEL_MIN_BYTES);
        for enc in [
            Encoding::Cl100kBase,
            Encoding::O200kBase,
            Encoding::P50kBase,
        ] {
            let want: Vec<usize> = refs.iter().map(|t| count(t, enc)).collect();
            for threads in [1, 2, 3, 4, 64] {
                assert_eq!(
                    count_all(&refs, enc, threads),
                    want,
                    "{enc:?} threads={threads}"
                );
            }
            assert_eq!(count_all(&refs[..3], enc, 4), want[..3]);
            assert_eq!(count_all(&[], enc, 4), Vec::<usize>::new());
        }
    }
}
