//! The guests the Node.js bench can time, built into the module: the mix ROM, the
//! paging-heavy ROM, the teaching kernel (under any [`ExecMode`]) and the fetch–decode
//! demo, each assembled and loaded as `cargo xtask bench` and the lab load them.

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig};

/// `guests/bench/mix.asm`: the mixed workload ROM (`ITER`).
const MIX: &str = include_str!("../../../guests/bench/mix.asm");
/// `guests/bench/paging.asm`: the paging-heavy ROM (`ITER`).
const PAGING: &str = include_str!("../../../guests/bench/paging.asm");
/// `guests/kernel/kernel.asm`: the teaching kernel ROM, which ends with a debug exit.
const KERNEL: &str = include_str!("../../../guests/kernel/kernel.asm");
/// `demos/fetch-decode-execute/fetch.asm`: a flat 32-bit demo that prints one line.
const FETCH: &str = include_str!("../../../demos/fetch-decode-execute/fetch.asm");

/// A guest of the bench, numbered as `bench_prepare_guest` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guest {
    /// 0: the mix ROM, 64 MiB.
    Mix,
    /// 1: the paging ROM, 64 MiB.
    Paging,
    /// 2: the teaching kernel ROM, 16 MiB.
    Kernel,
    /// 3: the fetch–decode demo, flat at its `org`, 4 MiB as in the lab.
    Fetch,
}

impl Guest {
    /// Every guest, by number.
    pub const ALL: [Guest; 4] = [Guest::Mix, Guest::Paging, Guest::Kernel, Guest::Fetch];

    /// The guest's source file name and text.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Guest::Mix => ("mix.asm", MIX),
            Guest::Paging => ("paging.asm", PAGING),
            Guest::Kernel => ("kernel.asm", KERNEL),
            Guest::Fetch => ("fetch.asm", FETCH),
        }
    }

    /// Whether the guest runs under `mode` (the kernel under every mode, the others bare).
    fn supports(self, mode: ExecMode) -> bool {
        self == Guest::Kernel || mode == ExecMode::Bare
    }
}

/// Builds a machine with `guest` (`ITER=iter` for the ROMs that take it) under `mode`,
/// not yet set to a tier.
pub fn build(guest: Guest, mode: ExecMode, iter: u32) -> Result<Machine, String> {
    let (name, text) = guest.source();
    if !guest.supports(mode) {
        return Err(format!(
            "bench guest {name}: runs bare only, not under {}",
            mode.name()
        ));
    }
    // Only the teaching kernel includes files: its drivers' shared includes.
    let include = |file: &str| vmlab_host::guest::kernel_include(file).map(str::to_string);
    let opts = vmlab_asm::Options {
        defines: vec![("ITER".into(), Some(iter.to_string()))],
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let out = vmlab_asm::assemble(name, text, &opts)
        .map_err(|e| format!("bench guest {name} does not assemble:\n{e}"))?;
    let ram_mib = match guest {
        Guest::Mix | Guest::Paging => 64,
        Guest::Kernel => 16,
        Guest::Fetch => 4,
    };
    let cfg = MachineConfig {
        ram_mib,
        mode,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(cfg).map_err(|e| format!("bench guest {name}: {e}"))?;
    let loaded = match guest {
        Guest::Fetch => m.load_flat(out.origin, &out.bytes, FlatEntry::Protected32),
        _ => m.load_rom(&out.bytes),
    };
    loaded.map_err(|e| format!("bench guest {name} does not load: {e}"))?;
    Ok(m)
}

/// The guest and mode numbered `guest` ([`Guest::ALL`]) and `mode` ([`ExecMode::ALL`]).
pub fn pick(guest: u32, mode: u32) -> Result<(Guest, ExecMode), String> {
    let g = Guest::ALL
        .get(guest as usize)
        .ok_or_else(|| format!("bench guest {guest}: there are {}", Guest::ALL.len()))?;
    let m = ExecMode::ALL
        .get(mode as usize)
        .ok_or_else(|| format!("bench mode {mode}: there are {}", ExecMode::ALL.len()))?;
    Ok((*g, *m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator_core::StopReason;

    #[test]
    fn the_kernel_ends_alike_bare_and_under_every_vmm_mode() {
        let mut outputs = Vec::new();
        for mode in ExecMode::ALL {
            let mut m = build(Guest::Kernel, mode, 0).expect("the kernel builds");
            assert_eq!(m.run(100_000_000), StopReason::DebugExit(0), "{mode:?}");
            outputs.push(m.serial_output());
        }
        assert!(outputs[0].len() > 100, "the kernel printed its lines");
        assert!(outputs.iter().all(|o| *o == outputs[0]));
    }

    #[test]
    fn the_fetch_demo_prints_its_line() {
        let mut m = build(Guest::Fetch, ExecMode::Bare, 0).expect("the demo builds");
        m.run(10_000);
        assert_eq!(m.serial_output(), b"fetch, decode, execute: done\n");
    }

    #[test]
    fn only_the_kernel_runs_under_a_vmm_and_numbers_out_of_range_are_refused() {
        assert!(build(Guest::Paging, ExecMode::TRAP_EMULATE, 1).is_err());
        assert!(build(Guest::Paging, ExecMode::Bare, 1).is_ok());
        assert!(pick(4, 0).is_err());
        assert!(pick(0, 6).is_err());
        assert_eq!(pick(2, 4), Ok((Guest::Kernel, ExecMode::HW_ASSIST)));
    }

    /// The digests the `cargo xtask bench` rows compare: each tier (the translating one
    /// through the IR interpreter natively) ends the paging ROM and the kernel alike.
    #[test]
    fn every_tier_ends_the_paging_rom_and_the_kernel_alike() {
        for (guest, mode, iter) in [(1, 0, 50), (2, 0, 0), (2, 3, 0), (2, 5, 0)] {
            let mut seen = Vec::new();
            for tier in 0..3 {
                crate::set_tier(tier);
                crate::prepare_guest(guest, mode, iter).expect("prepared");
                let mut slices = 0;
                while crate::run(1_000_000) {
                    slices += 1;
                    assert!(slices < 100, "guest {guest} ends within 100M instructions");
                }
                seen.push((crate::icount(), crate::digest()));
            }
            crate::set_tier(1);
            assert!(seen[0].0 > 100_000.0, "guest {guest} ran {}", seen[0].0);
            assert_eq!(seen[0], seen[1], "guest {guest} mode {mode}: fast tier");
            assert_eq!(
                seen[0], seen[2],
                "guest {guest} mode {mode}: translating tier"
            );
        }
    }
}
