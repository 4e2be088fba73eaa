//! Bulk insert for [`crate::persist`]: symbols given as indexes into a table of distinct strings.

use super::{
    FileEntry, MAX_SYMBOLS, NONE, RawPool, SymbolIndex, TAG_CONTAINER, TAG_DETAIL, TAG_NAME, UNSET,
};
use crate::rows::Row;

impl SymbolIndex {
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
}
