//! Which bytecodes of a method one compiled region covers: a dataflow from the entry
//! pc through the int subset the JIT compiles, giving each reached pc its operand-stack
//! depth, the block starts (entry and branch targets), the exits (the first bytecode
//! outside the subset on each path) and the locals the region reads or writes.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::classfile::verify::{ends_flow, targets};
use crate::classfile::{Constant, ConstantPool};
use crate::opcode;

/// What a compiled region covers.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub entry: usize,
    /// Operand-stack depth before each pc the region reaches (`None`: not reached).
    pub depth: Vec<Option<u16>>,
    /// Reached pcs the region compiles (the others it reaches are exits).
    pub compiled: Vec<bool>,
    /// Block starts: the entry and every branch target; the stack is in its home here.
    pub starts: Vec<bool>,
    /// Locals the compiled bytecodes load, store or increment.
    pub locals: BTreeSet<u16>,
}

/// How one bytecode of the subset uses the operand stack, and its local operand.
pub(crate) struct Effect {
    pub pops: u16,
    pub pushes: u16,
    pub local: Option<u16>,
}

/// The int constant an `ldc` loads, if it is one.
pub(crate) fn ldc_int(code: &[u8], pc: usize, pool: &ConstantPool) -> Option<i32> {
    let idx = match code[pc] {
        18 => u16::from(*code.get(pc + 1)?),
        19 => u16::from_be_bytes([*code.get(pc + 1)?, *code.get(pc + 2)?]),
        _ => return None,
    };
    match pool.get(idx) {
        Some(Constant::Integer(n)) => Some(*n),
        _ => None,
    }
}

/// The stack effect of the bytecode at `pc` when the JIT compiles it, `None` when it
/// is outside the subset.
pub(crate) fn effect(code: &[u8], pc: usize, pool: &ConstantPool) -> Option<Effect> {
    let op = *code.get(pc)?;
    let e = |pops, pushes, local: Option<u16>| {
        Some(Effect {
            pops,
            pushes,
            local,
        })
    };
    let u8_at = |at: usize| code.get(at).map(|&b| u16::from(b));
    let u16_at = |at: usize| Some(u16::from_be_bytes([*code.get(at)?, *code.get(at + 1)?]));
    match op {
        0 => e(0, 0, None),
        2..=8 | 16 | 17 => e(0, 1, None),
        18 | 19 => ldc_int(code, pc, pool).and_then(|_| e(0, 1, None)),
        21 => e(0, 1, u8_at(pc + 1)),
        26..=29 => e(0, 1, Some(u16::from(op - 26))),
        54 => e(1, 0, u8_at(pc + 1)),
        59..=62 => e(1, 0, Some(u16::from(op - 59))),
        87 => e(1, 0, None),
        89 => e(1, 2, None),
        96 | 100 | 104 | 108 | 112 | 120 | 122 | 124 | 126 | 128 | 130 => e(2, 1, None),
        116 | 145..=147 => e(1, 1, None),
        132 => e(0, 0, u8_at(pc + 1)),
        153..=158 => e(1, 0, None),
        159..=164 => e(2, 0, None),
        167 | 200 | 177 => e(0, 0, None),
        172 => e(1, 0, None),
        196 => match *code.get(pc + 1)? {
            21 => e(0, 1, u16_at(pc + 2)),
            54 => e(1, 0, u16_at(pc + 2)),
            132 => e(0, 0, u16_at(pc + 2)),
            _ => None,
        },
        _ => None,
    }
}

/// Follows the method's code from `entry` with `entry_depth` values on the stack.
pub(crate) fn plan(
    code: &[u8],
    pool: &ConstantPool,
    entry: usize,
    entry_depth: u16,
) -> Result<Plan, String> {
    let n = code.len();
    let mut p = Plan {
        entry,
        depth: vec![None; n],
        compiled: vec![false; n],
        starts: vec![false; n],
        locals: BTreeSet::new(),
    };
    if entry >= n {
        return Err(alloc::format!("pc {entry} is past the end of the code"));
    }
    let Some(_) = effect(code, entry, pool) else {
        return Err(alloc::format!(
            "{} at pc {entry} is outside the int subset the JIT compiles",
            opcode::name(code[entry])
        ));
    };
    p.starts[entry] = true;
    let mut work = vec![(entry, entry_depth)];
    while let Some((pc, d)) = work.pop() {
        match p.depth[pc] {
            Some(seen) if seen == d => continue,
            Some(seen) => {
                return Err(alloc::format!(
                    "pc {pc} is reached with {seen} and with {d} values on the operand stack"
                ))
            }
            None => p.depth[pc] = Some(d),
        }
        let Some(e) = effect(code, pc, pool) else {
            continue; // an exit: the interpreter takes over here
        };
        p.compiled[pc] = true;
        if let Some(l) = e.local {
            p.locals.insert(l);
        }
        let after = d
            .checked_sub(e.pops)
            .ok_or_else(|| alloc::format!("operand stack underflow at pc {pc}"))?
            + e.pushes;
        let op = code[pc];
        let len = opcode::length(code, pc)
            .ok_or_else(|| alloc::format!("undecodable {} at pc {pc}", opcode::name(op)))?;
        for t in targets(code, pc, len) {
            let t = usize::try_from(t)
                .ok()
                .filter(|&t| t < n)
                .ok_or_else(|| alloc::format!("a branch out of the code at pc {pc}"))?;
            p.starts[t] = true;
            work.push((t, after));
        }
        if !ends_flow(op) {
            if pc + len >= n {
                return Err(alloc::format!("pc {pc} falls off the end of the code"));
            }
            work.push((pc + len, after));
        }
    }
    Ok(p)
}
