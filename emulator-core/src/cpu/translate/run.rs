//! The IR interpreter: runs a region on the machine, operation by operation. It is the
//! reference semantics of the IR (a backend must leave the same state) and the
//! translating tier's backend where no Wasm engine is at hand (native runs and tests).

use alloc::vec;

use super::ir::{FlagOp, Op, Region, Val};
use crate::cpu::alu::{self, Flags};
use crate::machine::Machine;

/// Stores in the lazy-flags record what `op` on `a`, `b` of `size` bytes leaves there,
/// through the core's ALU.
pub fn record_flags(f: &mut Flags, op: FlagOp, size: u8, a: u32, b: u32) {
    match op {
        FlagOp::Add => {
            alu::add(f, size, a, b);
        }
        FlagOp::Adc => {
            alu::adc(f, size, a, b);
        }
        FlagOp::Sub => alu::cmp(f, size, a, b),
        FlagOp::Sbb => {
            alu::sbb(f, size, a, b);
        }
        FlagOp::And => alu::test(f, size, a, b),
        FlagOp::Or => {
            alu::or(f, size, a, b);
        }
        FlagOp::Xor => {
            alu::xor(f, size, a, b);
        }
        FlagOp::Inc => {
            alu::inc(f, size, a);
        }
        FlagOp::Dec => {
            alu::dec(f, size, a);
        }
        FlagOp::Neg => {
            alu::neg(f, size, a);
        }
        FlagOp::Shl => {
            alu::shl(f, size, a, b as u8);
        }
        FlagOp::Shr => {
            alu::shr(f, size, a, b as u8);
        }
        FlagOp::Sar => {
            alu::sar(f, size, a, b as u8);
        }
        FlagOp::Imul => {
            alu::imul_trunc(f, size, a, b);
        }
        FlagOp::Rol => {
            alu::rol(f, size, a, b as u8);
        }
        FlagOp::Ror => {
            alu::ror(f, size, a, b as u8);
        }
    }
}

/// Sets temporary `dst`.
fn put(t: &mut [u32], dst: u16, v: u32) {
    if let Some(s) = t.get_mut(dst as usize) {
        *s = v;
    }
}

/// Where a run of a region ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Left {
    /// Guest instructions retired.
    pub retired: u32,
    /// The EIP to continue at.
    pub eip: u32,
}

impl Machine {
    /// Runs region `r` from its entry (EIP = `r.entry`); the caller has checked that the
    /// budget and the next device deadline leave room for all its instructions. A loop
    /// inside the region goes round again while `room` leaves space for another pass.
    pub(crate) fn run_ir(&mut self, r: &Region, room: u32) -> Left {
        let mut t = vec![0u32; r.temps as usize];
        let insns = r.instructions();
        // Instructions retired by earlier rounds of loops, beyond the straight count `n`.
        let mut done: u32 = 0;
        let mut n: u32 = 0;
        let mut here = r.entry;
        let val = |t: &[u32], v: Val| match v {
            Val::C(c) => c,
            Val::T(i) => t.get(i as usize).copied().unwrap_or(0),
        };
        // A taken branch inside the region: the join it goes on at.
        let mut skip_to: Option<u32> = None;
        let mut i = 0;
        while let Some(op) = r.ops.get(i) {
            i += 1;
            if let Some(t) = skip_to {
                if *op == (Op::Join { eip: t }) {
                    skip_to = None;
                }
                continue;
            }
            match *op {
                Op::Join { .. } => {}
                Op::BranchIf { cond, target } => {
                    if val(&t, cond) != 0 {
                        skip_to = Some(target);
                    }
                }
                Op::LoopIf { cond, target } => {
                    if val(&t, cond) == 0 {
                        continue;
                    }
                    let head = r.ops[..i]
                        .iter()
                        .position(|o| *o == Op::Join { eip: target });
                    let before = head.map(|h| {
                        r.ops[..h]
                            .iter()
                            .filter(|o| matches!(o, Op::Insn { .. }))
                            .count() as u32
                    });
                    let again = done.saturating_add(n.saturating_sub(before.unwrap_or(n)));
                    match (head, before) {
                        (Some(h), Some(b)) if again.saturating_add(insns) <= room => {
                            done = again;
                            n = b;
                            i = h + 1;
                        }
                        _ => {
                            return Left {
                                retired: done + n,
                                eip: target,
                            }
                        }
                    }
                }
                Op::Insn { eip, .. } => {
                    n += 1;
                    here = eip;
                }
                Op::Get { dst, reg } => {
                    let v = self.cpu.gpr[(reg & 7) as usize];
                    put(&mut t, dst, v);
                }
                Op::Set { reg, src } => self.cpu.gpr[(reg & 7) as usize] = val(&t, src),
                Op::Bin { dst, op, a, b } => {
                    let v = op.eval(val(&t, a), val(&t, b));
                    put(&mut t, dst, v);
                }
                Op::Flags { op, size, a, b } => {
                    let (a, b) = (val(&t, a), val(&t, b));
                    record_flags(&mut self.cpu.flags, op, size, a, b);
                }
                Op::Cond { dst, cc } => {
                    let v = self.cpu.flags.cond(cc) as u32;
                    put(&mut t, dst, v);
                }
                Op::Load { dst, size, addr } => match self.region_read(val(&t, addr), size) {
                    Some(v) => put(&mut t, dst, v),
                    None => {
                        return Left {
                            retired: done + n.saturating_sub(1),
                            eip: here,
                        }
                    }
                },
                Op::Store { size, addr, val: v } => {
                    let v = val(&t, v);
                    match self.region_store_ref(val(&t, addr), size) {
                        Some(slot) => self.mem.ram_store(slot, size, v),
                        None => {
                            return Left {
                                retired: done + n.saturating_sub(1),
                                eip: here,
                            }
                        }
                    }
                }
                Op::ExitIf { cond, target } => {
                    if val(&t, cond) != 0 {
                        return Left {
                            retired: done + n,
                            eip: target,
                        };
                    }
                }
                Op::Exit { target } => {
                    return Left {
                        retired: done + n,
                        eip: val(&t, target),
                    }
                }
            }
        }
        Left {
            retired: done + n,
            eip: here,
        }
    }
}
