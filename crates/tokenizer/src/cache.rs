//! A bounded content → count cache so re-counting a growing history only counts new messages.
//!
//! Keys are (SipHash-1-3 with a per-process random key, byte length, encoding); two generations of at
//! most `capacity` entries each bound the memory (≈ 24 bytes per entry, no text is stored).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{LazyLock, Mutex};

use crate::{Encoding, count};

/// Texts shorter than this are counted directly (hashing them would cost about as much).
pub const MIN_CACHED_BYTES: usize = 64;

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

    /// Drops every entry and resets the counters.
    pub fn clear(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        c.clear();
        assert_eq!(c.stats().entries, 0);
        assert_eq!(c.count("short", Encoding::Cl100kBase), 1);
    }
}
