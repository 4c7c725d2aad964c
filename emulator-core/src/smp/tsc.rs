//! Each vCPU's time stamp counter under a VMM: the per-vCPU TSC offset (as VT-x's
//! TSC-offset field) and the host's policy for it, synchronized or drifting.
//!
//! The machine's clock (`CpuState::tsc` of the running CPU) is physical time: it goes
//! on from CPU to CPU and every device and APIC timer runs on it. A guest's RDTSC reads
//! that clock plus its vCPU's offset. On the bare machine, and under a VMM with the
//! `sync` policy (what KVM does), every offset is zero, so all CPUs read one counter.
//! With `drift` the host leaves a vCPU's counter stopped while it takes the vCPU off
//! its CPU: when the host time-slices the vCPUs (`--host-slice`), each scheduling-in
//! lowers the vCPU's offset by the time it was off, and co-scheduling lowers every
//! offset by the time the whole VM was off. vCPUs off for different times then read
//! counters that drift apart, and a guest that compares them sees one go backwards.

use serde::{Deserialize, Serialize};

use crate::error::HostError;
use crate::machine::Machine;

/// What the host does with the TSC of a vCPU it deschedules.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TscPolicy {
    /// Every vCPU reads the host's clock through one offset: the counters stay in step.
    #[default]
    Sync,
    /// A vCPU's counter stops while the host has it off: the counters drift apart.
    Drift,
}

impl TscPolicy {
    /// Both policies, the default first.
    pub const ALL: [TscPolicy; 2] = [TscPolicy::Sync, TscPolicy::Drift];

    /// `sync` or `drift`.
    pub const fn name(self) -> &'static str {
        match self {
            TscPolicy::Sync => "sync",
            TscPolicy::Drift => "drift",
        }
    }
}

crate::named::by_name!(TscPolicy, "TSC policy");

/// One CPU's time stamp counter as its guest reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TscView {
    /// The value RDTSC gives on this CPU now (stopped while the host has it off).
    pub tsc: u64,
    /// The VMM's TSC offset for this vCPU (0 on the bare machine).
    pub offset: i64,
}

impl Machine {
    /// Sets what the host does with a descheduled vCPU's TSC; `drift` needs a VMM.
    pub fn set_tsc_policy(&mut self, p: TscPolicy) -> Result<(), HostError> {
        if p == TscPolicy::Drift && self.vmm.is_none() {
            return Err(HostError::BadConfig(
                "a drifting TSC is a VMM's policy for its vCPUs: it applies only under a VMM (--mode)"
                    .into(),
            ));
        }
        self.host.tsc = p;
        Ok(())
    }

    /// What the host does with a descheduled vCPU's TSC.
    pub fn tsc_policy(&self) -> TscPolicy {
        self.host.tsc
    }

    /// The host stops vCPUs' counters: a VMM whose policy is `drift`.
    pub(super) fn tsc_drifts(&self) -> bool {
        self.host.tsc == TscPolicy::Drift && self.vmm.is_some()
    }

    /// The host stops a vCPU's counter while it runs the others in their slices.
    pub(super) fn tsc_stops(&self) -> bool {
        let s = self.host.schedule;
        self.tsc_drifts() && s.slice > 0 && !s.cosched
    }

    /// CPU `i`'s time stamp counter and offset (`None` past the last CPU).
    pub fn tsc_of(&self, i: usize) -> Option<TscView> {
        self.cpu_at(i)?;
        let now = self.cpu.tsc;
        let Some(v) = self.vmm.as_deref().and_then(|v| v.vcpu_at(i)) else {
            return Some(TscView {
                tsc: now,
                offset: 0,
            });
        };
        let stopped = v
            .tsc_stopped_at
            .filter(|_| self.tsc_stops() && i != self.current_cpu());
        Some(TscView {
            tsc: stopped.unwrap_or(now).wrapping_add(v.tsc_offset),
            offset: v.tsc_offset as i64,
        })
    }

    /// The largest difference between two CPUs' time stamp counters now.
    pub fn tsc_drift(&self) -> u64 {
        let t: alloc::vec::Vec<u64> = (0..self.cpu_count())
            .filter_map(|i| self.tsc_of(i))
            .map(|v| v.tsc)
            .collect();
        let lo = t.iter().copied().min().unwrap_or(0);
        let hi = t.iter().copied().max().unwrap_or(0);
        hi - lo
    }

    /// The running vCPU's TSC offset (0 on the bare machine): RDTSC adds it.
    #[inline]
    pub(crate) fn tsc_offset_now(&self) -> u64 {
        self.vmm.as_deref().map_or(0, |v| v.vcpu.tsc_offset)
    }

    /// The host takes the running vCPU off at `now`.
    pub(crate) fn tsc_leave(&mut self, now: u64) {
        self.apic_timer_leave(now);
        if let Some(v) = self.vmm.as_deref_mut() {
            v.vcpu.tsc_stopped_at = Some(now);
        }
    }

    /// The host puts the running vCPU on at `now`: under `drift` with a host slice, the
    /// time it was off comes off its offset.
    pub(crate) fn tsc_enter(&mut self, now: u64) {
        self.apic_timer_enter(now);
        let drifts = self.tsc_stops();
        if let Some(v) = self.vmm.as_deref_mut() {
            if let Some(t) = v.vcpu.tsc_stopped_at.take().filter(|_| drifts) {
                v.vcpu.tsc_offset = v.vcpu.tsc_offset.wrapping_sub(now.saturating_sub(t));
            }
        }
    }

    /// Co-scheduling took the whole VM off for `off` ticks: under `drift` every vCPU's
    /// counter stood still for them.
    pub(crate) fn tsc_gang_off(&mut self, off: u64) {
        self.apic_timer_gang_off(off);
        if !self.tsc_drifts() {
            return;
        }
        if let Some(v) = self.vmm.as_deref_mut() {
            for c in v.vcpus_mut() {
                c.tsc_offset = c.tsc_offset.wrapping_sub(off);
            }
        }
    }
}
