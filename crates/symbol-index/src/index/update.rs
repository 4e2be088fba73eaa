//! Replacing and removing a file's symbols: rows and ids (reused), interned raw strings, normalized
//! strings with their tagged postings, and the words and grams of new normalized strings. Normalized
//! strings left without postings are swept after the new symbols are in, so re-indexing unchanged content
//! does not churn the word and gram postings.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use super::grams::{distinct_words, grams_of};
use super::{
    FIRST_ONLY, NONE, SymbolIndex, SymbolInput, TAG_CONTAINER, TAG_DETAIL, TAG_NAME, TAG_SHIFT,
    UNSET,
};
use crate::normalize::normalize_into;
use crate::rows::{POS_EXTERNAL, Row, pack_pos};

/// The raw ids of the previous symbol's `file`, `kind` and `container` during one update, keyed by the
/// address and length of the caller's string: a file's symbols usually pass the very same string for these
/// (the binding hands repeated fields over as one slice), which then costs a reference count instead of a
/// hash lookup.
#[derive(Default)]
pub(super) struct Repeats {
    file: Option<(*const u8, usize, u32)>,
    kind: Option<(*const u8, usize, u32)>,
    container: Option<(*const u8, usize, u32)>,
}

/// `id` of `slot` if it was recorded for this very string (same address and length: same bytes, as the
/// caller's strings outlive the update).
fn same(slot: Option<(*const u8, usize, u32)>, s: &str) -> Option<u32> {
    slot.and_then(|(p, n, id)| (std::ptr::eq(p, s.as_ptr()) && n == s.len()).then_some(id))
}

impl SymbolIndex {
    pub(super) fn insert_symbol(&mut self, s: &SymbolInput<'_>, rep: &mut Repeats) -> u32 {
        let id = self.alloc_symbol();
        let seq = self.take_seq();
        let name = self.raw.acquire(s.name, || ()).0;
        let container = match s.container {
            None => NONE,
            Some(c) => match same(rep.container, c) {
                Some(raw) => {
                    self.raw.add_ref(raw);
                    raw
                }
                None => {
                    let raw = self.raw.acquire(c, || ()).0;
                    rep.container = Some((c.as_ptr(), c.len(), raw));
                    raw
                }
            },
        };
        let detail = s.detail.map_or(NONE, |d| self.raw.acquire(d, || ()).0);
        let file = match same(rep.file, s.file) {
            Some(raw) => {
                self.raw.add_ref(raw);
                raw
            }
            None => {
                let raw = self.raw.acquire(s.file, || ()).0;
                rep.file = Some((s.file.as_ptr(), s.file.len(), raw));
                raw
            }
        };
        let kind = match same(rep.kind, s.kind) {
            Some(k) => {
                self.kinds.add_ref(k);
                k
            }
            None => {
                let k = self
                    .kinds
                    .acquire(s.kind, || s.kind.to_lowercase().into())
                    .0;
                rep.kind = Some((s.kind.as_ptr(), s.kind.len(), k));
                k
            }
        };
        let row = Row {
            name,
            file,
            kind,
            container,
            detail,
            norm_name: self.acquire_norm(s.name, name, id, TAG_NAME),
            // The runtime treats an empty container/detail like an absent one (`container ? … : ""`).
            norm_container: match s.container {
                Some(c) if !c.is_empty() => self.acquire_norm(c, container, id, TAG_CONTAINER),
                _ => NONE,
            },
            norm_detail: match s.detail {
                Some(d) if !d.is_empty() => self.acquire_norm(d, detail, id, TAG_DETAIL),
                _ => NONE,
            },
            pos: [0; 4],
            seq,
        };
        self.rows[id as usize] = row;
        self.set_pos(id, [s.line, s.column, s.end_line, s.end_column]);
        self.live += 1;
        id
    }

    pub(super) fn remove_file_symbols(&mut self, path: &str) -> usize {
        let Some(entry) = self.files.get_mut(path) else {
            return 0;
        };
        let ids = std::mem::take(&mut entry.symbols);
        // (norm id, tagged posting) pairs to drop, grouped per norm below.
        let mut drops: Vec<(u32, u32)> = Vec::with_capacity(ids.len() * 2);
        for &id in &ids {
            let r = self.rows[id as usize];
            for (norm, tag) in [
                (r.norm_name, TAG_NAME),
                (r.norm_container, TAG_CONTAINER),
                (r.norm_detail, TAG_DETAIL),
            ] {
                if norm != NONE {
                    drops.push((norm, id | (tag << TAG_SHIFT)));
                }
            }
            for raw in [r.name, r.file, r.container, r.detail] {
                if raw != NONE && self.raw.release(raw).is_some() {
                    self.sort_keys.get_mut().remove(&raw);
                    if let Some(slot) = self.raw_norm.get_mut(raw as usize) {
                        *slot = (UNSET, 0);
                    }
                }
            }
            self.kinds.release(r.kind);
            if r.pos[0] == POS_EXTERNAL {
                self.pos_ext.remove(&id);
            }
            self.rows[id as usize] = Row::default();
            self.free.push(id);
            self.live -= 1;
        }
        drops.sort_unstable();
        let mut start = 0;
        while start < drops.len() {
            let norm = drops[start].0;
            let mut end = start;
            while end < drops.len() && drops[end].0 == norm {
                end += 1;
            }
            let group = &drops[start..end];
            let now_empty = match self.norms.get_mut(norm) {
                Some(e) => {
                    if group.len() <= 4 {
                        for &(_, p) in group {
                            if let Some(at) = e.data.iter().position(|&x| x == p) {
                                e.data.swap_remove(at);
                            }
                        }
                    } else {
                        e.data
                            .retain(|x| group.binary_search_by(|&(_, p)| p.cmp(x)).is_err());
                    }
                    e.data.is_empty()
                }
                None => false,
            };
            if now_empty {
                self.dead_norms.push(norm);
            }
            start = end;
        }
        // Give back the space of a shrunk tail so memory does not grow across re-indexing.
        if self.live == 0 {
            self.free = Vec::new();
            self.rows.clear();
            self.scores = Vec::new();
            self.pos_ext = HashMap::new();
        }
        ids.len()
    }

    /// Drops normalized strings that are still unreferenced after an update, with their words and grams.
    pub(super) fn sweep_dead_norms(&mut self) {
        let dead = std::mem::take(&mut self.dead_norms);
        for norm in dead {
            let still_dead = self.norms.get(norm).is_some_and(|e| e.data.is_empty());
            if !still_dead {
                continue;
            }
            let Some(e) = self.norms.remove(norm) else {
                continue;
            };
            if let Some(g) = self.norm_gen.get_mut(norm as usize) {
                *g = g.wrapping_add(1);
            }
            if let Some(r) = self.norm_roles.get_mut(norm as usize) {
                *r = 0;
            }
            for word in distinct_words(&e.s) {
                let Some(wid) = self.words.find(word) else {
                    continue;
                };
                if let Some(w) = self.words.get_mut(wid) {
                    w.data.remove(norm);
                }
                if let Some(w) = self.words.release(wid) {
                    let mut grams = std::mem::take(&mut self.gram_scratch);
                    grams_of(&w.s, &mut grams);
                    for &g in &grams {
                        self.grams.remove(g, wid);
                    }
                    self.gram_scratch = grams;
                }
            }
        }
    }

    /// Normalized-string id of raw string `raw_id` (text `raw`), from the per-raw-string cache when it is
    /// still valid, and the posting of symbol `sym` in field `tag` on it.
    fn acquire_norm(&mut self, raw: &str, raw_id: u32, sym: u32, tag: u32) -> u32 {
        let (cached, generation) = self
            .raw_norm
            .get(raw_id as usize)
            .copied()
            .unwrap_or((UNSET, 0));
        let valid = cached == NONE
            || (cached != UNSET
                && self.norm_gen.get(cached as usize) == Some(&generation)
                && self.norms.get(cached).is_some());
        let id = if valid {
            cached
        } else {
            let id = self.intern_norm(raw);
            let generation = if id == NONE {
                0
            } else {
                if self.norm_gen.len() <= id as usize {
                    self.norm_gen.resize(id as usize + 1, 0);
                }
                self.norm_gen[id as usize]
            };
            if self.raw_norm.len() <= raw_id as usize {
                self.raw_norm.resize(raw_id as usize + 1, (UNSET, 0));
            }
            self.raw_norm[raw_id as usize] = (id, generation);
            id
        };
        if id != NONE {
            self.link_norm(id, sym, tag);
        }
        id
    }

    /// Normalizes `raw` and interns the result (`NONE` if it normalizes to nothing); a new normalized
    /// string is linked to its words and gets its fuzzy name mask.
    pub(super) fn intern_norm(&mut self, raw: &str) -> u32 {
        let mut scratch = std::mem::take(&mut self.scratch);
        normalize_into(raw, &mut scratch);
        let id = if scratch.is_empty() {
            NONE
        } else {
            let (id, created) = self.norms.acquire(&scratch, Vec::new);
            if created {
                self.link_words(&scratch, id);
                if self.norm_masks.len() <= id as usize {
                    self.norm_masks.resize(id as usize + 1, 0);
                }
                self.norm_masks[id as usize] = crate::fuzzy::name_mask(&scratch);
            }
            id
        };
        self.scratch = scratch;
        id
    }

    /// Posting of symbol `sym` in field `tag` of normalized string `id` (the tail of `acquire_norm`).
    pub(super) fn link_norm(&mut self, id: u32, sym: u32, tag: u32) {
        if let Some(e) = self.norms.get_mut(id) {
            e.data.push(sym | (tag << TAG_SHIFT));
        }
        if let Some(r) = self.norm_roles.get_mut(id as usize) {
            *r |= 1 << tag;
        } else {
            self.norm_roles.resize(id as usize + 1, 0);
            self.norm_roles[id as usize] = 1 << tag;
        }
    }

    /// Links new normalized string `norm` to its words (creating words and their grams as needed) and
    /// records its first word in `norm_first`.
    fn link_words(&mut self, norm_str: &str, norm: u32) {
        let first = norm_str.split(' ').next().unwrap_or("");
        let mut first_id = NONE;
        for word in distinct_words(norm_str) {
            let (wid, created) = self.words.acquire(word, RoaringBitmap::new);
            if created {
                let mut grams = std::mem::take(&mut self.gram_scratch);
                grams_of(word, &mut grams);
                for &g in &grams {
                    self.grams.insert(g, wid);
                }
                self.gram_scratch = grams;
            }
            if let Some(w) = self.words.get_mut(wid) {
                w.data.insert(norm);
            }
            if word == first {
                first_id = wid;
            }
        }
        if first_id != NONE && first.len() == norm_str.len() {
            first_id |= FIRST_ONLY;
        }
        if self.norm_first.len() <= norm as usize {
            self.norm_first.resize(norm as usize + 1, NONE);
        }
        self.norm_first[norm as usize] = first_id;
    }

    pub(super) fn alloc_symbol(&mut self) -> u32 {
        if let Some(id) = self.free.pop() {
            return id;
        }
        let id = self.rows.len() as u32;
        self.rows.push(Row::default());
        id
    }

    /// The next insertion sequence number; renumbers the live rows densely (same order) when the
    /// counter would overflow.
    pub(super) fn take_seq(&mut self) -> u32 {
        if self.next_seq == u32::MAX {
            let mut live: Vec<(u32, u32)> = (0..self.rows.len())
                .filter(|&i| self.rows[i].name != NONE)
                .map(|i| (self.rows[i].seq, i as u32))
                .collect();
            live.sort_unstable();
            for (n, &(_, id)) in live.iter().enumerate() {
                self.rows[id as usize].seq = n as u32;
            }
            self.next_seq = live.len() as u32;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    pub(super) fn set_pos(&mut self, id: u32, p: [f64; 4]) {
        self.rows[id as usize].pos = match pack_pos(p) {
            Some(exact) => exact,
            None => {
                self.pos_ext.insert(id, p);
                [POS_EXTERNAL, 0, 0, 0]
            }
        };
    }
}
