//! The index's own accounting of the heap it owns, by part (what the memory example and the bench print
//! beside the process's RSS growth).

use super::SymbolIndex;

impl SymbolIndex {
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
            + self.norm_first.capacity() * 4
            + self.token_scores.capacity()
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
