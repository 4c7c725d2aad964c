//! The chain table: compiled regions by entry EIP, direct-mapped, in linear memory where
//! a region's exit looks its target up and tail-calls it through the host's function
//! table without a trip through the run loop. The run loop finds regions there first.
//!
//! A slot is used only while paging is off (the EIP is the physical address) and only
//! while its page's code generation is the one it was translated at.

use alloc::boxed::Box;
use alloc::vec;

/// Slots in the table (a power of two).
pub const SLOTS: usize = 1024;
/// Bytes per slot (eight words, so a slot's address is a shift away).
pub const SLOT_BYTES: u32 = 32;
/// Byte offsets of a slot's words, for the Wasm backend.
pub(crate) const EIP: u64 = 0;
pub(crate) const HANDLE: u64 = 4;
pub(crate) const INSNS: u64 = 8;
pub(crate) const GENERATION: u64 = 12;
pub(crate) const RUNS: u64 = 16;

/// One compiled region (`handle` 0: the slot is empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ChainSlot {
    /// Entry EIP (also its physical address).
    pub eip: u32,
    /// The region's index in the host's function table.
    pub handle: u32,
    /// Its guest instructions (the most one run retires).
    pub insns: u32,
    /// The code generation of its page when it was translated.
    pub generation: u32,
    /// Entries through the table (chained from another region or from the run loop).
    pub runs: u32,
    pad: [u32; 3],
}

const _: () = assert!(core::mem::size_of::<ChainSlot>() == SLOT_BYTES as usize);

/// The slot of entry `eip`.
#[inline(always)]
pub fn slot_of(eip: u32) -> usize {
    ((eip ^ (eip >> 10)) as usize) & (SLOTS - 1)
}

/// The table.
#[derive(Clone)]
pub(crate) struct ChainTable(pub Box<[ChainSlot]>);

/// The slots in use, not the whole table (machine dumps stay short).
impl core::fmt::Debug for ChainTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let used = self.0.iter().filter(|s| s.handle != 0).count();
        write!(f, "ChainTable {{ slots: {}, used: {used} }}", self.0.len())
    }
}

impl Default for ChainTable {
    fn default() -> Self {
        ChainTable(vec![ChainSlot::default(); SLOTS].into_boxed_slice())
    }
}

impl ChainTable {
    /// Empties every slot.
    pub fn clear(&mut self) {
        self.0.fill(ChainSlot::default());
    }

    /// Puts a compiled region in its slot (replacing what was there).
    pub fn insert(&mut self, eip: u32, handle: u32, insns: u32, generation: u32) {
        if let Some(s) = self.0.get_mut(slot_of(eip)) {
            *s = ChainSlot {
                eip,
                handle,
                insns,
                generation,
                ..ChainSlot::default()
            };
        }
    }

    /// The compiled region entered at `eip` when its slot holds it at `generation`.
    #[inline(always)]
    pub fn get(&self, eip: u32, generation: u32) -> Option<&ChainSlot> {
        self.0
            .get(slot_of(eip))
            .filter(|s| s.eip == eip && s.handle != 0 && s.generation == generation)
    }

    /// Counts an entry through the run loop.
    #[inline(always)]
    pub fn count(&mut self, eip: u32) {
        if let Some(s) = self.0.get_mut(slot_of(eip)) {
            s.runs = s.runs.wrapping_add(1);
        }
    }

    /// Entries counted in the slot of `eip` (0 when another region holds it).
    pub fn runs(&self, eip: u32) -> u32 {
        self.0
            .get(slot_of(eip))
            .filter(|s| s.eip == eip && s.handle != 0)
            .map_or(0, |s| s.runs)
    }
}
