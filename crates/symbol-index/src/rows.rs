//! The symbol table: one fixed-size row per symbol id, stored in fixed-size chunks.
//!
//! Chunks instead of one growing `Vec` per column: a growing `Vec` doubles its capacity (up to 2× the
//! live rows) and every doubling copies into a new block, leaving the old one behind as allocator
//! slack in a long-lived process. Chunks are allocated once and never move, so the table holds at most
//! one partly filled chunk beyond its rows.

use std::ops::{Index, IndexMut};

use crate::pool::NONE;

/// `pos[0]` of a row whose position is not four exact `u32`s: the `f64`s live in the index's side table.
pub const POS_EXTERNAL: u32 = u32::MAX;

/// One symbol: raw-string ids (`NONE` = absent / free row), the kind id, normalized-string ids, position
/// (line, column, endLine, endColumn as exact integers, or [`POS_EXTERNAL`]) and insertion sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub name: u32,
    pub kind: u32,
    pub file: u32,
    pub container: u32,
    pub detail: u32,
    pub norm_name: u32,
    pub norm_container: u32,
    pub norm_detail: u32,
    pub pos: [u32; 4],
    pub seq: u32,
}

impl Default for Row {
    fn default() -> Self {
        Self {
            name: NONE,
            kind: NONE,
            file: NONE,
            container: NONE,
            detail: NONE,
            norm_name: NONE,
            norm_container: NONE,
            norm_detail: NONE,
            pos: [0; 4],
            seq: 0,
        }
    }
}

/// `x` as a `u32` if that is exact (and not `-0`, which JS tells apart from `0`); never [`POS_EXTERNAL`].
pub fn exact_u32(x: f64) -> Option<u32> {
    if x >= 0.0 && x < f64::from(POS_EXTERNAL) && x.fract() == 0.0 && x.is_sign_positive() {
        Some(x as u32)
    } else {
        None
    }
}

/// The four numbers as exact `u32`s, or `None` when one of them is not representable.
pub fn pack_pos(p: [f64; 4]) -> Option<[u32; 4]> {
    Some([
        exact_u32(p[0])?,
        exact_u32(p[1])?,
        exact_u32(p[2])?,
        exact_u32(p[3])?,
    ])
}

const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Append-only (until cleared) array of `T` in chunks of 1024 that never move.
pub struct Chunked<T> {
    chunks: Vec<Box<[T]>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy + Default> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, value: T) {
        if self.len == self.chunks.len() * CHUNK {
            self.chunks
                .push(vec![T::default(); CHUNK].into_boxed_slice());
        }
        let i = self.len;
        self.len += 1;
        self[i] = value;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        if i < self.len {
            Some(&self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)])
        } else {
            None
        }
    }

    pub fn clear(&mut self) {
        self.chunks = Vec::new();
        self.len = 0;
    }

    /// Bytes held (chunks and the chunk table).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Box<[T]>>()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        debug_assert!(i < self.len);
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        debug_assert!(i < self.len);
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_push_index_clear() {
        let mut c: Chunked<u32> = Chunked::default();
        for i in 0..(3 * CHUNK as u32 + 5) {
            c.push(i * 2);
        }
        assert_eq!(c.len(), 3 * CHUNK + 5);
        assert_eq!(c[CHUNK + 1], (CHUNK as u32 + 1) * 2);
        c[7] = 1;
        assert_eq!(c.get(7), Some(&1));
        assert_eq!(c.get(c.len()), None);
        assert_eq!(c.heap_bytes() / 4 / CHUNK, 4);
        c.clear();
        assert_eq!((c.len(), c.heap_bytes()), (0, 0));
    }

    #[test]
    fn positions_pack_only_when_exact() {
        assert_eq!(
            pack_pos([0.0, 1.0, 4_000_000.0, 7.0]),
            Some([0, 1, 4_000_000, 7])
        );
        for bad in [
            -1.0,
            0.5,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            4_294_967_295.0,
            1e12,
        ] {
            assert_eq!(pack_pos([1.0, bad, 1.0, 1.0]), None, "{bad}");
        }
        assert_eq!(exact_u32(4_294_967_294.0), Some(u32::MAX - 1));
    }
}
