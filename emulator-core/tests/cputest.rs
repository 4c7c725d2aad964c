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
        (1..=11).collect::<Vec<u32>>(),
        "console:\n{console}"
    );
    assert!(console.contains("cputest: all stages passed"), "{console}");
    assert!(!console.contains("FAIL"), "{console}");
    // Ten stage lines, the banner, the ring-3 greeting and the verdict.
    assert_eq!(console.lines().count(), 13, "{console}");
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

/// How a run ended: the stop, the console, the POST writes (port, value, icount) and
/// the instruction count.
type Outcome = (StopReason, Vec<u8>, Vec<(u16, u32, u64)>, u64);

/// Runs to the end (at most `BUDGET`).
fn finish(m: &mut Machine) -> Outcome {
    let stop = m.run(BUDGET);
    let post = m
        .post_writes()
        .iter()
        .map(|w| (w.port, w.value, w.icount))
        .collect();
    (stop, m.serial_output(), post, m.icount())
}

#[test]
fn snapshots_anywhere_in_the_rom_continue_bit_exactly() {
    // 8 MiB is all the ROM needs, and keeps the snapshots small.
    let cfg = MachineConfig {
        ram_mib: 8,
        ..MachineConfig::default()
    };
    let rom = assemble("cputest/cputest.asm");
    let mut reference = Machine::new(cfg.clone()).unwrap();
    reference.load_rom(&rom).unwrap();
    let expected = finish(&mut reference);
    assert_eq!(expected.0, StopReason::DebugExit(0));
    let total = expected.3;
    // Cut points spread over every stage, the timer stage included; one snapshot
    // also goes through JSON.
    let cuts: Vec<u64> = (1..8).map(|i| total * i / 8).chain([total - 5]).collect();
    for (n, &cut) in cuts.iter().enumerate() {
        let mut m = Machine::new(cfg.clone()).unwrap();
        m.load_rom(&rom).unwrap();
        m.run(cut);
        let mut snap = m.snapshot();
        if n == 0 {
            snap = serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
        }
        let mut restored = Machine::new(cfg.clone()).unwrap();
        restored.restore(&snap).unwrap();
        assert_eq!(finish(&mut restored), expected, "restored at {cut}");
        assert_eq!(restored.cpu(), reference.cpu(), "restored at {cut}");
    }
}
