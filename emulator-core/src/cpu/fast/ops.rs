//! The fast tier's handlers, one per instruction form, and its memory fast path.
//!
//! Memory operands go through flat segments (the tier runs only when DS, ES and SS are
//! flat), then through the TLB when paging is on (a hit only: a miss declines so the
//! general path walks), then straight to RAM. Stores decline for pages holding decoded
//! code, ROM and anything outside RAM, so self-modifying code and device memory always
//! take the general path.

use iced_x86::Mnemonic as M;

use super::{Handler, Op, DECLINE, DECODE};
use crate::cpu::alu;
use crate::cpu::decode::NO_REG;
use crate::cpu::ESP;
use crate::machine::Machine;
use crate::mmu::access;
use crate::state::cr0;

/// ALU operation numbers (the const parameter of the ALU handlers).
pub(super) const ALU_ADD: u8 = 0;
pub(super) const ALU_OR: u8 = 1;
pub(super) const ALU_ADC: u8 = 2;
pub(super) const ALU_SBB: u8 = 3;
pub(super) const ALU_AND: u8 = 4;
pub(super) const ALU_SUB: u8 = 5;
pub(super) const ALU_XOR: u8 = 6;
pub(super) const ALU_CMP: u8 = 7;
pub(super) const ALU_TEST: u8 = 8;

/// Shift operation numbers (the const parameter of [`shift_ri`]).
pub(super) const SH_SHL: u8 = 0;
pub(super) const SH_SHR: u8 = 1;
pub(super) const SH_SAR: u8 = 2;
pub(super) const SH_ROL: u8 = 3;
pub(super) const SH_ROR: u8 = 4;

/// The ALU operation number of a binary ALU mnemonic.
pub(super) fn alu_kind(m: M) -> u8 {
    match m {
        M::Add => ALU_ADD,
        M::Or => ALU_OR,
        M::Adc => ALU_ADC,
        M::Sbb => ALU_SBB,
        M::And => ALU_AND,
        M::Sub => ALU_SUB,
        M::Xor => ALU_XOR,
        M::Cmp => ALU_CMP,
        _ => ALU_TEST,
    }
}

/// Applies ALU operation `K`; `None` for CMP and TEST (no result written).
#[inline(always)]
fn alu_op<const K: u8>(m: &mut Machine, size: u8, a: u32, b: u32) -> Option<u32> {
    let f = &mut m.flags;
    Some(match K {
        ALU_ADD => alu::add(f, size, a, b),
        ALU_OR => alu::or(f, size, a, b),
        ALU_ADC => alu::adc(f, size, a, b),
        ALU_SBB => alu::sbb(f, size, a, b),
        ALU_AND => alu::and(f, size, a, b),
        ALU_SUB => alu::sub(f, size, a, b),
        ALU_XOR => alu::xor(f, size, a, b),
        ALU_CMP => {
            alu::cmp(f, size, a, b);
            return None;
        }
        _ => {
            alu::test(f, size, a, b);
            return None;
        }
    })
}

// ---- memory fast path ------------------------------------------------------------

impl Machine {
    /// The effective address of the operation's memory operand.
    #[inline(always)]
    fn fast_ea(&self, op: &Op) -> u32 {
        let g = &self.cpu.gpr;
        let mut a = op.disp;
        if op.base != NO_REG {
            a = a.wrapping_add(g[(op.base & 7) as usize]);
        }
        if op.index != NO_REG {
            a = a.wrapping_add(g[(op.index & 7) as usize] << (op.scale & 3));
        }
        a
    }

    /// The physical address of a `size`-byte access at flat linear `lin`, when it needs
    /// no page walk; `None` sends the instruction to the general path.
    #[inline(always)]
    fn fast_phys(&mut self, lin: u32, size: u8, write: bool) -> Option<u32> {
        let c0 = self.cpu.cr0;
        if c0 & cr0::PG == 0 {
            return Some(lin);
        }
        if (lin & 0xfff) + size as u32 > 0x1000 {
            return None;
        }
        let acc = self.user_acc() | if write { access::WRITE } else { access::READ };
        self.mmu.lookup(lin, acc, c0)
    }

    /// Reads `size` bytes at flat linear `lin` from RAM or ROM without side effects.
    #[inline(always)]
    fn fast_read(&mut self, lin: u32, size: u8) -> Option<u32> {
        let p = self.fast_phys(lin, size, false)?;
        self.mem.fast_read(p, size)
    }

    /// The RAM offset for a `size`-byte store at flat linear `lin` (plain RAM, no
    /// decoded code on the page).
    #[inline(always)]
    fn fast_store_ref(&mut self, lin: u32, size: u8) -> Option<usize> {
        let p = self.fast_phys(lin, size, true)?;
        self.mem.fast_store_offset(p, size)
    }
}

// ---- handlers ----------------------------------------------------------------------

/// `target` when the operation completed, else [`DECLINE`].
#[inline(always)]
fn finish(completed: bool, target: u32) -> u64 {
    if completed {
        target as u64
    } else {
        DECLINE
    }
}

/// The placeholder of an operation not decoded yet.
pub(super) const UNDECODED: Op = Op {
    exec: undecoded,
    len: 0,
    size: 0,
    r0: 0,
    r1: 0,
    base: NO_REG,
    index: NO_REG,
    scale: 0,
    imm: 0,
    disp: 0,
};

/// Asks the loop to decode the instruction.
fn undecoded(_: &mut Machine, _: &Op, _: u32) -> u64 {
    DECODE
}

/// The general path: always declines.
pub(super) fn general(_: &mut Machine, _: &Op, _: u32) -> u64 {
    DECLINE
}

/// NOP.
pub(super) fn nop(_: &mut Machine, _: &Op, next: u32) -> u64 {
    next as u64
}

#[inline(always)]
fn reg(m: &Machine, r: u8) -> u32 {
    m.cpu.gpr[(r & 7) as usize]
}

#[inline(always)]
fn set_reg(m: &mut Machine, r: u8, v: u32) {
    m.cpu.gpr[(r & 7) as usize] = v;
}

/// ALU r32, r32.
pub(super) fn alu_rr<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let (a, b) = (reg(m, op.r0), reg(m, op.r1));
    if let Some(v) = alu_op::<K>(m, 4, a, b) {
        set_reg(m, op.r0, v);
    }
    next as u64
}

/// ALU r32, imm.
pub(super) fn alu_ri<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r0);
    if let Some(v) = alu_op::<K>(m, 4, a, op.imm) {
        set_reg(m, op.r0, v);
    }
    next as u64
}

/// ALU r32, m32.
pub(super) fn alu_rm<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(b) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    let a = reg(m, op.r0);
    if let Some(v) = alu_op::<K>(m, 4, a, b) {
        set_reg(m, op.r0, v);
    }
    next as u64
}

/// ALU m, value (read-modify-write, or a read for CMP/TEST).
#[inline(always)]
fn alu_mem<const K: u8>(m: &mut Machine, op: &Op, size: u8, b: u32) -> bool {
    let lin = m.fast_ea(op);
    if K == ALU_CMP || K == ALU_TEST {
        let Some(a) = m.fast_read(lin, size) else {
            return false;
        };
        alu_op::<K>(m, size, a, b);
        return true;
    }
    let Some(at) = m.fast_store_ref(lin, size) else {
        return false;
    };
    let a = m.mem.ram_load(at, size);
    if let Some(v) = alu_op::<K>(m, size, a, b) {
        m.mem.ram_store(at, size, v);
    }
    true
}

/// ALU m32, r32.
pub(super) fn alu_mr<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let b = reg(m, op.r1);
    finish(alu_mem::<K>(m, op, 4, b), next)
}

/// ALU m, imm (8, 16 or 32 bits).
pub(super) fn alu_mi<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let b = op.imm & alu::mask(op.size);
    finish(alu_mem::<K>(m, op, op.size, b), next)
}

/// MOV r32, r32.
pub(super) fn mov_rr(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let v = reg(m, op.r1);
    set_reg(m, op.r0, v);
    next as u64
}

/// MOV r32, imm32.
pub(super) fn mov_ri(m: &mut Machine, op: &Op, next: u32) -> u64 {
    set_reg(m, op.r0, op.imm);
    next as u64
}

/// MOV r32, m32.
pub(super) fn mov_rm(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    set_reg(m, op.r0, v);
    next as u64
}

/// MOV m32, r32.
pub(super) fn mov_mr(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(at) = m.fast_store_ref(lin, 4) else {
        return DECLINE;
    };
    let v = reg(m, op.r1);
    m.mem.ram_store(at, 4, v);
    next as u64
}

/// MOV m, imm (8, 16 or 32 bits).
pub(super) fn mov_mi(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(at) = m.fast_store_ref(lin, op.size) else {
        return DECLINE;
    };
    m.mem.ram_store(at, op.size, op.imm);
    next as u64
}

/// MOVZX r32, m8/m16.
pub(super) fn movzx_rm(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, op.size) else {
        return DECLINE;
    };
    set_reg(m, op.r0, v);
    next as u64
}

/// MOVSX r32, m8/m16.
pub(super) fn movsx_rm(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, op.size) else {
        return DECLINE;
    };
    let v = if op.size == 1 {
        v as u8 as i8 as i32 as u32
    } else {
        v as u16 as i16 as i32 as u32
    };
    set_reg(m, op.r0, v);
    next as u64
}

/// LEA r32, m.
pub(super) fn lea(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = m.fast_ea(op);
    set_reg(m, op.r0, a);
    next as u64
}

/// INC r32.
pub(super) fn inc_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::inc(&mut m.flags, 4, a);
    set_reg(m, op.r0, v);
    next as u64
}

/// DEC r32.
pub(super) fn dec_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::dec(&mut m.flags, 4, a);
    set_reg(m, op.r0, v);
    next as u64
}

/// NOT r32.
pub(super) fn not_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let v = !reg(m, op.r0);
    set_reg(m, op.r0, v);
    next as u64
}

/// NEG r32.
pub(super) fn neg_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::neg(&mut m.flags, 4, a);
    set_reg(m, op.r0, v);
    next as u64
}

/// Shift or rotate r32 by an immediate count.
pub(super) fn shift_ri<const K: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r0);
    let c = op.imm as u8;
    let f = &mut m.flags;
    let v = match K {
        SH_SHL => alu::shl(f, 4, a, c),
        SH_SHR => alu::shr(f, 4, a, c),
        SH_SAR => alu::sar(f, 4, a, c),
        SH_ROL => alu::rol(f, 4, a, c),
        _ => alu::ror(f, 4, a, c),
    };
    set_reg(m, op.r0, v);
    next as u64
}

/// IMUL r32, r32, imm.
pub(super) fn imul_rri(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let a = reg(m, op.r1);
    let v = alu::imul_trunc(&mut m.flags, 4, a, op.imm);
    set_reg(m, op.r0, v);
    next as u64
}

/// IMUL r32, m32, imm.
pub(super) fn imul_rmi(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let lin = m.fast_ea(op);
    let Some(a) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    let v = alu::imul_trunc(&mut m.flags, 4, a, op.imm);
    set_reg(m, op.r0, v);
    next as u64
}

/// IMUL r32, r32.
pub(super) fn imul_rr(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let (a, b) = (reg(m, op.r0), reg(m, op.r1));
    let v = alu::imul_trunc(&mut m.flags, 4, a, b);
    set_reg(m, op.r0, v);
    next as u64
}

/// Pushes a doubleword on the flat 32-bit stack.
#[inline(always)]
fn push32(m: &mut Machine, v: u32) -> bool {
    let sp = m.cpu.gpr[ESP].wrapping_sub(4);
    let Some(at) = m.fast_store_ref(sp, 4) else {
        return false;
    };
    m.mem.ram_store(at, 4, v);
    m.cpu.gpr[ESP] = sp;
    true
}

/// PUSH r32.
pub(super) fn push_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let v = reg(m, op.r0);
    finish(push32(m, v), next)
}

/// PUSH imm.
pub(super) fn push_i(m: &mut Machine, op: &Op, next: u32) -> u64 {
    finish(push32(m, op.imm), next)
}

/// POP r32.
pub(super) fn pop_r(m: &mut Machine, op: &Op, next: u32) -> u64 {
    let sp = m.cpu.gpr[ESP];
    let Some(v) = m.fast_read(sp, 4) else {
        return DECLINE;
    };
    m.cpu.gpr[ESP] = sp.wrapping_add(4);
    set_reg(m, op.r0, v);
    next as u64
}

/// CALL rel32.
pub(super) fn call_rel(m: &mut Machine, op: &Op, next: u32) -> u64 {
    finish(push32(m, next), next.wrapping_add(op.imm))
}

/// RET and RET imm16 (near).
pub(super) fn ret_near(m: &mut Machine, op: &Op, _next: u32) -> u64 {
    let sp = m.cpu.gpr[ESP];
    let Some(t) = m.fast_read(sp, 4) else {
        return DECLINE;
    };
    m.cpu.gpr[ESP] = sp.wrapping_add(4).wrapping_add(op.imm);
    t as u64
}

/// JMP rel.
pub(super) fn jmp_rel(_m: &mut Machine, op: &Op, next: u32) -> u64 {
    next.wrapping_add(op.imm) as u64
}

/// Jcc rel with condition code `CC` (the low nibble of the opcode).
fn jcc_rel<const CC: u8>(m: &mut Machine, op: &Op, next: u32) -> u64 {
    if m.flags.cond(CC) {
        next.wrapping_add(op.imm) as u64
    } else {
        next as u64
    }
}

/// The Jcc handlers by condition code.
pub(super) const JCC: [Handler; 16] = [
    jcc_rel::<0>,
    jcc_rel::<1>,
    jcc_rel::<2>,
    jcc_rel::<3>,
    jcc_rel::<4>,
    jcc_rel::<5>,
    jcc_rel::<6>,
    jcc_rel::<7>,
    jcc_rel::<8>,
    jcc_rel::<9>,
    jcc_rel::<10>,
    jcc_rel::<11>,
    jcc_rel::<12>,
    jcc_rel::<13>,
    jcc_rel::<14>,
    jcc_rel::<15>,
];
