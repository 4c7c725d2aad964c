//! Instruction corner cases found by running independent CPU test programs: a guest
//! of numbered cases, each reporting on the POST port before it runs.

mod common;

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

#[test]
fn corner_cases_pass() {
    let bin = common::assemble("emulator-core/tests/asm/compat.asm", &[]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(0x1000, &bin, FlatEntry::Protected32).unwrap();
    let stop = m.run(1_000_000);
    let last = m.post_writes().last().map(|p| p.value);
    assert_eq!(stop, StopReason::Halted, "stopped in case {last:?}");
    assert_eq!(m.cpu().gpr[0], 0x600d, "failed in case {last:?}");
    assert_eq!(last, Some(0xff));
}
