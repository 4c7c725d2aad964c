//! The JIT's registers: which locals of a region live in EBX, ESI and EDI for the
//! whole region (the ones used most, a use inside a loop counting far more), and
//! the scratch registers EAX, ECX and EDX that hold values computed within a block.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::analyze::{effect, Plan};
use crate::classfile::verify::targets;
use crate::classfile::ConstantPool;
use crate::opcode;

/// The registers locals live in, by name and index in the CPU's general registers.
pub(crate) const LOCAL_REGS: [(&str, usize); 3] = [("ebx", 3), ("esi", 6), ("edi", 7)];
/// The scratch registers: 32-bit, 16-bit and 8-bit names.
pub(crate) const SCRATCH: [(&str, &str, &str); 3] = [
    ("eax", "ax", "al"),
    ("ecx", "cx", "cl"),
    ("edx", "dx", "dl"),
];
/// Scratch register numbers (indices into `SCRATCH`).
pub(crate) const EAX: u8 = 0;
pub(crate) const ECX: u8 = 1;
pub(crate) const EDX: u8 = 2;
/// How much more a use inside a loop counts than one outside.
const LOOP_WEIGHT: u64 = 16;

/// The locals of `plan` that get a register: (local, index into `LOCAL_REGS`).
pub(crate) fn choose(code: &[u8], pool: &ConstantPool, plan: &Plan) -> Vec<(u16, usize)> {
    let n = code.len();
    // Loops: backward branches between compiled pcs, as (head, branch) ranges.
    let mut loops = Vec::new();
    for pc in 0..n {
        if !plan.compiled[pc] {
            continue;
        }
        let Some(len) = opcode::length(code, pc) else {
            continue;
        };
        for t in targets(code, pc, len) {
            if let Ok(t) = usize::try_from(t) {
                if t <= pc {
                    loops.push((t, pc));
                }
            }
        }
    }
    let mut weight: BTreeMap<u16, u64> = BTreeMap::new();
    for pc in 0..n {
        if !plan.compiled[pc] {
            continue;
        }
        let Some(k) = effect(code, pc, pool).and_then(|e| e.local) else {
            continue;
        };
        let depth = loops.iter().filter(|&&(h, b)| h <= pc && pc <= b).count() as u32;
        let w = LOOP_WEIGHT.saturating_pow(depth.min(4));
        let slot = weight.entry(k).or_insert(0);
        *slot = slot.saturating_add(w);
    }
    let mut used: Vec<(u16, u64)> = plan
        .locals
        .iter()
        .map(|&k| (k, weight.get(&k).copied().unwrap_or(0)))
        .collect();
    used.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    used.iter()
        .take(LOCAL_REGS.len())
        .enumerate()
        .map(|(r, &(k, _))| (k, r))
        .collect()
}
