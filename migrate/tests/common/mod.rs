//! The workloads of `guests/migrate/`, assembled, and machines that run them.

#![allow(dead_code)]

use std::path::PathBuf;

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};

fn guests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests")
}

/// The workload `name` (`idle`, `moderate`, `diabolical`), ending after `end_ticks`
/// timer ticks (a multiple of 64).
pub fn workload(name: &str, end_ticks: u32) -> Vec<u8> {
    let path = guests().join("migrate").join(format!("{name}.asm"));
    let src = std::fs::read_to_string(&path).expect("workload source");
    let include = |n: &str| -> Option<String> {
        ["migrate", "include"]
            .iter()
            .find_map(|d| std::fs::read_to_string(guests().join(d).join(n)).ok())
    };
    let opts = vmlab_asm::Options {
        defines: vec![("END_TICKS".into(), Some(end_ticks.to_string()))],
        include: Some(&include),
        ..Default::default()
    };
    match vmlab_asm::assemble(&path.display().to_string(), &src, &opts) {
        Ok(o) => o.bytes,
        Err(e) => panic!("{name} does not assemble:\n{e}"),
    }
}

/// A machine of `ram_mib` MiB in `mode` with the workload loaded.
pub fn machine(name: &str, end_ticks: u32, ram_mib: u32, mode: ExecMode) -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_mib,
        mode,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.load_flat(0x10000, &workload(name, end_ticks), FlatEntry::Protected32)
        .expect("loads");
    m
}

/// Runs `m` until it stops for good (the workloads halt with interrupts off).
pub fn run_to_end(m: &mut Machine) -> StopReason {
    for _ in 0..10_000 {
        let r = m.run(10_000_000);
        if r != StopReason::BudgetExhausted {
            return r;
        }
    }
    panic!("the workload did not end");
}
