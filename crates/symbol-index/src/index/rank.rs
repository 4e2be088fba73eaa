//! The contract's result order (score, then name and file by `localeCompare`, then position, then
//! insertion) and the bounded top-k that keeps the first `k` hits in that order without sorting them all.

use std::cmp::Ordering;

use super::{Hit, SymbolIndex};
use crate::rows::POS_EXTERNAL;

impl SymbolIndex {
    /// The first `k` candidates in contract order, without sorting them all (bounded max-heap).
    pub(super) fn top_k(&self, mut candidates: Vec<Hit>, k: usize) -> Vec<Hit> {
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

    /// Contract §2.1 order: `Less` means `a` ranks before `b`.
    pub(super) fn rank_cmp(&self, a: Hit, b: Hit) -> Ordering {
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
}

/// Bounded max-heap of the best `k` hits in contract order (`heap[0]` is the worst kept hit).
pub(super) struct TopK {
    k: usize,
    heap: Vec<Hit>,
}

impl TopK {
    pub(super) fn new(k: usize) -> Self {
        Self {
            k,
            heap: Vec::with_capacity(k.min(4096)),
        }
    }

    pub(super) fn full(&self) -> bool {
        self.heap.len() >= self.k
    }

    pub(super) fn min_score(&self) -> u32 {
        self.heap.first().map_or(0, |h| h.score)
    }

    pub(super) fn offer(&mut self, idx: &SymbolIndex, hit: Hit) {
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

    pub(super) fn into_sorted(self, idx: &SymbolIndex) -> Vec<Hit> {
        let mut heap = self.heap;
        heap.sort_by(|&a, &b| idx.rank_cmp(a, b));
        heap
    }
}
