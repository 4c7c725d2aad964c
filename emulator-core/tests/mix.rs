//! The shared benchmark guest (guests/bench/mix.asm) runs from the reset vector, prints
//! its checksum on COM1 and stops halted.

mod common;

use emulator_core::{Machine, MachineConfig, StopReason};

#[test]
fn mix_prints_checksum_and_halts() {
    let rom = common::assemble("guests/bench/mix.asm", &["ITER=10"]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_rom(&rom).unwrap();
    let stop = m.run(50_000_000);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(String::from_utf8_lossy(&m.serial_output()), "f46fd717\n");
    assert!(m.icount() > 3_000_000, "ran {} instructions", m.icount());
    let fast = m.counters().fast_instructions;
    assert!(
        fast as f64 > 0.99 * m.icount() as f64,
        "the fast tier retired only {fast} of {} instructions",
        m.icount()
    );
}

#[test]
fn mix_snapshot_mid_run_continues_bit_exactly() {
    let rom = common::assemble("guests/bench/mix.asm", &["ITER=2"]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_rom(&rom).unwrap();
    m.run(123_457);
    let snap = m.snapshot();
    let first = m.run(u64::MAX);
    let end = m.snapshot();
    let serial = m.serial_output();
    m.restore(&snap).unwrap();
    assert_eq!(m.run(u64::MAX), first);
    assert_eq!(m.serial_output(), serial);
    assert_eq!(m.snapshot(), end);
}
