//! A bounded content → count cache so re-counting a growing history only counts new messages.
//!
//! Keys are (SipHash-1-3 with a per-process random key, byte length, encoding); two generations of at
//! most `capacity` entries each bound the memory (≈ 24 bytes per entry, no text is stored).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{LazyLock, Mutex};

use crate::{Encoding, Error, count};

/// Texts shorter than this are counted directly (hashing them would cost about as much).
pub const MIN_CACHED_BYTES: usize = 64;

/// Batches whose uncached texts add up to fewer bytes are counted on the calling thread only.
pub const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// At most this many threads count one batch (the calling thread included).
const MAX_THREADS: usize = 4;

/// Threads per batch: `KU0_TOKENIZER_THREADS` if set (an integer >= 1; 1 = never parallel; at most
/// [`MAX_THREADS`] are used), else the available parallelism, at most [`MAX_THREADS`]. Read once per
/// process. Any other value is an error (docs/flags.md: an invalid flag is an error, not a silent
/// default), returned by every batch count as `ERR_KU0_INVALID_FLAG`.
pub(crate) static THREADS: LazyLock<Result<usize, String>> = LazyLock::new(|| {
    let raw = std::env::var_os("KU0_TOKENIZER_THREADS");
    threads_from(raw.as_deref().map(|v| v.to_str().ok_or(v)))
});

/// The thread count for a `KU0_TOKENIZER_THREADS` value (`Err(raw)` when it is not UTF-8); unset or
/// blank means the default.
fn threads_from(raw: Option<Result<&str, &std::ffi::OsStr>>) -> Result<usize, String> {
    let invalid = |shown: String| {
        format!(
            "KU0_TOKENIZER_THREADS={shown} is not a valid thread count; allowed values: an integer >= 1 \
             (at most {MAX_THREADS} are used), or unset for the available parallelism"
        )
    };
    match raw {
        None => Ok(default_threads()),
        Some(Err(os)) => Err(invalid(format!("{os:?}"))),
        Some(Ok(v)) if v.trim().is_empty() => Ok(default_threads()),
        Some(Ok(v)) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(MAX_THREADS)),
            _ => Err(invalid(format!("{v:?}"))),
        },
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
}

type Key = (u64, usize, Encoding);

struct Generations {
    current: HashMap<Key, u32>,
    previous: HashMap<Key, u32>,
    capacity: usize,
    hits: u64,
    misses: u64,
}

/// Counters of the shared cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub capacity: usize,
    pub hits: u64,
    pub misses: u64,
}

/// A bounded count cache.
pub struct CountCache {
    hasher: RandomState,
    inner: Mutex<Generations>,
}

impl CountCache {
    /// A cache holding at most `2 × capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            inner: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                capacity: capacity.max(1),
                hits: 0,
                misses: 0,
            }),
        }
    }

    fn key(&self, text: &str, enc: Encoding) -> Key {
        (self.hasher.hash_one(text.as_bytes()), text.len(), enc)
    }

    /// The count of `text`, from the cache or computed (and remembered).
    pub fn count(&self, text: &str, enc: Encoding) -> usize {
        if text.len() < MIN_CACHED_BYTES {
            return count(text, enc);
        }
        let key = self.key(text, enc);
        if let Ok(mut g) = self.inner.lock() {
            if let Some(&n) = g.current.get(&key) {
                g.hits += 1;
                return n as usize;
            }
            if let Some(n) = g.previous.remove(&key) {
                g.hits += 1;
                g.insert(key, n);
                return n as usize;
            }
            g.misses += 1;
        }
        // Count outside the lock so concurrent callers are not serialized on the work.
        let n = count(text, enc);
        if let Ok(mut g) = self.inner.lock() {
            g.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
        }
        n
    }

    /// Counts of many texts: one cache lookup pass, the misses counted in parallel on up to
    /// `available_parallelism()` threads when they add up to at least [`PARALLEL_MIN_BYTES`] (threads
    /// claim chunks of texts as they go, [`crate::batch::count_all`]), then one insert pass in input
    /// order (so the cache ends up exactly as after counting them one by one).
    /// Fails only with `ERR_KU0_INVALID_FLAG` when `KU0_TOKENIZER_THREADS` holds an invalid value.
    pub fn count_many<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        enc: Encoding,
    ) -> Result<Vec<usize>, Error> {
        let threads = (*THREADS).clone().map_err(Error::InvalidFlag)?;
        let mut out = vec![0usize; texts.len()];
        // (index in `texts`, key or None when the text is too short to cache)
        let mut missing: Vec<(usize, Option<Key>)> = Vec::new();
        let keys: Vec<Option<Key>> = texts
            .iter()
            .map(|t| {
                let t = t.as_ref();
                (t.len() >= MIN_CACHED_BYTES).then(|| self.key(t, enc))
            })
            .collect();
        match self.inner.lock() {
            Ok(mut g) => {
                for (i, key) in keys.into_iter().enumerate() {
                    let Some(key) = key else {
                        missing.push((i, None));
                        continue;
                    };
                    if let Some(&n) = g.current.get(&key) {
                        g.hits += 1;
                        out[i] = n as usize;
                    } else if let Some(n) = g.previous.remove(&key) {
                        g.hits += 1;
                        g.insert(key, n);
                        out[i] = n as usize;
                    } else {
                        g.misses += 1;
                        missing.push((i, Some(key)));
                    }
                }
            }
            Err(_) => missing.extend(keys.into_iter().enumerate()),
        }
        let items: Vec<&str> = missing.iter().map(|&(i, _)| texts[i].as_ref()).collect();
        let counts = crate::batch::count_all(&items, enc, threads);
        if let Ok(mut g) = self.inner.lock() {
            for (&(i, key), &n) in missing.iter().zip(counts.iter()) {
                if let Some(key) = key {
                    g.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
                }
                out[i] = n;
            }
        } else {
            for (&(i, _), &n) in missing.iter().zip(counts.iter()) {
                out[i] = n;
            }
        }
        Ok(out)
    }

    /// Drops every entry and resets the counters.
    pub fn clear(&self) {
        crate::fast::clear_piece_caches();
        if let Ok(mut g) = self.inner.lock() {
            g.current.clear();
            g.previous.clear();
            g.hits = 0;
            g.misses = 0;
        }
    }

    /// Changes the bound (entries per generation) and clears the cache.
    pub fn set_capacity(&self, capacity: usize) {
        if let Ok(mut g) = self.inner.lock() {
            g.capacity = capacity.max(1);
            g.current = HashMap::new();
            g.previous = HashMap::new();
        }
    }

    pub fn stats(&self) -> CacheStats {
        match self.inner.lock() {
            Ok(g) => CacheStats {
                entries: g.current.len() + g.previous.len(),
                capacity: g.capacity * 2,
                hits: g.hits,
                misses: g.misses,
            },
            Err(_) => CacheStats {
                entries: 0,
                capacity: 0,
                hits: 0,
                misses: 0,
            },
        }
    }
}

impl Generations {
    fn insert(&mut self, key: Key, n: u32) {
        if self.current.len() >= self.capacity {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, n);
    }
}

/// The process-wide cache used by whole-history operations (default 8,192 entries per generation).
pub static SHARED: LazyLock<CountCache> = LazyLock::new(|| CountCache::new(8192));

/// Count through the process-wide cache.
pub fn count_cached(text: &str, enc: Encoding) -> usize {
    SHARED.count(text, enc)
}

/// Counts of many texts through the process-wide cache (misses counted in parallel when large);
/// fails only on an invalid `KU0_TOKENIZER_THREADS` (see [`CountCache::count_many`]).
pub fn count_cached_many<S: AsRef<str> + Sync>(
    texts: &[S],
    enc: Encoding,
) -> Result<Vec<usize>, Error> {
    SHARED.count_many(texts, enc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;
    use crate::count_memo;

    #[test]
    fn threads_flag_is_validated() {
        let max = MAX_THREADS;
        assert_eq!(threads_from(None), Ok(default_threads()));
        assert_eq!(threads_from(Some(Ok("  "))), Ok(default_threads()));
        assert_eq!(threads_from(Some(Ok("1"))), Ok(1));
        assert_eq!(threads_from(Some(Ok(" 2 "))), Ok(2));
        assert_eq!(threads_from(Some(Ok("64"))), Ok(max));
        for junk in ["0", "-1", "two", "1.5", "4x"] {
            let e = threads_from(Some(Ok(junk))).unwrap_err();
            assert!(e.starts_with("KU0_TOKENIZER_THREADS="), "{e}");
            assert!(e.contains(junk), "{e}");
        }
    }

    #[test]
    fn caches_and_bounds() {
        let c = CountCache::new(4);
        let texts: Vec<String> = (0..20)
            .map(|i| format!("{i} {}", "word ".repeat(20)))
            .collect();
        for t in &texts {
            assert_eq!(
                c.count(t, Encoding::Cl100kBase),
                count(t, Encoding::Cl100kBase)
            );
        }
        assert!(c.stats().entries <= 8);
        let last = &texts[19];
        let before = c.stats().hits;
        assert_eq!(
            c.count(last, Encoding::Cl100kBase),
            count(last, Encoding::Cl100kBase)
        );
        assert_eq!(c.stats().hits, before + 1);
        // same text, other encoding: separate entry
        assert_eq!(
            c.count(last, Encoding::O200kBase),
            count(last, Encoding::O200kBase)
        );
        // batch: same counts as one by one, parallel path included (> PARALLEL_MIN_BYTES)
        let big: Vec<String> = (0..64)
            .map(|i| format!("{i} {}", "héllo wörld 世界 ".repeat(300 + i)))
            .chain(["x".to_string(), String::new()])
            .collect();
        assert!(big.iter().map(String::len).sum::<usize>() >= PARALLEL_MIN_BYTES);
        let c2 = CountCache::new(1000);
        let want: Vec<usize> = big.iter().map(|t| count(t, Encoding::O200kBase)).collect();
        assert_eq!(
            c2.count_many(&big, Encoding::O200kBase).ok(),
            Some(want.clone())
        );
        assert_eq!(
            c2.count_many(&big, Encoding::O200kBase).ok(),
            Some(want.clone())
        ); // all hits now
        assert_eq!(c2.stats().hits, 64);
        // the piece memo (shared by both encodings on this thread) never changes a count
        let want: Vec<usize> = big.iter().map(|t| count(t, Encoding::Cl100kBase)).collect();
        assert_eq!(
            c2.count_many(&big, Encoding::Cl100kBase).ok(),
            Some(want.clone())
        );
        for t in &big {
            assert_eq!(
                count_memo(t, Encoding::Cl100kBase),
                count(t, Encoding::Cl100kBase)
            );
            assert_eq!(
                count_memo(t, Encoding::O200kBase),
                count(t, Encoding::O200kBase)
            );
        }
        c.clear();
        assert_eq!(c.stats().entries, 0);
        assert_eq!(c.count("short", Encoding::Cl100kBase), 1);
    }
}
