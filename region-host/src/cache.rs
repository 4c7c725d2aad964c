//! The region modules this process has put in the function table, by their bytes: a
//! module the translating tier emits again (the same program after a reset or reload,
//! or an unchanged region translated again) reuses its table entry, which V8 has
//! already compiled and optimised, instead of being compiled again.

use std::collections::HashMap;

/// Module bytes kept before the cache starts over (bounds its memory; the table
/// entries stay valid, later modules are compiled again).
pub const MAX_BYTES: usize = 16 << 20;

/// Table indices of compiled region modules, by module bytes.
#[derive(Debug, Default)]
pub struct ModuleCache {
    by_bytes: HashMap<Vec<u8>, u32>,
    bytes: usize,
}

impl ModuleCache {
    /// The table index of a module with exactly these bytes, if one was put there.
    pub fn get(&self, module: &[u8]) -> Option<u32> {
        self.by_bytes.get(module).copied()
    }

    /// Remembers that `module` is at table index `handle`; forgets every module first
    /// when keeping it would pass [`MAX_BYTES`].
    pub fn insert(&mut self, module: &[u8], handle: u32) {
        if self.bytes + module.len() > MAX_BYTES {
            self.clear();
        }
        if self.by_bytes.insert(module.to_vec(), handle).is_none() {
            self.bytes += module.len();
        }
    }

    /// Forgets every module (their places are given out again).
    pub fn clear(&mut self) {
        self.by_bytes.clear();
        self.bytes = 0;
    }

    /// Modules remembered.
    pub fn len(&self) -> usize {
        self.by_bytes.len()
    }

    /// Whether no module is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_find_their_handle_and_other_bytes_do_not() {
        let mut c = ModuleCache::default();
        c.insert(b"\0asm-one", 7);
        c.insert(b"\0asm-two", 9);
        assert_eq!(c.get(b"\0asm-one"), Some(7));
        assert_eq!(c.get(b"\0asm-two"), Some(9));
        assert_eq!(c.get(b"\0asm-on"), None);
        assert_eq!(c.get(b"\0asm-one!"), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn the_cache_starts_over_past_its_byte_bound() {
        let mut c = ModuleCache::default();
        let big = vec![1u8; MAX_BYTES / 2];
        c.insert(&big, 1);
        let mut other = big.clone();
        other[0] = 2;
        c.insert(&other, 2);
        assert_eq!(c.len(), 2);
        let mut third = big.clone();
        third[0] = 3;
        c.insert(&third, 3);
        assert_eq!(c.len(), 1, "the first two were forgotten");
        assert_eq!(c.get(&big), None);
        assert_eq!(c.get(&third), Some(3));
    }
}
