//! The project's CPU test ROM (`guests/cputest/cputest.asm`) must pass every stage.
//!
//! The ROM is assembled with `nasm` at test time.

use std::path::PathBuf;
use std::process::Command;

use emulator_core::{Machine, MachineConfig, StopReason};

/// Instructions the whole ROM needs, with a wide margin.
const BUDGET: u64 = 50_000_000;

fn build_rom() -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = root.join("guests/cputest/cputest.asm");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cputest.bin");
    let status = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("nasm must be installed to build the CPU test ROM (apt-get install nasm)");
    assert!(status.success(), "nasm failed on {}", src.display());
    std::fs::read(&out).expect("the assembled ROM")
}

#[test]
fn cpu_test_rom_passes_every_stage() {
    let rom = build_rom();
    assert_eq!(rom.len(), 64 * 1024);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_rom(&rom).unwrap();
    let stop = m.run(BUDGET);
    let console = String::from_utf8_lossy(&m.serial_output()).into_owned();
    let stages: Vec<u32> = m
        .post_writes()
        .iter()
        .filter(|w| w.port == 0x80)
        .map(|w| w.value)
        .collect();
    assert_eq!(
        stop,
        StopReason::DebugExit(0),
        "console:\n{console}\nPOST stages: {stages:?}"
    );
    assert_eq!(
        stages,
        (1..=10).collect::<Vec<u32>>(),
        "console:\n{console}"
    );
    assert!(console.contains("cputest: all stages passed"), "{console}");
    assert!(!console.contains("FAIL"), "{console}");
    // Ten stage lines plus the banner and the ring-3 greeting.
    assert_eq!(console.lines().count(), 12, "{console}");
}

#[test]
fn multiboot_test_kernel_sees_the_specified_entry_state() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = root.join("guests/cputest/multiboot.asm");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("multiboot.elf");
    let status = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("nasm must be installed to build the Multiboot test kernel");
    assert!(status.success(), "nasm failed on {}", src.display());
    let elf = std::fs::read(&out).unwrap();
    let mut m = Machine::new(MachineConfig {
        ram_mib: 32,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_multiboot(&elf, "console=ttyS0 quiet").unwrap();
    let stop = m.run(1_000_000);
    let console = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(stop, StopReason::DebugExit(0), "{console}");
    assert_eq!(
        console,
        "multiboot: mem_upper=00007c00 cmdline=console=ttyS0 quiet\n"
    );
}
