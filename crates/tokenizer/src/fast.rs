//! A hand-written pre-tokenizer that splits exactly like tiktoken's `cl100k_base` / `o200k_base`
//! regexes (leftmost-first alternation with backtracking, as fancy-regex runs them), plus a
//! single-token fast path, in front of bpe-openai's linear BPE counter.
//!
//! Character classes come from `regex-syntax` — the same Unicode tables the regexes use — so `\p{L}`,
//! `\p{N}`, `\s`, … mean exactly what they mean to tiktoken-rs. Parity tests compare every count
//! with tiktoken-rs (`tests/parity.rs`).

use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use regex_syntax::hir::{Class, HirKind};
use rustc_hash::{FxHashMap, FxHashSet};

const L: u8 = 1; // \p{L}
const N: u8 = 2; // \p{N}
const WS: u8 = 4; // \s (White_Space)
const UP: u8 = 8; // Lu | Lt
const LO: u8 = 16; // Ll
const LMO: u8 = 32; // Lm | Lo
const MK: u8 = 64; // \p{M}
const U_SET: u8 = UP | LMO | MK; // o200k "upper" run: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
const L_SET: u8 = LO | LMO | MK; // o200k "lower" run: [\p{Ll}\p{Lm}\p{Lo}\p{M}]

struct Classes {
    bmp: Vec<u8>,
    astral: Vec<(u32, u32, u8)>,
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

static CLASSES: LazyLock<Classes> = LazyLock::new(|| {
    let mut bmp = vec![0u8; 0x10000];
    let mut astral = Vec::new();
    for (pat, flag) in [
        (r"\p{L}", L),
        (r"\p{N}", N),
        (r"\s", WS),
        (r"[\p{Lu}\p{Lt}]", UP),
        (r"\p{Ll}", LO),
        (r"[\p{Lm}\p{Lo}]", LMO),
        (r"\p{M}", MK),
    ] {
        for (a, b) in ranges(pat) {
            for c in a..=b.min(0xFFFF) {
                bmp[c as usize] |= flag;
            }
            if b > 0xFFFF {
                astral.push((a.max(0x10000), b, flag));
            }
        }
    }
    astral.sort_unstable();
    Classes { bmp, astral }
});

#[inline]
fn class(c: char) -> u8 {
    let u = c as u32;
    let t = &*CLASSES;
    if u < 0x10000 {
        return t.bmp[u as usize];
    }
    // Few astral ranges per flag; ranges of different flags may overlap, so OR every hit.
    let mut f = 0;
    let end = t.astral.partition_point(|&(a, _, _)| a <= u);
    for &(a, b, flag) in t.astral[..end].iter().rev() {
        if a <= u && u <= b {
            f |= flag;
        }
        if f == (L | UP | LO | LMO | MK | N | WS) {
            break;
        }
    }
    f
}

struct Text<'a> {
    s: &'a str,
}

impl Text<'_> {
    #[inline]
    fn at(&self, i: usize) -> Option<(char, u8, usize)> {
        let b = *self.s.as_bytes().get(i)?;
        if b < 0x80 {
            return Some((b as char, CLASSES.bmp[b as usize], 1));
        }
        let c = self.s[i..].chars().next()?;
        Some((c, class(c), c.len_utf8()))
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
        let second = |ch: char| -> usize {
            match self.at(i + 1 + n1) {
                Some((c2, _, n2)) if c2.eq_ignore_ascii_case(&ch) => 1 + n1 + n2,
                _ => 0,
            }
        };
        match c1 {
            's' | 'S' | '\u{17F}' | 't' | 'T' | 'm' | 'M' | 'd' | 'D' => 1 + n1,
            'r' | 'R' => second('e'),
            'v' | 'V' => second('e'),
            'l' | 'L' => second('l'),
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
    fn punct(&self, i: usize, c: char, f: u8, slash: bool) -> usize {
        let start = if c == ' ' {
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
        let Some((c, f, n)) = self.at(i) else {
            return i;
        };
        let k = self.contraction(i);
        if k > 0 {
            return i + k;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c != '\r' && c != '\n' && f & (L | N) == 0 {
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
    fn digits_punct_or_space(&self, i: usize, c: char, f: u8, n: usize, slash: bool) -> usize {
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

    /// o200k alternative 1 after the optional prefix: `[U]*[Lw]+` then an optional contraction.
    fn o200k_alt1(&self, s: usize) -> Option<usize> {
        let u = self.run(s, U_SET, false);
        let e = match self.at(u) {
            Some((_, f, _)) if f & L_SET != 0 => self.run(u, L_SET, false),
            _ => {
                // backtrack: the last char of the U run that is also in Lw ends the match
                let mut last = None;
                let mut j = s;
                while j < u {
                    let (_, f, n) = self.at(j)?;
                    if f & L_SET != 0 {
                        last = Some(j + n);
                    }
                    j += n;
                }
                last?
            }
        };
        Some(e + self.contraction(e))
    }

    /// o200k alternative 2 after the optional prefix: `[U]+[Lw]*` then an optional contraction.
    fn o200k_alt2(&self, s: usize) -> Option<usize> {
        let u = self.run(s, U_SET, false);
        if u == s {
            return None;
        }
        let e = self.run(u, L_SET, false);
        Some(e + self.contraction(e))
    }

    fn next_o200k(&self, i: usize) -> usize {
        let Some((c, f, n)) = self.at(i) else {
            return i;
        };
        let prefix = c != '\r' && c != '\n' && f & (L | N) == 0;
        for alt in [Self::o200k_alt1, Self::o200k_alt2] {
            if prefix && let Some(e) = alt(self, i + n) {
                return e;
            }
            if let Some(e) = alt(self, i) {
                return e;
            }
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
pub fn split(text: &str, which: Split, mut f: impl FnMut(&str)) {
    let t = Text { s: text };
    let mut i = 0;
    while i < text.len() {
        let e = match which {
            Split::Cl100k => t.next_cl100k(i),
            Split::O200k => t.next_o200k(i),
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

/// Token byte strings of an encoding, for the "piece is one token" fast path.
pub struct Vocab {
    tokens: FxHashSet<&'static [u8]>,
}

impl Vocab {
    pub fn new(bpe: &'static bpe_openai::byte_pair_encoding::BytePairEncoding) -> Self {
        let n = bpe.num_tokens() as u32;
        let mut tokens = FxHashSet::with_capacity_and_hasher(n as usize, Default::default());
        for id in 0..n {
            tokens.insert(bpe.token_bytes(id));
        }
        Self { tokens }
    }

    #[inline]
    pub fn contains(&self, piece: &[u8]) -> bool {
        self.tokens.contains(piece)
    }
}

/// Multi-token pieces up to this many bytes are memoized (longer ones rarely repeat).
const PIECE_CACHE_MAX_BYTES: usize = 48;
/// A thread's piece memo is dropped once it holds this many entries (bounded memory: ≲ 5 MB).
const PIECE_CACHE_MAX_ENTRIES: usize = 1 << 16;

/// Bumped by [`clear_piece_caches`]; each thread drops its memo when it sees a new value.
static PIECE_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Piece bytes → token count.
type PieceMap = FxHashMap<Box<[u8]>, u32>;

struct PieceCache {
    epoch: u64,
    /// Per vocabulary (by address): piece bytes → token count.
    maps: Vec<(usize, PieceMap)>,
}

thread_local! {
    static PIECES: RefCell<PieceCache> = const { RefCell::new(PieceCache { epoch: 0, maps: Vec::new() }) };
}

/// Drops every thread's piece → count memo (lazily, at each thread's next count).
pub fn clear_piece_caches() {
    PIECE_EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// Exact token count like [`count`], plus a per-thread memo of multi-token pieces (used by the
/// whole-history batch path, where pieces repeat across messages). A piece's count does not depend on
/// its context, so the memo cannot change a result.
pub fn count_memo(
    text: &str,
    which: Split,
    tok: &'static bpe_openai::Tokenizer,
    vocab: &Vocab,
) -> usize {
    let vocab_id = std::ptr::from_ref(vocab) as usize;
    let epoch = PIECE_EPOCH.load(Ordering::Relaxed);
    PIECES.with(|cell| {
        let Ok(mut memo) = cell.try_borrow_mut() else {
            return count(text, which, tok, vocab);
        };
        if memo.epoch != epoch {
            memo.maps.clear();
            memo.epoch = epoch;
        }
        let at = match memo.maps.iter().position(|(id, _)| *id == vocab_id) {
            Some(at) => at,
            None => {
                memo.maps.push((vocab_id, FxHashMap::default()));
                memo.maps.len() - 1
            }
        };
        let Some((_, map)) = memo.maps.get_mut(at) else {
            return count(text, which, tok, vocab);
        };
        let mut total = 0;
        split(text, which, |piece| {
            let b = piece.as_bytes();
            total += if b.len() == 1 || vocab.contains(b) {
                1
            } else if b.len() > PIECE_CACHE_MAX_BYTES {
                tok.bpe.count(b)
            } else {
                if let Some(&n) = map.get(b) {
                    n as usize
                } else {
                    let n = tok.bpe.count(b);
                    if map.len() >= PIECE_CACHE_MAX_ENTRIES {
                        map.clear();
                    }
                    map.insert(Box::from(b), u32::try_from(n).unwrap_or(u32::MAX));
                    n
                }
            };
        });
        total
    })
}

/// Exact token count: hand-written split, single-token fast path, bpe-openai's linear counter.
pub fn count(
    text: &str,
    which: Split,
    tok: &'static bpe_openai::Tokenizer,
    vocab: &Vocab,
) -> usize {
    let mut total = 0;
    split(text, which, |piece| {
        let b = piece.as_bytes();
        total += if b.len() == 1 || vocab.contains(b) {
            1
        } else {
            tok.bpe.count(b)
        };
    });
    total
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
