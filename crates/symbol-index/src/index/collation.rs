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
                if let Some(o) = ascii_compare(ea.s, eb.s) {
                    return o;
                }
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

/// Root-collation primary weight rank of the ASCII characters [`ascii_compare`] handles (CLDR root order:
/// punctuation `_ - . /`, then the currency sign `$`, digits, letters without case); `None` for others.
fn ascii_primary(c: u8) -> Option<u8> {
    match c {
        b'_' => Some(0),
        b'-' => Some(1),
        b'.' => Some(2),
        b'/' => Some(3),
        b'$' => Some(4),
        b'0'..=b'9' => Some(5 + (c - b'0')),
        b'a'..=b'z' => Some(15 + (c - b'a')),
        b'A'..=b'Z' => Some(15 + (c - b'A')),
        _ => None,
    }
}

/// The root collation's order of two strings made only of `[A-Za-z0-9_\-./$]` (identifiers and POSIX
/// paths, the usual ties), without ICU: these characters have one collation element each, so the order is
/// the primary ranks compared position by position (a prefix first), then the first case difference
/// (lowercase first). `None` when either string has another character. Checked against ICU's sort keys
/// exhaustively on short strings and on random longer ones (tests below).
pub(super) fn ascii_compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if !a.iter().chain(b).all(|&c| ascii_primary(c).is_some()) {
        return None;
    }
    let mut tertiary = Ordering::Equal;
    for (&x, &y) in a.iter().zip(b) {
        let (px, py) = (ascii_primary(x)?, ascii_primary(y)?);
        if px != py {
            return Some(px.cmp(&py));
        }
        if tertiary == Ordering::Equal {
            tertiary = x.is_ascii_uppercase().cmp(&y.is_ascii_uppercase());
        }
    }
    Some(a.len().cmp(&b.len()).then(tertiary))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::*;

    const ALPHABET: &[u8] = b"abzABZ0159_-./$";

    fn check(collator: &CollatorBorrowed<'static>, a: &str, b: &str) {
        let want = sort_key(collator, a).cmp(&sort_key(collator, b));
        assert_eq!(ascii_compare(a, b), Some(want), "{a:?} vs {b:?}");
    }

    #[test]
    fn ascii_fast_path_equals_icu_sort_keys_on_short_strings() {
        let collator = root_collator().unwrap();
        let mut all = vec![String::new()];
        for len in 1..=2 {
            let mut next = Vec::new();
            for s in all.iter().filter(|s| s.len() == len - 1) {
                for &c in ALPHABET {
                    next.push(format!("{s}{}", c as char));
                }
            }
            all.extend(next);
        }
        for a in &all {
            for b in &all {
                check(&collator, a, b);
            }
        }
    }

    #[test]
    fn ascii_fast_path_equals_icu_sort_keys_on_random_strings() {
        let collator = root_collator().unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let full: Vec<u8> = (b'a'..=b'z')
            .chain(b'A'..=b'Z')
            .chain(b'0'..=b'9')
            .chain(*b"_-./$")
            .collect();
        for _ in 0..20_000 {
            let a: String = (0..rnd(12))
                .map(|_| full[rnd(full.len())] as char)
                .collect();
            // Often a variant of `a` (shared prefix, case change) so later positions are compared too.
            let mut b: Vec<u8> = a.bytes().collect();
            match rnd(4) {
                0 => b = (0..rnd(12)).map(|_| full[rnd(full.len())]).collect(),
                1 if !b.is_empty() => {
                    let i = rnd(b.len());
                    b[i] = full[rnd(full.len())];
                }
                2 if !b.is_empty() => {
                    let i = rnd(b.len());
                    b[i] ^= 0x20 * u8::from(b[i].is_ascii_alphabetic());
                }
                _ => b.push(full[rnd(full.len())]),
            }
            check(&collator, &a, &String::from_utf8(b).unwrap());
        }
        assert_eq!(ascii_compare("a b", "ab"), None);
        assert_eq!(ascii_compare("é", "e"), None);
    }
}
