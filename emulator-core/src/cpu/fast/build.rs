//! Decoding for the fast tier: an instruction becomes an [`Op`] with the handler for
//! its form and its operands extracted, or the general-path operation.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic as M};

use super::ops::{self, alu_kind, Kind};
use super::Op;
use crate::cpu::decode::{form_mem_ok, plain32, r32, Decoded, K_IMM, K_MEM};
use crate::machine::Machine;

/// Operand forms of a decoded instruction, as the kinds distinguish them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// 32-bit register, 32-bit register.
    RR,
    /// 32-bit register, immediate.
    RI,
    /// 32-bit register, memory.
    RM,
    /// Memory, 32-bit register.
    MR,
    /// Memory, immediate.
    MI,
    /// 32-bit register alone.
    R,
    /// Anything else.
    Other,
}

fn form(d: &Decoded, count: u32) -> Form {
    let k = |n: usize| d.kind.get(n).copied().unwrap_or(0xff);
    let mem_ok = d.kind.contains(&K_MEM) && form_mem_ok(d);
    match count {
        1 if r32(d, 0).is_some() => Form::R,
        2 => {
            let (a, b) = (k(0), k(1));
            if r32(d, 0).is_some() && r32(d, 1).is_some() {
                Form::RR
            } else if r32(d, 0).is_some() && b == K_IMM {
                Form::RI
            } else if r32(d, 0).is_some() && b == K_MEM && mem_ok {
                Form::RM
            } else if a == K_MEM && mem_ok && r32(d, 1).is_some() {
                Form::MR
            } else if a == K_MEM && mem_ok && b == K_IMM {
                Form::MI
            } else {
                Form::Other
            }
        }
        _ => Form::Other,
    }
}

/// The ALU kind for ALU operation `alu` in form `f`.
fn alu_form_kind(alu: u8, f: Form, msize: u8) -> Option<Kind> {
    let table = match f {
        Form::RR => &ops::ALU_RR,
        Form::RI => &ops::ALU_RI,
        Form::RM if msize == 4 => &ops::ALU_RM,
        Form::MR if msize == 4 => &ops::ALU_MR,
        Form::MI if matches!(msize, 1 | 2 | 4) => &ops::ALU_MI,
        _ => return None,
    };
    table.get(alu as usize).copied()
}

/// The kind for a shift or rotate of a 32-bit register by an immediate count.
fn shift_kind(mnem: M) -> Option<Kind> {
    Some(match mnem {
        M::Shl | M::Sal => Kind::ShlRi,
        M::Shr => Kind::ShrRi,
        M::Sar => Kind::SarRi,
        M::Rol => Kind::RolRi,
        M::Ror => Kind::RorRi,
        _ => return None,
    })
}

/// Chooses the handler for a decoded 32-bit-mode instruction at `eip`.
fn select(d: &Decoded, eip: u32) -> Option<Op> {
    let ins = &d.ins;
    if !plain32(d) {
        return None;
    }
    let len = ins.len() as u8;
    let next = eip.wrapping_add(len as u32);
    let page = eip & !0xfff;
    let mut op = Op {
        kind: Kind::General,
        len,
        next: next.wrapping_sub(page) as u16,
        size: d.msize,
        r0: r32(d, 0).unwrap_or(0),
        r1: r32(d, 1).unwrap_or(0),
        base: d.base,
        index: d.index,
        scale: d.scale,
        imm: d.imm,
        disp: d.disp,
        ..ops::UNDECODED
    };
    let count = ins.op_count();
    let f = form(d, count);
    let osize32 = d.osize == 4;
    // A relative branch keeps its displacement and its target's page offset.
    let relative = |op: &mut Op| {
        let target = ins.near_branch_target() as u32;
        op.imm = target.wrapping_sub(next);
        op.target = target.wrapping_sub(page);
    };
    let kind = match d.mnem {
        M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test
            if osize32 || matches!(f, Form::MI) =>
        {
            alu_form_kind(alu_kind(d.mnem), f, d.msize)?
        }
        M::Mov if osize32 || f == Form::MI => match f {
            Form::RR => Kind::MovRr,
            Form::RI => Kind::MovRi,
            Form::RM if d.msize == 4 => Kind::MovRm,
            Form::MR if d.msize == 4 => Kind::MovMr,
            Form::MI if matches!(d.msize, 1 | 2 | 4) => Kind::MovMi,
            _ => return None,
        },
        M::Movzx if f == Form::RM && r32(d, 0).is_some() && matches!(d.msize, 1 | 2) => {
            Kind::MovzxRm
        }
        M::Movsx if f == Form::RM && r32(d, 0).is_some() && matches!(d.msize, 1 | 2) => {
            Kind::MovsxRm
        }
        M::Lea if f == Form::RM => Kind::Lea,
        M::Inc if f == Form::R => Kind::IncR,
        M::Dec if f == Form::R => Kind::DecR,
        M::Not if f == Form::R => Kind::NotR,
        M::Neg if f == Form::R => Kind::NegR,
        M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror if f == Form::RI => shift_kind(d.mnem)?,
        M::Imul if count == 3 && r32(d, 0).is_some() && d.kind.get(2) == Some(&K_IMM) => {
            if r32(d, 1).is_some() {
                Kind::ImulRri
            } else if d.kind.get(1) == Some(&K_MEM) && form_mem_ok(d) && d.msize == 4 {
                Kind::ImulRmi
            } else {
                return None;
            }
        }
        M::Imul if f == Form::RR => Kind::ImulRr,
        M::Push if osize32 && f == Form::R => Kind::PushR,
        M::Push if osize32 && count == 1 && d.kind.first() == Some(&K_IMM) => Kind::PushI,
        M::Pop if osize32 && f == Form::R => Kind::PopR,
        M::Call if osize32 && ins.is_call_near() => {
            relative(&mut op);
            Kind::CallRel
        }
        M::Ret if osize32 => Kind::RetNear,
        M::Jmp if osize32 && ins.is_jmp_short_or_near() => {
            relative(&mut op);
            Kind::JmpRel
        }
        _ if osize32 && ins.is_jcc_short_or_near() => {
            relative(&mut op);
            *ops::JCC.get(d.cc as usize)?
        }
        M::Nop => Kind::Nop,
        _ => return None,
    };
    if d.mnem == M::Ret && count > 0 {
        // RET imm16: the immediate is the extra byte count to release.
        op.imm = ins.immediate16() as u32;
    } else if d.mnem == M::Ret {
        op.imm = 0;
    }
    op.kind = kind;
    Some(op)
}

/// The operation of an instruction the tier does not run: the general interpreter does.
const GENERAL: Op = Op {
    kind: Kind::General,
    ..ops::UNDECODED
};

/// Decodes the instruction at the start of `bytes` (linear `eip`) into an operation;
/// [`GENERAL`] when the tier has no handler for it or it does not fit in `bytes`.
fn decode_one(bytes: &[u8], eip: u32) -> Op {
    let Ok(mut decoder) = Decoder::try_with_ip(32, bytes, eip as u64, DecoderOptions::NONE) else {
        return GENERAL;
    };
    let mut ins = Instruction::default();
    decoder.decode_out(&mut ins);
    if ins.is_invalid() || ins.len() > bytes.len() {
        return GENERAL;
    }
    select(&Decoded::new(ins, 32), eip).unwrap_or(GENERAL)
}

impl Machine {
    /// Decodes the instruction at physical page `phys_page`, offset `eip & 0xfff`, for
    /// linear `eip` into an operation; [`GENERAL`] when the tier has no handler for it
    /// or it does not fit in the page. A Jcc right after it on the same page is fused
    /// in.
    #[cold]
    #[inline(never)]
    pub(super) fn fast_decode(&self, phys_page: u32, eip: u32) -> Op {
        let off = eip & 0xfff;
        // Room for two instructions of at most 15 bytes each.
        let room = (0x1000 - off).min(30) as usize;
        let mut bytes = [0u8; 30];
        for (i, b) in bytes.iter_mut().enumerate().take(room) {
            *b = self.mem.read_u8(phys_page | (off + i as u32));
        }
        let Some(code) = bytes.get(..room) else {
            return GENERAL;
        };
        let mut op = decode_one(code.get(..room.min(15)).unwrap_or(code), eip);
        // Only a kind with fused twins looks at the instruction after it.
        if ops::with_jcc(op.kind, 0).is_none() {
            return op;
        }
        let Some(rest) = code.get(op.len as usize..) else {
            return op;
        };
        let jcc = decode_one(rest, eip.wrapping_add(op.len as u32));
        let Some(cc) = ops::JCC.iter().position(|&k| k == jcc.kind) else {
            return op;
        };
        if let Some(pair) = ops::with_jcc(op.kind, cc as u8) {
            op.kind = pair;
            op.cc = cc as u8;
            op.after = op.next + jcc.len as u16;
            op.target = jcc.target;
            op.skip = if (1..=15).contains(&jcc.imm) {
                jcc.imm as u8
            } else {
                0
            };
        }
        op
    }
}
