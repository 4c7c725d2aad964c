//! The project's CPU test ROM (`guests/cputest/cputest.asm`) must pass every stage, and
//! the Multiboot test kernel must see the entry state the specification promises.
//!
//! Both are assembled at test time by the project's assembler; where `nasm` is
//! installed (it is in the development image), its output is compared byte for byte.

use std::path::PathBuf;
use std::process::Command;

use emulator_core::{Machine, MachineConfig, StopReason};

/// Instructions the whole ROM needs, with a wide margin.
const BUDGET: u64 = 50_000_000;

/// Assembles `guests/<src>` with the project's assembler.
fn assemble(src: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guests")
        .join(src);
    let text = std::fs::read_to_string(&path).expect("the guest source");
    match vmlab_asm::assemble(src, &text, &vmlab_asm::Options::default()) {
        Ok(out) => out.bytes,
        Err(e) => panic!("{src} does not assemble:\n{e}"),
    }
}

#[test]
fn cpu_test_rom_passes_every_stage() {
    let rom = assemble("cputest/cputest.asm");
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
    let elf = assemble("cputest/multiboot.asm");
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

#[test]
fn project_assembler_matches_nasm_on_the_cpu_test_rom() {
    let src = "cputest/cputest.asm";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guests")
        .join(src);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cputest-nasm.bin");
    let status = Command::new("nasm")
        .args(["-f", "bin", "-o"])
        .arg(&out)
        .arg(&path)
        .status()
        .expect("nasm is part of the development image (apt-get install nasm)");
    assert!(status.success(), "nasm failed on {src}");
    let reference = std::fs::read(&out).unwrap();
    assert!(
        assemble(src) == reference,
        "{src}: vmlab-asm and nasm differ"
    );
}
