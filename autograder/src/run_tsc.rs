//! The time stamp counters in `vmlab run`'s reports: each CPU's TSC, its VMM's offset
//! and its APIC timer's ticks, the host's TSC policy and the drift between the CPUs.

use emulator_core::Machine;
use serde_json::{json, Value};

/// CPU `i`'s `tsc` entry: the value its RDTSC gives, its offset, and the interrupts
/// its APIC timer raised (on the vCPU's own time under the `drift` policy).
pub fn cpu_tsc(m: &Machine, i: usize) -> Value {
    let t = m.tsc_of(i).unwrap_or_default();
    let ticks = m.cpu_at(i).map_or(0, |c| c.apic().timer_fired);
    json!({ "value": t.tsc, "offset": t.offset, "apic_timer_ticks": ticks })
}

/// The report's `tsc`: the host's policy and the drift between the CPUs' counters.
pub fn report(m: &Machine) -> Value {
    json!({ "policy": m.tsc_policy().name(), "drift": m.tsc_drift() })
}

/// The text mode's line for several CPUs: each CPU's TSC (and offset under a VMM)
/// and the drift, the largest difference between two of them.
pub fn summary(m: &Machine) -> Option<String> {
    if m.cpu_count() < 2 {
        return None;
    }
    let cpus: Vec<String> = (0..m.cpu_count())
        .filter_map(|i| m.tsc_of(i).map(|t| (i, t)))
        .map(|(i, t)| match m.vmm() {
            Some(_) => format!("cpu {i} {} (offset {})", t.tsc, t.offset),
            None => format!("cpu {i} {}", t.tsc),
        })
        .collect();
    Some(format!(
        "tsc ({}): {}; drift {} ticks",
        m.tsc_policy().name(),
        cpus.join(", "),
        m.tsc_drift()
    ))
}
