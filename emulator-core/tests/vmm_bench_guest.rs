//! The trap-heavy benchmark guest (`guests/bench/vmm.asm`) behind the bench's VMM
//! ratios: for every process count it prints the same result bare, under
//! trap-emulate and under hw-assist, the result the defines predict, and the VMM
//! modes take exits at a rate that does not depend on the run's length.

use std::path::PathBuf;

use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

fn assemble(defines: &[(&str, u32)]) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/bench/vmm.asm");
    let text = std::fs::read_to_string(&path).expect("the guest source");
    let opts = vmlab_asm::Options {
        defines: defines
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect(),
        ..vmlab_asm::Options::default()
    };
    match vmlab_asm::assemble("vmm.asm", &text, &opts) {
        Ok(out) => out.bytes,
        Err(e) => panic!("vmm.asm does not assemble:\n{e}"),
    }
}

const MODES: [ExecMode; 3] = [ExecMode::Bare, ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST];

/// Runs the ROM under `mode`: the serial output, instructions and exits.
fn run(rom: &[u8], mode: ExecMode) -> (String, u64, u64) {
    let mut m = Machine::new(MachineConfig {
        mode,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_rom(rom).unwrap();
    let stop = m.run(50_000_000);
    let serial = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}: {serial}");
    let exits = m.vmm().map_or(0, |v| v.stats().exits.total);
    (serial, m.icount(), exits)
}

#[test]
fn every_process_count_prints_its_calls_and_sum_in_every_mode() {
    for procs in [1u32, 4, 16] {
        let calls = 150;
        let rom = assemble(&[("PROCS", procs), ("CALLS", calls), ("WORK", 5)]);
        // Each process sums 1..=CALLS.
        let want = format!(
            "vmm bench: calls {:08x} sum {:08x}\n",
            procs * calls,
            procs * calls * (calls + 1) / 2
        );
        for mode in MODES {
            let (serial, _, exits) = run(&rom, mode);
            assert_eq!(serial, want, "PROCS={procs} under {mode:?}");
            assert_eq!(
                exits == 0,
                mode == ExecMode::Bare,
                "{mode:?}: {exits} exits"
            );
        }
    }
}

#[test]
fn the_exit_rate_is_steady() {
    // The exits per instruction that more calls add are the same from 2,000 to 4,000
    // calls as from 4,000 to 8,000 (within 10%): the loop's exit rate does not drift
    // (the set-up's exits drop out of the differences).
    for mode in &MODES[1..] {
        let point = |calls: u32| {
            let rom = assemble(&[("CALLS", calls), ("WORK", 20), ("PIT_DIV", 239)]);
            let (_, insns, exits) = run(&rom, *mode);
            (insns as f64, exits as f64)
        };
        let [a, b, c] = [2_000, 4_000, 8_000].map(point);
        let (first, second) = ((b.1 - a.1) / (b.0 - a.0), (c.1 - b.1) / (c.0 - b.0));
        assert!(second > 0.0, "{mode:?}: no exits from the loop");
        assert!(
            (first / second - 1.0).abs() < 0.10,
            "{mode:?}: {:.1} then {:.1} exits per million instructions",
            first * 1e6,
            second * 1e6
        );
    }
}
