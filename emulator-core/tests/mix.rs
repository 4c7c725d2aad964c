//! The shared benchmark guest (guests/bench/mix.asm) runs from the reset vector, prints
//! its checksum on COM1 and stops halted.

use std::path::PathBuf;
use std::process::Command;

use emulator_core::{Machine, MachineConfig, StopReason};

fn build_rom(iter: u32) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = root.join("guests/bench/mix.asm");
    let out = std::env::temp_dir().join(format!("vmlab-mix-{iter}-{}.rom", std::process::id()));
    let status = Command::new("nasm")
        .args(["-f", "bin", &format!("-DITER={iter}"), "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("nasm must be installed to build the benchmark ROM");
    assert!(status.success(), "nasm failed on {}", src.display());
    let rom = std::fs::read(&out).expect("nasm output");
    let _ = std::fs::remove_file(&out);
    rom
}

#[test]
fn mix_prints_checksum_and_halts() {
    let rom = build_rom(10);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_rom(&rom).unwrap();
    let stop = m.run(50_000_000);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(String::from_utf8_lossy(&m.serial_output()), "f46fd717\n");
    assert!(m.icount() > 3_000_000, "ran {} instructions", m.icount());
}
