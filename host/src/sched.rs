//! The proportional-share credit scheduler (as in Xen): credits by weight each accounting period, VMs under their credit first, caps, round robin within a class.

use crate::vm::{Vm, VmState};

/// The scheduler's parameters, in cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditScheduler {
    /// The accounting period.
    pub period: u64,
    /// The longest slice.
    pub slice: u64,
}

impl CreditScheduler {
    /// Gives each runnable VM its share of one period by weight (credit is kept to at
    /// most one period) and starts a new period for the caps.
    pub fn refill(&self, vms: &mut [Vm]) {
        let total: u64 = vms
            .iter()
            .filter(|v| v.state == VmState::Running)
            .map(|v| u64::from(v.spec.weight))
            .sum();
        for v in vms.iter_mut() {
            v.period_used = 0;
            if v.state != VmState::Running || total == 0 {
                continue;
            }
            let share = self.period * u64::from(v.spec.weight) / total;
            v.credit = (v.credit + share as i64).min(self.period as i64);
        }
    }

    /// Cycles `vm` may still run in this period under its cap (`None`: no cap).
    pub fn cap_left(&self, vm: &Vm) -> Option<u64> {
        (vm.spec.cap > 0).then(|| {
            (self.period * u64::from(vm.spec.cap.min(100)) / 100).saturating_sub(vm.period_used)
        })
    }

    /// The VM to run next: a runnable VM under its cap, those with credit left first,
    /// the one that waited longest within a class. `None`: the CPU idles.
    pub fn pick(&self, vms: &[Vm]) -> Option<usize> {
        let eligible = |v: &Vm| v.state == VmState::Running && self.cap_left(v) != Some(0);
        let oldest = |under: bool| {
            vms.iter()
                .enumerate()
                .filter(|(_, v)| eligible(v) && (v.credit > 0) == under)
                .min_by_key(|(_, v)| v.last_ran)
                .map(|(i, _)| i)
        };
        oldest(true).or_else(|| oldest(false))
    }

    /// The slice for `vm`: the longest slice, shortened by its cap.
    pub fn budget(&self, vm: &Vm) -> u64 {
        let b = self.slice.max(1);
        match self.cap_left(vm) {
            Some(left) => b.min(left).max(1),
            None => b,
        }
    }
}
