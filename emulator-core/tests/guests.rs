//! The repository's guest programs on the bare machine: the CPU test ROM passes every
//! stage, the teaching kernel and the VMM demonstration guests run to their debug exit
//! with the output they print on real hardware.

mod common;

use emulator_core::{Machine, MachineConfig, StopReason};

fn run_rom(src: &str, ram_mib: u32, budget: u64) -> (StopReason, String, Machine) {
    let rom = common::nasm(src, &[]);
    let mut m = Machine::new(MachineConfig {
        ram_mib,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_rom(&rom).unwrap();
    let stop = m.run(budget);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    (stop, out, m)
}

#[test]
fn cpu_test_rom_passes_every_stage() {
    let (stop, out, m) = run_rom("guests/cputest/cputest.asm", 8, 10_000_000);
    assert!(
        out.contains("cputest: all stages passed"),
        "serial output:\n{out}"
    );
    assert_eq!(stop, StopReason::DebugExit(0), "serial output:\n{out}");
    let stages: Vec<u32> = m
        .post_writes()
        .iter()
        .filter(|w| w.port == 0x80)
        .map(|w| w.value)
        .collect();
    assert!(stages.len() >= 9, "POST codes: {stages:?}");
}

#[test]
fn teaching_kernel_runs_both_processes() {
    let (stop, out, m) = run_rom("guests/kernel/kernel.asm", 16, 50_000_000);
    assert_eq!(stop, StopReason::DebugExit(0), "serial output:\n{out}");
    assert!(out.contains("process A line 3 from ring 3"), "{out}");
    assert!(out.contains("process B line 3 from ring 3"), "{out}");
    assert!(out.contains("4 demand-zero page faults"), "{out}");
    assert!(m.counters().irqs > 0, "the PIT interrupted the processes");
    assert_eq!(m.counters().exceptions[14], 4);
}

#[test]
fn vmm_demonstration_guests_run_bare() {
    for (src, last) in [
        ("guests/vmm/popf.asm", "popf: done"),
        ("guests/vmm/privtour.asm", "privtour: done"),
        ("guests/vmm/redpill.asm", "verdict: no VMM detected"),
        ("guests/vmm/paravirt.asm", "paravirt: done"),
    ] {
        let (stop, out, _) = run_rom(src, 16, 50_000_000);
        assert_eq!(stop, StopReason::DebugExit(0), "{src}:\n{out}");
        assert!(out.contains(last), "{src}:\n{out}");
    }
}
