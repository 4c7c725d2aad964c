//! The host's side of several vCPUs under a VMM: its time slice per vCPU, co-scheduling,
//! pause-loop exiting, and the spin-wait and TLB-shootdown accounting that shows them.
//!
//! Without a host slice the vCPUs interleave at the machine's quantum, as on as many
//! physical CPUs. With one, the host time-slices them: each runs `slice` instructions
//! before the next, so a vCPU descheduled inside a critical section leaves the others
//! spinning for whole slices (lock-holder preemption). The cures: pause-loop exiting
//! (hardware assistance) ends a spinning vCPU's slice once its PAUSE loop outlasts the
//! window; co-scheduling runs the vCPUs together (at the quantum) for `slice`
//! instructions and then deschedules all of them at once for as long, so none spins
//! on a sibling that is off.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::HostError;
use crate::machine::Machine;
use crate::stop::StopReason;
use crate::ExecMode;

/// PAUSEs at most this many instructions apart on one CPU belong to one spin loop.
pub const PAUSE_GAP: u64 = 64;

/// The pause-loop window `--ple` uses: instructions a PAUSE loop may run before it exits.
pub const DEFAULT_PLE_WINDOW: u64 = 500;

/// How the host schedules a machine's vCPUs under a VMM (nothing changes when bare).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct HostSchedule {
    /// Instructions the host runs one vCPU before the next; 0 for none (the vCPUs
    /// interleave at the machine's quantum).
    pub slice: u64,
    /// Co-scheduling: the vCPUs run together for `slice` instructions, then all are off
    /// for `slice` ticks of virtual time.
    pub cosched: bool,
    /// Pause-loop exiting (hardware assistance): a PAUSE loop longer than this many
    /// instructions exits (`pause-loop`) and ends the vCPU's slice; 0 for off.
    pub ple_window: u64,
}

impl HostSchedule {
    /// Why the host cannot schedule a machine in `mode` so, or `None` when it can: a
    /// slice or co-scheduling needs a VMM, co-scheduling a slice, and pause-loop
    /// exiting hardware assistance.
    pub fn refusal(&self, mode: ExecMode) -> Option<&'static str> {
        if (self.slice > 0 || self.cosched || self.ple_window > 0) && mode == ExecMode::Bare {
            return Some(
                "a host slice, co-scheduling and pause-loop exiting apply only under a VMM (--mode)",
            );
        }
        if self.cosched && self.slice == 0 {
            return Some("co-scheduling needs a host slice (--host-slice N)");
        }
        if self.ple_window > 0 && !matches!(mode, ExecMode::HwAssist { .. }) {
            return Some(
                "pause-loop exiting is a hardware-assistance exit control (--mode hw-assist)",
            );
        }
        None
    }
}

/// Where the host has a vCPU, as the lab's CPU strip shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum HostState {
    /// On a physical CPU (or the machine is bare, or the host does not time-slice).
    Running,
    /// Runnable, but the host runs another vCPU of the machine in its slice.
    Descheduled,
    /// On a physical CPU, in a PAUSE loop.
    Spinning,
}

impl HostState {
    /// The name the strip and the demo claims use.
    pub const fn name(self) -> &'static str {
        match self {
            HostState::Running => "running",
            HostState::Descheduled => "descheduled",
            HostState::Spinning => "spinning",
        }
    }
}

/// One CPU's PAUSE-loop tracking.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SpinWatch {
    /// The machine's instruction count at its last PAUSE (`None` before the first).
    last_pause: Option<u64>,
    /// The instruction count at the first PAUSE of its current loop.
    loop_start: u64,
    /// The machine's instruction count when its last turn ended (`None` before).
    left_at: Option<u64>,
    /// Instructions it spent in PAUSE loops.
    spun: u64,
}

/// The host scheduler's settings and running state (part of a snapshot).
#[derive(Clone, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HostSched {
    pub(crate) schedule: HostSchedule,
    watches: Vec<SpinWatch>,
    /// Instructions left in the co-scheduled VM's current slice.
    gang_left: u64,
    /// Vectors that reached some CPU as a fixed IPI.
    ipi_vectors: [u32; 8],
    /// What the host does with a descheduled vCPU's TSC (`tsc.rs`).
    pub(crate) tsc: super::TscPolicy,
}

impl HostSched {
    /// Marks `vector` as one that arrives by IPI.
    pub(crate) fn note_ipi_vector(&mut self, vector: u8) {
        self.ipi_vectors[vector as usize / 32] |= 1 << (vector % 32);
    }
}

impl Machine {
    /// Sets how the host schedules the vCPUs. A slice or co-scheduling needs a VMM;
    /// pause-loop exiting needs hardware assistance ([`HostSchedule::refusal`]).
    pub fn set_host_schedule(&mut self, s: HostSchedule) -> Result<(), HostError> {
        let mode = self.vmm.as_deref().map_or(ExecMode::Bare, |v| v.mode());
        if let Some(why) = s.refusal(mode) {
            return Err(HostError::BadConfig(why.into()));
        }
        self.host.schedule = s;
        self.host.gang_left = s.slice;
        Ok(())
    }

    /// How the host schedules the vCPUs.
    pub fn host_schedule(&self) -> HostSchedule {
        self.host.schedule
    }

    /// Where the host has CPU `i`: descheduled when the host time-slices the vCPUs
    /// and runs another one (a halted CPU or one waiting for SIPI counts as running
    /// nothing), spinning when its last instructions were a PAUSE loop.
    pub fn host_state(&self, i: usize) -> HostState {
        let s = self.host.schedule;
        let current = self.current_cpu();
        let sliced = self.vmm.is_some() && s.slice > 0 && !s.cosched;
        let waiting = self
            .cpu_at(i)
            .is_some_and(|c| c.apic.wait_for_sipi || c.state.halted);
        if sliced && i != current && !waiting {
            return HostState::Descheduled;
        }
        let spinning = self.host.watches.get(i).is_some_and(|w| {
            let end = if i == current {
                Some(self.icount)
            } else {
                w.left_at
            };
            match (w.last_pause, end) {
                (Some(p), Some(e)) => w.loop_start < p && e.saturating_sub(p) <= PAUSE_GAP,
                _ => false,
            }
        });
        if spinning && !waiting {
            HostState::Spinning
        } else {
            HostState::Running
        }
    }

    /// Instructions CPU `i` spent in PAUSE loops.
    pub fn spin_instructions_of(&self, i: usize) -> u64 {
        self.host.watches.get(i).map_or(0, |w| w.spun)
    }

    /// The running CPU's turn ends now (for [`Machine::host_state`]).
    pub(crate) fn note_turn_end(&mut self) {
        let i = self.current_cpu();
        if self.host.watches.len() <= i {
            self.host.watches.resize(i + 1, SpinWatch::default());
        }
        self.host.watches[i].left_at = Some(self.icount);
    }

    /// Instructions the next vCPU runs before the next switch: the host's slice when
    /// it time-slices the vCPUs, else the machine's quantum.
    pub(crate) fn turn_length(&self) -> u64 {
        let s = self.host.schedule;
        if self.vmm.is_some() && s.slice > 0 && !s.cosched {
            s.slice
        } else {
            self.cfg.quantum
        }
    }

    /// Co-scheduling: after `used` instructions of the VM, when its slice is over the
    /// whole VM is off for a slice of virtual time.
    pub(crate) fn gang_account(&mut self, used: u64) {
        let s = self.host.schedule;
        if !(s.cosched && s.slice > 0 && self.vmm.is_some()) {
            return;
        }
        if used < self.host.gang_left {
            self.host.gang_left -= used;
            return;
        }
        self.host.gang_left = s.slice;
        self.tsc_gang_off(s.slice);
        self.cpu.tsc += s.slice;
        self.platform.advance(self.cpu.tsc);
        self.refresh_platform();
    }

    /// PAUSE: counts the instructions of a spin loop, and under pause-loop exiting ends
    /// the vCPU's slice once the loop is longer than the window.
    pub(crate) fn op_pause(&mut self) {
        let i = self.current_cpu();
        let now = self.icount;
        let scheduled = self.scheduled();
        if self.host.watches.len() <= i {
            self.host.watches.resize(i + 1, SpinWatch::default());
        }
        let w = &mut self.host.watches[i];
        let gap = w.last_pause.map(|p| now.saturating_sub(p));
        w.last_pause = Some(now);
        let Some(gap) = gap.filter(|&g| g <= PAUSE_GAP) else {
            w.loop_start = now;
            return;
        };
        self.counters.spin_instructions += gap;
        w.spun += gap;
        let window = self.host.schedule.ple_window;
        if window == 0 || now - w.loop_start < window || !scheduled {
            return;
        }
        w.loop_start = now;
        let Some(mut vmm) = self.vmm.take() else {
            return;
        };
        vmm.pause_loop_exit(
            &self.cpu.state,
            alloc::format!("a PAUSE loop ran {window} instructions: the host runs the next vCPU"),
        );
        self.settle_vmm(&mut vmm);
        self.vmm = Some(vmm);
        if self.stop.is_none() {
            // the vCPU gives up the rest of its slice, as a halted one does
            self.stop = Some(StopReason::Halted);
        }
    }

    /// INVLPG or a CR3 load: counted as a shootdown's remote half when the CPU is
    /// serving a vector that arrived by IPI.
    pub(crate) fn note_tlb_invalidation(&mut self) {
        let isr = &self.cpu.apic.isr;
        if isr
            .iter()
            .zip(self.host.ipi_vectors.iter())
            .any(|(s, v)| s & v != 0)
        {
            self.counters.shootdowns += 1;
        }
    }
}
