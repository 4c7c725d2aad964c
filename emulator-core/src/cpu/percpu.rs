//! One processor of a machine: its architectural state and everything else that is
//! per CPU (live flags, TLB, decode cache, the fast tier's page cache, run-loop marks).
//!
//! A [`crate::Machine`] owns its CPUs and shares memory, the devices, the event ring
//! and the VMM between them. The CPU that runs sits in `Machine::cpu`, where the
//! interpreter reaches it without an index; the others wait in `Machine::parked`
//! and [`crate::Machine::switch_cpu`] exchanges them. A machine has one CPU today.

use core::ops::{Deref, DerefMut};

use crate::cpu::alu::Flags;
use crate::cpu::decode::DecodeCache;
use crate::cpu::fast::FastTier;
use crate::mmu::{Mmu, TlbEntryView};
use crate::state::{flags, CpuState};

/// One processor: architectural state plus its caches.
///
/// It dereferences to its [`CpuState`], so `cpu.gpr` reads a register.
#[derive(Debug)]
pub struct Cpu {
    /// The architectural state (EFLAGS' status bits are live in `flags` while running).
    pub(crate) state: CpuState,
    /// The lazily evaluated status flags.
    pub(crate) flags: Flags,
    /// `state.eflags` was edited from outside; reload the status flags before running.
    pub(crate) flags_stale: bool,
    /// The TLB and its counters.
    pub(crate) mmu: Mmu,
    /// Decoded instructions per physical page.
    pub(crate) dcache: DecodeCache,
    /// The pre-decoded fast tier's per-page operations.
    pub(crate) fast: FastTier,
    /// The next instruction starts at a breakpoint this CPU already stopped on.
    pub(crate) resume_from_breakpoint: bool,
    /// Virtual time at which the run loop must look between instructions (0 when the
    /// INTR line is up or the CPU is halted, else the next device deadline).
    pub(crate) attention: u64,
    /// The instruction stopped part-way (a long REP) and will resume; do not retire it.
    pub(crate) incomplete: bool,
}

impl Cpu {
    /// A CPU in the RESET state with empty caches.
    pub(crate) fn reset() -> Cpu {
        Cpu {
            state: CpuState::reset(),
            flags: Flags::from_eflags(flags::RESERVED1),
            flags_stale: false,
            mmu: Mmu::default(),
            dcache: DecodeCache::default(),
            fast: FastTier::default(),
            resume_from_breakpoint: false,
            attention: 0,
            incomplete: false,
        }
    }

    /// The architectural state. While the CPU is parked (or between runs) EFLAGS
    /// holds the status flags too.
    pub fn state(&self) -> &CpuState {
        &self.state
    }

    /// The valid entries of this CPU's TLB.
    pub fn tlb_entries(&self) -> alloc::vec::Vec<TlbEntryView> {
        self.mmu.entries()
    }

    /// Drops everything cached from memory (decoded instructions, fast-tier pages).
    pub(crate) fn clear_code_caches(&mut self) {
        self.dcache.clear();
        self.fast.clear();
    }
}

impl Deref for Cpu {
    type Target = CpuState;
    #[inline(always)]
    fn deref(&self) -> &CpuState {
        &self.state
    }
}

impl DerefMut for Cpu {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut CpuState {
        &mut self.state
    }
}
