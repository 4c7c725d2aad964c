//! Checkpoints of a running machine that cost only what the guest wrote: the oldest
//! holds every RAM page, each later one the pages written since the one before it.
//!
//! Memory marks the pages it writes (`Memory::dirty_pages`); a checkpoint copies those
//! and clears the marks. Restoring writes back only the pages that can differ from the
//! chosen checkpoint. Stepping back to an instruction is a restore of the latest
//! checkpoint before it followed by a deterministic run to its instruction count.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::error::HostError;
use crate::machine::Machine;
use crate::snapshot::Snapshot;

/// How much a [`History`] keeps; the oldest checkpoints go first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HistoryLimits {
    /// Checkpoints kept (at least 1).
    pub checkpoints: usize,
    /// Bytes of RAM pages kept over all checkpoints (the oldest always holds all of RAM).
    pub page_bytes: usize,
}

/// One checkpoint: the machine but memory, and the pages written since the one before.
#[derive(Clone, Debug)]
struct Mark {
    state: Snapshot,
    pages: BTreeMap<usize, Box<[u8]>>,
}

/// Checkpoints of one machine, oldest first.
#[derive(Clone, Debug)]
pub struct History {
    marks: Vec<Mark>,
    /// The checkpoint the machine's dirty-page marks count from.
    current: usize,
    /// Bytes held in all checkpoints' pages.
    bytes: usize,
    limits: HistoryLimits,
}

impl History {
    /// A history whose first checkpoint is `m` as it stands (a copy of all of RAM).
    pub fn new(m: &mut Machine, limits: HistoryLimits) -> History {
        let pages: BTreeMap<usize, Box<[u8]>> = (0..m.mem.pages())
            .map(|p| (p, Box::from(m.mem.page(p))))
            .collect();
        m.mem.clear_dirty();
        let bytes = pages.values().map(|p| p.len()).sum();
        History {
            marks: alloc::vec![Mark {
                state: m.state_without_memory(),
                pages,
            }],
            current: 0,
            bytes,
            limits: HistoryLimits {
                checkpoints: limits.checkpoints.max(1),
                ..limits
            },
        }
    }

    /// Takes a checkpoint of `m` (which must be the machine the history was made
    /// from): checkpoints after the current one are dropped (the machine went another
    /// way), then the pages written since the current one are copied. Returns the
    /// bytes copied.
    pub fn record(&mut self, m: &mut Machine) -> usize {
        self.marks.truncate(self.current + 1);
        self.bytes = self.marks.iter().map(Mark::bytes).sum();
        let pages: BTreeMap<usize, Box<[u8]>> = m
            .mem
            .dirty_pages()
            .map(|p| (p, Box::from(m.mem.page(p))))
            .collect();
        m.mem.clear_dirty();
        let copied: usize = pages.values().map(|p| p.len()).sum();
        self.bytes += copied;
        self.marks.push(Mark {
            state: m.state_without_memory(),
            pages,
        });
        self.current = self.marks.len() - 1;
        while self.marks.len() > 1
            && (self.marks.len() > self.limits.checkpoints || self.bytes > self.limits.page_bytes)
        {
            self.drop_oldest();
        }
        copied
    }

    /// Forgets the oldest checkpoint: its pages that the next one lacks move there.
    fn drop_oldest(&mut self) {
        let oldest = self.marks.remove(0);
        if let Some(next) = self.marks.first_mut() {
            for (p, bytes) in oldest.pages {
                if let alloc::collections::btree_map::Entry::Vacant(v) = next.pages.entry(p) {
                    v.insert(bytes);
                } else {
                    self.bytes -= bytes.len();
                }
            }
        }
        self.current = self.current.saturating_sub(1);
    }

    /// Puts `m` back to checkpoint `index`; later checkpoints stay (running on replays
    /// them exactly) until [`History::record`] or [`History::forget_after_current`].
    pub fn restore(&mut self, m: &mut Machine, index: usize) -> Result<(), HostError> {
        let Some(mark) = self.marks.get(index) else {
            return Err(HostError::BadSnapshot(alloc::format!(
                "there is no checkpoint {index} (the history holds {})",
                self.marks.len()
            )));
        };
        m.restore_without_memory(&mark.state)?;
        let (lo, hi) = (self.current.min(index), self.current.max(index));
        let mut stale: BTreeSet<usize> = m.mem.dirty_pages().collect();
        for between in &self.marks[lo + 1..=hi] {
            stale.extend(between.pages.keys().copied());
        }
        for p in stale {
            if let Some(bytes) = self.page_at(index, p) {
                m.mem.set_page(p, bytes);
            }
        }
        m.mem.clear_dirty();
        self.current = index;
        Ok(())
    }

    /// Page `p` as it was at checkpoint `index`.
    fn page_at(&self, index: usize, p: usize) -> Option<&[u8]> {
        self.marks[..=index]
            .iter()
            .rev()
            .find_map(|m| m.pages.get(&p))
            .map(|b| &b[..])
    }

    /// Drops the checkpoints after the current one (when the machine's future changed,
    /// for instance by input from the host).
    pub fn forget_after_current(&mut self) {
        self.marks.truncate(self.current + 1);
        self.bytes = self.marks.iter().map(Mark::bytes).sum();
    }

    /// The instruction count of each checkpoint, oldest first.
    pub fn icounts(&self) -> impl DoubleEndedIterator<Item = u64> + ExactSizeIterator + '_ {
        self.marks.iter().map(|m| m.state.icount)
    }

    /// The latest checkpoint at or before instruction count `icount`.
    pub fn at_or_before(&self, icount: u64) -> Option<usize> {
        self.icounts().rposition(|c| c <= icount)
    }

    /// The checkpoint the machine last passed through (recorded or restored).
    pub fn current(&self) -> usize {
        self.current
    }

    /// The instruction count of the current checkpoint.
    pub fn current_icount(&self) -> u64 {
        self.marks[self.current].state.icount
    }

    /// The earliest instruction count the history can return to.
    pub fn oldest_icount(&self) -> u64 {
        self.marks[0].state.icount
    }

    /// Bytes of RAM pages held.
    pub fn page_bytes(&self) -> usize {
        self.bytes
    }
}

impl Mark {
    fn bytes(&self) -> usize {
        self.pages.values().map(|p| p.len()).sum()
    }
}
