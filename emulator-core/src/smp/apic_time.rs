//! Each vCPU's local APIC timer on its own virtual time under the `drift` TSC policy.
//!
//! Under `sync` (and on the bare machine) every APIC timer counts the machine's clock.
//! Under `drift`, when the host time-slices the vCPUs, a vCPU it preempts (takes off
//! while it could still run) keeps its timer standing still until it is back: the
//! timer's deadline moves by the time the vCPU was off, so its ticks arrive late and
//! fewer of them fall in the same stretch of the machine's time, as on a host that
//! does not catch up. A halted vCPU waits for its interrupt, not for the host, so its
//! timer goes on. Co-scheduling that takes the whole VM off moves every timer.

use crate::machine::Machine;

impl Machine {
    /// The host takes the running vCPU off at `now`: under `drift` with a host slice,
    /// its timer stops when it could still run.
    pub(crate) fn apic_timer_leave(&mut self, now: u64) {
        let stops = self.tsc_stops() && !self.cpu.state.halted;
        if let Some(v) = self.vmm.as_deref_mut() {
            v.vcpu.timer_stopped_at = stops.then_some(now);
        }
    }

    /// The host puts the running vCPU back at `now`: its timer resumes where it stood.
    pub(crate) fn apic_timer_enter(&mut self, now: u64) {
        let stops = self.tsc_stops();
        let Some(v) = self.vmm.as_deref_mut() else {
            return;
        };
        if let Some(t) = v.vcpu.timer_stopped_at.take().filter(|_| stops) {
            self.cpu.apic.delay(now.saturating_sub(t));
        }
    }

    /// The time CPU `i`'s APIC timer has reached when the machine's clock reads `now`:
    /// where it stopped while the host has it preempted under `drift`, else `now`.
    pub(crate) fn apic_timer_now(&self, i: usize, now: u64) -> u64 {
        if i == self.current_cpu() || !self.tsc_stops() {
            return now;
        }
        self.vmm
            .as_deref()
            .and_then(|v| v.vcpu_at(i))
            .and_then(|v| v.timer_stopped_at)
            .map_or(now, |t| t.min(now))
    }

    /// Co-scheduling took the whole VM off for `off` ticks: under `drift` every vCPU's
    /// APIC timer stood still for them.
    pub(crate) fn apic_timer_gang_off(&mut self, off: u64) {
        if !self.tsc_drifts() {
            return;
        }
        self.cpu.apic.delay(off);
        for c in self.parked_cpus_mut() {
            c.apic.delay(off);
        }
    }
}
