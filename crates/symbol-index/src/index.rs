//! The symbol index: columnar symbols with interned strings and u32 ids, roaring postings of character
//! bigrams/trigrams over the distinct normalized strings, and the runtime's exact scoring and order.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use icu_collator::options::CollatorOptions;
use icu_collator::{CollatorBorrowed, CollatorPreferences};
use roaring::RoaringBitmap;

use crate::normalize::{normalize_into, score_token, tokenize};
use crate::pool::{NONE, Pool};
use crate::rows::{Chunked, POS_EXTERNAL, Row, pack_pos};

const TAG_SHIFT: u32 = 30;
/// Cache slot not filled yet (distinct from `NONE`, which caches "normalizes to nothing").
const UNSET: u32 = u32::MAX - 1;
const SYM_MASK: u32 = (1 << TAG_SHIFT) - 1;
const TAG_NAME: u32 = 0;
const TAG_CONTAINER: u32 = 1;
const TAG_DETAIL: u32 = 2;
/// Symbol ids must fit in 30 bits (the top two bits of a posting tag the field).
pub const MAX_SYMBOLS: usize = SYM_MASK as usize;

const ALPHABET: usize = 36;
const BIGRAMS: usize = ALPHABET * ALPHABET;
const GRAM_SLOTS: usize = BIGRAMS + ALPHABET * ALPHABET * ALPHABET;

/// Errors of the index (the engine-wide [`crate::Error`]).
pub type IndexError = crate::Error;

/// One flattened symbol handed to [`SymbolIndex::update_file`].
#[derive(Debug, Clone, Copy)]
pub struct SymbolInput<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub file: &'a str,
    pub container: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub line: f64,
    pub column: f64,
    pub end_line: f64,
    pub end_column: f64,
}

/// A stored symbol, borrowed from the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymbolView<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub file: &'a str,
    pub container: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub line: f64,
    pub column: f64,
    pub end_line: f64,
    pub end_column: f64,
}

#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// `slice(0, limit)` semantics: `>= 0` keeps that many, `< 0` drops that many from the end.
    pub limit: i64,
    /// Lowercased kinds; `None` = no filter.
    pub kinds: Option<Vec<String>>,
    /// Opt-in fuzzy ranking ([`crate::fuzzy`]) instead of the runtime's.
    pub fuzzy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: u32,
    pub score: u32,
}

fn gram_code(b: u8) -> usize {
    if b.is_ascii_lowercase() {
        (b - b'a') as usize
    } else {
        26 + (b - b'0') as usize
    }
}

fn bigram(a: u8, b: u8) -> usize {
    gram_code(a) * ALPHABET + gram_code(b)
}

fn trigram(a: u8, b: u8, c: u8) -> usize {
    BIGRAMS + (gram_code(a) * ALPHABET + gram_code(b)) * ALPHABET + gram_code(c)
}

/// Distinct gram slots of one word.
fn grams_of(word: &str, out: &mut Vec<usize>) {
    out.clear();
    let b = word.as_bytes();
    for w in b.windows(2) {
        out.push(bigram(w[0], w[1]));
    }
    for w in b.windows(3) {
        out.push(trigram(w[0], w[1], w[2]));
    }
    out.sort_unstable();
    out.dedup();
}

/// Distinct words of a normalized string that a query token (2+ chars) can occur in.
fn distinct_words(s: &str) -> Vec<&str> {
    let mut words: Vec<&str> = s.split(' ').filter(|w| w.len() >= 2).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// JS `a.localeCompare(b)` under the root collation (what V8 uses for `en` and other root locales), with a
/// process-wide collator. `None` only if the collation data could not be loaded.
pub fn locale_compare(a: &str, b: &str) -> Option<Ordering> {
    static COLLATOR: std::sync::OnceLock<Option<CollatorBorrowed<'static>>> =
        std::sync::OnceLock::new();
    let collator = COLLATOR
        .get_or_init(|| {
            CollatorBorrowed::try_new(CollatorPreferences::default(), CollatorOptions::default())
                .ok()
        })
        .as_ref()?;
    Some(if a == b {
        Ordering::Equal
    } else {
        collator.compare(a, b)
    })
}

fn sort_key(collator: &CollatorBorrowed<'static>, s: &str) -> Box<[u8]> {
    let mut key: Vec<u8> = Vec::with_capacity(s.len() * 2 + 4);
    // Writing into a Vec cannot fail.
    let _ = collator.write_sort_key_to(s, &mut key);
    key.into_boxed_slice()
}

/// Compares `a` and `b` by their root-collation sort keys (what the index uses for ties).
pub fn sort_key_compare(a: &str, b: &str) -> Option<Ordering> {
    static COLLATOR: std::sync::OnceLock<Option<CollatorBorrowed<'static>>> =
        std::sync::OnceLock::new();
    let collator = COLLATOR
        .get_or_init(|| {
            CollatorBorrowed::try_new(CollatorPreferences::default(), CollatorOptions::default())
                .ok()
        })
        .as_ref()?;
    Some(sort_key(collator, a).cmp(&sort_key(collator, b)))
}

/// Bounded max-heap of the best `k` hits in contract order (`heap[0]` is the worst kept hit).
struct TopK {
    k: usize,
    heap: Vec<Hit>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: Vec::with_capacity(k.min(4096)),
        }
    }

    fn full(&self) -> bool {
        self.heap.len() >= self.k
    }

    fn min_score(&self) -> u32 {
        self.heap.first().map_or(0, |h| h.score)
    }

    fn offer(&mut self, idx: &SymbolIndex, hit: Hit) {
        let heap = &mut self.heap;
        if heap.len() < self.k {
            heap.push(hit);
            let mut i = heap.len() - 1;
            while i > 0 {
                let parent = (i - 1) / 2;
                if idx.rank_cmp(heap[i], heap[parent]) == Ordering::Greater {
                    heap.swap(i, parent);
                    i = parent;
                } else {
                    break;
                }
            }
        } else if hit.score >= heap[0].score && idx.rank_cmp(hit, heap[0]) == Ordering::Less {
            heap[0] = hit;
            let n = heap.len();
            let mut i = 0;
            loop {
                let (l, r) = (2 * i + 1, 2 * i + 2);
                let mut worst = i;
                if l < n && idx.rank_cmp(heap[l], heap[worst]) == Ordering::Greater {
                    worst = l;
                }
                if r < n && idx.rank_cmp(heap[r], heap[worst]) == Ordering::Greater {
                    worst = r;
                }
                if worst == i {
                    break;
                }
                heap.swap(i, worst);
                i = worst;
            }
        }
    }

    fn into_sorted(self, idx: &SymbolIndex) -> Vec<Hit> {
        let mut heap = self.heap;
        heap.sort_by(|&a, &b| idx.rank_cmp(a, b));
        heap
    }
}

/// Gram postings: a slot table over all bigrams/trigrams pointing into the bitmaps of the grams in use
/// (most of the 48k possible grams never occur, and an empty bitmap still costs its struct).
struct Grams {
    slot: Box<[u32]>,
    sets: Vec<RoaringBitmap>,
    empty: RoaringBitmap,
}

impl Grams {
    fn new() -> Self {
        Self {
            slot: vec![NONE; GRAM_SLOTS].into_boxed_slice(),
            sets: Vec::new(),
            empty: RoaringBitmap::new(),
        }
    }

    fn get(&self, g: usize) -> &RoaringBitmap {
        match self.slot[g] {
            NONE => &self.empty,
            i => &self.sets[i as usize],
        }
    }

    fn insert(&mut self, g: usize, word: u32) {
        if self.slot[g] == NONE {
            self.slot[g] = self.sets.len() as u32;
            self.sets.push(RoaringBitmap::new());
        }
        self.sets[self.slot[g] as usize].insert(word);
    }

    fn remove(&mut self, g: usize, word: u32) {
        if let Some(set) = self.sets.get_mut(self.slot[g] as usize) {
            set.remove(word);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.slot.len() * 4
            + self.sets.capacity() * std::mem::size_of::<RoaringBitmap>()
            + self
                .sets
                .iter()
                .map(RoaringBitmap::serialized_size)
                .sum::<usize>()
    }
}

/// Hasher for `u32` ids (the sort-key table is probed on every tie of a query): one multiply.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[derive(Default)]
struct FileEntry {
    symbols: Vec<u32>,
}

/// Raw strings with their lazily computed ICU sort keys.
pub(crate) type RawPool = Pool<()>;

pub struct SymbolIndex {
    /// Raw strings: names, files, containers, details.
    raw: RawPool,
    /// ICU sort keys of raw strings by raw id, computed the first time a string takes part in a tie.
    sort_keys: RefCell<HashMap<u32, Box<[u8]>, BuildHasherDefault<IdHasher>>>,
    /// Per raw id: its normalized-string id (`NONE` = normalizes to nothing, `UNSET` = not known) and that
    /// string's generation, so a repeated name/container/detail is not normalized and looked up again.
    raw_norm: Vec<(u32, u32)>,
    /// Per normalized-string id: bumped when the string is dropped (invalidates `raw_norm` entries).
    norm_gen: Vec<u32>,
    /// Distinct normalized strings; data = tagged postings (symbol id | field << 30).
    norms: Pool<Vec<u32>>,
    /// Kinds; data = lowercase form.
    kinds: Pool<Box<str>>,
    /// Distinct words (2+ chars) of the normalized strings; data = ids of the normalized strings holding it.
    words: Pool<RoaringBitmap>,
    /// Character bigram/trigram postings over word ids.
    grams: Grams,
    /// Normalized strings whose last posting went away during an update; dropped after the new symbols are
    /// in, so re-indexing unchanged content does not churn the word and gram postings.
    dead_norms: Vec<u32>,
    /// The symbol table, indexed by symbol id.
    rows: Chunked<Row>,
    /// Positions that are not four exact `u32`s (row `pos[0]` = `POS_EXTERNAL`), by symbol id.
    pos_ext: HashMap<u32, [f64; 4]>,
    free: Vec<u32>,
    files: HashMap<Box<str>, FileEntry>,
    /// Next insertion sequence number (live rows are renumbered densely when it would overflow).
    next_seq: u32,
    live: usize,
    /// Per-symbol score scratch of unlimited queries (sized on first use).
    scores: Vec<u32>,
    touched: Vec<u32>,
    norm_scores: Vec<u32>,
    /// Per normalized string: bit `tag` set once it was used in that field (reset when the string is freed).
    norm_roles: Vec<u8>,
    /// Per normalized string: its character set (fuzzy pre-filter).
    norm_masks: Vec<u64>,
    scratch: String,
    gram_scratch: Vec<usize>,
    collator: CollatorBorrowed<'static>,
}

impl SymbolIndex {
    pub fn new() -> Result<Self, IndexError> {
        // The root collation = what V8's `localeCompare` uses for `en` and other root-collation locales.
        let collator =
            CollatorBorrowed::try_new(CollatorPreferences::default(), CollatorOptions::default())
                .map_err(|e| IndexError::Collator(e.to_string()))?;
        Ok(Self {
            raw: Pool::default(),
            sort_keys: RefCell::new(HashMap::default()),
            raw_norm: Vec::new(),
            norm_gen: Vec::new(),
            norms: Pool::default(),
            kinds: Pool::default(),
            words: Pool::default(),
            grams: Grams::new(),
            dead_norms: Vec::new(),
            rows: Chunked::default(),
            pos_ext: HashMap::new(),
            free: Vec::new(),
            files: HashMap::new(),
            next_seq: 0,
            live: 0,
            scores: Vec::new(),
            touched: Vec::new(),
            norm_scores: Vec::new(),
            norm_roles: Vec::new(),
            norm_masks: Vec::new(),
            scratch: String::new(),
            gram_scratch: Vec::new(),
            collator,
        })
    }

    /// Compares two strings like JS `a.localeCompare(b)` under the root collation.
    pub fn locale_compare(&self, a: &str, b: &str) -> Ordering {
        if a == b {
            Ordering::Equal
        } else {
            self.collator.compare(a, b)
        }
    }

    /// Number of live symbols and files.
    pub fn stats(&self) -> (usize, usize) {
        (self.live, self.files.len())
    }

    /// Replaces the symbols of file `path` (already resolved). Returns `(added, removed)`.
    pub fn update_file<'a, I>(
        &mut self,
        path: &str,
        symbols: I,
    ) -> Result<(usize, usize), IndexError>
    where
        I: IntoIterator<Item = SymbolInput<'a>>,
        I::IntoIter: ExactSizeIterator + Clone,
    {
        let iter = symbols.into_iter();
        let old = self.files.get(path).map_or(0, |f| f.symbols.len());
        if self.live - old + iter.len() > MAX_SYMBOLS {
            return Err(IndexError::Full);
        }
        // Every string of the update could be new; normalized strings are at most twice as long.
        let (bytes, kind_bytes) = iter.clone().fold((0usize, 0usize), |(n, k), s| {
            (
                n.saturating_add(s.name.len())
                    .saturating_add(s.file.len())
                    .saturating_add(s.container.map_or(0, str::len))
                    .saturating_add(s.detail.map_or(0, str::len)),
                k.saturating_add(s.kind.len()),
            )
        });
        if !self.raw.fits(bytes)
            || !self.norms.fits(bytes.saturating_mul(2))
            || !self.kinds.fits(kind_bytes)
        {
            return Err(IndexError::StringsFull);
        }
        let removed = self.remove_file_symbols(path);
        let mut ids = Vec::with_capacity(iter.len());
        for s in iter {
            ids.push(self.insert_symbol(&s));
        }
        let added = ids.len();
        self.files.insert(path.into(), FileEntry { symbols: ids });
        self.sweep_dead_norms();
        Ok((added, removed))
    }

    /// Removes file `path`; returns whether it was indexed.
    pub fn remove_file(&mut self, path: &str) -> bool {
        if !self.files.contains_key(path) {
            return false;
        }
        self.remove_file_symbols(path);
        self.files.remove(path);
        self.sweep_dead_norms();
        true
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    fn link_words(&mut self, norm_str: &str, norm: u32) {
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
        }
    }

    /// Drops normalized strings that are still unreferenced after an update, with their words and grams.
    fn sweep_dead_norms(&mut self) {
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

    fn alloc_symbol(&mut self) -> u32 {
        if let Some(id) = self.free.pop() {
            return id;
        }
        let id = self.rows.len() as u32;
        self.rows.push(Row::default());
        id
    }

    /// The next insertion sequence number; renumbers the live rows densely (same order) when the
    /// counter would overflow.
    fn take_seq(&mut self) -> u32 {
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

    fn set_pos(&mut self, id: u32, p: [f64; 4]) {
        self.rows[id as usize].pos = match pack_pos(p) {
            Some(exact) => exact,
            None => {
                self.pos_ext.insert(id, p);
                [POS_EXTERNAL, 0, 0, 0]
            }
        };
    }

    /// Line, column, endLine, endColumn of symbol `id`.
    fn pos_of(&self, id: u32) -> [f64; 4] {
        let r = &self.rows[id as usize];
        if r.pos[0] == POS_EXTERNAL {
            self.pos_ext.get(&id).copied().unwrap_or([0.0; 4])
        } else {
            r.pos.map(f64::from)
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
    fn intern_norm(&mut self, raw: &str) -> u32 {
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
    fn link_norm(&mut self, id: u32, sym: u32, tag: u32) {
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

    /// Normalized-string id of table string `si` (`NONE` if it normalizes to nothing), interned and linked
    /// to its words on first use.
    fn cached_norm(&mut self, cache: &mut [u32], si: u32, s: &str) -> u32 {
        let c = cache[si as usize];
        if c != UNSET {
            return c;
        }
        let id = self.intern_norm(s);
        cache[si as usize] = id;
        id
    }

    /// Bulk insert for [`crate::persist`]: symbols given as indexes into a table of distinct strings, so
    /// every string is hashed, interned and normalized once instead of once per use. Same result as
    /// `update_file` per file in order. Indexes must be validated by the caller; `self` must be empty.
    pub(crate) fn load_table(
        &mut self,
        strings: &[&str],
        files: &[(u32, u32)],
        cols: [&[u32]; 5],
        pos: &dyn Fn(usize) -> [f64; 4],
    ) -> Result<(), String> {
        let n: usize = files.iter().map(|f| f.1 as usize).sum();
        if n > MAX_SYMBOLS {
            return Err(format!("{n} symbols exceed the index limit"));
        }
        let bytes = strings
            .iter()
            .fold(0usize, |n, s| n.saturating_add(s.len()));
        if !self.raw.fits(bytes) || !self.norms.fits(bytes.saturating_mul(2)) {
            return Err("the strings exceed the index limit".into());
        }
        let mut raw_ids = vec![UNSET; strings.len()];
        let mut kind_ids = vec![UNSET; strings.len()];
        let mut norm_ids = vec![UNSET; strings.len()];
        let mut raw_of = |pool: &mut RawPool, si: u32| -> u32 {
            let slot = &mut raw_ids[si as usize];
            if *slot == UNSET {
                *slot = pool.acquire(strings[si as usize], || ()).0;
            } else {
                pool.add_ref(*slot);
            }
            *slot
        };
        let [names, kinds, file_col, containers, details] = cols;
        let mut i = 0usize;
        for &(key, count) in files {
            let key = strings[key as usize];
            if self.files.contains_key(key) {
                return Err(format!("file {key:?} is listed twice"));
            }
            let mut ids = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let id = self.alloc_symbol();
                let k = id as usize;
                let seq = self.take_seq();
                let mut row = Row {
                    seq,
                    ..Row::default()
                };
                row.name = raw_of(&mut self.raw, names[i]);
                row.file = raw_of(&mut self.raw, file_col[i]);
                let ks = kinds[i] as usize;
                if kind_ids[ks] == UNSET {
                    let kind = strings[ks];
                    kind_ids[ks] = self.kinds.acquire(kind, || kind.to_lowercase().into()).0;
                } else {
                    self.kinds.add_ref(kind_ids[ks]);
                }
                row.kind = kind_ids[ks];
                row.container = if containers[i] == NONE {
                    NONE
                } else {
                    raw_of(&mut self.raw, containers[i])
                };
                row.detail = if details[i] == NONE {
                    NONE
                } else {
                    raw_of(&mut self.raw, details[i])
                };
                let nn = self.cached_norm(&mut norm_ids, names[i], strings[names[i] as usize]);
                if nn != NONE {
                    self.link_norm(nn, id, TAG_NAME);
                }
                row.norm_name = nn;
                for (si, tag) in [(containers[i], TAG_CONTAINER), (details[i], TAG_DETAIL)] {
                    // An empty container/detail counts as absent (`container ? … : ""`).
                    let norm = if si == NONE || strings[si as usize].is_empty() {
                        NONE
                    } else {
                        self.cached_norm(&mut norm_ids, si, strings[si as usize])
                    };
                    if norm != NONE {
                        self.link_norm(norm, id, tag);
                    }
                    if tag == TAG_CONTAINER {
                        row.norm_container = norm;
                    } else {
                        row.norm_detail = norm;
                    }
                }
                self.rows[k] = row;
                self.set_pos(id, pos(i));
                self.live += 1;
                ids.push(id);
                i += 1;
            }
            self.files.insert(key.into(), FileEntry { symbols: ids });
        }
        Ok(())
    }

    fn insert_symbol(&mut self, s: &SymbolInput<'_>) -> u32 {
        let id = self.alloc_symbol();
        let seq = self.take_seq();
        let name = self.raw.acquire(s.name, || ()).0;
        let container = s.container.map_or(NONE, |c| self.raw.acquire(c, || ()).0);
        let detail = s.detail.map_or(NONE, |d| self.raw.acquire(d, || ()).0);
        let row = Row {
            name,
            file: self.raw.acquire(s.file, || ()).0,
            kind: self
                .kinds
                .acquire(s.kind, || s.kind.to_lowercase().into())
                .0,
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

    fn remove_file_symbols(&mut self, path: &str) -> usize {
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

    /// Distinct normalized strings containing `token`, with the token's score against each.
    fn match_token(&self, token: &str, out: &mut Vec<(u32, u32)>) {
        out.clear();
        let b = token.as_bytes();
        if b.len() < 2 {
            return;
        }
        // Words containing the token: a bigram posting is exact; trigram candidates are verified.
        let words: RoaringBitmap = if b.len() == 2 {
            self.grams.get(bigram(b[0], b[1])).clone()
        } else {
            let mut slots: Vec<usize> = b.windows(3).map(|w| trigram(w[0], w[1], w[2])).collect();
            slots.sort_unstable();
            slots.dedup();
            slots.sort_by_key(|&g| self.grams.get(g).len());
            let Some((&first, rest)) = slots.split_first() else {
                return;
            };
            let mut acc = self.grams.get(first).clone();
            for &g in rest {
                if acc.len() <= 8 {
                    break; // few enough: verify directly
                }
                acc &= self.grams.get(g);
            }
            acc.into_iter()
                .filter(|&w| self.words.str(w).contains(token))
                .collect()
        };
        let mut norms = RoaringBitmap::new();
        for w in &words {
            if let Some(e) = self.words.get(w) {
                norms |= e.data;
            }
        }
        for id in &norms {
            let score = score_token(token, self.norms.str(id));
            if score > 0 {
                out.push((id, score));
            }
        }
    }

    /// Contract §2.1 order: `Less` means `a` ranks before `b`.
    fn rank_cmp(&self, a: Hit, b: Hit) -> Ordering {
        let (ra, rb) = (&self.rows[a.id as usize], &self.rows[b.id as usize]);
        b.score
            .cmp(&a.score)
            .then_with(|| self.raw_cmp(ra.name, rb.name))
            .then_with(|| self.raw_cmp(ra.file, rb.file))
            .then_with(|| {
                if ra.pos[0] != POS_EXTERNAL && rb.pos[0] != POS_EXTERNAL {
                    return ra.pos[0].cmp(&rb.pos[0]).then(ra.pos[1].cmp(&rb.pos[1]));
                }
                let (pa, pb) = (self.pos_of(a.id), self.pos_of(b.id));
                pa[0]
                    .partial_cmp(&pb[0])
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| pa[1].partial_cmp(&pb[1]).unwrap_or(Ordering::Equal))
            })
            .then_with(|| ra.seq.cmp(&rb.seq))
    }

    fn raw_cmp(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        match (self.raw.get(a), self.raw.get(b)) {
            (Some(ea), Some(eb)) => {
                // Byte order of ICU sort keys = the collator's order (checked against `compare` and JS
                // `localeCompare` by the package's differential tests).
                let mut keys = self.sort_keys.borrow_mut();
                for (id, s) in [(a, ea.s), (b, eb.s)] {
                    keys.entry(id)
                        .or_insert_with(|| sort_key(&self.collator, s));
                }
                match (keys.get(&a), keys.get(&b)) {
                    (Some(ka), Some(kb)) => ka.cmp(kb),
                    _ => Ordering::Equal,
                }
            }
            _ => Ordering::Equal,
        }
    }

    /// The runtime's query: every symbol with a positive score, in contract order, cut at `limit`.
    pub fn query(&mut self, query: &str, options: &QueryOptions) -> Vec<Hit> {
        if options.fuzzy {
            return self.query_fuzzy(query, options);
        }
        let tokens = tokenize(query);
        if tokens.is_empty() || options.limit == 0 {
            return Vec::new();
        }
        let allowed: Option<Vec<bool>> = options.kinds.as_ref().map(|kinds| {
            let mut allowed = Vec::new();
            for (id, e) in self.kinds.iter() {
                if allowed.len() <= id as usize {
                    allowed.resize(id as usize + 1, false);
                }
                allowed[id as usize] = kinds.iter().any(|k| **k == **e.data);
            }
            allowed
        });
        if let Some(a) = &allowed
            && !a.iter().any(|&x| x)
        {
            return Vec::new();
        }
        if options.limit > 0 {
            return self.query_pruned(&tokens, allowed.as_deref(), options.limit);
        }
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        if self.scores.len() < self.rows.len() {
            self.scores.resize(self.rows.len(), 0);
        }
        let mut matched = Vec::new();
        for token in &tokens {
            self.match_token(token, &mut matched);
            for &(norm, score) in &matched {
                let Some(e) = self.norms.get(norm) else {
                    continue;
                };
                for &p in e.data {
                    let sym = (p & SYM_MASK) as usize;
                    let weight = if p >> TAG_SHIFT == TAG_NAME { 2 } else { 1 };
                    let slot = &mut self.scores[sym];
                    if *slot == 0 {
                        touched.push(sym as u32);
                    }
                    *slot += score * weight;
                }
            }
        }
        let mut candidates: Vec<Hit> = Vec::with_capacity(touched.len());
        for &sym in &touched {
            let slot = &mut self.scores[sym as usize];
            let score = *slot;
            *slot = 0;
            if let Some(a) = &allowed
                && !a
                    .get(self.rows[sym as usize].kind as usize)
                    .copied()
                    .unwrap_or(false)
            {
                continue;
            }
            candidates.push(Hit { id: sym, score });
        }
        self.touched = touched;
        let total = candidates.len() as i64;
        let k = if options.limit < 0 {
            (total + options.limit).max(0)
        } else {
            options.limit.min(total)
        } as usize;
        self.top_k(candidates, k)
    }

    /// Fuzzy mode: one score per distinct normalized name, then the contract's order and `limit` rules.
    fn query_fuzzy(&mut self, query: &str, options: &QueryOptions) -> Vec<Hit> {
        let terms: Vec<crate::fuzzy::Term> = crate::fuzzy::fuzzy_terms(query)
            .iter()
            .map(|t| crate::fuzzy::Term::new(t))
            .collect();
        if terms.is_empty() || options.limit == 0 {
            return Vec::new();
        }
        let kinds = options.kinds.as_deref();
        let kind_ok = |sym: usize| match kinds {
            None => true,
            Some(k) => {
                let lower = self.kinds.get(self.rows[sym].kind).map_or("", |e| e.data);
                k.iter().any(|x| x == lower)
            }
        };
        let mut candidates: Vec<Hit> = Vec::new();
        for (id, e) in self.norms.iter() {
            let is_name = self
                .norm_roles
                .get(id as usize)
                .is_none_or(|r| r & (1 << TAG_NAME) != 0);
            if !is_name {
                continue;
            }
            let mask = self
                .norm_masks
                .get(id as usize)
                .copied()
                .unwrap_or_else(|| crate::fuzzy::name_mask(e.s));
            let score = crate::fuzzy::fuzzy_score_masked(&terms, e.s, mask);
            if score == 0 {
                continue;
            }
            for &p in e.data {
                if p >> TAG_SHIFT == TAG_NAME && kind_ok((p & SYM_MASK) as usize) {
                    candidates.push(Hit {
                        id: p & SYM_MASK,
                        score,
                    });
                }
            }
        }
        let total = candidates.len() as i64;
        let k = if options.limit < 0 {
            (total + options.limit).max(0)
        } else {
            options.limit.min(total)
        } as usize;
        self.top_k(candidates, k)
    }

    /// Positive limits: scores are computed per distinct normalized string first, then symbols are visited
    /// by decreasing bound (threshold algorithm) and visiting stops once no remaining symbol can enter the
    /// top `limit` (strictly lower bound than the current worst kept score, so boundary ties still compete).
    fn query_pruned(
        &mut self,
        tokens: &[String],
        allowed: Option<&[bool]>,
        limit: i64,
    ) -> Vec<Hit> {
        let k = usize::try_from(limit).unwrap_or(usize::MAX).min(self.live);
        if k == 0 {
            return Vec::new();
        }
        let mut nscores = std::mem::take(&mut self.norm_scores);
        if nscores.len() < self.norms.capacity() {
            nscores.resize(self.norms.capacity(), 0);
        }
        let mut matched_norms: Vec<u32> = Vec::new();
        let mut matched = Vec::new();
        for token in tokens {
            self.match_token(token, &mut matched);
            for &(norm, score) in &matched {
                let slot = &mut nscores[norm as usize];
                if *slot == 0 {
                    matched_norms.push(norm);
                }
                *slot += score;
            }
        }
        // Counting sort by score, descending (scores are small integers).
        let top = matched_norms
            .iter()
            .map(|&n| nscores[n as usize])
            .max()
            .unwrap_or(0) as usize;
        let mut starts = vec![0usize; top + 2];
        for &n in &matched_norms {
            starts[top - nscores[n as usize] as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order: Vec<(u32, u32)> = vec![(0, 0); matched_norms.len()];
        for &n in &matched_norms {
            let sc = nscores[n as usize];
            let slot = &mut starts[top - sc as usize];
            order[*slot] = (sc, n);
            *slot += 1;
        }
        // Upper bounds of what a container / detail can add (by the roles each string was used in).
        let role = |n: u32| self.norm_roles.get(n as usize).copied().unwrap_or(0xff);
        let max_c = order
            .iter()
            .find(|x| role(x.1) & (1 << TAG_CONTAINER) != 0)
            .map_or(0, |x| x.0);
        let max_d = order
            .iter()
            .find(|x| role(x.1) & (1 << TAG_DETAIL) != 0)
            .map_or(0, |x| x.0);
        let ns = |n: u32| if n == NONE { 0 } else { nscores[n as usize] };
        let kind_ok = |sym: usize| match allowed {
            None => true,
            Some(a) => a
                .get(self.rows[sym].kind as usize)
                .copied()
                .unwrap_or(false),
        };
        let mut heap = TopK::new(k);
        // Phase 1: symbols whose name matches; score = 2·S(name) + S(container) + S(detail).
        for &(s, n) in &order {
            if heap.full() && 2 * s + max_c + max_d < heap.min_score() {
                break;
            }
            let Some(e) = self.norms.get(n) else { continue };
            for &p in e.data {
                if p >> TAG_SHIFT != TAG_NAME {
                    continue;
                }
                let sym = (p & SYM_MASK) as usize;
                if !kind_ok(sym) {
                    continue;
                }
                let r = &self.rows[sym];
                let score = 2 * s + ns(r.norm_container) + ns(r.norm_detail);
                heap.offer(
                    self,
                    Hit {
                        id: sym as u32,
                        score,
                    },
                );
            }
        }
        // Phase 2: symbols matching only through their container and/or detail.
        for &(s, n) in &order {
            if heap.full() && s + max_c.max(max_d) < heap.min_score() {
                break;
            }
            let Some(e) = self.norms.get(n) else { continue };
            for &p in e.data {
                let sym = (p & SYM_MASK) as usize;
                let tag = p >> TAG_SHIFT;
                let r = &self.rows[sym];
                if tag == TAG_NAME || ns(r.norm_name) > 0 {
                    continue;
                }
                let score = if tag == TAG_CONTAINER {
                    s + ns(r.norm_detail)
                } else {
                    if ns(r.norm_container) > 0 {
                        continue; // visited through its container
                    }
                    s
                };
                if !kind_ok(sym) {
                    continue;
                }
                heap.offer(
                    self,
                    Hit {
                        id: sym as u32,
                        score,
                    },
                );
            }
        }
        for &n in &matched_norms {
            nscores[n as usize] = 0;
        }
        self.norm_scores = nscores;
        heap.into_sorted(self)
    }

    /// The first `k` candidates in contract order, without sorting them all (bounded max-heap).
    fn top_k(&self, mut candidates: Vec<Hit>, k: usize) -> Vec<Hit> {
        if k == 0 {
            return Vec::new();
        }
        if k >= candidates.len() {
            candidates.sort_by(|&a, &b| self.rank_cmp(a, b));
            return candidates;
        }
        let mut heap = TopK::new(k);
        for hit in candidates {
            heap.offer(self, hit);
        }
        heap.into_sorted(self)
    }

    /// The stored symbol `id` (from a [`Hit`]).
    pub fn symbol(&self, id: u32) -> Option<SymbolView<'_>> {
        let r = self.rows.get(id as usize)?;
        if r.name == NONE {
            return None;
        }
        let opt = |raw: u32| (raw != NONE).then(|| self.raw.str(raw));
        let p = self.pos_of(id);
        Some(SymbolView {
            name: self.raw.str(r.name),
            kind: self.kinds.str(r.kind),
            file: self.raw.str(r.file),
            container: opt(r.container),
            detail: opt(r.detail),
            line: p[0],
            column: p[1],
            end_line: p[2],
            end_column: p[3],
        })
    }

    /// Symbols of a file in insertion order.
    pub fn file_symbols(&self, path: &str) -> Vec<u32> {
        self.files
            .get(path)
            .map(|f| f.symbols.clone())
            .unwrap_or_default()
    }

    /// Serializes the whole index ([`crate::persist`] format, version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::persist::encode(self)
    }

    /// Rebuilds an index from [`SymbolIndex::to_bytes`] output (or the JS fallback's file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::persist::PersistError> {
        crate::persist::decode(bytes)
    }

    /// Files in the order of their symbols' insertion sequence (each file's symbols are contiguous in it),
    /// with their symbol ids in insertion order. Files without symbols come first.
    pub(crate) fn files_in_seq_order(&self) -> Vec<(&str, &[u32])> {
        let mut files: Vec<(Option<u32>, &str, &[u32])> = self
            .files
            .iter()
            .map(|(k, v)| {
                let first = v.symbols.first().map(|&id| self.rows[id as usize].seq);
                (first, &**k, v.symbols.as_slice())
            })
            .collect();
        files.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        files.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    /// Raw-string ids of symbol `id`: name, file, container, detail (`NONE` = absent), and its kind id.
    pub(crate) fn symbol_ids(&self, id: u32) -> ([u32; 4], u32) {
        let r = &self.rows[id as usize];
        ([r.name, r.file, r.container, r.detail], r.kind)
    }

    pub(crate) fn symbol_pos(&self, id: u32) -> [f64; 4] {
        self.pos_of(id)
    }

    pub(crate) fn raw_pool(&self) -> (&RawPool, &Pool<Box<str>>) {
        (&self.raw, &self.kinds)
    }

    /// Approximate bytes owned by the index (columns, pools, postings).
    pub fn heap_bytes(&self) -> usize {
        self.heap_breakdown().iter().map(|x| x.1).sum()
    }

    /// [`SymbolIndex::heap_bytes`] by part: `(name, bytes)`.
    pub fn heap_breakdown(&self) -> Vec<(&'static str, usize)> {
        let cols = self.rows.heap_bytes()
            + self.raw_norm.capacity() * 8
            + self.norm_gen.capacity() * 4
            + self.pos_ext.capacity() * (4 + 32 + 1)
            + (self.scores.capacity() + self.free.capacity()) * 4
            + self.norm_masks.capacity() * 8
            + self.norm_roles.capacity()
            + self.norm_scores.capacity() * 4;
        let postings: usize = self.norms.iter().map(|(_, e)| e.data.capacity() * 4).sum();
        let grams = self.grams.heap_bytes();
        let files: usize = self
            .files
            .iter()
            .map(|(k, v)| k.len() + v.symbols.capacity() * 4 + 48)
            .sum();
        let sort_keys = {
            let keys = self.sort_keys.borrow();
            keys.capacity() * (4 + 16 + 1) + keys.values().map(|k| k.len()).sum::<usize>()
        };
        let word_postings = self
            .words
            .iter()
            .map(|(_, w)| w.data.serialized_size())
            .sum::<usize>();
        vec![
            ("columns", cols),
            ("raw strings", self.raw.heap_bytes()),
            ("sort keys", sort_keys),
            ("kinds", self.kinds.heap_bytes()),
            ("norm strings", self.norms.heap_bytes()),
            ("norm postings", postings),
            ("words", self.words.heap_bytes()),
            ("word postings", word_postings),
            ("gram postings", grams),
            ("files", files),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sym<'a>(
        name: &'a str,
        kind: &'a str,
        container: Option<&'a str>,
        line: f64,
    ) -> SymbolInput<'a> {
        SymbolInput {
            name,
            kind,
            file: "/w/a.ts",
            container,
            detail: None,
            line,
            column: 0.0,
            end_line: line,
            end_column: 1.0,
        }
    }

    fn names(
        idx: &mut SymbolIndex,
        q: &str,
        limit: i64,
        kinds: Option<Vec<String>>,
    ) -> Vec<(String, u32)> {
        let hits = idx.query(
            q,
            &QueryOptions {
                limit,
                kinds,
                fuzzy: false,
            },
        );
        hits.iter()
            .map(|h| (idx.symbol(h.id).unwrap().name.to_owned(), h.score))
            .collect()
    }

    #[test]
    fn worked_example() {
        let mut idx = SymbolIndex::new().unwrap();
        idx.update_file(
            "/w/a.ts",
            vec![
                SymbolInput {
                    detail: Some("class AuthService"),
                    ..sym("AuthService", "Class", None, 1.0)
                },
                sym("login", "Method", Some("AuthService"), 2.0),
            ],
        )
        .unwrap();
        assert_eq!(
            names(&mut idx, "auth login", 20, None),
            vec![("login".into(), 16), ("AuthService".into(), 10)]
        );
        assert!(names(&mut idx, "a", 20, None).is_empty());
        assert!(names(&mut idx, "   ", 20, None).is_empty());
        assert!(names(&mut idx, "auth", 0, None).is_empty());
        assert_eq!(names(&mut idx, "auth login", -1, None).len(), 1);
        assert_eq!(
            names(&mut idx, "auth login", 20, Some(vec!["class".into()])),
            vec![("AuthService".into(), 10)]
        );
        assert_eq!(idx.stats(), (2, 1));
        let (added, removed) = idx
            .update_file("/w/a.ts", vec![sym("Other", "Class", None, 1.0)])
            .unwrap();
        assert_eq!((added, removed), (1, 2));
        assert!(names(&mut idx, "auth", 20, None).is_empty());
        assert!(idx.remove_file("/w/a.ts"));
        assert_eq!(idx.stats(), (0, 0));
    }

    #[test]
    fn ids_are_reused() {
        let mut idx = SymbolIndex::new().unwrap();
        let syms: Vec<String> = (0..50).map(|i| format!("symbolNumber{i}")).collect();
        for round in 0..20 {
            let input: Vec<SymbolInput<'_>> = syms
                .iter()
                .map(|s| sym(s, "Function", None, f64::from(round)))
                .collect();
            idx.update_file("/w/a.ts", input).unwrap();
        }
        assert!(idx.rows.len() <= 100);
        assert_eq!(names(&mut idx, "number1", 3, None).len(), 3);
    }

    #[test]
    fn memory_does_not_grow_across_reindexing() {
        let mut idx = SymbolIndex::new().unwrap();
        let mut sizes = Vec::new();
        for round in 0..30 {
            let names: Vec<String> = (0..40)
                .map(|i| format!("round{round}Symbol{i}Handler"))
                .collect();
            let details: Vec<String> = (0..40)
                .map(|i| format!("function detail{}()", i + round))
                .collect();
            let input: Vec<SymbolInput<'_>> = names
                .iter()
                .zip(&details)
                .map(|(n, d)| SymbolInput {
                    detail: Some(d),
                    ..sym(n, "Function", Some("Outer"), 1.0)
                })
                .collect();
            idx.update_file("/w/a.ts", input).unwrap();
            sizes.push((
                idx.rows.len(),
                idx.norms.capacity(),
                idx.words.capacity(),
                idx.raw.capacity(),
            ));
        }
        // Live content is the same size every round, so every id space stays at its first high-water mark
        // (at most twice the live size while one file is being replaced).
        let first = sizes[1];
        for s in &sizes[2..] {
            assert!(
                s.0 <= first.0 && s.1 <= first.1 * 2 && s.2 <= first.2 * 2 && s.3 <= first.3 * 2,
                "{s:?} vs {first:?}"
            );
        }
        assert_eq!(names(&mut idx, "round29", 100, None).len(), 40);
        assert!(names(&mut idx, "round3", 100, None).is_empty());
        assert!(idx.remove_file("/w/a.ts"));
        assert_eq!(idx.norms.iter().count(), 0);
        assert_eq!(idx.words.iter().count(), 0);
        assert_eq!(idx.raw.iter().count(), 0);
        assert!(idx.grams.sets.iter().all(RoaringBitmap::is_empty));
    }

    #[test]
    fn two_char_tokens_and_collation_order() {
        let mut idx = SymbolIndex::new().unwrap();
        idx.update_file(
            "/w/a.ts",
            vec![
                sym("ab", "Function", None, 1.0),
                sym("Ab", "Function", None, 2.0),
                sym("a_b", "Function", None, 3.0),
            ],
        )
        .unwrap();
        let got: Vec<String> = names(&mut idx, "ab", 20, None)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(got, vec!["ab", "Ab"]);
        assert_eq!(idx.locale_compare("a_b", "ab"), Ordering::Less);
        assert_eq!(idx.locale_compare("é", "f"), Ordering::Less);
    }

    #[test]
    fn sequence_renumbering_keeps_insertion_order() {
        let mut idx = SymbolIndex::new().unwrap();
        idx.next_seq = u32::MAX - 3;
        let a = vec![
            sym("same", "Function", None, 1.0),
            sym("same", "Function", None, 1.0),
        ];
        idx.update_file("/w/a.ts", a.clone()).unwrap();
        idx.update_file("/w/b.ts", a.clone()).unwrap();
        idx.update_file("/w/c.ts", a).unwrap();
        // Six identical symbols: only the insertion sequence orders them, across the renumbering.
        let order = idx.query(
            "same",
            &QueryOptions {
                limit: 100,
                ..QueryOptions::default()
            },
        );
        let ids: Vec<u32> = order.iter().map(|h| h.id).collect();
        let mut by_seq = ids.clone();
        by_seq.sort_by_key(|&id| idx.rows[id as usize].seq);
        assert_eq!(ids, by_seq);
        assert_eq!(idx.file_symbols("/w/a.ts"), ids[..2].to_vec());
        assert!(idx.next_seq < 10, "renumbered densely: {}", idx.next_seq);
    }

    #[test]
    fn inexact_positions_round_trip() {
        let mut idx = SymbolIndex::new().unwrap();
        let odd = [-1.0, 0.5, -0.0, 1e15];
        let input: Vec<SymbolInput<'_>> = odd
            .iter()
            .map(|&x| SymbolInput {
                column: x,
                ..sym("odd", "Function", None, 3.0)
            })
            .chain([sym("odd", "Function", None, 2.0)])
            .collect();
        idx.update_file("/w/a.ts", input).unwrap();
        let hits = idx.query(
            "odd",
            &QueryOptions {
                limit: -0,
                ..QueryOptions::default()
            },
        );
        assert!(hits.is_empty());
        let hits = idx.query(
            "odd",
            &QueryOptions {
                limit: 10,
                ..QueryOptions::default()
            },
        );
        let cols: Vec<f64> = hits
            .iter()
            .map(|h| idx.symbol(h.id).unwrap().column)
            .collect();
        // Line 2 first, then line 3 by column.
        assert_eq!(cols.len(), 5);
        assert_eq!(cols[1..], [-1.0, -0.0, 0.5, 1e15]);
        assert!(cols[2].is_sign_negative());
        assert_eq!(idx.pos_ext.len(), 4);
        idx.update_file("/w/a.ts", vec![sym("odd", "Function", None, 1.0)])
            .unwrap();
        assert!(idx.pos_ext.is_empty());
    }

    #[test]
    fn normalized_string_cache_survives_string_reuse() {
        let mut idx = SymbolIndex::new().unwrap();
        let with_detail = |name: &'static str, detail: &'static str| SymbolInput {
            detail: Some(detail),
            file: "/w/x.ts",
            ..sym(name, "Function", None, 1.0)
        };
        // "/w/x.ts" is a file (kept alive by `keeper`) and, for `user`, a detail (normalized).
        idx.update_file("/w/x.ts", vec![with_detail("keeper", "plain")])
            .unwrap();
        idx.update_file("/w/u.ts", vec![with_detail("user", "/w/x.ts")])
            .unwrap();
        let q = |idx: &mut SymbolIndex, text: &str| -> Vec<String> {
            let hits = idx.query(
                text,
                &QueryOptions {
                    limit: 10,
                    ..QueryOptions::default()
                },
            );
            hits.iter()
                .map(|h| idx.symbol(h.id).unwrap().name.to_owned())
                .collect()
        };
        assert_eq!(q(&mut idx, "ts"), vec!["user"]);
        // The detail's normalized string is dropped while the raw string lives on as a file; its id is
        // then reused for another string.
        idx.update_file("/w/u.ts", vec![]).unwrap();
        idx.update_file("/w/o.ts", vec![with_detail("other", "something else")])
            .unwrap();
        idx.update_file("/w/u.ts", vec![with_detail("again", "/w/x.ts")])
            .unwrap();
        assert_eq!(q(&mut idx, "ts"), vec!["again"]);
        assert_eq!(q(&mut idx, "something"), vec!["other"]);
        assert_eq!(q(&mut idx, "w x ts"), vec!["again"]);
    }
}
