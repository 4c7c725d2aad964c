//! A region's memory accesses off its inline fast path: the fast tier's TLB-hit access,
//! and on a TLB miss the walk the interpreter would make when that walk writes nothing.
//!
//! After a CR3 switch or INVLPG every page a loop touches misses the TLB once. Leaving
//! the region there (the interpreter makes the walk) cuts a hot loop into one-instruction
//! region runs. The walk is the interpreter's own (`Mmu::translate`), made here only when
//! its probe shows it has nothing to write and fills the same entry whatever the access:
//! no VMM (whose walk may exit), a page in reach of the access's privilege, writable at
//! every level, its accessed and dirty bits already set. A read-modify-write instruction
//! (a load, then a store) then fills the entry the interpreter's write walk fills. Any
//! other miss still leaves the region before the instruction.

use crate::machine::Machine;
use crate::mmu::{access, probe, PagingRegs};
use crate::state::cr0;

impl Machine {
    /// A `size`-byte read at flat linear `lin` in a region; `None`: the region leaves.
    pub(crate) fn region_read(&mut self, lin: u32, size: u8) -> Option<u32> {
        match self.fast_read(lin, size) {
            Some(v) => Some(v),
            None if self.fill_clean(lin, size) => self.fast_read(lin, size),
            None => None,
        }
    }

    /// The RAM offset of a `size`-byte store at flat linear `lin` in a region; `None`:
    /// the region leaves.
    pub(crate) fn region_store_ref(&mut self, lin: u32, size: u8) -> Option<usize> {
        match self.fast_store_ref(lin, size) {
            Some(slot) => Some(slot),
            None if self.fill_clean(lin, size) => self.fast_store_ref(lin, size),
            None => None,
        }
    }

    /// Fills the TLB entry of `lin` by the interpreter's walk when the walk writes no
    /// page-table entry and gives the same entry for a read and a write; true when it did.
    fn fill_clean(&mut self, lin: u32, size: u8) -> bool {
        if self.cpu.cr0 & cr0::PG == 0
            || self.vmm.is_some()
            || (lin & 0xfff) + u32::from(size) > 0x1000
        {
            return false;
        }
        let regs = PagingRegs::of(&self.cpu.state);
        let user = self.user_acc();
        let w = probe(&mut self.mem, regs, lin);
        let clean = w.physical.is_some()
            && w.pde.is_some_and(|p| p.accessed)
            && w.leaf().is_some_and(|l| l.accessed && l.dirty)
            && w.writable()
            && (user == 0 || w.user());
        clean
            && self
                .cpu
                .mmu
                .translate(&mut self.mem, regs, lin, user | access::WRITE)
                .is_ok()
    }
}
