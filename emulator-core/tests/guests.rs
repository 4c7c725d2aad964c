//! Guest programs on the bare machine: the teaching kernel's processes, timer and
//! demand paging; a Multiboot kernel loaded with the a.out kludge; refused images.

mod common;

use emulator_core::{Machine, MachineConfig, StopReason};

fn run_rom(src: &str, ram_mib: u32, budget: u64) -> (StopReason, String, Machine) {
    let rom = common::assemble(src, &[]);
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
fn multiboot_kernel_gets_magic_info_and_command_line() {
    let kernel = common::assemble("emulator-core/tests/asm/multiboot.asm", &[]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    // Garbage where the BSS goes: the loader must clear it.
    m.write_phys(0x100000 + kernel.len() as u32, &[0xaa; 64])
        .unwrap();
    m.load_multiboot(&kernel, "console=ttyS0 vmlab").unwrap();
    let stop = m.run(100_000);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(stop, StopReason::DebugExit(0), "serial output: {out:?}");
    assert_eq!(out, "console=ttyS0 vmlab\n");
}

#[test]
fn bad_images_are_refused_with_a_reason() {
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    let e = m.load_rom(&[0u8; 1000]).unwrap_err();
    assert!(e.to_string().contains("1000 bytes"), "{e}");
    let e = m.load_multiboot(b"not a kernel", "").unwrap_err();
    assert!(!e.to_string().is_empty());
    let e = m
        .load_flat(0x20000, &[0x90], emulator_core::FlatEntry::Real16)
        .unwrap_err();
    assert!(e.to_string().contains("0x20000"), "{e}");
    assert!(Machine::new(MachineConfig {
        ram_mib: 0,
        ..MachineConfig::default()
    })
    .is_err());
}
