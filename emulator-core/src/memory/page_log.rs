//! Page logs for migration: a bitmap of RAM pages that the memory path fills while
//! the log is on (the dirty log: pages written; the touch log: pages read or written).

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

/// One bit per RAM page, set by the memory path while the log is on. Reads take
/// `&Memory`, so the bits are cells.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PageLog {
    on: bool,
    words: Vec<Cell<u64>>,
}

impl PageLog {
    /// An empty log, off, for `pages` pages.
    pub fn new(pages: usize) -> PageLog {
        PageLog {
            on: false,
            words: vec![Cell::new(0); pages.div_ceil(64)],
        }
    }

    /// The words of the bitmap (64 pages each).
    pub(crate) fn words_for(&self) -> usize {
        self.words.len()
    }

    /// Whether the memory path fills the log.
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Turns the log on (empty) or off.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
        self.clear();
    }

    /// Forgets every page logged.
    pub fn clear(&mut self) {
        for w in &self.words {
            w.set(0);
        }
    }

    /// Logs page `page` (ignored past the end of RAM).
    #[inline(always)]
    pub fn mark(&self, page: usize) {
        if let Some(w) = self.words.get(page / 64) {
            w.set(w.get() | 1 << (page % 64));
        }
    }

    /// Whether page `page` is logged.
    pub fn contains(&self, page: usize) -> bool {
        self.words
            .get(page / 64)
            .is_some_and(|w| w.get() & 1 << (page % 64) != 0)
    }

    /// The pages logged, in order, and an empty log (still on if it was).
    pub fn take(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            let mut bits = w.replace(0);
            while bits != 0 {
                let b = bits.trailing_zeros();
                out.push(i as u32 * 64 + b);
                bits &= bits - 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_marked_pages_in_order_and_empties() {
        let mut l = PageLog::new(130);
        l.set_on(true);
        for p in [129, 3, 64, 3, 500] {
            l.mark(p);
        }
        assert!(l.contains(64) && !l.contains(65));
        assert_eq!(l.take(), [3, 64, 129]);
        assert!(l.take().is_empty());
        assert!(l.is_on());
    }
}
