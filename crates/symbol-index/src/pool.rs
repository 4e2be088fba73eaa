//! A string interner with reference counts and id reuse. Each distinct string is stored once (the hash
//! map holds only `hash → first id`, collisions are chained through the entries).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub const NONE: u32 = u32::MAX;

/// Passes a precomputed 64-bit hash through.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

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

pub struct Entry<T> {
    pub s: Box<str>,
    pub refs: u32,
    next: u32,
    pub data: T,
}

pub struct Pool<T> {
    entries: Vec<Option<Entry<T>>>,
    heads: IdMap<u32>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            heads: IdMap::default(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Pool<T> {
    pub fn find(&self, s: &str) -> Option<u32> {
        let mut id = *self.heads.get(&hash_bytes(s.as_bytes()))?;
        while id != NONE {
            let e = self.entries.get(id as usize)?.as_ref()?;
            if &*e.s == s {
                return Some(id);
            }
            id = e.next;
        }
        None
    }

    /// Interns `s` and adds one reference. Returns `(id, newly_created)`.
    pub fn acquire(&mut self, s: &str, make: impl FnOnce() -> T) -> (u32, bool) {
        if let Some(id) = self.find(s) {
            if let Some(Some(e)) = self.entries.get_mut(id as usize) {
                e.refs = e.refs.saturating_add(1);
            }
            return (id, false);
        }
        let h = hash_bytes(s.as_bytes());
        let next = self.heads.get(&h).copied().unwrap_or(NONE);
        let entry = Entry {
            s: s.into(),
            refs: 1,
            next,
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
        self.heads.insert(h, id);
        self.live += 1;
        (id, true)
    }

    /// Drops one reference; frees the entry (returning it) when none are left.
    pub fn release(&mut self, id: u32) -> Option<Entry<T>> {
        let e = self.entries.get_mut(id as usize)?.as_mut()?;
        e.refs = e.refs.saturating_sub(1);
        if e.refs > 0 {
            return None;
        }
        self.remove(id)
    }

    /// Unconditionally removes the entry.
    pub fn remove(&mut self, id: u32) -> Option<Entry<T>> {
        let entry = self.entries.get_mut(id as usize)?.take()?;
        let h = hash_bytes(entry.s.as_bytes());
        // Unlink from the hash chain.
        if let Some(head) = self.heads.get(&h).copied() {
            if head == id {
                if entry.next == NONE {
                    self.heads.remove(&h);
                } else {
                    self.heads.insert(h, entry.next);
                }
            } else {
                let mut cur = head;
                while cur != NONE {
                    let Some(Some(e)) = self.entries.get_mut(cur as usize) else {
                        break;
                    };
                    if e.next == id {
                        e.next = entry.next;
                        break;
                    }
                    cur = e.next;
                }
            }
        }
        self.free.push(id);
        self.live -= 1;
        Some(entry)
    }

    pub fn get(&self, id: u32) -> Option<&Entry<T>> {
        self.entries.get(id as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Entry<T>> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    pub fn str(&self, id: u32) -> &str {
        self.get(id).map_or("", |e| &e.s)
    }

    /// One past the largest id ever handed out.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &Entry<T>)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }

    /// Approximate heap bytes owned by the pool (strings, slots, map), excluding `T`'s own heap.
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.entries.iter().flatten().map(|e| e.s.len()).sum();
        strings
            + self.entries.capacity() * std::mem::size_of::<Option<Entry<T>>>()
            + self.heads.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + self.free.capacity() * 4
    }
}
