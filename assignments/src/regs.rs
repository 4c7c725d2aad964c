//! Register names in test files, read from and written to the core's `CpuState`.

use emulator_core::{CpuState, Gpr, SegReg};

/// A register a test may set or check.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reg {
    /// A general-purpose register.
    Gpr(Gpr),
    /// A segment register's selector.
    Seg(SegReg),
    /// EIP.
    Eip,
    /// EFLAGS.
    Eflags,
    /// CR0.
    Cr0,
    /// CR2.
    Cr2,
    /// CR3.
    Cr3,
    /// CR4.
    Cr4,
    /// The current privilege level.
    Cpl,
}

impl Reg {
    /// The register called `name` (lower case, as in assembly), if any.
    pub fn parse(name: &str) -> Option<Reg> {
        const GPRS: [(&str, Gpr); 8] = [
            ("eax", Gpr::Eax),
            ("ecx", Gpr::Ecx),
            ("edx", Gpr::Edx),
            ("ebx", Gpr::Ebx),
            ("esp", Gpr::Esp),
            ("ebp", Gpr::Ebp),
            ("esi", Gpr::Esi),
            ("edi", Gpr::Edi),
        ];
        if let Some((_, g)) = GPRS.iter().find(|(n, _)| *n == name) {
            return Some(Reg::Gpr(*g));
        }
        if let Some(s) = SegReg::ALL.iter().find(|s| s.name() == name) {
            return Some(Reg::Seg(*s));
        }
        Some(match name {
            "eip" => Reg::Eip,
            "eflags" => Reg::Eflags,
            "cr0" => Reg::Cr0,
            "cr2" => Reg::Cr2,
            "cr3" => Reg::Cr3,
            "cr4" => Reg::Cr4,
            "cpl" => Reg::Cpl,
            _ => return None,
        })
    }

    /// The register's value in `cpu`.
    pub fn get(self, cpu: &CpuState) -> u32 {
        match self {
            Reg::Gpr(g) => cpu.reg(g),
            Reg::Seg(s) => u32::from(cpu.sreg(s).selector),
            Reg::Eip => cpu.eip,
            Reg::Eflags => cpu.eflags,
            Reg::Cr0 => cpu.cr0,
            Reg::Cr2 => cpu.cr2,
            Reg::Cr3 => cpu.cr3,
            Reg::Cr4 => cpu.cr4,
            Reg::Cpl => u32::from(cpu.cpl),
        }
    }

    /// Sets a general-purpose register, EIP or EFLAGS; the others are set by the
    /// program itself, and setting them here is refused.
    pub fn set(self, cpu: &mut CpuState, value: u32) -> Result<(), String> {
        match self {
            Reg::Gpr(g) => cpu.gpr[g as usize] = value,
            Reg::Eip => cpu.eip = value,
            Reg::Eflags => {
                cpu.eflags = (value | emulator_core::state::flags::RESERVED1)
                    & !emulator_core::state::flags::VM
            }
            other => return Err(format!("{other:?} cannot be set by a test")),
        }
        Ok(())
    }
}
