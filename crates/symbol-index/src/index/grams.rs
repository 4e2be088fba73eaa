//! Character bigram/trigram postings over the words (2+ chars) of the normalized strings: a query token
//! of two characters is one bigram posting; a longer one is the intersection of its trigram postings,
//! verified against the word.

use roaring::RoaringBitmap;

use crate::pool::NONE;

const ALPHABET: usize = 36;
const BIGRAMS: usize = ALPHABET * ALPHABET;
const GRAM_SLOTS: usize = BIGRAMS + ALPHABET * ALPHABET * ALPHABET;

/// Gram postings: a slot table over all bigrams/trigrams pointing into the bitmaps of the grams in use
/// (most of the 48k possible grams never occur, and an empty bitmap still costs its struct).
pub(super) struct Grams {
    slot: Box<[u32]>,
    pub(super) sets: Vec<RoaringBitmap>,
    empty: RoaringBitmap,
}

impl Grams {
    pub(super) fn new() -> Self {
        Self {
            slot: vec![NONE; GRAM_SLOTS].into_boxed_slice(),
            sets: Vec::new(),
            empty: RoaringBitmap::new(),
        }
    }

    pub(super) fn get(&self, g: usize) -> &RoaringBitmap {
        match self.slot[g] {
            NONE => &self.empty,
            i => &self.sets[i as usize],
        }
    }

    pub(super) fn insert(&mut self, g: usize, word: u32) {
        if self.slot[g] == NONE {
            self.slot[g] = self.sets.len() as u32;
            self.sets.push(RoaringBitmap::new());
        }
        self.sets[self.slot[g] as usize].insert(word);
    }

    pub(super) fn remove(&mut self, g: usize, word: u32) {
        if let Some(set) = self.sets.get_mut(self.slot[g] as usize) {
            set.remove(word);
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.slot.len() * 4
            + self.sets.capacity() * std::mem::size_of::<RoaringBitmap>()
            + self
                .sets
                .iter()
                .map(RoaringBitmap::serialized_size)
                .sum::<usize>()
    }
}

/// Distinct gram slots of one word.
pub(super) fn grams_of(word: &str, out: &mut Vec<usize>) {
    out.clear();
    let b = word.as_bytes();
    for w in b.windows(2) {
        out.push(bigram(w[0], w[1]));
    }
    for w in b.windows(3) {
        out.push(trigram(w[0], w[1], w[2]));
    }
    out.sort_unstable();
    out.dedup();
}

pub(super) fn bigram(a: u8, b: u8) -> usize {
    gram_code(a) * ALPHABET + gram_code(b)
}

pub(super) fn trigram(a: u8, b: u8, c: u8) -> usize {
    BIGRAMS + (gram_code(a) * ALPHABET + gram_code(b)) * ALPHABET + gram_code(c)
}

fn gram_code(b: u8) -> usize {
    if b.is_ascii_lowercase() {
        (b - b'a') as usize
    } else {
        26 + (b - b'0') as usize
    }
}

/// Distinct words of a normalized string that a query token (2+ chars) can occur in.
pub(super) fn distinct_words(s: &str) -> Vec<&str> {
    let mut words: Vec<&str> = s.split(' ').filter(|w| w.len() >= 2).collect();
    words.sort_unstable();
    words.dedup();
    words
}
