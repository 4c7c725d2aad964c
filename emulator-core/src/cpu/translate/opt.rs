//! The optimisation passes over a region's IR: register forwarding with constant
//! folding (guest registers held in temporaries across the region, written back only
//! where the region may be left), dead-flag elimination, and dead-code removal.

use alloc::vec;
use alloc::vec::Vec;

use super::ir::{BinOp, FlagOp, Op, Region, Val};
use crate::cpu::alu::Flags;

/// Runs every pass, in order.
pub fn optimize(r: &mut Region) {
    forward_and_fold(r);
    dead_sets(r);
    dead_flags(r);
    dead_code(r);
}

/// The value of `op(a, b)` when it does not depend on an unknown operand.
fn fold(op: BinOp, a: Val, b: Val) -> Option<Val> {
    match (op, a, b) {
        (_, Val::C(x), Val::C(y)) => Some(Val::C(op.eval(x, y))),
        (
            BinOp::Add | BinOp::Sub | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr | BinOp::Sar,
            x,
            Val::C(0),
        ) => Some(x),
        (BinOp::Add | BinOp::Or | BinOp::Xor, Val::C(0), y) => Some(y),
        (BinOp::And, x, Val::C(u32::MAX)) | (BinOp::And, Val::C(u32::MAX), x) => Some(x),
        (BinOp::And, _, Val::C(0)) | (BinOp::And, Val::C(0), _) => Some(Val::C(0)),
        (BinOp::Sub | BinOp::Xor, Val::T(x), Val::T(y)) if x == y => Some(Val::C(0)),
        _ => None,
    }
}

/// Forward pass: a register read after a read or write of the same register in the
/// region uses the value it has (no second `get`); operations on constants become
/// constants; a condition read from flags recorded from constants becomes a constant;
/// a conditional exit on a constant is dropped or becomes the region's last exit.
pub fn forward_and_fold(r: &mut Region) {
    let mut subst: Vec<Option<Val>> = vec![None; r.temps as usize];
    let mut regs: [Option<Val>; 8] = [None; 8];
    // The last `flags` that wrote all six flags, while nothing else wrote them since.
    let mut last_flags: Option<(FlagOp, u8, Val, Val)> = None;
    let mut out = Vec::with_capacity(r.ops.len());
    // Targets of branches inside the region whose join is still ahead: the region
    // cannot end before them.
    let mut ahead = alloc::collections::BTreeSet::new();
    for mut op in r.ops.drain(..) {
        op.map_uses(|v| match v {
            Val::T(t) => subst.get(t as usize).copied().flatten().unwrap_or(v),
            c => c,
        });
        let mut known = |t: u16, v: Val| {
            if let Some(s) = subst.get_mut(t as usize) {
                *s = Some(v);
            }
        };
        match op {
            Op::Get { dst, reg } => match regs.get(reg as usize).copied().flatten() {
                Some(v) => {
                    known(dst, v);
                    continue;
                }
                None => {
                    if let Some(slot) = regs.get_mut(reg as usize) {
                        *slot = Some(Val::T(dst));
                    }
                }
            },
            Op::Set { reg, src } => {
                if let Some(slot) = regs.get_mut(reg as usize) {
                    *slot = Some(src);
                }
            }
            Op::Bin { dst, op: bop, a, b } => {
                if let Some(v) = fold(bop, a, b) {
                    known(dst, v);
                    continue;
                }
            }
            Op::Flags {
                op: fop,
                size,
                a,
                b,
            } => {
                last_flags = fop.writes_all().then_some((fop, size, a, b));
            }
            Op::Cond { dst, cc } => {
                if let Some((fop, size, Val::C(a), Val::C(b))) = last_flags {
                    let mut f = Flags::from_eflags(0);
                    super::run::record_flags(&mut f, fop, size, a, b);
                    known(dst, Val::C(f.cond(cc) as u32));
                    continue;
                }
            }
            Op::Join { eip } => {
                regs = [None; 8];
                last_flags = None;
                ahead.remove(&eip);
            }
            Op::BranchIf { target, .. } => {
                ahead.insert(target);
            }
            Op::ExitIf {
                cond: Val::C(c),
                target,
            } if ahead.is_empty() => {
                if c == 0 {
                    continue;
                }
                out.push(Op::Exit {
                    target: Val::C(target),
                });
                break;
            }
            _ => {}
        }
        out.push(op);
    }
    r.ops = out;
}

/// Backward pass: a register write that a later write to the same register replaces
/// before the region can be left, and before any read, is removed.
pub fn dead_sets(r: &mut Region) {
    let mut overwritten = [false; 8];
    let mut keep = vec![true; r.ops.len()];
    for (i, op) in r.ops.iter().enumerate().rev() {
        if op.may_leave() || op.is_branch_point() {
            overwritten = [false; 8];
        }
        match *op {
            Op::Set { reg, .. } => {
                if let Some(o) = overwritten.get_mut(reg as usize) {
                    if *o {
                        keep[i] = false;
                    }
                    *o = true;
                }
            }
            Op::Get { reg, .. } => {
                if let Some(o) = overwritten.get_mut(reg as usize) {
                    *o = false;
                }
            }
            _ => {}
        }
    }
    retain(r, &keep);
}

/// Backward pass (dead-flag elimination): a `flags` operation that a later one
/// replaces completely before anything reads the flags, and before the region can be
/// left, is removed.
pub fn dead_flags(r: &mut Region) {
    let mut killed = false;
    let mut keep = vec![true; r.ops.len()];
    for (i, op) in r.ops.iter().enumerate().rev() {
        if op.may_leave() || op.is_branch_point() {
            killed = false;
        }
        match *op {
            Op::Flags { op: fop, .. } => {
                if killed {
                    keep[i] = false;
                } else {
                    killed = fop.writes_all();
                }
            }
            Op::Cond { .. } => killed = false,
            _ => {}
        }
    }
    retain(r, &keep);
}

/// Backward pass: pure operations (`get`, `bin`, `cond`) whose temporary nothing uses
/// are removed. Loads stay: they may leave the region where the interpreter faults.
pub fn dead_code(r: &mut Region) {
    let mut used = vec![false; r.temps as usize];
    let mut keep = vec![true; r.ops.len()];
    for (i, op) in r.ops.iter().enumerate().rev() {
        let pure = matches!(op, Op::Get { .. } | Op::Bin { .. } | Op::Cond { .. });
        if let (true, Some(d)) = (pure, op.dst()) {
            if !used.get(d as usize).copied().unwrap_or(false) {
                keep[i] = false;
                continue;
            }
        }
        for v in op.uses().into_iter().flatten() {
            if let Val::T(t) = v {
                if let Some(u) = used.get_mut(t as usize) {
                    *u = true;
                }
            }
        }
    }
    retain(r, &keep);
}

fn retain(r: &mut Region, keep: &[bool]) {
    let mut i = 0;
    r.ops.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
}
