//! Several CPUs in one machine: the deterministic round-robin scheduler, start-up of
//! the application processors, and (in `apic_bus.rs`) the APIC pages and IPIs.
//!
//! A machine built with `cpus` above one runs its CPUs in turn, `quantum`
//! instructions each, on one virtual clock (the time stamp counter goes on from CPU
//! to CPU). A quantum ends only between instructions, so a LOCK'd instruction or an
//! XCHG with memory is atomic; a REP string instruction may yield between two of its
//! iterations, as on hardware, its registers keeping its progress. A halted CPU
//! gives up the rest of its quantum. When every CPU is halted, time skips to the
//! next timer that can wake one. Nothing depends on the host, so the same
//! configuration and the same guest always give the same run.

mod apic_bus;
mod apic_time;
mod host;
mod tsc;

pub(crate) use host::HostSched;
pub use host::{HostSchedule, HostState, DEFAULT_PLE_WINDOW, PAUSE_GAP};
pub use tsc::{TscPolicy, TscView};

use crate::devices::apic::{build_mp_table, MP_FLOATING_ADDR};
use crate::error::HostError;
use crate::machine::Machine;
use crate::state::flags;
use crate::stop::StopReason;

/// The `irq` an interrupt event names when the local APIC delivered it.
pub const APIC_IRQ: u8 = 0xff;

/// Scheduler rounds in a row that ran nothing before a run reports every CPU halted
/// (for example a timer that fires into a masked or blocked vector).
const IDLE_ROUNDS: u32 = 64;

impl Machine {
    /// The machine schedules its CPUs itself (it was built with several).
    #[inline]
    pub(crate) fn scheduled(&self) -> bool {
        self.cfg.cpus > 1
    }

    /// Adds the configured application processors, holds them for INIT/SIPI and
    /// writes the MP table that lists them.
    pub(crate) fn set_up_processors(&mut self) -> Result<(), HostError> {
        for _ in 1..self.cfg.cpus {
            self.add_cpu();
        }
        if self.scheduled() {
            let table = build_mp_table(self.cfg.cpus as u8);
            self.mem.write_bytes(MP_FLOATING_ADDR, &table)?;
            self.hold_application_processors();
            self.slice_left = self.turn_length();
        }
        Ok(())
    }

    /// Every CPU but CPU 0 waits for a start-up IPI (after RESET or INIT).
    pub(crate) fn hold_application_processors(&mut self) {
        if !self.scheduled() {
            return;
        }
        for i in 1..self.cpu_count() {
            if let Some(c) = self.parked.get_mut(&mut self.cpu, i) {
                c.apic.wait_for_sipi = true;
                c.state.halted = true;
            }
        }
        self.update_attention();
    }

    /// The virtual clock: the running CPU's time stamp counter, which never falls
    /// behind another CPU's.
    fn now(&self) -> u64 {
        self.cpu.tsc
    }

    /// CPU `i` can run now: it is not waiting for SIPI, and it is not halted or an
    /// interrupt it accepts is pending. Its APIC timer is brought up to now first.
    fn runnable(&mut self, i: usize) -> bool {
        let now = self.apic_timer_now(i, self.now());
        let running = self.current_cpu();
        let pic = i == 0 && self.platform.interrupt_pending();
        let eflags = if i == running {
            self.eflags()
        } else {
            self.cpu_at(i).map_or(0, |c| c.state.eflags)
        };
        let Some(c) = self.parked.get_mut(&mut self.cpu, i) else {
            return false;
        };
        c.apic.advance(now);
        if c.apic.wait_for_sipi {
            return false;
        }
        if !c.state.halted {
            return true;
        }
        let pending = c.apic.pending().is_some() || (pic && c.apic.passes_pic());
        pending && eflags & flags::IF != 0
    }

    /// The next virtual time at which a halted CPU with interrupts enabled can be
    /// woken by its APIC timer or (CPU 0) the platform's timer.
    fn next_wakeup(&self) -> Option<u64> {
        let mut t = u64::MAX;
        for (i, c) in self.cpus().enumerate() {
            let eflags = if i == self.current_cpu() {
                self.eflags()
            } else {
                c.state.eflags
            };
            if c.apic.wait_for_sipi || eflags & flags::IF == 0 {
                continue;
            }
            t = t.min(c.apic.timer_deadline);
            // the platform's timer reaches CPU 0 through the 8259, or any CPU
            // through the I/O APIC
            t = t.min(self.platform.next_deadline().unwrap_or(u64::MAX));
        }
        (t != u64::MAX).then_some(t)
    }

    /// Runs the CPUs in turn for at most `budget` instructions in all.
    pub(crate) fn run_scheduled(
        &mut self,
        budget: u64,
        use_breakpoints: bool,
    ) -> Option<StopReason> {
        let mut left = budget;
        let mut idle = 0u32;
        while left > 0 {
            let current = self.current_cpu();
            if self.slice_left == 0 || !self.runnable(current) {
                let n = self.cpu_count();
                let next = (1..=n)
                    .map(|k| (current + k) % n)
                    .find(|&i| self.runnable(i));
                match next {
                    Some(i) => {
                        self.note_turn_end();
                        self.switch_cpu(i);
                        self.slice_left = self.turn_length();
                    }
                    None => {
                        idle += 1;
                        match self.next_wakeup() {
                            Some(t) if idle < IDLE_ROUNDS => {
                                self.cpu.tsc = self.cpu.tsc.max(t);
                                self.platform.advance(self.cpu.tsc);
                                self.refresh_platform();
                                continue;
                            }
                            _ => return Some(StopReason::Halted),
                        }
                    }
                }
            }
            let slice = left.min(self.slice_left);
            let mut rest = slice;
            self.refresh_platform();
            self.enter();
            let before = self.icount;
            let r = self.run_loop(&mut rest, use_breakpoints);
            self.cpu.retired += self.icount - before;
            self.leave();
            let used = slice - rest;
            left -= used;
            self.slice_left -= used;
            self.gang_account(used);
            if used > 0 {
                idle = 0;
            }
            match r {
                Some(StopReason::Halted) => {
                    self.slice_left = 0;
                    if used == 0 {
                        idle += 1;
                        if idle >= IDLE_ROUNDS {
                            return Some(StopReason::Halted);
                        }
                    }
                }
                Some(s) => return Some(s),
                None => {}
            }
        }
        None
    }
}
