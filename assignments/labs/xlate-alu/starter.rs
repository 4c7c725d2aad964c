//! Lab 15: the ALU family of vmlab's translator. ADD, SUB, AND, OR, XOR and CMP with a
//! register or an immediate source are lowered; ADC and SBB forget the carry, INC and
//! DEC record the wrong flags, TEST and every memory form are declined: your work.
//!
//! Build and grade locally with `vmlab grade --lab xlate-alu --submission this-file.rs`.

use assignments::component::xlate_alu::{
    AluFamily, AluInsn, AluOp, BinOp, Emit, FlagOp, Operand, Val,
};

/// Your lowering (keep the name: the grader looks for `Submission`).
#[derive(Debug)]
pub struct Submission;

impl AluFamily for Submission {
    fn lower(&self, insn: &AluInsn, ir: &mut dyn Emit) -> bool {
        if insn.size != 4 {
            return false;
        }
        match (insn.op, insn.dst, insn.src) {
            (AluOp::Inc | AluOp::Dec, Operand::Reg(r), None) => {
                let x = ir.get(r);
                // Wrong: INC and DEC keep CF, so their flags are not ADD's and SUB's.
                let (op, fop) = if insn.op == AluOp::Inc {
                    (BinOp::Add, FlagOp::Add)
                } else {
                    (BinOp::Sub, FlagOp::Sub)
                };
                let res = ir.bin(op, x, Val::C(1));
                ir.flags(fop, 4, x, Val::C(1));
                ir.set(r, res);
                true
            }
            (op, Operand::Reg(r), Some(src)) => {
                let (bin, fop) = match op {
                    AluOp::Add => (Some(BinOp::Add), FlagOp::Add),
                    // Wrong: ADC and SBB also add or subtract CF.
                    AluOp::Adc => (Some(BinOp::Add), FlagOp::Add),
                    AluOp::Sub => (Some(BinOp::Sub), FlagOp::Sub),
                    AluOp::Sbb => (Some(BinOp::Sub), FlagOp::Sub),
                    AluOp::And => (Some(BinOp::And), FlagOp::And),
                    AluOp::Or => (Some(BinOp::Or), FlagOp::Or),
                    AluOp::Xor => (Some(BinOp::Xor), FlagOp::Xor),
                    AluOp::Cmp => (None, FlagOp::Sub),
                    // Your work: TEST.
                    _ => return false,
                };
                let x = ir.get(r);
                let y = match src {
                    Operand::Reg(s) => ir.get(s),
                    Operand::Imm(i) => Val::C(i),
                    // Your work: memory sources (and memory destinations below).
                    Operand::Mem => return false,
                };
                if let Some(bin) = bin {
                    let res = ir.bin(bin, x, y);
                    ir.set(r, res);
                }
                ir.flags(fop, 4, x, y);
                true
            }
            _ => false,
        }
    }
}
