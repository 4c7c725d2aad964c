//! The host's pool of machine frames: how many distinct host frames the VMs' frame tables hold, against the pool's size.

use alloc::sync::Arc;

use crate::vm::{Vm, VmState};

/// Host frames in use by `vms`: each distinct frame once, however many guest frames
/// share it. Swapped-out frames live in the swap area, not in the pool.
///
/// The frame tables hold every reference to a frame between two runs, so a frame held
/// by `k` guest frames has a reference count of `k`: adding `1/k` for each guest frame
/// counts it once.
pub fn frames_in_use(vms: &[Vm]) -> u64 {
    let mut single = 0u64;
    let mut shared = 0f64;
    for vm in vms.iter().filter(|v| v.state != VmState::Destroyed) {
        let Some(ram) = vm.machine.pooled_ram() else {
            continue;
        };
        for f in ram.slots().iter().flatten() {
            match Arc::strong_count(f) {
                1 => single += 1,
                k => shared += 1.0 / k as f64,
            }
        }
    }
    single + shared.round() as u64
}

/// Guest frames backed by a host frame, counting a shared frame once per guest frame:
/// an upper bound of [`frames_in_use`] that costs nothing to compute.
pub fn frames_backed(vms: &[Vm]) -> u64 {
    vms.iter()
        .filter(|v| v.state != VmState::Destroyed)
        .map(|v| v.machine.pooled_ram().map_or(0, |r| r.backed()) as u64)
        .sum()
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
