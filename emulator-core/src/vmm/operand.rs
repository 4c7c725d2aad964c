//! Operands of the instructions the VMM emulates: registers, effective
//! addresses and the guest's stack, read and written on the guest's behalf.

use iced_x86::{Instruction, OpKind, Register};

use crate::state::{CpuState, SegReg};

/// The segment register an iced-x86 register names.
pub fn seg_of(r: Register) -> Option<SegReg> {
    Some(match r {
        Register::ES => SegReg::Es,
        Register::CS => SegReg::Cs,
        Register::SS => SegReg::Ss,
        Register::DS => SegReg::Ds,
        Register::FS => SegReg::Fs,
        Register::GS => SegReg::Gs,
        _ => return None,
    })
}

/// Reads a general-purpose (8, 16 or 32-bit) or segment register.
pub fn read_reg(cpu: &CpuState, r: Register) -> u32 {
    if let Some(s) = seg_of(r) {
        return cpu.sreg(s).selector as u32;
    }
    let n = r.number();
    if r.is_gpr32() {
        cpu.gpr.get(n).copied().unwrap_or(0)
    } else if r.is_gpr16() {
        cpu.gpr.get(n).copied().unwrap_or(0) & 0xffff
    } else if r.is_gpr8() {
        if n < 4 {
            cpu.gpr.get(n).copied().unwrap_or(0) & 0xff
        } else {
            (cpu.gpr.get(n - 4).copied().unwrap_or(0) >> 8) & 0xff
        }
    } else {
        0
    }
}

/// Writes a general-purpose register (8, 16 or 32-bit; the rest of it is kept).
pub fn write_reg(cpu: &mut CpuState, r: Register, value: u32) {
    let n = r.number();
    if r.is_gpr32() {
        if let Some(g) = cpu.gpr.get_mut(n) {
            *g = value;
        }
    } else if r.is_gpr16() {
        if let Some(g) = cpu.gpr.get_mut(n) {
            *g = (*g & 0xffff_0000) | (value & 0xffff);
        }
    } else if r.is_gpr8() {
        if n < 4 {
            if let Some(g) = cpu.gpr.get_mut(n) {
                *g = (*g & !0xff) | (value & 0xff);
            }
        } else if let Some(g) = cpu.gpr.get_mut(n - 4) {
            *g = (*g & !0xff00) | ((value & 0xff) << 8);
        }
    }
}

/// The effective address (offset in its segment) of the instruction's memory operand.
pub fn effective_address(cpu: &CpuState, insn: &Instruction) -> u32 {
    let base = insn.memory_base();
    let index = insn.memory_index();
    let mut ea = insn.memory_displacement32();
    if base != Register::None {
        ea = ea.wrapping_add(read_reg(cpu, base));
    }
    if index != Register::None {
        ea = ea.wrapping_add(read_reg(cpu, index).wrapping_mul(insn.memory_index_scale()));
    }
    let addr16 = base.is_gpr16()
        || index.is_gpr16()
        || (base == Register::None && index == Register::None && insn.memory_displ_size() == 2);
    if addr16 {
        ea & 0xffff
    } else {
        ea
    }
}

/// The linear address of the instruction's memory operand.
pub fn memory_linear(cpu: &CpuState, insn: &Instruction) -> u32 {
    let seg = seg_of(insn.memory_segment()).unwrap_or(SegReg::Ds);
    cpu.sreg(seg)
        .base
        .wrapping_add(effective_address(cpu, insn))
}

/// Operand `i` as a register value or an immediate (`None` for memory operands).
pub fn reg_or_imm(cpu: &CpuState, insn: &Instruction, i: u32) -> Option<u32> {
    match insn.op_kind(i) {
        OpKind::Register => Some(read_reg(cpu, insn.op_register(i))),
        OpKind::Immediate8 => Some(insn.immediate8() as u32),
        OpKind::Immediate16 => Some(insn.immediate16() as u32),
        OpKind::Immediate32 => Some(insn.immediate32()),
        _ => None,
    }
}

/// The stack's linear address for ESP, and the mask of ESP's used bits.
pub fn stack_mask(cpu: &CpuState) -> u32 {
    if cpu.sreg(SegReg::Ss).big() {
        0xffff_ffff
    } else {
        0xffff
    }
}
