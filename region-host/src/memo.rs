//! What the translator made of each region, by the bytes of its code page: a reset, or
//! another machine on this thread running the same code, recalls the region's IR and
//! its module's handle instead of discovering, lowering and encoding it again.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use emulator_core::translate::Recalled;

/// Code pages kept at most; past that the memo starts over.
pub const MAX_PAGES: usize = 256;

/// Hashes a code page eight bytes at a time (FNV-1a's constants on 64-bit words, the
/// high half folded in after each): a page is hashed on every translation, where a
/// byte-at-a-time hash showed in profiles.
#[derive(Debug)]
struct WordHasher(u64);

impl Default for WordHasher {
    fn default() -> Self {
        WordHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
            h ^= h >> 32;
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The regions made so far, by the bytes of their code page and then by entry, for one
/// generation of the function table's places (a handle is good only in the generation
/// that gave it).
#[derive(Debug, Default)]
pub struct Memo {
    generation: u64,
    pages: HashMap<Box<[u8]>, BTreeMap<u32, Recalled>, BuildHasherDefault<WordHasher>>,
}

impl Memo {
    /// Forgets everything when the places' generation is no longer `generation`.
    fn at(&mut self, generation: u64) {
        if self.generation != generation {
            self.generation = generation;
            self.pages.clear();
        }
    }

    /// What was made of the region entered at `entry` in a page with bytes `page`, in
    /// places' generation `generation`.
    pub fn recall(&mut self, generation: u64, page: &[u8], entry: u32) -> Option<Recalled> {
        self.at(generation);
        self.pages.get(page)?.get(&entry).cloned()
    }

    /// Keeps what was made of the region entered at `entry` in a page with bytes `page`.
    pub fn remember(&mut self, generation: u64, page: &[u8], entry: u32, made: Recalled) {
        self.at(generation);
        if self.pages.len() >= MAX_PAGES {
            self.pages.clear();
        }
        self.pages
            .entry(page.into())
            .or_default()
            .insert(entry, made);
    }

    /// Pages kept.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether no page is kept.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(handle: u32) -> Recalled {
        Recalled {
            made: None,
            handle: Some(handle),
        }
    }

    #[test]
    fn a_region_is_recalled_by_its_page_bytes_and_entry_in_its_generation() {
        let mut m = Memo::default();
        let page = vec![0x90u8; 4096];
        m.remember(0, &page, 0x1000, made(7));
        assert_eq!(m.recall(0, &page, 0x1000).and_then(|r| r.handle), Some(7));
        assert!(m.recall(0, &page, 0x1001).is_none(), "another entry");
        let mut other = page.clone();
        other[4095] = 0xc3;
        assert!(m.recall(0, &other, 0x1000).is_none(), "other bytes");
        assert!(m.recall(1, &page, 0x1000).is_none(), "another generation");
        assert!(m.is_empty(), "a new generation starts empty");
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut m = Memo::default();
        for i in 0..MAX_PAGES as u32 + 10 {
            let mut page = vec![0u8; 4096];
            page[..4].copy_from_slice(&i.to_le_bytes());
            m.remember(0, &page, 0, made(i));
            assert!(m.len() <= MAX_PAGES);
        }
        assert!(!m.is_empty());
    }
}
