//! One processor of a machine: its architectural state and everything else that is
//! per CPU (live flags, TLB, decode cache, the fast tier's page cache, run-loop marks).
//!
//! A [`crate::Machine`] owns its CPUs and shares memory, the devices, the event ring
//! and the VMM between them. The CPU that runs sits in `Machine::cpu`, where the
//! interpreter reaches it without an index; the others wait in `Machine::parked`
//! and [`crate::Machine::switch_cpu`] exchanges them. Each CPU has its own local APIC.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use crate::cpu::alu::Flags;
use crate::cpu::decode::DecodeCache;
use crate::cpu::fast::FastTier;
use crate::devices::apic::LocalApic;
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
    /// This CPU's local APIC.
    pub(crate) apic: LocalApic,
    /// Instructions this CPU retired in the machine's runs (a statistic, not state).
    pub(crate) retired: u64,
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
            apic: LocalApic::new(0),
            retired: 0,
        }
    }

    /// RESET of the architectural state but the time stamp counter (the machine's
    /// clock); the TLB is flushed, decoded code is kept (memory did not change).
    pub(crate) fn reset_keeping_tsc(&mut self) {
        let tsc = self.state.tsc;
        self.state = CpuState::reset();
        self.state.tsc = tsc;
        self.flags = Flags::from_eflags(self.state.eflags);
        self.flags_stale = false;
        self.mmu.flush();
        self.resume_from_breakpoint = false;
        self.apic.init();
    }

    /// The architectural state. While the CPU is parked (or between runs) EFLAGS
    /// holds the status flags too.
    pub fn state(&self) -> &CpuState {
        &self.state
    }

    /// This CPU's local APIC.
    pub fn apic(&self) -> &LocalApic {
        &self.apic
    }

    /// Instructions this CPU retired in the machine's runs and steps.
    pub fn retired(&self) -> u64 {
        self.retired
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

/// The CPUs of a machine that are not running, and the index of the one that is.
/// The running one lives outside (in `Machine::cpu`, in `Vmm::vcpu`) so that hot
/// paths reach it without an index; `parked` holds the others in index order.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct Parked<T> {
    /// Index of the running one.
    running: usize,
    /// The others, in index order.
    others: Vec<T>,
}

impl<T> Default for Parked<T> {
    fn default() -> Self {
        Parked {
            running: 0,
            others: Vec::new(),
        }
    }
}

impl<T> Parked<T> {
    /// How many there are, the running one included.
    pub(crate) fn count(&self) -> usize {
        self.others.len() + 1
    }

    /// The index of the running one.
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Number `i`, given the running one.
    pub(crate) fn get<'a>(&'a self, running: &'a T, i: usize) -> Option<&'a T> {
        match i.cmp(&self.running) {
            Ordering::Equal => Some(running),
            Ordering::Less => self.others.get(i),
            Ordering::Greater => self.others.get(i - 1),
        }
    }

    /// Number `running` runs and `others` are parked, in index order (an index past
    /// the last is taken as the last).
    pub(crate) fn from_parts(running: usize, others: Vec<T>) -> Parked<T> {
        Parked {
            running: running.min(others.len()),
            others,
        }
    }

    /// Number `i`, mutably, given the running one.
    pub(crate) fn get_mut<'a>(&'a mut self, running: &'a mut T, i: usize) -> Option<&'a mut T> {
        match i.cmp(&self.running) {
            Ordering::Equal => Some(running),
            Ordering::Less => self.others.get_mut(i),
            Ordering::Greater => self.others.get_mut(i - 1),
        }
    }

    /// The parked ones (in index order, without the running one).
    pub(crate) fn others(&self) -> impl Iterator<Item = &T> {
        self.others.iter()
    }

    /// The parked ones, mutably (in index order, without the running one).
    pub(crate) fn others_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.others.iter_mut()
    }

    /// Adds one with the next index and returns that index.
    pub(crate) fn push(&mut self, t: T) -> usize {
        self.others.push(t);
        self.others.len()
    }

    /// Parks `running` and puts number `i` in its place; `None` when there is no
    /// number `i`, else the index that left.
    pub(crate) fn switch(&mut self, running: &mut T, i: usize) -> Option<usize> {
        let c = self.running;
        if i == c {
            return Some(c);
        }
        let slot = if i < c { i } else { i - 1 };
        if slot >= self.others.len() {
            return None;
        }
        let incoming = self.others.remove(slot);
        let outgoing = core::mem::replace(running, incoming);
        let pos = if i < c { c - 1 } else { c };
        self.others.insert(pos, outgoing);
        self.running = i;
        Some(c)
    }
}
