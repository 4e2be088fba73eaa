//! The symbol index: columnar symbols with interned strings and u32 ids, roaring postings of character
//! bigrams/trigrams over the distinct normalized strings, and the runtime's exact scoring and order.
//!
//! This module holds the index's state and its public API; the work is done in:
//! - `update`: replacing and removing a file's symbols (interning, postings, id reuse);
//! - `load`: the bulk insert behind [`crate::persist`];
//! - `query`: the runtime's query and the fuzzy mode;
//! - `rank`: the contract's order and the bounded top-k;
//! - `grams`: bigram/trigram postings over words;
//! - `collation`: JS `localeCompare` order through ICU sort keys;
//! - `memory`: the index's own heap accounting.

mod collation;
mod grams;
mod load;
mod memory;
mod query;
mod rank;
mod update;

use std::cell::RefCell;
use std::collections::HashMap;

use icu_collator::CollatorBorrowed;
use roaring::RoaringBitmap;

use crate::pool::{NONE, Pool};
use crate::rows::{Chunked, POS_EXTERNAL, Row};

use collation::{SortKeys, root_collator};
pub use collation::{locale_compare, sort_key_compare};
use grams::Grams;

const TAG_SHIFT: u32 = 30;
/// Cache slot not filled yet (distinct from `NONE`, which caches "normalizes to nothing").
const UNSET: u32 = u32::MAX - 1;
const SYM_MASK: u32 = (1 << TAG_SHIFT) - 1;
const TAG_NAME: u32 = 0;
const TAG_CONTAINER: u32 = 1;
const TAG_DETAIL: u32 = 2;
/// `norm_first` flag: the normalized string is its first word alone.
const FIRST_ONLY: u32 = 1 << 31;
/// Symbol ids must fit in 30 bits (the top two bits of a posting tag the field).
pub const MAX_SYMBOLS: usize = SYM_MASK as usize;

/// Errors of the index (the engine-wide [`crate::Error`]).
pub type IndexError = crate::Error;

/// One symbol's fields, borrowed: what [`SymbolIndex::update_file`] takes ([`SymbolInput`]) and what
/// the index hands back ([`SymbolView`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymbolRecord<'a> {
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

/// One flattened symbol handed to [`SymbolIndex::update_file`].
pub type SymbolInput<'a> = SymbolRecord<'a>;

/// A stored symbol, borrowed from the index.
pub type SymbolView<'a> = SymbolRecord<'a>;

impl SymbolInput<'_> {
    /// Rejects positions that are not finite numbers (NaN, ±Infinity) with [`crate::Error::InvalidArg`].
    /// Callers that take positions from outside (the N-API seam class, the sidecar) check every symbol
    /// before [`SymbolIndex::update_file`], so a rejected update leaves the index unchanged.
    pub fn check_positions(&self) -> Result<(), IndexError> {
        let nums = [self.line, self.column, self.end_line, self.end_column];
        if nums.iter().all(|n| n.is_finite()) {
            Ok(())
        } else {
            Err(IndexError::InvalidArg(
                "symbol positions must be finite numbers".into(),
            ))
        }
    }
}

/// JS `slice(0, limit)` argument from a double: NaN is 0, fractions truncate toward zero, out-of-range
/// values (±Infinity) saturate. Used for [`QueryOptions::limit`] by every caller that receives a JS number.
pub fn limit_from_f64(limit: f64) -> i64 {
    if limit.is_nan() {
        0
    } else if limit >= i64::MAX as f64 {
        i64::MAX
    } else if limit <= i64::MIN as f64 {
        i64::MIN
    } else {
        limit.trunc() as i64
    }
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

#[derive(Default)]
struct FileEntry {
    symbols: Vec<u32>,
}

/// Raw strings (names, files, containers, details); their ICU sort keys live in [`SymbolIndex`]'s
/// `sort_keys`.
pub(crate) type RawPool = Pool<()>;

pub struct SymbolIndex {
    /// Raw strings: names, files, containers, details.
    raw: RawPool,
    /// ICU sort keys of raw strings by raw id, computed the first time a string takes part in a tie.
    sort_keys: RefCell<SortKeys>,
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
    /// Per normalized string: the word id of its first word (`NONE` if under 2 chars), `FIRST_ONLY` set
    /// when the string is that word alone; scores a query token without reading the string.
    norm_first: Vec<u32>,
    /// Per normalized string: the current token's score (0 = not matched), scratch of `match_token`.
    token_scores: Vec<u8>,
    scratch: String,
    gram_scratch: Vec<usize>,
    collator: CollatorBorrowed<'static>,
}

impl SymbolIndex {
    pub fn new() -> Result<Self, IndexError> {
        // The root collation = what V8's `localeCompare` uses for `en` and other root-collation locales.
        let collator = root_collator().map_err(IndexError::Collator)?;
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
            norm_first: Vec::new(),
            token_scores: Vec::new(),
            scratch: String::new(),
            gram_scratch: Vec::new(),
            collator,
        })
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
        let mut repeats = update::Repeats::default();
        for s in iter {
            ids.push(self.insert_symbol(&s, &mut repeats));
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

    /// Line, column, endLine, endColumn of symbol `id`.
    pub(super) fn pos_of(&self, id: u32) -> [f64; 4] {
        let r = &self.rows[id as usize];
        if r.pos[0] == POS_EXTERNAL {
            self.pos_ext.get(&id).copied().unwrap_or([0.0; 4])
        } else {
            r.pos.map(f64::from)
        }
    }
}

#[cfg(test)]
mod tests;
