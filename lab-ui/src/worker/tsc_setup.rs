//! The lab machine's host slice and TSC policy (kept in [`crate::smp::Smp`]), set on
//! each machine the worker builds; they apply only under a VMM with several vCPUs.

use emulator_core::smp::HostSchedule;
use emulator_core::Machine;

/// Sets `smp`'s host slice and TSC policy on `m` when it has a VMM and several CPUs
/// (the bare machine's counters are always in step).
pub fn apply(m: &mut Machine, smp: crate::smp::Smp) -> Result<(), String> {
    if m.vmm().is_none() || m.cpu_count() < 2 {
        return Ok(());
    }
    if smp.host_slice > 0 {
        m.set_host_schedule(HostSchedule {
            slice: smp.host_slice,
            ..m.host_schedule()
        })
        .map_err(|e| format!("host slice: {e}"))?;
    }
    m.set_tsc_policy(smp.tsc)
        .map_err(|e| format!("TSC policy: {e}"))
}
