//! The runtime's query (contract §2.1): tokens matched against the distinct normalized strings through the
//! gram postings, scores summed per symbol (name ×2, container, detail), then the contract's order and
//! `slice(0, limit)`; and the opt-in fuzzy mode ([`crate::fuzzy`]).

use roaring::RoaringBitmap;

use super::grams::{bigram, trigram};
use super::rank::TopK;
use super::{
    FIRST_ONLY, Hit, NONE, QueryOptions, SYM_MASK, SymbolIndex, TAG_CONTAINER, TAG_DETAIL,
    TAG_NAME, TAG_SHIFT,
};
use crate::normalize::tokenize;

impl SymbolIndex {
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
            self.query_pruned(&tokens, allowed.as_deref(), options.limit)
        } else {
            self.query_all_but_last(&tokens, allowed.as_deref(), options.limit)
        }
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

    /// Negative limits (`slice(0, limit)` drops `-limit` hits from the end): every matching symbol is
    /// scored, then all but the last `-limit` in contract order are kept.
    fn query_all_but_last(
        &mut self,
        tokens: &[String],
        allowed: Option<&[bool]>,
        limit: i64,
    ) -> Vec<Hit> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        if self.scores.len() < self.rows.len() {
            self.scores.resize(self.rows.len(), 0);
        }
        let mut matched = Vec::new();
        for token in tokens {
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
        let keep = (candidates.len() as i64).saturating_add(limit).max(0) as usize;
        self.top_k(candidates, keep)
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

    /// Distinct normalized strings containing `token`, with the token's score against each (in no
    /// particular order: every consumer ranks by the contract's total order).
    ///
    /// The score comes from the word the token was found in, not from the normalized string: every string
    /// here holds the token inside one of its words, so it scores 2 (substring), 4 if its first word starts
    /// with the token (a token has no spaces, so that is "the string starts with it") and 6 if the string
    /// is that word alone and equals the token. Strings are never read, only their `norm_first` entry.
    fn match_token(&mut self, token: &str, out: &mut Vec<(u32, u32)>) {
        out.clear();
        let b = token.as_bytes();
        if b.len() < 2 {
            return;
        }
        // Words containing the token: a bigram posting (2 chars) or the one trigram posting (3 chars) is
        // exact; longer tokens intersect their trigram postings and verify the candidates.
        let intersected: RoaringBitmap;
        let (words, exact): (&RoaringBitmap, bool) = if b.len() == 2 {
            (self.grams.get(bigram(b[0], b[1])), true)
        } else if b.len() == 3 {
            (self.grams.get(trigram(b[0], b[1], b[2])), true)
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
            intersected = acc;
            (&intersected, false)
        };
        let mut marks = std::mem::take(&mut self.token_scores);
        if marks.len() < self.norms.capacity() {
            marks.resize(self.norms.capacity(), 0);
        }
        for w in words {
            let Some(e) = self.words.get(w) else { continue };
            if !exact && !e.s.contains(token) {
                continue;
            }
            let prefix = e.s.starts_with(token);
            let equal = prefix && e.s.len() == token.len();
            for n in e.data {
                let first = self.norm_first.get(n as usize).copied().unwrap_or(NONE);
                let score = if prefix && first & !FIRST_ONLY == w {
                    if equal && first & FIRST_ONLY != 0 {
                        6
                    } else {
                        4
                    }
                } else {
                    2
                };
                let Some(slot) = marks.get_mut(n as usize) else {
                    continue;
                };
                if *slot == 0 {
                    out.push((n, 0));
                }
                *slot = (*slot).max(score);
            }
        }
        for (n, score) in out.iter_mut() {
            let slot = &mut marks[*n as usize];
            *score = u32::from(*slot);
            *slot = 0;
        }
        self.token_scores = marks;
    }
}
