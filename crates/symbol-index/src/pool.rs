//! A string interner with reference counts and id reuse. Each distinct string is stored once, in an arena;
//! the hash table is open addressing over `u32` ids (linear probing, backward-shift deletion), with each
//! entry's 32-bit hash kept beside it for probing and growth.

pub const NONE: u32 = u32::MAX;

/// FxHash-style hash over bytes, with a final avalanche so the top bits are usable by the map.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// A live entry's bookkeeping; its string lives in the pool's arena.
pub struct Entry<T> {
    off: u32,
    len: u32,
    pub refs: u32,
    hash: u32,
    pub data: T,
}

/// A borrowed live entry.
pub struct Item<'a, T> {
    pub s: &'a str,
    pub data: &'a T,
}

/// The string of an entry taken out of the pool.
pub struct Removed {
    pub s: Box<str>,
}

/// Bytes of dead strings tolerated in the arena before it is compacted (also: at most half of it).
const COMPACT_MIN_DEAD: usize = 64 * 1024;

/// Strings are stored back to back in one arena (`u32` offsets) instead of one allocation each: no
/// per-string allocator header, rounding or fat pointer. Freed strings leave dead bytes that are
/// compacted away once they are more than half of the arena.
pub struct Pool<T> {
    arena: String,
    dead: usize,
    entries: Vec<Option<Entry<T>>>,
    /// Entry ids by hash (`NONE` = empty); a power of two long, at most 3/4 full.
    table: Vec<u32>,
    /// Per slot: 7 bits of the hash with the top bit set (0 = empty), so a probe reads two short arrays
    /// and touches an entry only when the tag matches.
    tags: Vec<u8>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self {
            arena: String::new(),
            dead: 0,
            entries: Vec::new(),
            table: Vec::new(),
            tags: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

/// Most bytes of string data one pool can hold (offsets are `u32`).
pub const MAX_ARENA: usize = u32::MAX as usize;

impl<T> Pool<T> {
    fn text(&self, e: &Entry<T>) -> &str {
        // Only whole `&str`s are copied into the arena, at the offsets recorded here.
        self.arena
            .get(e.off as usize..e.off as usize + e.len as usize)
            .unwrap_or_default()
    }

    fn hash(s: &str) -> u32 {
        (hash_bytes(s.as_bytes()) >> 32) as u32
    }

    fn tag(h: u32) -> u8 {
        0x80 | (h >> 25) as u8
    }

    fn hash_of(&self, id: u32) -> u32 {
        self.entries
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(0, |e| e.hash)
    }

    pub fn find(&self, s: &str) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let h = Self::hash(s);
        let tag = Self::tag(h);
        let mut i = h as usize & mask;
        loop {
            let t = self.tags[i];
            if t == 0 {
                return None;
            }
            if t == tag
                && let Some(Some(e)) = self.entries.get(self.table[i] as usize)
                && e.hash == h
                && self.text(e) == s
            {
                return Some(self.table[i]);
            }
            i = (i + 1) & mask;
        }
    }

    fn table_insert(&mut self, id: u32, h: u32) {
        if (self.live + 1) * 4 > self.table.len() * 3 {
            let size = (self.table.len() * 2).max(16);
            let old = std::mem::replace(&mut self.table, vec![NONE; size]);
            self.tags = vec![0; size];
            for other in old {
                if other != NONE {
                    let oh = self.hash_of(other);
                    self.table_place(other, oh);
                }
            }
        }
        self.table_place(id, h);
    }

    fn table_place(&mut self, id: u32, h: u32) {
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        while self.tags[i] != 0 {
            i = (i + 1) & mask;
        }
        self.table[i] = id;
        self.tags[i] = Self::tag(h);
    }

    /// Removes `id` (hash `h`) from the table, shifting the rest of its probe run back.
    fn table_remove(&mut self, id: u32, h: u32) {
        if self.table.is_empty() {
            return;
        }
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        loop {
            match self.table[i] {
                NONE => return,
                x if x == id => break,
                _ => i = (i + 1) & mask,
            }
        }
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let other = self.table[j];
            if other == NONE {
                break;
            }
            let home = self.hash_of(other) as usize & mask;
            // `other` may move into the hole at `i` unless its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.table[i] = other;
                self.tags[i] = self.tags[j];
                i = j;
            }
        }
        self.table[i] = NONE;
        self.tags[i] = 0;
    }

    /// Whether `extra` more bytes of strings fit (after a compaction if needed).
    pub fn fits(&self, extra: usize) -> bool {
        (self.arena.len() - self.dead).saturating_add(extra) <= MAX_ARENA
    }

    /// Interns `s` and adds one reference. Returns `(id, newly_created)`. The caller keeps the live
    /// string bytes within [`MAX_ARENA`] (checked by the index before every update).
    pub fn acquire(&mut self, s: &str, make: impl FnOnce() -> T) -> (u32, bool) {
        if let Some(id) = self.find(s) {
            if let Some(Some(e)) = self.entries.get_mut(id as usize) {
                e.refs = e.refs.saturating_add(1);
            }
            return (id, false);
        }
        if self.arena.len() + s.len() > MAX_ARENA {
            self.compact();
        }
        if self.arena.len() == self.arena.capacity()
            || self.arena.capacity() - self.arena.len() < s.len()
        {
            // Grow by a quarter, not double: less idle capacity in a long-lived index.
            let want = s.len().max(self.arena.capacity() / 4).max(4096);
            self.arena.reserve_exact(want);
        }
        let off = self.arena.len() as u32;
        self.arena.push_str(s);
        let h = Self::hash(s);
        let entry = Entry {
            off,
            len: s.len() as u32,
            refs: 1,
            hash: h,
            data: make(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.table_insert(id, h);
        self.live += 1;
        (id, true)
    }

    /// Adds one reference to a live entry.
    pub fn add_ref(&mut self, id: u32) {
        if let Some(Some(e)) = self.entries.get_mut(id as usize) {
            e.refs = e.refs.saturating_add(1);
        }
    }

    /// Drops one reference; frees the entry (returning it) when none are left.
    pub fn release(&mut self, id: u32) -> Option<Removed> {
        let e = self.entries.get_mut(id as usize)?.as_mut()?;
        e.refs = e.refs.saturating_sub(1);
        if e.refs > 0 {
            return None;
        }
        self.remove(id)
    }

    /// Unconditionally removes the entry.
    pub fn remove(&mut self, id: u32) -> Option<Removed> {
        let h = self.entries.get(id as usize)?.as_ref()?.hash;
        // Unlink while the entry (and so the hashes of its neighbours) are still in place.
        self.table_remove(id, h);
        let entry = self.entries.get_mut(id as usize)?.take()?;
        let s: Box<str> = self.text(&entry).into();
        self.free.push(id);
        self.live -= 1;
        self.dead += entry.len as usize;
        if self.live == 0 {
            self.arena = String::new();
            self.table = Vec::new();
            self.tags = Vec::new();
            self.dead = 0;
        } else if self.dead > COMPACT_MIN_DEAD && self.dead * 2 > self.arena.len() {
            self.compact();
        }
        Some(Removed { s })
    }

    /// Rewrites the arena with the live strings only.
    fn compact(&mut self) {
        let mut arena = String::with_capacity(self.arena.len() - self.dead);
        for e in self.entries.iter_mut().flatten() {
            let (off, len) = (e.off as usize, e.len as usize);
            e.off = arena.len() as u32;
            arena.push_str(self.arena.get(off..off + len).unwrap_or_default());
        }
        self.arena = arena;
        self.dead = 0;
    }

    pub fn get(&self, id: u32) -> Option<Item<'_, T>> {
        let e = self.entries.get(id as usize)?.as_ref()?;
        Some(Item {
            s: self.text(e),
            data: &e.data,
        })
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Entry<T>> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    pub fn str(&self, id: u32) -> &str {
        self.get(id).map_or("", |e| e.s)
    }

    /// One past the largest id ever handed out.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, Item<'_, T>)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.as_ref().map(|e| {
                (
                    i as u32,
                    Item {
                        s: self.text(e),
                        data: &e.data,
                    },
                )
            })
        })
    }

    /// Approximate heap bytes owned by the pool (arena, slots, map), excluding `T`'s own heap.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * std::mem::size_of::<Option<Entry<T>>>()
            + self.table.capacity() * 5
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn interning_release_reuse_and_compaction() {
        let mut p: Pool<u32> = Pool::default();
        let words: Vec<String> = (0..20_000).map(|i| format!("string number {i}")).collect();
        let ids: Vec<u32> = words.iter().map(|w| p.acquire(w, || 7).0).collect();
        assert_eq!(p.acquire(&words[5], || 0), (ids[5], false));
        assert_eq!(p.str(ids[19_999]), words[19_999]);
        // Free three quarters: the arena is compacted and the survivors keep their ids and text.
        let before = p.arena.len();
        for (i, &id) in ids.iter().enumerate() {
            if i % 4 != 0 {
                assert!(p.release(id).is_some() || i == 5);
            }
        }
        assert!(p.release(ids[5]).is_some());
        assert!(p.arena.len() < before / 2, "{} vs {before}", p.arena.len());
        for (i, &id) in ids.iter().enumerate() {
            if i % 4 == 0 {
                assert_eq!(p.find(&words[i]), Some(id));
                assert_eq!(p.get(id).unwrap().s, words[i]);
                assert_eq!(*p.get(id).unwrap().data, 7);
            } else {
                assert_eq!(p.find(&words[i]), None);
            }
        }
        let (reused, created) = p.acquire("fresh", || 1);
        assert!(created && (reused as usize) < ids.len());
        assert_eq!(p.iter().count(), 5_001);
        for (i, &id) in ids.iter().enumerate() {
            if i % 4 == 0 {
                p.release(id);
            }
        }
        p.release(reused);
        assert_eq!((p.iter().count(), p.arena.capacity()), (0, 0));
    }

    #[test]
    fn random_interning_matches_a_map() {
        use std::collections::HashMap;
        let mut p: Pool<()> = Pool::default();
        let mut model: HashMap<String, (u32, u32)> = HashMap::new();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..60_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let s = format!("k{}", seed % 3_000);
            if seed.is_multiple_of(3) {
                if let Some(&(id, refs)) = model.get(&s) {
                    let freed = p.release(id).is_some();
                    assert_eq!(freed, refs == 1, "step {step}");
                    if refs == 1 {
                        model.remove(&s);
                    } else {
                        model.insert(s, (id, refs - 1));
                    }
                }
            } else {
                let (id, created) = p.acquire(&s, || ());
                let e = model.entry(s).or_insert((id, 0));
                assert_eq!((e.0, created), (id, e.1 == 0), "step {step}");
                e.1 += 1;
            }
            if step % 5_000 == 0 {
                for (k, &(id, _)) in &model {
                    assert_eq!(p.find(k), Some(id));
                    assert_eq!(p.str(id), k);
                }
                assert_eq!(p.iter().count(), model.len());
            }
        }
    }
}
