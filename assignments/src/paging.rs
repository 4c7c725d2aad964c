//! Translations through the page tables a submission built, for checks on
//! them: the core's page walk as a probe over side-effect-free physical reads.

use emulator_core::mmu::{self, PagingRegs};
use emulator_core::CpuState;

use crate::target::GuestMachine;

/// The result of translating one linear address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Translation {
    /// CR0.PG is clear: there is nothing to walk.
    PagingOff,
    /// The PDE (`level` 1) or PTE (`level` 2) is not present.
    NotPresent {
        /// 1 for the directory, 2 for the table.
        level: u8,
    },
    /// Mapped.
    Mapped {
        /// The physical address reached.
        phys: u32,
        /// Writable at CPL 3 (and at CPL 0 with CR0.WP): R/W set at both levels.
        writable: bool,
        /// Accessible at CPL 3: U/S set at both levels.
        user: bool,
        /// Mapped by a 4 MiB page.
        large: bool,
    },
}

/// Translates `linear` through the tables `cpu.cr3` points at (a probe of the
/// core's page walk: no accessed or dirty bit changes).
pub fn translate(m: &dyn GuestMachine, cpu: &CpuState, linear: u32) -> Translation {
    let read = |addr: u32| {
        let mut b = [0u8; 4];
        m.peek_phys(addr, &mut b);
        u32::from_le_bytes(b)
    };
    let w = mmu::probe(&mut mmu::ReadOnly(read), PagingRegs::of(cpu), linear);
    match w.physical {
        _ if !w.paging => Translation::PagingOff,
        None => Translation::NotPresent {
            level: if w.pte.is_some() { 2 } else { 1 },
        },
        Some(phys) => Translation::Mapped {
            phys,
            writable: w.writable(),
            user: w.user(),
            large: w.large(),
        },
    }
}

impl core::fmt::Display for Translation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Translation::PagingOff => f.write_str("paging is off (CR0.PG = 0)"),
            Translation::NotPresent { level: 1 } => f.write_str("not present (PDE.P = 0)"),
            Translation::NotPresent { .. } => f.write_str("not present (PTE.P = 0)"),
            Translation::Mapped {
                phys,
                writable,
                user,
                large,
            } => write!(
                f,
                "{phys:#010x} {} {}{}",
                if writable { "read/write" } else { "read-only" },
                if user { "user" } else { "supervisor" },
                if large { " (4 MiB page)" } else { "" }
            ),
        }
    }
}
