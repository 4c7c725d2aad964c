//! The host's pool of machine frames: how many distinct host frames the VMs' frame tables hold, against the pool's size.

use alloc::collections::BTreeSet;
use alloc::sync::Arc;

use crate::vm::{Vm, VmState};

/// Host frames in use by `vms`: each distinct frame once, however many guest frames
/// share it. Swapped-out frames live in the swap area, not in the pool.
pub fn frames_in_use(vms: &[Vm]) -> u64 {
    let mut single = 0u64;
    let mut shared = BTreeSet::new();
    for vm in vms.iter().filter(|v| v.state != VmState::Destroyed) {
        let Some(ram) = vm.machine.pooled_ram() else {
            continue;
        };
        for f in ram.slots().iter().flatten() {
            if Arc::strong_count(f) == 1 {
                single += 1;
            } else {
                shared.insert(Arc::as_ptr(f) as usize);
            }
        }
    }
    single + shared.len() as u64
}

/// Guest frames the VMs' guests have backed or swapped: what the host would need
/// without sharing.
pub fn frames_without_sharing(vms: &[Vm]) -> u64 {
    vms.iter()
        .filter(|v| v.state != VmState::Destroyed)
        .map(|v| {
            let backed = v.machine.pooled_ram().map_or(0, |r| r.backed());
            backed as u64 + v.swap.len() as u64
        })
        .sum()
}
