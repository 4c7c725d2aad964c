//! The mixed benchmark workload (`guests/bench/mix.asm`) on emulator-core, exported as
//! plain Wasm functions so Node.js can time the same core the browser loads:
//! `bench_prepare(iter)` assembles the ROM with `ITER=iter` and loads a 64 MiB
//! machine, `bench_run()` runs it to its stop and returns the instruction count.

use std::cell::RefCell;

use emulator_core::{Machine, MachineConfig};

/// The benchmark guest's source, built into the module.
const MIX: &str = include_str!("../../../guests/bench/mix.asm");

thread_local! {
    static MACHINE: RefCell<Option<Machine>> = const { RefCell::new(None) };
}

/// Builds a machine with the mix ROM for `iter` iterations; false when the ROM does
/// not assemble or load.
pub fn prepare(iter: u32) -> bool {
    let opts = vmlab_asm::Options {
        defines: vec![("ITER".into(), Some(iter.to_string()))],
        ..vmlab_asm::Options::default()
    };
    let Ok(out) = vmlab_asm::assemble("mix.asm", MIX, &opts) else {
        return false;
    };
    let cfg = MachineConfig {
        ram_mib: 64,
        ..MachineConfig::default()
    };
    let Ok(mut m) = Machine::new(cfg) else {
        return false;
    };
    if m.load_rom(&out.bytes).is_err() {
        return false;
    }
    MACHINE.with(|c| *c.borrow_mut() = Some(m));
    true
}

/// Runs the prepared machine to its stop (at most 2^40 instructions); returns the
/// instructions retired, or -1 without a prepared machine.
pub fn run() -> f64 {
    MACHINE.with(|c| match c.borrow_mut().as_mut() {
        Some(m) => {
            m.run(1 << 40);
            m.icount() as f64
        }
        None => -1.0,
    })
}

/// Wasm export of [`prepare`]: 1 on success, 0 on failure.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_prepare(iter: u32) -> u32 {
    prepare(iter) as u32
}

/// Wasm export of [`run`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_run() -> f64 {
    run()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mix_runs_to_its_checksum_count() {
        assert!(super::prepare(1));
        let n = super::run();
        assert!(n > 300_000.0, "ran {n} instructions");
    }
}
