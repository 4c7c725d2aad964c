//! The lab machine's TSC policy (kept in [`crate::smp::Smp`]), set on each machine the
//! worker builds after its host schedule; it applies only under a VMM with several vCPUs.

use emulator_core::Machine;

/// Sets `smp`'s TSC policy on `m` when it has a VMM and several CPUs (the bare
/// machine's counters are always in step).
pub fn apply(m: &mut Machine, smp: crate::smp::Smp) -> Result<(), String> {
    if m.vmm().is_none() || m.cpu_count() < 2 {
        return Ok(());
    }
    m.set_tsc_policy(smp.tsc)
        .map_err(|e| format!("TSC policy: {e}"))
}
