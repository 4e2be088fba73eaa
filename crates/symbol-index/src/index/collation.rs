//! JS `localeCompare` order: the root collation (what V8 uses for `en` and other root locales), and the
//! index's tie-break through cached ICU sort keys (byte order of sort keys = the collator's order).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use icu_collator::options::CollatorOptions;
use icu_collator::{CollatorBorrowed, CollatorPreferences};

use super::SymbolIndex;

/// ICU sort keys of raw strings by raw id.
pub(super) type SortKeys = HashMap<u32, Box<[u8]>, BuildHasherDefault<IdHasher>>;

impl SymbolIndex {
    /// Compares raw strings `a` and `b` (ids) in JS `localeCompare` order, through their sort keys,
    /// computed the first time a string takes part in a tie.
    pub(super) fn raw_cmp(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        match (self.raw.get(a), self.raw.get(b)) {
            (Some(ea), Some(eb)) => {
                // Byte order of ICU sort keys = the collator's order (checked against `compare` and JS
                // `localeCompare` by the package's differential tests).
                let mut keys = self.sort_keys.borrow_mut();
                for (id, s) in [(a, ea.s), (b, eb.s)] {
                    keys.entry(id)
                        .or_insert_with(|| sort_key(&self.collator, s));
                }
                match (keys.get(&a), keys.get(&b)) {
                    (Some(ka), Some(kb)) => ka.cmp(kb),
                    _ => Ordering::Equal,
                }
            }
            _ => Ordering::Equal,
        }
    }
}

/// JS `a.localeCompare(b)` under the root collation, with a process-wide collator. `None` only if the
/// collation data could not be loaded.
pub fn locale_compare(a: &str, b: &str) -> Option<Ordering> {
    let collator = shared_collator()?;
    Some(if a == b {
        Ordering::Equal
    } else {
        collator.compare(a, b)
    })
}

/// Compares `a` and `b` by their root-collation sort keys (what the index uses for ties).
pub fn sort_key_compare(a: &str, b: &str) -> Option<Ordering> {
    let collator = shared_collator()?;
    Some(sort_key(collator, a).cmp(&sort_key(collator, b)))
}

/// A new root collator (the error is the ICU data error's text).
pub(super) fn root_collator() -> Result<CollatorBorrowed<'static>, String> {
    CollatorBorrowed::try_new(CollatorPreferences::default(), CollatorOptions::default())
        .map_err(|e| e.to_string())
}

/// The process-wide root collator of the free functions above.
fn shared_collator() -> Option<&'static CollatorBorrowed<'static>> {
    static COLLATOR: OnceLock<Option<CollatorBorrowed<'static>>> = OnceLock::new();
    COLLATOR.get_or_init(|| root_collator().ok()).as_ref()
}

fn sort_key(collator: &CollatorBorrowed<'static>, s: &str) -> Box<[u8]> {
    let mut key: Vec<u8> = Vec::with_capacity(s.len() * 2 + 4);
    // Writing into a Vec cannot fail.
    let _ = collator.write_sort_key_to(s, &mut key);
    key.into_boxed_slice()
}

/// Hasher for `u32` ids (the sort-key table is probed on every tie of a query): one multiply.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
