//! The mixed benchmark workload (`guests/bench/mix.asm`) on emulator-core, exported as
//! plain Wasm functions so Node.js can time the same core the browser loads:
//! `bench_prepare(iter)` assembles the ROM with `ITER=iter` and loads a 64 MiB
//! machine; `bench_run(budget)` runs it for one time slice, as the browser's worker
//! does (a Wasm engine only swaps in optimised code between calls), and
//! `bench_icount()` reads the instruction count. `bench_prepare_guest(guest, mode,
//! iter)` prepares another guest (`guests.rs`) under an `ExecMode`, and
//! `bench_serial_len()` counts its serial output. `bench_tier(t)` picks the tier of the
//! next prepare (0 interpreter, 1 fast tier, 2 translating tier), and `bench_digest()`
//! hashes the final state for the differential runs.
//!
//! With the translating tier the region modules are compiled by the embedder (see
//! `host.rs` and `host.mjs`): at once, in the background, or one module late, as
//! `bench_compile_mode(m)` sets.
//!
//! The differential runs of `cargo xtask test` over every guest and lab reference
//! solution go through `bench_case` (`corpus.rs`) and `bench_lab` (`lab.rs`), with JSON
//! in and out (`io.rs`); `corpus.mjs` drives them.

pub mod corpus;
pub mod fuzz;
pub mod guests;
mod host;
pub mod io;
pub mod lab;

use std::cell::RefCell;

use emulator_core::{Machine, MachineConfig};

thread_local! {
    static MACHINE: RefCell<Option<Machine>> = const { RefCell::new(None) };
    static TIER: std::cell::Cell<u32> = const { std::cell::Cell::new(1) };
}

/// Translate an entry point after this many executions in the translating tier: the
/// default, as in the lab and `vmlab run`.
const THRESHOLD: u32 = emulator_core::translate::DEFAULT_THRESHOLD;

/// Builds a machine with the mix ROM for `iter` iterations; false when the ROM does
/// not assemble or load.
pub fn prepare(iter: u32) -> bool {
    prepare_guest(0, 0, iter).is_ok()
}

/// Builds a machine with guest `guest` ([`guests::Guest::ALL`]: mix, paging, kernel,
/// fetch) under mode `mode` ([`emulator_core::ExecMode::ALL`]) with `ITER=iter`, in the
/// tier [`set_tier`] picked, and makes it the prepared machine.
pub fn prepare_guest(guest: u32, mode: u32, iter: u32) -> Result<(), String> {
    let (g, m) = guests::pick(guest, mode)?;
    install(guests::build(g, m, iter)?, THRESHOLD);
    Ok(())
}

/// Wasm export of [`prepare_guest`]: 1 on success, 0 on failure.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_prepare_guest(guest: u32, mode: u32, iter: u32) -> u32 {
    prepare_guest(guest, mode, iter).is_ok() as u32
}

/// Serial bytes the prepared machine has written (-1 without one).
pub fn serial_len() -> f64 {
    MACHINE.with(|c| {
        c.borrow()
            .as_ref()
            .map_or(-1.0, |m| m.serial_output_since(u64::MAX).1 as f64)
    })
}

/// Wasm export of [`serial_len`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_serial_len() -> f64 {
    serial_len()
}

/// Sets `m` up for the tier [`set_tier`] picked (translating after `threshold`
/// executions of an entry) and makes it the prepared machine. The region host goes on
/// every machine, whatever its tier, as the lab's worker installs it: the first install
/// warms the translator up while the machine loads.
fn install(mut m: Machine, threshold: u32) {
    let tier = TIER.with(|t| t.get());
    m.set_fast_tier(tier == 1);
    host::install(&mut m);
    if tier == 2 {
        m.set_translate(Some(threshold));
    }
    MACHINE.with(|c| *c.borrow_mut() = Some(m));
}

/// Builds a 1 MiB machine with fuzz case `case` (`fuzz.rs`) loaded at 0x1000 in flat
/// 32-bit protected mode, in the tier [`set_tier`] picked (translating with threshold
/// 1); false when it does not assemble or load.
pub fn prepare_fuzz(case: u32) -> bool {
    let src = fuzz::program(case as u64);
    let Ok(out) = vmlab_asm::assemble("fuzz.asm", &src, &vmlab_asm::Options::default()) else {
        return false;
    };
    let cfg = MachineConfig {
        ram_mib: 1,
        ..MachineConfig::default()
    };
    let Ok(mut m) = Machine::new(cfg) else {
        return false;
    };
    if m.load_flat(0x1000, &out.bytes, emulator_core::FlatEntry::Protected32)
        .is_err()
    {
        return false;
    }
    install(m, 1);
    true
}

/// Wasm export of [`prepare_fuzz`]: 1 on success, 0 on failure.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_prepare_fuzz(case: u32) -> u32 {
    prepare_fuzz(case) as u32
}

/// Runs the prepared machine for at most `budget` instructions; true while it has not
/// stopped (the budget ran out), false once it stopped or without a prepared machine.
pub fn run(budget: u32) -> bool {
    MACHINE.with(|c| match c.borrow_mut().as_mut() {
        Some(m) => m.run(budget as u64) == emulator_core::StopReason::BudgetExhausted,
        None => false,
    })
}

/// Instructions the prepared machine retired (-1 without one).
pub fn icount() -> f64 {
    MACHINE.with(|c| c.borrow().as_ref().map_or(-1.0, |m| m.icount() as f64))
}

/// Picks the tier of the next [`prepare`]: 0 interpreter, 1 fast tier, 2 translating.
pub fn set_tier(tier: u32) {
    TIER.with(|t| t.set(tier.min(2)));
}

/// An FNV-1a hash of the prepared machine's registers, flags, RAM, serial output and
/// instruction count (0 without one), for comparing runs of different tiers.
pub fn digest() -> f64 {
    MACHINE.with(|c| {
        let Some(m) = c.borrow().as_ref().map(|m| {
            let s = m.snapshot();
            let mut h: u32 = 0x811c_9dc5;
            let mut eat = |b: u8| h = (h ^ b as u32).wrapping_mul(0x0100_0193);
            let cpu = m.cpu();
            for v in cpu.gpr.iter().chain([&cpu.eip, &cpu.eflags]) {
                v.to_le_bytes().into_iter().for_each(&mut eat);
            }
            s.ram().iter().copied().for_each(&mut eat);
            m.serial_output().into_iter().for_each(&mut eat);
            m.icount().to_le_bytes().into_iter().for_each(&mut eat);
            h
        }) else {
            return 0.0;
        };
        m as f64
    })
}

/// Wasm export of [`set_tier`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_tier(tier: u32) {
    set_tier(tier)
}

/// Sets how many region modules the function table holds before its places start over
/// (`vmlab_region_host::set_module_cap`): the fuzz run sets a small number so that
/// machines drop and recompile their regions often.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_module_cap(cap: u32) {
    vmlab_region_host::set_module_cap(cap as usize)
}

/// Sets how Node.js compiles the next region modules (`host::CompileMode`: 0 at once, 1
/// in the background, 2 one module late); 0 for an unknown mode.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_compile_mode(mode: u32) -> u32 {
    host::set_compile_mode(mode) as u32
}

/// Wasm export of [`digest`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_digest() -> f64 {
    digest()
}

/// Wasm export of [`prepare`]: 1 on success, 0 on failure.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_prepare(iter: u32) -> u32 {
    prepare(iter) as u32
}

/// Wasm export of [`run`]: 1 while running, 0 once stopped.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_run(budget: u32) -> u32 {
    run(budget) as u32
}

/// Wasm export of [`icount`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_icount() -> f64 {
    icount()
}

/// The translating tier's counts on the prepared machine: `which` 0 regions translated,
/// 1 region runs started by the run loop, 2 instructions retired in regions, 3 regions
/// invalidated (-1 without a machine or for another `which`).
pub fn translate_stat(which: u32) -> f64 {
    MACHINE.with(|c| {
        c.borrow().as_ref().map_or(-1.0, |m| {
            let s = m.translate_stats();
            match which {
                0 => s.translated as f64,
                1 => s.runs as f64,
                2 => s.instructions as f64,
                3 => s.invalidated as f64,
                _ => -1.0,
            }
        })
    })
}

/// Wasm export of [`translate_stat`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_translate_stat(which: u32) -> f64 {
    translate_stat(which)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mix_runs_to_its_checksum_count() {
        assert!(super::prepare(1));
        let mut slices = 0;
        while super::run(100_000) {
            slices += 1;
            assert!(
                slices < 100,
                "ITER=1 runs far fewer than 10 million instructions"
            );
        }
        let n = super::icount();
        assert!(n > 300_000.0, "ran {n} instructions");
    }

    /// Natively the translating tier runs regions through the IR interpreter: each
    /// tier ends in the same digest.
    #[test]
    fn every_tier_ends_in_the_same_digest() {
        let mut seen = Vec::new();
        for tier in 0..3 {
            super::set_tier(tier);
            assert!(super::prepare(1));
            while super::run(1_000_000) {}
            seen.push((super::icount(), super::digest()));
        }
        super::set_tier(1);
        assert_ne!(seen[0].1, 0.0);
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0], seen[2]);
    }
}
