//! Host swapping, the contrast to ballooning: when the pool is over its size the host writes private frames of descheduled VMs to its swap area, blind to what the guest keeps in them, and reads them back before the VM runs again.

use alloc::sync::Arc;

use crate::pool;
use crate::vm::{Vm, VmState};

/// Reads every swapped-out frame of `vm` back; returns how many.
pub fn swap_in_all(vm: &mut Vm) -> u64 {
    let swapped = core::mem::take(&mut vm.swap);
    let n = swapped.len() as u64;
    if let Some(ram) = vm.machine.pooled_ram_mut() {
        for (gfn, frame) in swapped {
            ram.replace(gfn as usize, Some(frame));
            if let Some(f) = vm.swapped_in.get_mut(gfn as usize) {
                *f = true;
            }
        }
    }
    vm.mem.swap_ins += n;
    n
}

/// Swaps out private frames of VMs other than `keep` until the pool holds at most
/// `capacity` frames; returns the frames still over (the running VM alone is bigger).
pub fn enforce(vms: &mut [Vm], capacity: u64, keep: usize) -> u64 {
    if pool::frames_backed(vms) <= capacity {
        return 0;
    }
    let mut in_use = pool::frames_in_use(vms);
    while in_use > capacity {
        let victim = vms
            .iter()
            .enumerate()
            .filter(|(i, v)| *i != keep && v.state != VmState::Destroyed)
            .map(|(i, v)| (i, v.machine.pooled_ram().map_or(0, |r| r.backed())))
            .filter(|&(_, backed)| backed > 0)
            .max_by_key(|&(_, backed)| backed)
            .map(|(i, _)| i);
        let Some(vi) = victim else {
            return in_use - capacity;
        };
        let freed = swap_out(&mut vms[vi], in_use - capacity);
        if freed == 0 {
            // only shared frames are left there: swap nothing more from it
            return in_use - capacity;
        }
        in_use -= freed;
    }
    0
}

/// Swaps out up to `want` private frames of `vm`, from the top of its RAM down.
fn swap_out(vm: &mut Vm, want: u64) -> u64 {
    let Some(ram) = vm.machine.pooled_ram_mut() else {
        return 0;
    };
    let mut done = 0;
    for gfn in (0..ram.frame_count()).rev() {
        if done == want {
            break;
        }
        if ram.slot(gfn).is_some_and(|f| Arc::strong_count(f) == 1) {
            if let Some(frame) = ram.replace(gfn, None) {
                vm.swap.insert(gfn as u32, frame);
                if let Some(f) = vm.swapped_in.get_mut(gfn) {
                    *f = false;
                }
                done += 1;
            }
        }
    }
    vm.mem.swap_outs += done;
    done
}
