//! Stopping before compiled code runs: the staged entry (region and pc), its frame
//! loaded into the JIT's machine so that the lab's machine panels can step the x86,
//! and the bytecode pc each address of compiled code belongs to.

use alloc::format;
use alloc::rc::Rc;

use emulator_core::Machine;

use super::{enter, Jit, Region};
use crate::interp::Vm;
use crate::JvmError;

/// Compiled code the VM stopped before: the region (an index into `Jit::regions`)
/// and the bytecode pc it is entered at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Staged {
    pub region: usize,
    pub pc: usize,
    /// Whether the frame is loaded into the JIT's machine ([`Vm::load_staged`]).
    pub loaded: bool,
}

impl Region {
    /// Whether `addr` is in this region's code.
    pub fn contains(&self, addr: u32) -> bool {
        addr >= self.base && u64::from(addr) < u64::from(self.base) + self.bytes.len() as u64
    }

    /// The bytecodes whose x86 holds `addr`, first and last (several when the first
    /// ones compile to no instruction of their own); `None` outside the region and in
    /// its out-of-line exits.
    pub fn bytecode_pcs(&self, addr: u32) -> Option<(usize, usize)> {
        if !self.contains(addr) || addr >= self.stubs {
            return None;
        }
        let at = self.pcs.values().filter(|&&a| a <= addr).max()?;
        let mut pcs = self.pcs.iter().filter(|(_, a)| *a == at).map(|(&p, _)| p);
        let first = pcs.next()?;
        Some((first, pcs.next_back().unwrap_or(first)))
    }
}

impl Jit {
    /// The region whose code holds `addr`, with its index.
    pub fn region_at(&self, addr: u32) -> Option<(usize, &Rc<Region>)> {
        self.regions
            .iter()
            .enumerate()
            .find(|(_, r)| r.contains(addr))
    }
}

impl Vm<'_> {
    /// Loads the top frame into the JIT's machine for the staged region, EIP at the
    /// x86 of the staged pc, and returns the machine (to step or to show in the
    /// panels). Nothing is staged: `Ok(None)`. Stepping it changes nothing the VM
    /// sees: entering the staged code loads the frame again.
    pub fn load_staged(&mut self) -> Result<Option<&Machine>, JvmError> {
        let Some(s) = self.jit.staged else {
            return Ok(None);
        };
        let region = self
            .jit
            .regions
            .get(s.region)
            .cloned()
            .ok_or_else(|| JvmError(format!("no compiled region {}", s.region)))?;
        if !enter::load_frame(self, &region, s.pc)? {
            return Err(JvmError(format!(
                "the frame of {} at pc {} does not fit its compiled code",
                region.title, s.pc
            )));
        }
        self.jit.staged = Some(Staged { loaded: true, ..s });
        Ok(self.jit.machine_ref())
    }

    /// The JIT's machine, to step the staged code in (see [`Vm::load_staged`]).
    pub fn jit_machine_mut(&mut self) -> Option<&mut Machine> {
        self.jit.machine.as_mut()
    }

    /// Enters the staged compiled code under `budget`, as the run would have; returns
    /// the x86 instructions it retired (0: nothing staged).
    pub fn enter_staged(&mut self, budget: u64) -> Result<u64, JvmError> {
        let Some(s) = self.jit.staged.take() else {
            return Ok(0);
        };
        let Some(region) = self.jit.regions.get(s.region).cloned() else {
            return Ok(0);
        };
        enter::enter(self, &region, s.pc, budget)
    }
}
