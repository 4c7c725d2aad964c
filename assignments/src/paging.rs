//! Walks the 2-level IA-32 page tables through side-effect-free physical reads,
//! for checks on the page tables a submission built.

use emulator_core::state::{cr0, cr4};
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

fn read_u32(m: &dyn GuestMachine, addr: u32) -> u32 {
    let mut b = [0u8; 4];
    m.peek_phys(addr, &mut b);
    u32::from_le_bytes(b)
}

/// Translates `linear` through the tables `cpu.cr3` points at.
pub fn translate(m: &dyn GuestMachine, cpu: &CpuState, linear: u32) -> Translation {
    if cpu.cr0 & cr0::PG == 0 {
        return Translation::PagingOff;
    }
    let pde = read_u32(m, (cpu.cr3 & 0xffff_f000) + (linear >> 22) * 4);
    if pde & 1 == 0 {
        return Translation::NotPresent { level: 1 };
    }
    if pde & 0x80 != 0 && cpu.cr4 & cr4::PSE != 0 {
        return Translation::Mapped {
            phys: (pde & 0xffc0_0000) | (linear & 0x003f_ffff),
            writable: pde & 2 != 0,
            user: pde & 4 != 0,
            large: true,
        };
    }
    let pte = read_u32(m, (pde & 0xffff_f000) + ((linear >> 12) & 0x3ff) * 4);
    if pte & 1 == 0 {
        return Translation::NotPresent { level: 2 };
    }
    Translation::Mapped {
        phys: (pte & 0xffff_f000) | (linear & 0xfff),
        writable: pde & pte & 2 != 0,
        user: pde & pte & 4 != 0,
        large: false,
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
