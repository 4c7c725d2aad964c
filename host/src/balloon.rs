//! The balloon's host side: set a VM's target, and act on the pages its driver gave back (reclaim the host frame) or took again (back it on the next write).

use crate::vm::Vm;

/// Asks `vm`'s balloon driver to hold `pages` pages.
pub fn set_target(vm: &mut Vm, pages: u32) {
    if let Some(v) = vm.machine.vmm_mut() {
        v.balloon.target = pages;
    }
}

/// Acts on the driver's calls since the last time: returns (reclaimed, returned).
pub fn settle(vm: &mut Vm) -> (u64, u64) {
    let ops = match vm.machine.vmm_mut() {
        Some(v) => v.balloon.drain(),
        None => return (0, 0),
    };
    let (mut reclaimed, mut returned) = (0, 0);
    for op in ops {
        let gfn = op.gfn as usize;
        if gfn >= vm.ballooned.len() {
            continue;
        }
        if op.give {
            if vm.ballooned[gfn] {
                continue;
            }
            if vm.swap.remove(&op.gfn).is_some() || vm.swapped_in[gfn] {
                vm.mem.double_paged += 1;
            }
            vm.swapped_in[gfn] = false;
            vm.machine.set_pooled_frame(gfn, None);
            vm.ballooned[gfn] = true;
            reclaimed += 1;
        } else if vm.ballooned[gfn] {
            vm.ballooned[gfn] = false;
            returned += 1;
        }
    }
    vm.mem.balloon_reclaimed += reclaimed;
    vm.mem.balloon_returned += returned;
    (reclaimed, returned)
}
