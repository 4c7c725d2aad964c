// reference solution: xlate-alu (vmlab component lab)
//! The ALU family as vmlab's translating tier lowers it: ADD, ADC, SUB, SBB, AND, OR,
//! XOR, CMP and TEST on a register or memory destination with a register, memory or
//! immediate source (one memory operand at most), and INC and DEC of a register.

use assignments::component::xlate_alu::{
    AluFamily, AluInsn, AluOp, BinOp, Emit, FlagOp, Operand, Val,
};

/// The reference lowering.
#[derive(Debug)]
pub struct Submission;

/// The condition code that holds when CF is set (`jb`).
const CC_B: u8 = 2;

/// The value operation and the flag record of a two-operand instruction; `None` in the
/// first place for CMP and TEST, which keep the destination.
fn ops(op: AluOp) -> Option<(Option<BinOp>, FlagOp)> {
    Some(match op {
        AluOp::Add => (Some(BinOp::Add), FlagOp::Add),
        AluOp::Adc => (Some(BinOp::Add), FlagOp::Adc),
        AluOp::Sub => (Some(BinOp::Sub), FlagOp::Sub),
        AluOp::Sbb => (Some(BinOp::Sub), FlagOp::Sbb),
        AluOp::And => (Some(BinOp::And), FlagOp::And),
        AluOp::Or => (Some(BinOp::Or), FlagOp::Or),
        AluOp::Xor => (Some(BinOp::Xor), FlagOp::Xor),
        AluOp::Cmp => (None, FlagOp::Sub),
        AluOp::Test => (None, FlagOp::And),
        AluOp::Inc | AluOp::Dec => return None,
    })
}

/// INC and DEC of a 32-bit register: the flags first (they read the old value).
fn inc_dec(insn: &AluInsn, ir: &mut dyn Emit) -> bool {
    let (Operand::Reg(r), 4) = (insn.dst, insn.size) else {
        return false;
    };
    let x = ir.get(r);
    let res = if insn.op == AluOp::Inc {
        ir.flags(FlagOp::Inc, 4, x, Val::C(0));
        ir.bin(BinOp::Add, x, Val::C(1))
    } else {
        ir.flags(FlagOp::Dec, 4, x, Val::C(0));
        ir.bin(BinOp::Sub, x, Val::C(1))
    };
    ir.set(r, res);
    true
}

impl AluFamily for Submission {
    fn lower(&self, insn: &AluInsn, ir: &mut dyn Emit) -> bool {
        let Some((op, fop)) = ops(insn.op) else {
            return inc_dec(insn, ir);
        };
        let (dst, Some(src)) = (insn.dst, insn.src) else {
            return false;
        };
        let size = insn.size;
        // Byte and word forms: only a memory destination with an immediate.
        if size != 4 && !(dst == Operand::Mem && matches!(src, Operand::Imm(_))) {
            return false;
        }
        let addr = match (dst, src) {
            (Operand::Mem, Operand::Mem) | (Operand::Imm(_), _) => return false,
            (Operand::Mem, _) | (_, Operand::Mem) => Some(ir.ea()),
            _ => None,
        };
        // The loads come first: leaving at one retires nothing of this instruction.
        let mut read = |p: Operand| match (p, addr) {
            (Operand::Reg(r), _) => ir.get(r),
            (Operand::Imm(i), _) => Val::C(i),
            (Operand::Mem, Some(a)) => ir.load(size, a),
            (Operand::Mem, None) => Val::C(0),
        };
        let x = read(dst);
        let y = read(src);
        let mut res = op.map(|o| ir.bin(o, x, y));
        if matches!(fop, FlagOp::Adc | FlagOp::Sbb) {
            // The carry in is CF before this instruction's flags.
            let cf = ir.cond(CC_B);
            res = res.map(|r| ir.bin(op.unwrap_or(BinOp::Add), r, cf));
        }
        // The store before the flags and the register write: it may leave the region.
        if let (Some(r), Operand::Mem, Some(a)) = (res, dst, addr) {
            ir.store(size, a, r);
        }
        ir.flags(fop, size, x, y);
        if let (Some(r), Operand::Reg(reg)) = (res, dst) {
            ir.set(reg, r);
        }
        true
    }
}
