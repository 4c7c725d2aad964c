//! If-conversion for the Wasm backend: a forward branch inside a region over a few
//! register and flag operations runs them either way and keeps their results with
//! `select`, so a guest branch the host cannot predict costs no host mispredict.

use alloc::collections::BTreeMap;

use super::ir::{FlagOp, Op, Val};

/// Most guest instructions a converted branch skips (they run on both paths).
pub const MAX_SKIPPED: u32 = 4;

/// What the operations a convertible branch skips write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The guest registers they set (bit `r` for register `r`).
    pub regs: u8,
    /// Whether they record flags (then only flags a backend keeps in locals as a
    /// result, a carry and an overflow: logic, shifts by a constant, IMUL).
    pub flags: bool,
}

/// A 32-bit flags operation whose record is a result, CF and OF alone.
pub fn result_flags(op: FlagOp, size: u8, b: Val) -> bool {
    size == 4
        && match op {
            FlagOp::And | FlagOp::Or | FlagOp::Xor | FlagOp::Imul => true,
            FlagOp::Shl | FlagOp::Shr | FlagOp::Sar => matches!(b, Val::C(1..=31)),
            _ => false,
        }
}

/// The `branch.if` operations (by index in `ops`) that can run as selects: the only
/// branch to their join, with a temporary as condition, skipping at most
/// [`MAX_SKIPPED`] instructions of `get`, `set`, `bin` and result-only `flags`
/// operations (nothing that can leave the region, reads the flags or branches).
pub fn convertible(ops: &[Op]) -> BTreeMap<usize, Skip> {
    let mut out = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let Op::BranchIf {
            cond: Val::T(_),
            target,
        } = *op
        else {
            continue;
        };
        let branches = ops
            .iter()
            .filter(|o| {
                matches!(**o, Op::BranchIf { target: t, .. } | Op::LoopIf { target: t, .. } if t == target)
            })
            .count();
        if branches != 1 {
            continue;
        }
        let mut skip = Skip {
            regs: 0,
            flags: false,
        };
        let mut insns = 0;
        let mut ok = false;
        for o in &ops[i + 1..] {
            match *o {
                Op::Join { eip } if eip == target => {
                    ok = true;
                    break;
                }
                Op::Insn { .. } => insns += 1,
                Op::Get { .. } | Op::Bin { .. } => {}
                Op::Set { reg, .. } => skip.regs |= 1 << (reg & 7),
                Op::Flags { op, size, b, .. } if result_flags(op, size, b) => skip.flags = true,
                _ => break,
            }
        }
        if ok && insns <= MAX_SKIPPED {
            out.insert(i, skip);
        }
    }
    out
}
