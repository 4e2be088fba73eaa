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

/// Optimal-string-alignment distance over bytes, or `None` when above `max`.
fn osa_within(a: &[u8], b: &[u8], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let n = b.len();
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
    prev[n] <= max
}

/// Can `t` be split into pieces that are prefixes of words in increasing order (skips allowed)?
/// 2 when the first piece is a prefix of the first word, 1 when only later words match, 0 otherwise.
fn hump(t: &[u8], words: &[&[u8]]) -> u32 {
    if t.len() > 64 || words.is_empty() || words.len() > 32 {
        return 0;
    }
    // ok[i][j]: t[i..] matches starting at word j or later.
    let w = words.len();
    let mut ok = vec![vec![false; w + 1]; t.len() + 1];
    ok[t.len()].fill(true);
    for i in (0..t.len()).rev() {
        for j in (0..w).rev() {
            let word = words[j];
            let mut v = ok[i][j + 1];
            let mut l = 1;
            while !v && l <= word.len() && i + l <= t.len() && t[i + l - 1] == word[l - 1] {
                v = ok[i + l][j + 1];
                l += 1;
            }
            ok[i][j] = v;
        }
    }
    if !ok[0][0] {
        return 0;
    }
    let first = words[0];
    let anchored = (1..=first.len().min(t.len())).any(|l| t[..l] == first[..l] && ok[l][1]);
    if anchored { 2 } else { 1 }
}

/// Score of one term against a contract-normalized name.
pub fn term_score(t: &str, norm_name: &str) -> u32 {
    let words: Vec<&str> = norm_name.split(' ').filter(|w| !w.is_empty()).collect();
    let compact: String = words.concat();
    if compact == t {
        return 10;
    }
    if compact.starts_with(t) {
        return 8;
    }
    if words.contains(&t) {
        return 7;
    }
    if compact.contains(t) {
        return 5;
    }
    let tb = t.as_bytes();
    let wb: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    if words.len() >= 2 {
        match hump(tb, &wb) {
            2 => return 6,
            1 => return 4,
            _ => {}
        }
    }
    if tb.len() >= 4 {
        let max = if tb.len() >= 7 { 2 } else { 1 };
        if osa_within(tb, compact.as_bytes(), max) {
            return 5;
        }
        if wb.iter().any(|w| w.len() >= 3 && osa_within(tb, w, max)) {
            return 3;
        }
    }
    0
}

/// Fuzzy score of a name for the query terms.
pub fn fuzzy_score(terms: &[String], norm_name: &str) -> u32 {
    terms.iter().map(|t| term_score(t, norm_name)).sum()
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
