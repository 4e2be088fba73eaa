//! A hand-written pre-tokenizer that splits exactly like tiktoken's `cl100k_base` / `o200k_base`
//! regexes (leftmost-first alternation with backtracking, as fancy-regex runs them), plus a
//! single-token fast path, in front of an exact linear BPE counter.
//!
//! Character classes come from `regex-syntax` — the same Unicode tables the regexes use — so `\p{L}`,
//! `\p{N}`, `\s`, … mean exactly what they mean to tiktoken-rs; at first use they are folded into one
//! two-level table over all code points (`Classes`). A piece that is ASCII up to and including the
//! char after it is cut by byte loops (`Text::ascii_piece`); anything else goes through the general
//! path, which decodes UTF-8 from the bytes and looks each code point up in that table. Parity tests compare every count with tiktoken-rs, and the pieces with
//! tiktoken's split patterns run by fancy-regex on generated code/prose/Unicode text
//! (`tests/parity.rs`). Pieces that are not one token are counted through a bounded per-thread memo,
//! tiktoken's merge loop, or, beyond 64 bytes, chunked merges joined exactly ([`Vocab::long_encode`]).

use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bpe_openai::byte_pair_encoding::BytePairEncoding;
use regex_syntax::hir::{Class, HirKind};
use rustc_hash::FxHashMap;

const L: u8 = 1; // \p{L}
const N: u8 = 2; // \p{N}
const WS: u8 = 4; // \s (White_Space)
const UP: u8 = 8; // Lu | Lt
const LO: u8 = 16; // Ll
const LMO: u8 = 32; // Lm | Lo
const MK: u8 = 64; // \p{M}
const CR: u32 = 0x0D;
const LF: u32 = 0x0A;
const U_SET: u8 = UP | LMO | MK; // o200k "upper" run: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
const L_SET: u8 = LO | LMO | MK; // o200k "lower" run: [\p{Ll}\p{Lm}\p{Lo}\p{M}]

/// The class flags of every code point, as a two-level table: `stage1[cp >> 8]` names a 256-entry
/// block of `stage2` (identical blocks are stored once, so the whole table is ≈ 40 KB and every code
/// point, BMP or astral, costs two loads), plus the ASCII block on its own.
struct Classes {
    stage1: Vec<u16>,
    stage2: Vec<u8>,
    ascii: [u8; 128],
}

fn ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new().parse(pattern);
    match hir.as_ref().map(|h| h.kind()) {
        Ok(HirKind::Class(Class::Unicode(c))) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        _ => Vec::new(),
    }
}

/// Code points: `0..=0x10FFFF`.
const CODE_POINTS: usize = 0x11_0000;
/// Entries per second-level block.
const BLOCK: usize = 256;

/// The regex classes the split patterns use, and the flag each sets in the table.
const CLASS_PATTERNS: [(&str, u8); 7] = [
    (r"\p{L}", L),
    (r"\p{N}", N),
    (r"\s", WS),
    (r"[\p{Lu}\p{Lt}]", UP),
    (r"\p{Ll}", LO),
    (r"[\p{Lm}\p{Lo}]", LMO),
    (r"\p{M}", MK),
];

static CLASSES: LazyLock<Classes> = LazyLock::new(|| {
    let mut flat = vec![0u8; CODE_POINTS];
    for &(pat, flag) in &CLASS_PATTERNS {
        for (a, b) in ranges(pat) {
            if let Some(r) = flat.get_mut(a as usize..=(b as usize).min(CODE_POINTS - 1)) {
                r.iter_mut().for_each(|x| *x |= flag);
            }
        }
    }
    let mut stage1 = Vec::with_capacity(CODE_POINTS / BLOCK);
    let mut stage2: Vec<u8> = Vec::new();
    let mut seen: FxHashMap<&[u8], u16> = FxHashMap::default();
    for block in flat.chunks_exact(BLOCK) {
        let id = *seen.entry(block).or_insert_with(|| {
            let id = u16::try_from(stage2.len() / BLOCK).unwrap_or(u16::MAX);
            stage2.extend_from_slice(block);
            id
        });
        stage1.push(id);
    }
    let mut ascii = [0u8; 128];
    ascii.copy_from_slice(&flat[..128]);
    Classes {
        stage1,
        stage2,
        ascii,
    }
});

impl Classes {
    /// Class flags of code point `u` (0 past U+10FFFF, which a `str` never holds).
    #[inline(always)]
    fn of(&self, u: u32) -> u8 {
        let Some(&block) = self.stage1.get((u >> 8) as usize) else {
            return 0;
        };
        self.stage2
            .get(usize::from(block) * BLOCK + (u & 0xFF) as usize)
            .copied()
            .unwrap_or(0)
    }
}

struct Text<'a> {
    s: &'a str,
    /// `CLASSES`, dereferenced once per text instead of once per char.
    classes: &'static Classes,
}

impl Text<'_> {
    /// The code point at byte `i` (a char boundary), its class flags and its UTF-8 length, decoded
    /// from the bytes (the text is valid UTF-8, so the lead byte gives the length).
    #[inline(always)]
    fn at(&self, i: usize) -> Option<(u32, u8, usize)> {
        let b = self.s.as_bytes();
        let b0 = *b.get(i)?;
        if b0 < 0x80 {
            return Some((u32::from(b0), self.classes.ascii[usize::from(b0)], 1));
        }
        let cont = |k: usize| u32::from(b.get(i + k).copied().unwrap_or(0x80) & 0x3F);
        let (u, n) = if b0 < 0xE0 {
            ((u32::from(b0 & 0x1F) << 6) | cont(1), 2)
        } else if b0 < 0xF0 {
            ((u32::from(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
        } else {
            (
                (u32::from(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
                4,
            )
        };
        Some((u, self.classes.of(u), n))
    }

    /// End of the maximal run of chars whose class intersects `mask` (or, with `negate`, does not).
    #[inline]
    fn run(&self, mut i: usize, mask: u8, negate: bool) -> usize {
        while let Some((_, f, n)) = self.at(i) {
            if ((f & mask) != 0) == negate {
                break;
            }
            i += n;
        }
        i
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: its byte length, or 0.
    fn contraction(&self, i: usize) -> usize {
        let b = self.s.as_bytes();
        if b.get(i) != Some(&b'\'') {
            return 0;
        }
        let Some((c1, _, n1)) = self.at(i + 1) else {
            return 0;
        };
        let second = |ch: u8| -> usize {
            match self.at(i + 1 + n1) {
                Some((c2, _, n2)) if c2 < 0x80 && (c2 as u8).to_ascii_lowercase() == ch => {
                    1 + n1 + n2
                }
                _ => 0,
            }
        };
        match char::from_u32(c1).unwrap_or('\0') {
            's' | 'S' | '\u{17F}' | 't' | 'T' | 'm' | 'M' | 'd' | 'D' => 1 + n1,
            'r' | 'R' => second(b'e'),
            'v' | 'V' => second(b'e'),
            'l' | 'L' => second(b'l'),
            _ => 0,
        }
    }

    /// Alternatives 5–7 shared by both encodings, at a whitespace char.
    fn whitespace(&self, i: usize) -> usize {
        let end = self.run(i, WS, false);
        // \s*[\r\n]+ : up to the last CR/LF of the run
        let run = &self.s.as_bytes()[i..end];
        if let Some(p) = run.iter().rposition(|&b| b == b'\r' || b == b'\n') {
            return i + p + 1;
        }
        // \s+(?!\S) : the whole run at the end of the text, else all but its last char
        if end == self.s.len() {
            return end;
        }
        let last = self.s[i..end].chars().next_back().map_or(0, char::len_utf8);
        if end - i > last { end - last } else { end }
    }

    /// ` ?[^\s\p{L}\p{N}]+` then `[\r\n]*` (cl100k) or `[\r\n/]*` (o200k); 0 when it does not match.
    fn punct(&self, i: usize, c: u32, f: u8, slash: bool) -> usize {
        let start = if c == u32::from(b' ') {
            match self.at(i + 1) {
                Some((_, f2, _)) if f2 & (WS | L | N) == 0 => i + 1,
                _ => return 0,
            }
        } else if f & (WS | L | N) == 0 {
            i
        } else {
            return 0;
        };
        let mut e = self.run(start, WS | L | N, true);
        let b = self.s.as_bytes();
        while let Some(&x) = b.get(e) {
            if x == b'\r' || x == b'\n' || (slash && x == b'/') {
                e += 1;
            } else {
                break;
            }
        }
        e
    }

    fn next_cl100k(&self, i: usize) -> usize {
        if let Some(e) = self.ascii_cl100k(i) {
            return e;
        }
        let Some((c, f, n)) = self.at(i) else {
            return i;
        };
        let k = self.contraction(i);
        if k > 0 {
            return i + k;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c != CR && c != LF && f & (L | N) == 0 {
            if let Some((_, f2, _)) = self.at(i + n)
                && f2 & L != 0
            {
                return self.run(i + n, L, false);
            }
        } else if f & L != 0 {
            return self.run(i, L, false);
        }
        self.digits_punct_or_space(i, c, f, n, false)
    }

    /// The alternatives both splits end with: `\p{N}{1,3}`, then punctuation (`punct`, `slash` as
    /// there), then whitespace; `(c, f, n)` is the char at `i`.
    fn digits_punct_or_space(&self, i: usize, c: u32, f: u8, n: usize, slash: bool) -> usize {
        if f & N != 0 {
            let mut e = i + n;
            for _ in 0..2 {
                match self.at(e) {
                    Some((_, f2, n2)) if f2 & N != 0 => e += n2,
                    _ => break,
                }
            }
            return e;
        }
        let e = self.punct(i, c, f, slash);
        if e > 0 {
            return e;
        }
        self.whitespace(i)
    }

    /// The ASCII class flags of byte `b` (< 0x80).
    #[inline(always)]
    fn ascii(&self, b: u8) -> u8 {
        self.classes.ascii[usize::from(b & 0x7F)]
    }

    /// End of the run of ASCII bytes from `i` whose class intersects `mask` (`negate`: does not), or
    /// `None` when the run stops at a non-ASCII byte (the run might go on: the general path decides).
    #[inline(always)]
    fn ascii_run(&self, mut i: usize, mask: u8, negate: bool) -> Option<usize> {
        let b = self.s.as_bytes();
        while let Some(&x) = b.get(i) {
            if x >= 0x80 {
                return None;
            }
            if ((self.ascii(x) & mask) != 0) == negate {
                break;
            }
            i += 1;
        }
        Some(i)
    }

    /// The piece at `i` when it and the char after it are ASCII, by rules that agree with the split
    /// regexes on ASCII text (see `next_cl100k` / `next_o200k` for the general case); `None` = use the
    /// general path. `o200k`: the letter alternatives are `[A-Z]*[a-z]+` / `[A-Z]+[a-z]*` (which
    /// together match `[A-Z]*[a-z]*` from a letter), the punctuation run may end in `[\r\n/]*`;
    /// cl100k: a letter run is `[A-Za-z]+`, and a `'` starts a possible contraction (general path).
    #[inline(always)]
    fn ascii_piece(&self, i: usize, o200k: bool) -> Option<usize> {
        let b = self.s.as_bytes();
        let c = *b.get(i)?;
        if c >= 0x80 || (!o200k && c == b'\'') {
            return None;
        }
        let f = self.ascii(c);
        let word = |s: usize| -> Option<usize> {
            let e = if o200k {
                let mut j = s;
                while b.get(j).is_some_and(u8::is_ascii_uppercase) {
                    j += 1;
                }
                while b.get(j).is_some_and(u8::is_ascii_lowercase) {
                    j += 1;
                }
                j
            } else {
                let mut j = s;
                while b.get(j).is_some_and(u8::is_ascii_alphabetic) {
                    j += 1;
                }
                j
            };
            match b.get(e) {
                Some(&x) if x >= 0x80 => None,
                _ if o200k => Some(e + self.contraction(e)),
                _ => Some(e),
            }
        };
        if f & L != 0 {
            return word(i);
        }
        if f & N != 0 {
            let mut e = i + 1;
            while e < i + 3 {
                match b.get(e) {
                    Some(x) if x.is_ascii_digit() => e += 1,
                    Some(&x) if x >= 0x80 => return None,
                    _ => break,
                }
            }
            return Some(e);
        }
        let next = b.get(i + 1).copied();
        if next.is_some_and(|x| x >= 0x80) {
            return None;
        }
        let next_f = next.map_or(0, |x| self.ascii(x));
        if c != b'\r' && c != b'\n' && next_f & L != 0 {
            return word(i + 1);
        }
        // [^\s\p{L}\p{N}]+ (after an optional space) then [\r\n]* or [\r\n/]*
        let punct_from = if f & WS == 0 {
            Some(i)
        } else if c == b' ' && next.is_some() && next_f & (WS | L | N) == 0 {
            Some(i + 1)
        } else {
            None
        };
        if let Some(s) = punct_from {
            let mut e = self.ascii_run(s, WS | L | N, true)?;
            while let Some(&x) = b.get(e) {
                if x == b'\r' || x == b'\n' || (o200k && x == b'/') {
                    e += 1;
                } else {
                    break;
                }
            }
            return Some(e);
        }
        // whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
        let end = self.ascii_run(i, WS, false)?;
        if let Some(p) = b[i..end].iter().rposition(|&x| x == b'\r' || x == b'\n') {
            return Some(i + p + 1);
        }
        Some(if end == b.len() || end - i == 1 {
            end
        } else {
            end - 1
        })
    }

    #[inline(always)]
    fn ascii_o200k(&self, i: usize) -> Option<usize> {
        self.ascii_piece(i, true)
    }

    #[inline(always)]
    fn ascii_cl100k(&self, i: usize) -> Option<usize> {
        self.ascii_piece(i, false)
    }

    /// o200k alternatives 1 and 2 after the optional prefix, from one scan at `s`:
    /// `[U]*[Lw]+` and `[U]+[Lw]*`, each then an optional contraction (`None` = no match).
    #[inline]
    fn o200k_words(&self, s: usize) -> (Option<usize>, Option<usize>) {
        // The U run, remembering where its last char that is also in Lw ends (the backtrack point
        // of `[U]*[Lw]+` when no Lw char follows the run).
        let (mut u, mut last_lw) = (s, None);
        let mut next = self.at(u);
        while let Some((_, f, n)) = next {
            if f & U_SET == 0 {
                break;
            }
            if f & L_SET != 0 {
                last_lw = Some(u + n);
            }
            u += n;
            next = self.at(u);
        }
        let lw_end = match next {
            Some((_, f, _)) if f & L_SET != 0 => Some(self.run(u, L_SET, false)),
            _ => None,
        };
        let alt1 = lw_end.or(last_lw).map(|e| e + self.contraction(e));
        let alt2 = (u > s).then(|| {
            let e = lw_end.unwrap_or(u);
            e + self.contraction(e)
        });
        (alt1, alt2)
    }

    fn next_o200k(&self, i: usize) -> usize {
        if let Some(e) = self.ascii_o200k(i) {
            return e;
        }
        let Some((c, f, n)) = self.at(i) else {
            return i;
        };
        // Leftmost-first: alternative 1 with the prefix, then without; alternative 2 the same way.
        let prefix = c != CR && c != LF && f & (L | N) == 0;
        let (p1, p2) = if prefix {
            self.o200k_words(i + n)
        } else {
            (None, None)
        };
        if let Some(e) = p1 {
            return e;
        }
        if f & U_SET != 0 || f & LO != 0 {
            let (a1, a2) = self.o200k_words(i);
            if let Some(e) = a1.or(p2).or(a2) {
                return e;
            }
        } else if let Some(e) = p2 {
            return e;
        }
        self.digits_punct_or_space(i, c, f, n, true)
    }
}

/// Which split regex to emulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Cl100k,
    O200k,
}

/// Calls `f` with every pre-tokenized piece of `text`, in order.
#[inline]
pub fn split(text: &str, which: Split, f: impl FnMut(&str)) {
    match which {
        Split::Cl100k => split_with::<false>(text, f),
        Split::O200k => split_with::<true>(text, f),
    }
}

/// [`split`] with the encoding's next-piece function fixed (one loop per encoding, no per-piece match).
#[inline(always)]
fn split_with<const O200K: bool>(text: &str, mut f: impl FnMut(&str)) {
    let t = Text {
        s: text,
        classes: &CLASSES,
    };
    let mut i = 0;
    while i < text.len() {
        let e = if O200K {
            t.next_o200k(i)
        } else {
            t.next_cl100k(i)
        };
        // Every alternative consumes at least one char; guard anyway against a stuck cursor.
        let e = if e <= i {
            i + t.at(i).map_or(1, |x| x.2)
        } else {
            e
        };
        f(&text[i..e]);
        i = e;
    }
}

/// Token bytes → rank (tiktoken rank = bpe-openai token id) of an encoding, plus a dense table of its
/// 2-byte tokens (the first merge step looks every adjacent byte pair up there, no hashing).
pub struct Vocab {
    /// Tokens of 1..=16 bytes in an open-addressing table keyed by [`Key`] (integer hash and compare,
    /// no slice hashing, no memcmp, usually one cache line per lookup).
    short: ShortTable,
    /// Tokens longer than 16 bytes, by their bytes.
    ranks: FxHashMap<&'static [u8], u32>,
    pairs: Box<[u32]>,
    /// Byte length of the longest token.
    max_token_len: usize,
    /// The token of each single byte.
    bytes: [u32; 256],
    /// One bit per hash of a [`Key`] of every token of 1..=16 bytes: a clear bit proves a string is
    /// no token without touching the multi-megabyte `short` table ([`Vocab::rank_filtered`]).
    filter: Box<[u64]>,
    bpe: &'static BytePairEncoding,
}

/// No such token.
const NONE: u32 = u32::MAX;

/// Longest string a [`Key`] holds.
const KEY_MAX: usize = 16;

/// A 1..=16-byte string as integers: its first and last 8 bytes (overlapping when shorter than 16;
/// for 4..=7 bytes the first and last 4 bytes; up to 3 bytes the bytes) plus its length. Together with the
/// length these determine every byte, so two strings have the same key iff they are equal. Built
/// from unaligned loads, no copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    lo: u64,
    hi: u64,
    len: u8,
}

#[inline(always)]
fn load8(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

#[inline(always)]
fn load4(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(x))
}

impl Key {
    /// The key of `b`, or `None` unless it has 1..=16 bytes.
    #[inline(always)]
    pub fn of(b: &[u8]) -> Option<Key> {
        let n = b.len();
        let (lo, hi) = match n {
            1 => (u64::from(b[0]), 0),
            2 => (u64::from(b[0]) | u64::from(b[1]) << 8, 0),
            3 => (
                u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16,
                0,
            ),
            4..=7 => (load4(b, 0), load4(b, n - 4)),
            8..=KEY_MAX => (load8(b, 0), load8(b, n - 8)),
            _ => return None,
        };
        Some(Key {
            lo,
            hi,
            len: n as u8,
        })
    }

    #[inline(always)]
    fn hash(self) -> u64 {
        let a = (self.lo ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let b = (self.hi ^ u64::from(self.len)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let h = a ^ b.rotate_left(31);
        h ^ (h >> 29)
    }
}

/// One slot of [`ShortTable`]; `len == 0` is empty.
#[derive(Clone, Copy)]
struct Slot {
    lo: u64,
    hi: u64,
    rank: u32,
    len: u32,
}

const EMPTY: Slot = Slot {
    lo: 0,
    hi: 0,
    rank: NONE,
    len: 0,
};

/// Linear-probing table [`Key`] → rank, at most half full.
struct ShortTable {
    slots: Box<[Slot]>,
    mask: usize,
}

impl ShortTable {
    fn new(entries: &[(Key, u32)]) -> Self {
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![EMPTY; size].into_boxed_slice();
        let mask = size - 1;
        for &(k, rank) in entries {
            let mut i = k.hash() as usize & mask;
            while slots[i].len != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = Slot {
                lo: k.lo,
                hi: k.hi,
                rank,
                len: u32::from(k.len),
            };
        }
        Self { slots, mask }
    }

    #[inline(always)]
    fn get(&self, k: Key) -> u32 {
        let mut i = k.hash() as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.len == u32::from(k.len) && s.lo == k.lo && s.hi == k.hi {
                return s.rank;
            }
            if s.len == 0 {
                return NONE;
            }
            i = (i + 1) & self.mask;
        }
    }
}

impl Vocab {
    pub fn new(bpe: &'static BytePairEncoding) -> Self {
        let n = bpe.num_tokens() as u32;
        let mut ranks = FxHashMap::default();
        let mut pairs = vec![NONE; 1 << 16].into_boxed_slice();
        let mut short = Vec::new();
        let mut max_token_len = 1;
        let mut bytes = [NONE; 256];
        for id in 0..n {
            let b = bpe.token_bytes(id);
            max_token_len = max_token_len.max(b.len());
            if let [x] = *b {
                bytes[usize::from(x)] = id;
            }
            if let [x, y] = *b {
                pairs[usize::from(x) << 8 | usize::from(y)] = id;
            }
            match Key::of(b) {
                Some(k) => short.push((k, id)),
                None => {
                    ranks.insert(b, id);
                }
            }
        }
        let mut filter = vec![0u64; FILTER_BITS / 64].into_boxed_slice();
        for &(k, _) in &short {
            let bit = filter_bit(k);
            filter[bit / 64] |= 1 << (bit % 64);
        }
        Self {
            filter,
            short: ShortTable::new(&short),
            ranks,
            pairs,
            max_token_len,
            bytes,
            bpe,
        }
    }

    /// The rank of the token spelled `piece`, or [`NONE`].
    #[inline]
    fn rank(&self, piece: &[u8]) -> u32 {
        if let [x, y] = *piece {
            return self.pairs[usize::from(x) << 8 | usize::from(y)];
        }
        match Key::of(piece) {
            Some(k) => self.short.get(k),
            None => self.ranks.get(piece).copied().unwrap_or(NONE),
        }
    }

    /// [`Vocab::rank`] for strings that are mostly not tokens (the pairs a long piece's merge
    /// joins): the filter answers most of those from L2.
    #[inline]
    fn rank_filtered(&self, piece: &[u8]) -> u32 {
        match Key::of(piece) {
            Some(k) => {
                let bit = filter_bit(k);
                if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
                    NONE
                } else {
                    self.short.get(k)
                }
            }
            None => self.ranks.get(piece).copied().unwrap_or(NONE),
        }
    }

    #[inline]
    pub fn contains(&self, piece: &[u8]) -> bool {
        piece.len() == 1 || self.rank(piece) != NONE
    }

    /// Token count of one pre-tokenized piece: one token, tiktoken's merge loop for short pieces,
    /// chunked merges joined exactly for long ones ([`Vocab::long_count`], linear).
    #[inline]
    pub fn piece_count(&self, piece: &[u8]) -> usize {
        if piece.len() == 1 || self.rank(piece) != NONE {
            1
        } else if piece.len() <= MERGE_MAX {
            self.merge_count(piece)
        } else {
            self.long_count(piece)
        }
    }

    /// tiktoken's merge on a piece of at most [`SMALL_MAX`] bytes, appending its tokens to `out`.
    fn encode_small(&self, b: &[u8], out: &mut Vec<u32>) {
        let n = b.len();
        debug_assert!((1..=SMALL_MAX).contains(&n));
        // Part i spans start[i]..start[i + 1] and is token tok[i]; rank[i] = rank of parts i and
        // i + 1 joined.
        let mut start = [0u16; SMALL_MAX + 1];
        let mut tok = [NONE; SMALL_MAX];
        let mut rank = [NONE; SMALL_MAX];
        for (i, s) in start.iter_mut().enumerate().take(n + 1) {
            *s = i as u16;
        }
        for (t, &x) in tok.iter_mut().zip(b) {
            *t = self.bytes[usize::from(x)];
        }
        for i in 0..n - 1 {
            rank[i] = self.pairs[usize::from(b[i]) << 8 | usize::from(b[i + 1])];
        }
        let mut len = n; // parts
        loop {
            let (mut best, mut at) = (NONE, 0);
            for (i, &r) in rank[..len - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NONE {
                break;
            }
            tok[at] = best;
            start.copy_within(at + 2..=len, at + 1);
            tok.copy_within(at + 2..len, at + 1);
            rank.copy_within(at + 2..len, at + 1);
            len -= 1;
            let span = |i: usize| -> u32 {
                if i + 1 >= len {
                    return NONE;
                }
                let (a, e) = (usize::from(start[i]), usize::from(start[i + 2]));
                if e - a <= self.max_token_len {
                    self.rank_filtered(&b[a..e])
                } else {
                    NONE
                }
            };
            rank[at] = span(at);
            if at > 0 {
                rank[at - 1] = span(at - 1);
            }
        }
        out.extend_from_slice(&tok[..len]);
    }

    /// Whether `[t1, t2]` is the BPE encoding of the two tokens' bytes (cached in `joins`).
    fn valid_pair(&self, t1: u32, t2: u32, joins: &mut Joins, scratch: &mut Vec<u32>) -> bool {
        let key = u64::from(t1) << 32 | u64::from(t2);
        let slot = joins.slot(key);
        if let Some(&(k, v)) = joins.valid.get(slot)
            && k == key
        {
            return v;
        }
        let (a, b) = (self.bpe.token_bytes(t1), self.bpe.token_bytes(t2));
        let ok = if a.len() + b.len() <= SMALL_MAX {
            let mut bytes = [0u8; SMALL_MAX];
            bytes[..a.len()].copy_from_slice(a);
            bytes[a.len()..a.len() + b.len()].copy_from_slice(b);
            scratch.clear();
            self.encode_small(&bytes[..a.len() + b.len()], scratch);
            scratch[..] == [t1, t2]
        } else {
            valid_pair(self.bpe, t1, t2)
        };
        if let Some(e) = joins.valid.get_mut(slot) {
            *e = (key, ok);
        }
        ok
    }

    /// Token count of a long piece: encoded in chunks of [`CHUNK`] bytes by tiktoken's merge, and
    /// the chunks joined exactly. A token sequence is the BPE encoding of its bytes iff every
    /// adjacent pair is the encoding of its own two tokens' bytes (the property bpe-openai's
    /// backtracking encoder rests on), so a chunk's tokens are appended as they are when the pair at
    /// the join is valid; otherwise the last `w` tokens so far and the chunk's first `w` are
    /// re-encoded together and both new joins checked, for growing `w`; when no window joins, the
    /// piece goes to bpe-openai's backtracking encoder. Linear: every chunk costs at most a bounded merge
    /// plus bounded windows. Pair validity is cached per call by token pair.
    pub fn long_count(&self, piece: &[u8]) -> usize {
        let mut out = Vec::new();
        self.long_encode(piece, &mut out);
        out.len()
    }

    /// The BPE encoding of `piece` (any length) into `out` (cleared first), as [`Vocab::long_count`]
    /// counts it.
    pub fn long_encode(&self, piece: &[u8], out: &mut Vec<u32>) {
        out.clear();
        let n = piece.len();
        if n <= SMALL_MAX {
            if n > 0 {
                self.encode_small(piece, out);
            }
            return;
        }
        out.reserve(n / 2);
        let mut joins = Joins::new(n);
        let (mut chunk, mut window, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        let mut pos = 0;
        while pos < n {
            let end = (pos + CHUNK).min(n);
            chunk.clear();
            self.encode_small(&piece[pos..end], &mut chunk);
            let (Some(&l), Some(&r)) = (out.last(), chunk.first()) else {
                out.extend_from_slice(&chunk);
                pos = end;
                continue;
            };
            if self.valid_pair(l, r, &mut joins, &mut scratch) {
                out.extend_from_slice(&chunk);
                pos = end;
                continue;
            }
            let mut joined = false;
            for w in [1usize, 2, 4, 8, 16] {
                if w > out.len() || w > chunk.len() {
                    break;
                }
                let keep = out.len() - w;
                let s = pos
                    - out[keep..]
                        .iter()
                        .map(|&t| self.bpe.token_len(t))
                        .sum::<usize>();
                let e = pos
                    + chunk[..w]
                        .iter()
                        .map(|&t| self.bpe.token_len(t))
                        .sum::<usize>();
                if e - s > SMALL_MAX {
                    break;
                }
                window.clear();
                self.encode_small(&piece[s..e], &mut window);
                let (Some(&m0), Some(&m1)) = (window.first(), window.last()) else {
                    break;
                };
                let join_left =
                    keep == 0 || self.valid_pair(out[keep - 1], m0, &mut joins, &mut scratch);
                let join_right =
                    w == chunk.len() || self.valid_pair(m1, chunk[w], &mut joins, &mut scratch);
                if join_left && join_right {
                    out.truncate(keep);
                    out.extend_from_slice(&window);
                    out.extend_from_slice(&chunk[w..]);
                    joined = true;
                    break;
                }
            }
            if !joined {
                *out = self.bpe.encode_via_backtracking(piece);
                return;
            }
            pos = end;
        }
    }

    /// tiktoken's `byte_pair_merge` (repeatedly merge the adjacent pair whose concatenation has the
    /// lowest rank, leftmost on ties), counting the parts left, on stack arrays.
    fn merge_count(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        debug_assert!((2..=MERGE_MAX).contains(&n));
        // Part i spans start[i]..start[i + 1]; rank[i] = rank of parts i and i + 1 merged.
        let mut start = [0u8; MERGE_MAX + 1];
        let mut rank = [NONE; MERGE_MAX + 1];
        for (i, s) in start.iter_mut().enumerate().take(n + 1) {
            *s = i as u8;
        }
        for i in 0..n - 1 {
            rank[i] = self.pairs[usize::from(piece[i]) << 8 | usize::from(piece[i + 1])];
        }
        let mut len = n + 1; // parts + the end sentinel
        loop {
            let (mut best, mut at) = (NONE, 0);
            for (i, &r) in rank[..len - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NONE {
                return len - 1;
            }
            start.copy_within(at + 2..len, at + 1);
            rank.copy_within(at + 2..len, at + 1);
            len -= 1;
            let span = |i: usize| -> u32 {
                if i + 2 < len {
                    self.rank(&piece[usize::from(start[i])..usize::from(start[i + 2])])
                } else {
                    NONE
                }
            };
            rank[at] = span(at);
            if at > 0 {
                rank[at - 1] = span(at - 1);
            }
        }
    }
}

/// Bits of [`Vocab`]'s token filter (512 KB: fits L2 beside the per-call caches).
const FILTER_BITS: usize = 1 << 22;

/// The filter bit of a key: hash bits the short table's slot index does not use.
#[inline(always)]
fn filter_bit(k: Key) -> usize {
    (k.hash() >> 40) as usize & (FILTER_BITS - 1)
}

/// Longest string [`Vocab::encode_small`] merges.
const SMALL_MAX: usize = 128;
/// Chunk length of [`Vocab::long_count`].
const CHUNK: usize = 24;

/// Per-call cache of [`Vocab::long_count`], direct-mapped by token pair: whether the pair is its
/// own encoding (long runs check the same token pairs at their joins over and over).
struct Joins {
    valid: Vec<(u64, bool)>,
    bits: u32,
}

impl Joins {
    /// A cache sized for a piece of `n` bytes (one entry per ~4 bytes, 64..=16,384 entries).
    fn new(n: usize) -> Self {
        let bits = (n / 4)
            .clamp(64, JOIN_CACHE)
            .next_power_of_two()
            .trailing_zeros();
        Self {
            valid: vec![(u64::MAX, false); 1 << bits],
            bits,
        }
    }

    #[inline(always)]
    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.bits)) as usize
    }
}

/// Most entries of [`Joins`]' direct-mapped table.
const JOIN_CACHE: usize = 1 << 14;

/// Pieces up to this many bytes go through tiktoken's (quadratic, but tiny here) merge loop.
pub const MERGE_MAX: usize = 64;

/// Texts of at least this many bytes are split at pre-tokenizer boundaries and counted on several threads.
/// Below it a text is counted on the calling thread: spawning threads per call (and starting their
/// piece memos empty) cost more than it saved on ~40 KB texts on a loaded 2-core machine (the
/// quicktok head-to-head in `packages/native-tokenizer/README.md`, 2026-12-07).
pub const PAR_TEXT_MIN_BYTES: usize = 256 * 1024;

/// Single pieces of at least this many bytes (unsplittable runs) are counted in two halves in parallel,
/// joined exactly (see [`count_long_piece`]).
pub const PAR_PIECE_MIN_BYTES: usize = 8 * 1024;

/// Threads per count: the process-wide `KU0_TOKENIZER_THREADS` setting ([`crate::cache::THREADS`],
/// read once, at most 4). An invalid value makes batch counts fail with `ERR_KU0_INVALID_FLAG`; a
/// single count, which cannot fail, then stays on the calling thread.
pub fn threads() -> usize {
    crate::cache::THREADS.as_ref().map_or(1, |n| *n)
}

/// Multi-token pieces up to this many bytes are memoized (longer ones rarely repeat).
const PIECE_CACHE_MAX_BYTES: usize = 48;
/// A thread's piece memo is dropped once it holds this many entries (bounded memory: ≲ 5 MB).
const PIECE_CACHE_MAX_ENTRIES: usize = 1 << 16;

/// Bumped by [`clear_piece_caches`]; each thread drops its memo when it sees a new value.
static PIECE_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Piece → token count: pieces of up to 16 bytes by their [`Key`] (no allocation, integer compare),
/// longer ones by their bytes.
#[derive(Default)]
struct PieceMap {
    short: FxHashMap<Key, u32>,
    long: FxHashMap<Box<[u8]>, u32>,
}

impl PieceMap {
    fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
    }
}

struct PieceCache {
    epoch: u64,
    /// Per vocabulary (by the address of its `'static` BPE tables): piece bytes → token count.
    maps: Vec<(usize, PieceMap)>,
}

thread_local! {
    static PIECES: RefCell<PieceCache> = const { RefCell::new(PieceCache { epoch: 0, maps: Vec::new() }) };
}

/// Drops every thread's piece → count memo (lazily, at each thread's next count).
pub fn clear_piece_caches() {
    PIECE_EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// Runs `f` with this thread's piece memo for `vocab` (`None` when it is borrowed already).
/// Memos are keyed by the address of the vocabulary's `'static` BPE tables, which no other
/// vocabulary can reuse (a `Vocab`'s own address could be reused after it is dropped).
fn with_memo<R>(vocab: &Vocab, f: impl FnOnce(Option<&mut PieceMap>) -> R) -> R {
    let vocab_id = std::ptr::from_ref(vocab.bpe) as usize;
    let epoch = PIECE_EPOCH.load(Ordering::Relaxed);
    PIECES.with(|cell| {
        let Ok(mut memo) = cell.try_borrow_mut() else {
            return f(None);
        };
        if memo.epoch != epoch {
            memo.maps.clear();
            memo.epoch = epoch;
        }
        let at = match memo.maps.iter().position(|(id, _)| *id == vocab_id) {
            Some(at) => at,
            None => {
                memo.maps.push((vocab_id, PieceMap::default()));
                memo.maps.len() - 1
            }
        };
        f(memo.maps.get_mut(at).map(|(_, m)| m))
    })
}

/// Token count of one piece that is not a single token, through the memo when it is short.
#[inline]
fn multi_count(vocab: &Vocab, memo: &mut Option<&mut PieceMap>, b: &[u8]) -> usize {
    match memo {
        Some(map) if b.len() <= PIECE_CACHE_MAX_BYTES => {
            let key = Key::of(b);
            let hit = match key {
                Some(k) => map.short.get(&k),
                None => map.long.get(b),
            };
            if let Some(&n) = hit {
                return n as usize;
            }
            let n = vocab.merge_count(b);
            if map.len() >= PIECE_CACHE_MAX_ENTRIES {
                map.clear();
            }
            let v = u32::try_from(n).unwrap_or(u32::MAX);
            match key {
                Some(k) => map.short.insert(k, v),
                None => map.long.insert(Box::from(b), v),
            };
            n
        }
        _ if b.len() <= MERGE_MAX => vocab.merge_count(b),
        _ => vocab.long_count(b),
    }
}

/// Exact token count like [`count_seq`] (every count path memoizes multi-token pieces per thread
/// now; the name stays for the whole-history batch path). A piece's count does not depend on its
/// context, so the memo cannot change a result.
pub fn count_memo(text: &str, which: Split, vocab: &Vocab) -> usize {
    count_pieces(text, which, vocab, 1)
}

/// Exact token count on the calling thread only: hand-written split, one rank lookup per piece, and
/// for the pieces that are not one token the per-thread memo (≤ 48 bytes), tiktoken's merge loop
/// (≤ 64 bytes) or chunked merges joined exactly ([`Vocab::long_encode`]) beyond.
pub fn count_seq(text: &str, which: Split, vocab: &Vocab) -> usize {
    count_pieces(text, which, vocab, 1)
}

/// The first position `p ≥ from` where every split of the text has a piece boundary: the byte before
/// is `\n` and the byte at `p` is an ASCII letter or digit. No alternative of either split regex that
/// matches a `\n` can go on with a letter or digit (the letter/number alternatives never start with
/// `\r`/`\n`, the punctuation and whitespace ones end in `[\r\n/]*` / `[\r\n]+`), and no alternative
/// looks behind, so splitting `text[..p]` and `text[p..]` separately gives the same pieces.
pub fn boundary_after(text: &[u8], from: usize) -> Option<usize> {
    let mut i = from.max(1);
    while i < text.len() {
        if text[i - 1] == b'\n' && text[i].is_ascii_alphanumeric() {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Exact token count: large texts are cut at [`boundary_after`] points into one chunk per thread,
/// long single pieces are counted in two exactly-joined halves; everything else as [`count_seq`].
pub fn count(text: &str, which: Split, vocab: &Vocab) -> usize {
    let threads = threads();
    if threads < 2 || text.len() < PAR_TEXT_MIN_BYTES {
        return count_pieces(text, which, vocab, threads);
    }
    let b = text.as_bytes();
    let mut cuts = vec![0];
    for k in 1..threads {
        let target = b.len() * k / threads;
        let from = target.max(cuts.last().copied().unwrap_or(0) + 1);
        if let Some(p) = boundary_after(b, from) {
            cuts.push(p);
        }
    }
    cuts.push(b.len());
    if cuts.len() <= 2 {
        return count_pieces(text, which, vocab, threads);
    }
    // Cut points are ASCII bytes, so every chunk is valid UTF-8 on char boundaries.
    let chunks: Vec<&str> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();
    std::thread::scope(|s| {
        let (last, rest) = chunks.split_last().unwrap_or((&"", &[]));
        let handles: Vec<_> = rest
            .iter()
            .map(|c| s.spawn(move || count_pieces(c, which, vocab, 1)))
            .collect();
        let mut total = count_pieces(last, which, vocab, 1);
        for (h, c) in handles.into_iter().zip(rest.iter()) {
            // A worker that could not run (or panicked): count its chunk here.
            total += h
                .join()
                .unwrap_or_else(|_| count_pieces(c, which, vocab, 1));
        }
        total
    })
}

fn count_pieces(text: &str, which: Split, vocab: &Vocab, threads: usize) -> usize {
    with_memo(vocab, |mut memo| {
        let mut total = 0;
        split(text, which, |piece| {
            let b = piece.as_bytes();
            total += if b.len() == 1 || vocab.rank(b) != NONE {
                1
            } else if threads > 1 && b.len() >= PAR_PIECE_MIN_BYTES {
                count_long_piece(vocab, b)
            } else {
                multi_count(vocab, &mut memo, b)
            };
        });
        total
    })
}

/// `[t1, t2]` is the BPE encoding of the bytes of `t1` followed by those of `t2`.
fn valid_pair(bpe: &BytePairEncoding, t1: u32, t2: u32) -> bool {
    let mut bytes = bpe.token_bytes(t1).to_vec();
    bytes.extend_from_slice(bpe.token_bytes(t2));
    bpe.encode_via_backtracking(&bytes) == [t1, t2]
}

/// Count of one long piece on two threads, each half encoded by [`Vocab::long_encode`]. A token
/// sequence is the BPE encoding of its bytes iff every adjacent pair is the encoding of its own two
/// tokens' bytes (the property bpe-openai's backtracking encoder rests on). So with `A` = encoding
/// of the first half and `B` of the second,
/// `A ++ B` is the whole encoding when the pair at the join is valid; otherwise the last `w` tokens of
/// `A` and the first `w` of `B` are re-encoded together and both joins checked again, for growing `w`;
/// when no window joins, the piece is counted sequentially. Every path returns the exact count.
pub fn count_long_piece(vocab: &Vocab, b: &[u8]) -> usize {
    let bpe = vocab.bpe;
    let mid = b.len() / 2;
    let (left, right) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut right = Vec::new();
            vocab.long_encode(&b[mid..], &mut right);
            right
        });
        let mut left = Vec::new();
        vocab.long_encode(&b[..mid], &mut left);
        (left, h.join().ok())
    });
    let Some(right) = right else {
        return vocab.long_count(b);
    };
    let (Some(&l), Some(&r)) = (left.last(), right.first()) else {
        return left.len() + right.len();
    };
    if valid_pair(bpe, l, r) {
        return left.len() + right.len();
    }
    for w in [2usize, 8, 32, 128] {
        if w > left.len() || w > right.len() {
            break;
        }
        let lkeep = left.len() - w;
        let s: usize = left[..lkeep].iter().map(|&t| bpe.token_len(t)).sum();
        let e: usize = mid + right[..w].iter().map(|&t| bpe.token_len(t)).sum::<usize>();
        let m = bpe.encode_via_backtracking(&b[s..e]);
        let (Some(&m0), Some(&m1)) = (m.first(), m.last()) else {
            continue;
        };
        let join_left = lkeep == 0 || valid_pair(bpe, left[lkeep - 1], m0);
        let join_right = w == right.len() || valid_pair(bpe, m1, right[w]);
        if join_left && join_right {
            return lkeep + m.len() + (right.len() - w);
        }
    }
    vocab.long_count(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    fn pieces(text: &str, which: Split) -> Vec<String> {
        let mut v = Vec::new();
        split(text, which, |p| v.push(p.to_owned()));
        v
    }

    /// The two-level table gives, for every code point, exactly the flags of the regex classes.
    #[test]
    fn class_table_matches_the_regex_classes_everywhere() {
        let sets: Vec<(Vec<(u32, u32)>, u8)> = CLASS_PATTERNS
            .iter()
            .map(|(p, f)| (ranges(p), *f))
            .collect();
        assert!(sets.iter().all(|(r, _)| !r.is_empty()));
        for u in 0..0x11_0000u32 {
            let want = sets
                .iter()
                .filter(|(r, _)| {
                    let k = r.partition_point(|&(a, _)| a <= u);
                    k > 0 && u <= r[k - 1].1
                })
                .fold(0, |acc, (_, f)| acc | f);
            assert_eq!(CLASSES.of(u), want, "U+{u:04X}");
            if let Some(c) = char::from_u32(u) {
                let s = c.to_string();
                let t = Text {
                    s: &s,
                    classes: &CLASSES,
                };
                assert_eq!(t.at(0), Some((u, want, c.len_utf8())), "U+{u:04X}");
            }
        }
        assert!(
            CLASSES.stage2.len() <= 64 * 1024,
            "{}",
            CLASSES.stage2.len()
        );
    }

    #[test]
    fn splits_like_bpe_openai() {
        for text in [
            "Hello world, it's 12345 o'clock!\n\n  indented\r\n\tdone   ",
            "HTTPServer camelCase don'T l'été 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 e\u{301}x 中文字符 👩‍👩‍👧‍👦 \u{feff}x",
            "a/b//c\n/ \u{3000}x  \n  y",
        ] {
            let want: Vec<String> = bpe_openai::cl100k_base()
                .split(text)
                .map(str::to_owned)
                .collect();
            assert_eq!(pieces(text, Split::Cl100k), want, "cl100k {text:?}");
            let want: Vec<String> = bpe_openai::o200k_base()
                .split(text)
                .map(str::to_owned)
                .collect();
            assert_eq!(pieces(text, Split::O200k), want, "o200k {text:?}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod exact_tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn vocabs() -> [(Split, &'static BytePairEncoding, Vocab); 2] {
        let cl = &bpe_openai::cl100k_base().bpe;
        let o = &bpe_openai::o200k_base().bpe;
        [
            (Split::Cl100k, cl, Vocab::new(cl)),
            (Split::O200k, o, Vocab::new(o)),
        ]
    }

    /// Random text from an alphabet dense in merges, newlines, indentation, digits and non-ASCII.
    fn text(rng: &mut StdRng, chars: usize) -> String {
        const ALPHA: &[&str] = &[
            "a", "e", "t", "s", "in", "er", "the", " ", "  ", "\n", "\n\n", "    ", "\t", "{", "}",
            "/", "//", "(", ");", "1", "42", "é", "中", "文", "ß", "ſ", "'s", "'LL", "\r\n", "x/",
            "\n/", "Z", "HTTP", "👋🏽", "\u{301}", "\u{a0}", "=>", "0x", "Ω",
        ];
        let mut s = String::new();
        while s.chars().count() < chars {
            s.push_str(ALPHA[rng.random_range(0..ALPHA.len())]);
        }
        s
    }

    /// Every token's bytes look up its own rank (through the packed-key table up to 16 bytes, the
    /// byte map beyond), and strings that are not tokens (a token with one byte changed or added,
    /// prefixes) look up exactly what bpe-openai's own table says.
    #[test]
    fn rank_table_is_exact() {
        for (_, bpe, v) in vocabs() {
            let all: std::collections::HashMap<&[u8], u32> = (0..bpe.num_tokens() as u32)
                .map(|id| (bpe.token_bytes(id), id))
                .collect();
            let mut probes = 0;
            for id in 0..bpe.num_tokens() as u32 {
                let b = bpe.token_bytes(id);
                assert_eq!(v.rank(b), id, "{b:?}");
                let mut other = b.to_vec();
                other.push(b' ');
                let mut flipped = b.to_vec();
                if let Some(x) = flipped.last_mut() {
                    *x ^= 0x20;
                }
                for s in [&other[..], &flipped[..], &b[..b.len() / 2]] {
                    if s.is_empty() {
                        continue;
                    }
                    let want = all.get(s).copied().unwrap_or(NONE);
                    assert_eq!(v.rank(s), want, "{s:?}");
                    probes += 1;
                }
            }
            assert!(probes > 250_000, "{probes}");
        }
        // Equal keys only for equal strings (lengths 1..=16, overlapping loads).
        let a = Key::of(b"abcdefghij").unwrap();
        assert_ne!(a, Key::of(b"abcdefghiJ").unwrap());
        assert_ne!(Key::of(b"abcd").unwrap(), Key::of(b"abcde").unwrap());
        assert_eq!(a, Key::of(&b"xabcdefghij"[1..]).unwrap());
        assert!(Key::of(&[0u8; 17]).is_none() && Key::of(b"").is_none());
    }

    #[test]
    fn merge_count_equals_bpe_count() {
        let mut rng = StdRng::seed_from_u64(7);
        for (_, bpe, v) in vocabs() {
            for i in 0..20_000 {
                let t = text(&mut rng, 1 + i % 40);
                let b = t.as_bytes();
                for piece in [b, &b[..b.len().min(MERGE_MAX)]] {
                    if piece.len() >= 2 && piece.len() <= MERGE_MAX {
                        assert_eq!(v.merge_count(piece), bpe.count(piece), "{piece:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_cut_at_boundaries_split_like_the_whole() {
        let mut rng = StdRng::seed_from_u64(8);
        for (which, _, v) in vocabs() {
            for _ in 0..30 {
                let t = text(&mut rng, 4000);
                let mut whole = Vec::new();
                split(&t, which, |p| whole.push(p.to_owned()));
                let b = t.as_bytes();
                let mut cuts = vec![0];
                let mut from = 1;
                while let Some(p) = boundary_after(b, from) {
                    cuts.push(p);
                    from = p + 1 + rng.random_range(0..200);
                }
                cuts.push(b.len());
                assert!(cuts.len() > 3);
                let mut parts = Vec::new();
                for w in cuts.windows(2) {
                    split(&t[w[0]..w[1]], which, |p| parts.push(p.to_owned()));
                }
                assert_eq!(parts, whole);
                let big = t.repeat(PAR_TEXT_MIN_BYTES / t.len() + 2);
                assert_eq!(count(&big, which, &v), count_seq(&big, which, &v));
            }
        }
    }

    /// tiktoken's `byte_pair_merge` as written (quadratic), any length: the reference.
    fn reference_merge(v: &Vocab, piece: &[u8]) -> usize {
        let mut parts: Vec<usize> = (0..=piece.len()).collect();
        loop {
            let mut best = (NONE, 0);
            for i in 0..parts.len().saturating_sub(2) {
                let r = v.rank(&piece[parts[i]..parts[i + 2]]);
                if r < best.0 {
                    best = (r, i);
                }
            }
            if best.0 == NONE {
                return parts.len() - 1;
            }
            parts.remove(best.1 + 1);
        }
    }

    /// A random piece of `len` bytes of one of the long-run shapes (`kind` 0..6).
    fn long_piece(rng: &mut StdRng, kind: usize, len: usize) -> Vec<u8> {
        let pick = |rng: &mut StdRng, alpha: &[u8]| -> Vec<u8> {
            (0..len)
                .map(|_| alpha[rng.random_range(0..alpha.len())])
                .collect()
        };
        match kind {
            0 => (0..len).map(|_| rng.random::<u8>()).collect(),
            1 => pick(
                rng,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            ),
            2 => pick(rng, b"0123456789abcdef"),
            3 => vec![[b'a', b'0', b'=', b' ', 0xE4][rng.random_range(0..5)]; len],
            4 => pick(rng, b"abcdefghijklmnopqrstuvwxyz"),
            _ => pick(rng, b"ab"),
        }
    }

    /// The long-piece path (chunked merges joined by pair validity) gives tiktoken's count on random
    /// bytes, base64, hex, repeated chars and letters of lengths 1..100k, both encodings: against
    /// the quadratic reference merge up to 3,000 bytes, against bpe-openai's backtracking encoder
    /// (ids, not only counts) at every length.
    #[test]
    fn long_count_equals_reference_merge() {
        let mut rng = StdRng::seed_from_u64(10);
        let slow = cfg!(debug_assertions);
        for (_, bpe, v) in vocabs() {
            let mut ids = Vec::new();
            for i in 0..if slow { 120 } else { 600 } {
                let kind = i % 6;
                // Log-uniform lengths in 1..=100_000, plus every kind at the chunk edges.
                let len = match i / 6 {
                    0 => 1,
                    1 => CHUNK,
                    2 => CHUNK + 1,
                    3 => SMALL_MAX + 1,
                    4 => 100_000,
                    _ => (10f64.powf(rng.random_range(0.0..5.0)) as usize).clamp(1, 100_000),
                };
                let piece = long_piece(&mut rng, kind, len);
                v.long_encode(&piece, &mut ids);
                assert_eq!(
                    ids,
                    bpe.encode_via_backtracking(&piece),
                    "kind {kind} len {len}"
                );
                assert_eq!(v.long_count(&piece), ids.len());
                if len <= if slow { 600 } else { 3000 } {
                    assert_eq!(
                        ids.len(),
                        reference_merge(&v, &piece),
                        "kind {kind} len {len}"
                    );
                }
                if (2..=MERGE_MAX).contains(&len) {
                    assert_eq!(v.merge_count(&piece), ids.len());
                }
            }
        }
    }

    #[test]
    fn long_pieces_join_exactly() {
        let mut rng = StdRng::seed_from_u64(9);
        for (_, bpe, v) in vocabs() {
            for i in 0..40 {
                let len = 300 + rng.random_range(0..3000);
                let piece: Vec<u8> = match i % 4 {
                    0 => (0..len).map(|_| b'a' + rng.random_range(0..26u8)).collect(),
                    1 => (0..len)
                        .map(|_| {
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                [rng.random_range(0..64)]
                        })
                        .collect(),
                    2 => "中文字符の日本語".repeat(len / 20).into_bytes(),
                    _ => (0..len).map(|_| b"ab"[rng.random_range(0..2)]).collect(),
                };
                assert_eq!(count_long_piece(&v, &piece), bpe.count(&piece), "case {i}");
            }
        }
    }
}
