//! Opt-in fuzzy ranking (`fuzzy: true`): camel-hump and typo matching of symbol names, with stop words
//! dropped so whole prompts work. Not the runtime's ranking; the JS fallback implements the same rules
//! (`src/js/fuzzy.ts`), and the differential tests hold both to identical results.

use crate::normalize::normalize_with;

/// Words dropped from fuzzy queries (whole prompts).
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "again",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "being",
    "but",
    "by",
    "can",
    "class",
    "code",
    "could",
    "defined",
    "did",
    "do",
    "does",
    "done",
    "else",
    "explain",
    "file",
    "find",
    "fix",
    "for",
    "from",
    "function",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "his",
    "how",
    "i",
    "if",
    "implement",
    "implemented",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "let",
    "lets",
    "like",
    "look",
    "make",
    "may",
    "me",
    "method",
    "might",
    "more",
    "most",
    "must",
    "my",
    "need",
    "no",
    "not",
    "of",
    "on",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "please",
    "same",
    "see",
    "she",
    "should",
    "show",
    "so",
    "some",
    "such",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "too",
    "under",
    "up",
    "use",
    "used",
    "uses",
    "using",
    "very",
    "want",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "you",
    "your",
];

/// At most this many query terms are used.
pub const MAX_TERMS: usize = 16;

/// Query terms: lowercased words (no camel split), 2+ chars, not stop words, de-duplicated, first 16.
pub fn fuzzy_terms(query: &str) -> Vec<String> {
    let mut norm = String::new();
    normalize_with(query, &mut norm, false);
    let mut terms: Vec<String> = Vec::new();
    for w in norm.split(' ') {
        if w.len() < 2 || STOP_WORDS.binary_search(&w).is_ok() || terms.iter().any(|t| t == w) {
            continue;
        }
        terms.push(w.to_owned());
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// Is the optimal-string-alignment distance of `a` and `b` (bytes) at most `max`?
fn osa_within(a: &[u8], b: &[u8], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let n = b.len();
    let mut stack = [[0u16; 65]; 3];
    if n >= 65 || a.len() >= u16::MAX as usize {
        // Long strings: heap rows.
        let mut prev2 = vec![0usize; n + 1];
        let mut prev: Vec<usize> = (0..=n).collect();
        let mut cur = vec![0usize; n + 1];
        for i in 1..=a.len() {
            cur[0] = i;
            let mut row_min = cur[0];
            for j in 1..=n {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(prev2[j - 2] + 1);
                }
                cur[j] = v;
                row_min = row_min.min(v);
            }
            if row_min > max {
                return false;
            }
            std::mem::swap(&mut prev2, &mut prev);
            std::mem::swap(&mut prev, &mut cur);
        }
        return prev[n] <= max;
    }
    let (mut p2, mut p1, mut c) = (0usize, 1usize, 2usize);
    for (j, slot) in stack[p1].iter_mut().enumerate().take(n + 1) {
        *slot = j as u16;
    }
    for i in 1..=a.len() {
        stack[c][0] = i as u16;
        let mut row_min = i as u16;
        for j in 1..=n {
            let cost = u16::from(a[i - 1] != b[j - 1]);
            let mut v = (stack[p1][j] + 1)
                .min(stack[c][j - 1] + 1)
                .min(stack[p1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(stack[p2][j - 2] + 1);
            }
            stack[c][j] = v;
            row_min = row_min.min(v);
        }
        if row_min as usize > max {
            return false;
        }
        (p2, p1, c) = (p1, c, p2);
    }
    stack[p1][n] as usize <= max
}

/// Can `t` be split into pieces that are prefixes of words in increasing order (skips allowed)?
/// 2 when the first piece is a prefix of the first word, 1 when only later words match, 0 otherwise.
fn hump(t: &[u8], words: &[&str]) -> u32 {
    let w = words.len();
    if t.len() > 64 || w == 0 || w > 32 {
        return 0;
    }
    // ok[i] bit j: t[i..] matches starting at word j or later.
    let mut ok = [0u64; 65];
    ok[t.len()] = (1u64 << (w + 1)) - 1;
    for i in (0..t.len()).rev() {
        let mut row = 0u64;
        for j in (0..w).rev() {
            let word = words[j].as_bytes();
            let mut v = row >> (j + 1) & 1 == 1;
            let mut l = 1;
            while !v && l <= word.len() && i + l <= t.len() && t[i + l - 1] == word[l - 1] {
                v = ok[i + l] >> (j + 1) & 1 == 1;
                l += 1;
            }
            if v {
                row |= 1 << j;
            }
        }
        ok[i] = row;
    }
    if ok[0] & 1 == 0 {
        return 0;
    }
    let first = words[0].as_bytes();
    let anchored =
        (1..=first.len().min(t.len())).any(|l| t[..l] == first[..l] && ok[l] >> 1 & 1 == 1);
    if anchored { 2 } else { 1 }
}

fn char_mask(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |m, &c| {
        m | match c {
            b'a'..=b'z' => 1 << (c - b'a'),
            b'0'..=b'9' => 1 << (26 + c - b'0'),
            _ => 1 << 40,
        }
    })
}

/// A query term with its character set (for exact pre-filters).
pub struct Term {
    s: String,
    mask: u64,
}

impl Term {
    pub fn new(s: &str) -> Self {
        Self {
            s: s.to_owned(),
            mask: char_mask(s.as_bytes()),
        }
    }
}

const STACK_WORDS: usize = 32;
const STACK_COMPACT: usize = 256;

/// A normalized name split once for all terms (on the stack for names of up to 32 words / 256 bytes).
struct Shape<'a> {
    words: [&'a str; STACK_WORDS],
    masks: [u64; STACK_WORDS],
    n: usize,
    compact: [u8; STACK_COMPACT],
    compact_len: usize,
    compact_mask: u64,
}

/// Borrowed view of a split name.
struct View<'s> {
    words: &'s [&'s str],
    masks: &'s [u64],
    compact: &'s str,
    compact_mask: u64,
}

/// Calls `f` with the split form of `norm_name`.
fn with_view<R>(norm_name: &str, f: impl FnOnce(&View<'_>) -> R) -> R {
    let mut shape = Shape {
        words: [""; STACK_WORDS],
        masks: [0; STACK_WORDS],
        n: 0,
        compact: [0; STACK_COMPACT],
        compact_len: 0,
        compact_mask: 0,
    };
    let mut fits = norm_name.len() <= STACK_COMPACT;
    if fits {
        for w in norm_name.split(' ').filter(|w| !w.is_empty()) {
            if shape.n == STACK_WORDS {
                fits = false;
                break;
            }
            let m = char_mask(w.as_bytes());
            shape.words[shape.n] = w;
            shape.masks[shape.n] = m;
            shape.n += 1;
            shape.compact[shape.compact_len..shape.compact_len + w.len()]
                .copy_from_slice(w.as_bytes());
            shape.compact_len += w.len();
            shape.compact_mask |= m;
        }
    }
    if fits {
        // Normalized names are ASCII, so any byte prefix is valid UTF-8.
        let compact = std::str::from_utf8(&shape.compact[..shape.compact_len]).unwrap_or_default();
        return f(&View {
            words: &shape.words[..shape.n],
            masks: &shape.masks[..shape.n],
            compact,
            compact_mask: shape.compact_mask,
        });
    }
    let words: Vec<&str> = norm_name.split(' ').filter(|w| !w.is_empty()).collect();
    let masks: Vec<u64> = words.iter().map(|w| char_mask(w.as_bytes())).collect();
    let compact = words.concat();
    let compact_mask = masks.iter().fold(0, |m, x| m | x);
    f(&View {
        words: &words,
        masks: &masks,
        compact: &compact,
        compact_mask,
    })
}

/// A distance-`max` edit can add or drop at most `max` distinct characters (exact necessary condition).
fn masks_close(a: u64, b: u64, max: usize) -> bool {
    (a & !b).count_ones() as usize <= max && (b & !a).count_ones() as usize <= max
}

fn term_score_shape(term: &Term, shape: &View<'_>) -> u32 {
    let t = term.s.as_str();
    let compact = shape.compact;
    if compact == t {
        return 10;
    }
    if compact.starts_with(t) {
        return 8;
    }
    if shape.words.contains(&t) {
        return 7;
    }
    if compact.contains(t) {
        return 5;
    }
    let tb = t.as_bytes();
    // Every character of a hump match occurs in the name.
    if shape.words.len() >= 2 && term.mask & !shape.compact_mask == 0 {
        match hump(tb, shape.words) {
            2 => return 6,
            1 => return 4,
            _ => {}
        }
    }
    if tb.len() >= 4 {
        let max = if tb.len() >= 7 { 2 } else { 1 };
        if masks_close(term.mask, shape.compact_mask, max)
            && osa_within(tb, compact.as_bytes(), max)
        {
            return 5;
        }
        for (w, &m) in shape.words.iter().zip(shape.masks) {
            if w.len() >= 3
                && w.len().abs_diff(tb.len()) <= max
                && masks_close(term.mask, m, max)
                && osa_within(tb, w.as_bytes(), max)
            {
                return 3;
            }
        }
    }
    0
}

/// Score of one term against a contract-normalized name.
pub fn term_score(t: &str, norm_name: &str) -> u32 {
    with_view(norm_name, |v| term_score_shape(&Term::new(t), v))
}

/// Fuzzy score of a name for the query terms.
pub fn fuzzy_score(terms: &[Term], norm_name: &str) -> u32 {
    fuzzy_score_masked(terms, norm_name, name_mask(norm_name))
}

/// The character set of a normalized name (what [`fuzzy_score_masked`] takes).
pub fn name_mask(norm_name: &str) -> u64 {
    char_mask(norm_name.as_bytes()) & !(1 << 40)
}

/// [`fuzzy_score`] with the name's character set precomputed.
pub fn fuzzy_score_masked(terms: &[Term], norm_name: &str, name_mask: u64) -> u32 {
    // Exact pre-filter without allocating: every rule needs all of the term's characters in the name,
    // except typos, which allow at most 2 missing ones.
    if !terms
        .iter()
        .any(|t| (t.mask & !name_mask).count_ones() <= 2)
    {
        return 0;
    }
    with_view(norm_name, |v| {
        terms
            .iter()
            .filter(|t| (t.mask & !name_mask).count_ones() <= 2)
            .map(|t| term_score_shape(t, v))
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_sorted() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn scores() {
        assert_eq!(term_score("symbolgraph", "symbol graph"), 10);
        assert_eq!(term_score("symbol", "symbol graph"), 8);
        assert_eq!(term_score("graph", "symbol graph"), 7);
        assert_eq!(term_score("olgr", "symbol graph"), 5);
        assert_eq!(term_score("symgr", "symbol graph"), 6);
        assert_eq!(term_score("gsg", "get symbol graph"), 6);
        assert_eq!(term_score("symblgrph", "symbol graph"), 5);
        assert_eq!(term_score("symgr", "get symbol graph"), 4);
        assert_eq!(term_score("grahp", "symbol graph"), 3);
        assert_eq!(term_score("zzzz", "symbol graph"), 0);
        assert_eq!(
            fuzzy_terms("Where is the SymbolGraph class defined? symbol"),
            vec!["symbolgraph", "symbol"]
        );
    }
}
