//! Decoding for the fast tier: an instruction becomes an [`Op`] with the handler for
//! its form and its operands extracted, or the general-path operation.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic as M};

use super::ops::{self, alu_kind};
use super::{Handler, Op};
use crate::cpu::decode::{Decoded, K_GPR, K_IMM, K_MEM, NO_REG};
use crate::machine::Machine;

/// Operand forms of a decoded instruction, as the handler table distinguishes them.
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

/// A 32-bit GPR operand's register number.
fn r32(d: &Decoded, n: usize) -> Option<u8> {
    match (d.kind.get(n), d.reg.get(n)) {
        (Some(&K_GPR), Some(&p)) if p >> 3 == 0 => Some(p & 7),
        _ => None,
    }
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

/// The ALU handler for `kind` in form `f`.
fn alu_handler(kind: u8, f: Form, msize: u8) -> Option<Handler> {
    use ops::*;
    macro_rules! pick {
        ($h:ident) => {
            match kind {
                ALU_ADD => $h::<ALU_ADD>,
                ALU_OR => $h::<ALU_OR>,
                ALU_ADC => $h::<ALU_ADC>,
                ALU_SBB => $h::<ALU_SBB>,
                ALU_AND => $h::<ALU_AND>,
                ALU_SUB => $h::<ALU_SUB>,
                ALU_XOR => $h::<ALU_XOR>,
                ALU_CMP => $h::<ALU_CMP>,
                _ => $h::<ALU_TEST>,
            }
        };
    }
    Some(match f {
        Form::RR => pick!(alu_rr),
        Form::RI => pick!(alu_ri),
        Form::RM if msize == 4 => pick!(alu_rm),
        Form::MR if msize == 4 => pick!(alu_mr),
        Form::MI if matches!(msize, 1 | 2 | 4) => pick!(alu_mi),
        _ => return None,
    })
}

/// The handler for a shift or rotate of a 32-bit register by an immediate count.
fn shift_handler(mnem: M) -> Option<Handler> {
    use ops::*;
    Some(match mnem {
        M::Shl | M::Sal => shift_ri::<SH_SHL>,
        M::Shr => shift_ri::<SH_SHR>,
        M::Sar => shift_ri::<SH_SAR>,
        M::Rol => shift_ri::<SH_ROL>,
        M::Ror => shift_ri::<SH_ROR>,
        _ => return None,
    })
}

/// Chooses the handler for a decoded 32-bit-mode instruction at `eip`.
fn select(d: &Decoded, eip: u32) -> Option<Op> {
    let ins = &d.ins;
    if d.bad_lock
        || ins.has_lock_prefix()
        || ins.has_rep_prefix()
        || ins.has_repne_prefix()
        || d.code16
    {
        return None;
    }
    let len = ins.len() as u8;
    let next = eip.wrapping_add(len as u32);
    let mut op = Op {
        exec: ops::general,
        len,
        size: d.msize,
        r0: r32(d, 0).unwrap_or(0),
        r1: r32(d, 1).unwrap_or(0),
        base: d.base,
        index: d.index,
        scale: d.scale,
        imm: d.imm,
        disp: d.disp,
    };
    let count = ins.op_count();
    let f = form(d, count);
    let osize32 = d.osize == 4;
    let exec: Handler = match d.mnem {
        M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test
            if osize32 || matches!(f, Form::MI) =>
        {
            alu_handler(alu_kind(d.mnem), f, d.msize)?
        }
        M::Mov if osize32 || f == Form::MI => match f {
            Form::RR => ops::mov_rr,
            Form::RI => ops::mov_ri,
            Form::RM if d.msize == 4 => ops::mov_rm,
            Form::MR if d.msize == 4 => ops::mov_mr,
            Form::MI if matches!(d.msize, 1 | 2 | 4) => ops::mov_mi,
            _ => return None,
        },
        M::Movzx if f == Form::RM && r32(d, 0).is_some() && matches!(d.msize, 1 | 2) => {
            ops::movzx_rm
        }
        M::Movsx if f == Form::RM && r32(d, 0).is_some() && matches!(d.msize, 1 | 2) => {
            ops::movsx_rm
        }
        M::Lea if f == Form::RM => ops::lea,
        M::Inc if f == Form::R => ops::inc_r,
        M::Dec if f == Form::R => ops::dec_r,
        M::Not if f == Form::R => ops::not_r,
        M::Neg if f == Form::R => ops::neg_r,
        M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror if f == Form::RI => {
            shift_handler(d.mnem)?
        }
        M::Imul if count == 3 && r32(d, 0).is_some() && d.kind.get(2) == Some(&K_IMM) => {
            if r32(d, 1).is_some() {
                ops::imul_rri
            } else if d.kind.get(1) == Some(&K_MEM) && form_mem_ok(d) && d.msize == 4 {
                ops::imul_rmi
            } else {
                return None;
            }
        }
        M::Imul if f == Form::RR => ops::imul_rr,
        M::Push if osize32 && f == Form::R => ops::push_r,
        M::Push if osize32 && count == 1 && d.kind.first() == Some(&K_IMM) => ops::push_i,
        M::Pop if osize32 && f == Form::R => ops::pop_r,
        M::Call if osize32 && ins.is_call_near() => {
            op.imm = (ins.near_branch_target() as u32).wrapping_sub(next);
            ops::call_rel
        }
        M::Ret if osize32 => ops::ret_near,
        M::Jmp if osize32 && ins.is_jmp_short_or_near() => {
            op.imm = (ins.near_branch_target() as u32).wrapping_sub(next);
            ops::jmp_rel
        }
        _ if osize32 && ins.is_jcc_short_or_near() => {
            op.imm = (ins.near_branch_target() as u32).wrapping_sub(next);
            *ops::JCC.get(d.cc as usize)?
        }
        M::Nop => ops::nop,
        _ => return None,
    };
    if d.mnem == M::Ret && count > 0 {
        // RET imm16: the immediate is the extra byte count to release.
        op.imm = ins.immediate16() as u32;
    } else if d.mnem == M::Ret {
        op.imm = 0;
    }
    op.exec = exec;
    Some(op)
}

/// The memory operand is a 32-bit address in DS, ES or SS.
fn form_mem_ok(d: &Decoded) -> bool {
    !d.addr16 && matches!(d.seg, 0 | 2 | 3)
}

impl Machine {
    /// Decodes the instruction at physical `phys` (page-aligned page `phys & !0xfff`)
    /// for linear `eip` into an operation; the general-path operation when the tier
    /// has no handler for it or it does not fit in the page.
    pub(super) fn fast_decode(&self, phys_page: u32, eip: u32) -> Op {
        let off = eip & 0xfff;
        let room = (0x1000 - off).min(15) as usize;
        let mut bytes = [0u8; 15];
        for (i, b) in bytes.iter_mut().enumerate().take(room) {
            *b = self.mem.read_u8(phys_page | (off + i as u32));
        }
        let general = Op {
            exec: ops::general,
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
        let Some(slice) = bytes.get(..room) else {
            return general;
        };
        let Ok(mut decoder) = Decoder::try_with_ip(32, slice, eip as u64, DecoderOptions::NONE)
        else {
            return general;
        };
        let mut ins = Instruction::default();
        decoder.decode_out(&mut ins);
        if ins.is_invalid() || ins.len() > room {
            return general;
        }
        select(&Decoded::new(ins, 32), eip).unwrap_or(general)
    }
}
