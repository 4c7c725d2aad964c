//! Code discovery and lowering: from an entry point, the guest instructions along one
//! path within a code page (through fall-throughs, unconditional jumps and calls, with
//! side exits at conditional branches, which become branches or loops inside the region
//! when they go to an instruction of the path) become the IR of one region.
//!
//! The lowered subset is the flat 32-bit ALU, move, LEA, shift and rotate (by a
//! constant), stack and branch forms. The region ends before the first instruction
//! outside it (the interpreter runs that one), at a return, at a jump that leaves the
//! page or goes back into the region, and at the instruction limit.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use iced_x86::Mnemonic as M;

use super::alu_family::api::{AluFamily, AluInsn, AluOp, Emit, Operand};
use super::ir::{BinOp, FlagOp, Op, Region, Tmp, Val};
use crate::cpu::alu::mask;
use crate::cpu::decode::{form_mem_ok, plain32, r32, Decoded, K_IMM, K_MEM, NO_REG};
use crate::cpu::ESP;

/// Most guest instructions in one region.
pub const MAX_INSTRUCTIONS: u32 = 64;

/// Builds IR, numbering temporaries.
struct Builder {
    ops: Vec<Op>,
    temps: u16,
}

impl Builder {
    fn tmp(&mut self) -> Tmp {
        let t = self.temps;
        self.temps += 1;
        t
    }
    fn get(&mut self, reg: u8) -> Val {
        let dst = self.tmp();
        self.ops.push(Op::Get { dst, reg });
        Val::T(dst)
    }
    fn set(&mut self, reg: u8, src: Val) {
        self.ops.push(Op::Set { reg, src });
    }
    fn bin(&mut self, op: BinOp, a: Val, b: Val) -> Val {
        let dst = self.tmp();
        self.ops.push(Op::Bin { dst, op, a, b });
        Val::T(dst)
    }
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val) {
        self.ops.push(Op::Flags { op, size, a, b });
    }
    fn cond(&mut self, cc: u8) -> Val {
        let dst = self.tmp();
        self.ops.push(Op::Cond { dst, cc });
        Val::T(dst)
    }
    fn load(&mut self, size: u8, addr: Val) -> Val {
        let dst = self.tmp();
        self.ops.push(Op::Load { dst, size, addr });
        Val::T(dst)
    }
    fn store(&mut self, size: u8, addr: Val, val: Val) {
        self.ops.push(Op::Store { size, addr, val });
    }

    /// The effective address of the memory operand (flat: no segment base).
    fn ea(&mut self, d: &Decoded) -> Val {
        let mut a = Val::C(d.disp);
        if d.base != NO_REG {
            let b = self.get(d.base & 7);
            a = self.bin(BinOp::Add, b, a);
        }
        if d.index != NO_REG {
            let x = self.get(d.index & 7);
            let s = self.bin(BinOp::Shl, x, Val::C((d.scale & 3) as u32));
            a = self.bin(BinOp::Add, a, s);
        }
        a
    }

    /// Pushes a doubleword: the store comes before ESP changes.
    fn push(&mut self, v: Val) {
        let sp = self.get(ESP as u8);
        let a = self.bin(BinOp::Sub, sp, Val::C(4));
        self.store(4, a, v);
        self.set(ESP as u8, a);
    }
}

/// How the path goes on after an instruction.
enum Flow {
    /// At the next instruction.
    Next,
    /// At this EIP (a jump or call the path follows when it can).
    Jump(u32),
    /// The instruction ended the region with its own exit.
    End,
}

/// Where a 32-bit operand lives.
#[derive(Clone, Copy)]
enum Place {
    Reg(u8),
    Mem,
    Imm(u32),
}

fn place(d: &Decoded, n: usize) -> Option<Place> {
    if let Some(r) = r32(d, n) {
        return Some(Place::Reg(r));
    }
    match d.kind.get(n) {
        Some(&K_MEM) if form_mem_ok(d) && d.msize == 4 => Some(Place::Mem),
        Some(&K_IMM) => Some(Place::Imm(d.imm)),
        _ => None,
    }
}

/// A byte or word memory operand first (a 32-bit address in DS, ES or SS).
fn small_mem(d: &Decoded) -> bool {
    matches!(d.osize, 1 | 2)
        && d.msize == d.osize
        && d.kind.first() == Some(&K_MEM)
        && form_mem_ok(d)
}

/// The ALU family's view of an ALU instruction: the 32-bit forms, a byte or word memory
/// destination with an immediate, INC and DEC; `None` for the others.
fn alu_insn(d: &Decoded, p0: Option<Place>, p1: Option<Place>) -> Option<AluInsn> {
    let op = match d.mnem {
        M::Add => AluOp::Add,
        M::Adc => AluOp::Adc,
        M::Sub => AluOp::Sub,
        M::Sbb => AluOp::Sbb,
        M::And => AluOp::And,
        M::Or => AluOp::Or,
        M::Xor => AluOp::Xor,
        M::Cmp => AluOp::Cmp,
        M::Test => AluOp::Test,
        M::Inc => AluOp::Inc,
        M::Dec => AluOp::Dec,
        _ => return None,
    };
    let operand = |p: Place| match p {
        Place::Reg(r) => Operand::Reg(r),
        Place::Mem => Operand::Mem,
        Place::Imm(i) => Operand::Imm(i),
    };
    if matches!(op, AluOp::Inc | AluOp::Dec) {
        if d.ins.op_count() != 1 {
            return None;
        }
        return Some(AluInsn {
            op,
            size: 4,
            dst: operand(p0?),
            src: None,
        });
    }
    if d.osize == 4 {
        return Some(AluInsn {
            op,
            size: 4,
            dst: operand(p0?),
            src: Some(operand(p1?)),
        });
    }
    (small_mem(d) && d.kind.get(1) == Some(&K_IMM)).then_some(AluInsn {
        op,
        size: d.osize,
        dst: Operand::Mem,
        src: Some(Operand::Imm(d.imm & mask(d.osize))),
    })
}

/// The region's builder as the ALU family writes into it, for one instruction.
struct AluEmit<'a> {
    b: &'a mut Builder,
    d: &'a Decoded,
}

impl Emit for AluEmit<'_> {
    fn get(&mut self, reg: u8) -> Val {
        self.b.get(reg & 7)
    }
    fn set(&mut self, reg: u8, v: Val) {
        self.b.set(reg & 7, v);
    }
    fn bin(&mut self, op: BinOp, a: Val, b: Val) -> Val {
        self.b.bin(op, a, b)
    }
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val) {
        self.b.flags(op, size, a, b);
    }
    fn cond(&mut self, cc: u8) -> Val {
        self.b.cond(cc & 15)
    }
    fn ea(&mut self) -> Val {
        self.b.ea(self.d)
    }
    fn load(&mut self, size: u8, addr: Val) -> Val {
        self.b.load(size, addr)
    }
    fn store(&mut self, size: u8, addr: Val, v: Val) {
        self.b.store(size, addr, v);
    }
}

/// Emits the IR of one instruction; `None` (with nothing emitted that matters: the
/// caller drops it) when it is outside the lowered subset.
fn lower_one(b: &mut Builder, d: &Decoded, next: u32, family: &dyn AluFamily) -> Option<Flow> {
    let ins = &d.ins;
    if !plain32(d) {
        return None;
    }
    let count = ins.op_count();
    let osize32 = d.osize == 4;
    let p0 = if count >= 1 { place(d, 0) } else { None };
    let p1 = if count >= 2 { place(d, 1) } else { None };
    match d.mnem {
        M::Nop => {}
        M::Mov if !small_mem(d) => match (p0?, p1?) {
            (Place::Reg(r), Place::Reg(s)) => {
                let v = b.get(s);
                b.set(r, v);
            }
            (Place::Reg(r), Place::Imm(i)) => b.set(r, Val::C(i)),
            (Place::Reg(r), Place::Mem) => {
                let a = b.ea(d);
                let v = b.load(4, a);
                b.set(r, v);
            }
            (Place::Mem, Place::Reg(s)) => {
                let a = b.ea(d);
                let v = b.get(s);
                b.store(4, a, v);
            }
            (Place::Mem, Place::Imm(i)) => {
                let a = b.ea(d);
                b.store(4, a, Val::C(i));
            }
            _ => return None,
        },
        M::Add
        | M::Adc
        | M::Sub
        | M::Sbb
        | M::And
        | M::Or
        | M::Xor
        | M::Cmp
        | M::Test
        | M::Inc
        | M::Dec => {
            let insn = alu_insn(d, p0, p1)?;
            if !family.lower(&insn, &mut AluEmit { b, d }) {
                return None;
            }
        }
        M::Mov if small_mem(d) && d.kind.get(1) == Some(&K_IMM) => {
            let a = b.ea(d);
            b.store(d.osize, a, Val::C(d.imm & mask(d.osize)));
        }
        M::Movzx | M::Movsx if d.kind.get(1) == Some(&K_MEM) && matches!(d.msize, 1 | 2) => {
            let r = r32(d, 0)?;
            if !form_mem_ok(d) {
                return None;
            }
            let a = b.ea(d);
            let mut v = b.load(d.msize, a);
            if d.mnem == M::Movsx {
                let sh = Val::C(32 - 8 * d.msize as u32);
                let up = b.bin(BinOp::Shl, v, sh);
                v = b.bin(BinOp::Sar, up, sh);
            }
            b.set(r, v);
        }
        M::Imul if osize32 && (count == 2 || count == 3) => {
            let Place::Reg(r) = p0? else { return None };
            let (pa, pb) = if count == 3 {
                (p1?, place(d, 2)?)
            } else {
                (p0?, p1?)
            };
            let read = |b: &mut Builder, p: Place| match p {
                Place::Reg(s) => Some(b.get(s)),
                Place::Imm(i) => Some(Val::C(i)),
                Place::Mem => {
                    let a = b.ea(d);
                    Some(b.load(4, a))
                }
            };
            let x = read(b, pa)?;
            let y = read(b, pb)?;
            let res = b.bin(BinOp::Mul, x, y);
            b.flags(FlagOp::Imul, 4, x, y);
            b.set(r, res);
        }
        M::Not | M::Neg if count == 1 => {
            let Place::Reg(r) = p0? else { return None };
            let x = b.get(r);
            let res = match d.mnem {
                M::Not => b.bin(BinOp::Xor, x, Val::C(u32::MAX)),
                _ => {
                    b.flags(FlagOp::Neg, 4, x, Val::C(0));
                    b.bin(BinOp::Sub, Val::C(0), x)
                }
            };
            b.set(r, res);
        }
        M::Lea if osize32 && !d.addr16 && d.kind.get(1) == Some(&K_MEM) => {
            let Place::Reg(r) = p0? else { return None };
            let a = b.ea(d);
            b.set(r, a);
        }
        M::Shl | M::Sal | M::Shr | M::Sar if count == 2 => {
            let (Place::Reg(r), Place::Imm(n)) = (p0?, p1?) else {
                return None;
            };
            let n = n & 31;
            if n != 0 {
                let (op, fop) = match d.mnem {
                    M::Shr => (BinOp::Shr, FlagOp::Shr),
                    M::Sar => (BinOp::Sar, FlagOp::Sar),
                    _ => (BinOp::Shl, FlagOp::Shl),
                };
                let x = b.get(r);
                let res = b.bin(op, x, Val::C(n));
                b.flags(fop, 4, x, Val::C(n));
                b.set(r, res);
            }
        }
        M::Rol | M::Ror if count == 2 => {
            let (Place::Reg(r), Place::Imm(n)) = (p0?, p1?) else {
                return None;
            };
            let n = n & 31;
            if n != 0 {
                let (left, fop) = match d.mnem {
                    M::Rol => (n, FlagOp::Rol),
                    _ => (32 - n, FlagOp::Ror),
                };
                let x = b.get(r);
                let hi = b.bin(BinOp::Shl, x, Val::C(left));
                let lo = b.bin(BinOp::Shr, x, Val::C(32 - left));
                let res = b.bin(BinOp::Or, hi, lo);
                b.flags(fop, 4, x, Val::C(n));
                b.set(r, res);
            }
        }
        M::Push if osize32 && count == 1 => {
            let v = match p0? {
                Place::Reg(r) => b.get(r),
                Place::Imm(i) => Val::C(i),
                Place::Mem => return None,
            };
            b.push(v);
        }
        M::Pop if osize32 && count == 1 => {
            let Place::Reg(r) = p0? else { return None };
            let sp = b.get(ESP as u8);
            let v = b.load(4, sp);
            let nsp = b.bin(BinOp::Add, sp, Val::C(4));
            b.set(ESP as u8, nsp);
            b.set(r, v);
        }
        M::Call if osize32 && ins.is_call_near() => {
            b.push(Val::C(next));
            return Some(Flow::Jump(ins.near_branch_target() as u32));
        }
        M::Ret if osize32 => {
            let extra = if count > 0 {
                ins.immediate16() as u32
            } else {
                0
            };
            let sp = b.get(ESP as u8);
            let t = b.load(4, sp);
            let nsp = b.bin(BinOp::Add, sp, Val::C(4 + extra));
            b.set(ESP as u8, nsp);
            b.ops.push(Op::Exit { target: t });
            return Some(Flow::End);
        }
        M::Jmp if osize32 && ins.is_jmp_short_or_near() => {
            return Some(Flow::Jump(ins.near_branch_target() as u32));
        }
        _ if osize32 && ins.is_jcc_short_or_near() && d.cc < 16 => {
            let c = b.cond(d.cc);
            b.ops.push(Op::ExitIf {
                cond: c,
                target: ins.near_branch_target() as u32,
            });
        }
        _ => return None,
    }
    Some(Flow::Next)
}

/// Discovers and lowers the region entered at linear `entry`. `fetch` decodes the
/// instruction at a linear address on the entry's page (`None` when it is not whole on
/// the page or not valid); `family` lowers the ALU instructions. `None` when not even the
/// first instruction is lowered.
pub fn lower_region(
    mut fetch: impl FnMut(u32) -> Option<Decoded>,
    entry: u32,
    family: &dyn AluFamily,
) -> Option<Region> {
    let mut b = Builder {
        ops: Vec::new(),
        temps: 0,
    };
    let page = entry & !0xfff;
    let mut seen = BTreeSet::new();
    let mut eip = entry;
    let mut n = 0;
    loop {
        if n >= MAX_INSTRUCTIONS || !seen.insert(eip) {
            break;
        }
        let Some(d) = fetch(eip) else { break };
        let len = d.ins.len() as u8;
        let next = eip.wrapping_add(len as u32);
        let (mark, temps) = (b.ops.len(), b.temps);
        b.ops.push(Op::Insn { eip, len });
        match lower_one(&mut b, &d, next, family) {
            None => {
                b.ops.truncate(mark);
                b.temps = temps;
                break;
            }
            Some(Flow::End) => {
                return Some(Region {
                    entry,
                    ops: internal_branches(b.ops),
                    temps: b.temps,
                })
            }
            Some(Flow::Next) => eip = next,
            Some(Flow::Jump(t)) => {
                eip = t;
                if t & !0xfff != page {
                    n += 1;
                    break;
                }
            }
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    b.ops.push(Op::Exit {
        target: Val::C(eip),
    });
    Some(Region {
        entry,
        ops: internal_branches(b.ops),
        temps: b.temps,
    })
}

/// Turns each conditional exit to an instruction later in the region into a branch
/// there, and each one back to an earlier instruction (not the entry, which the whole
/// region loops to) into a loop there, with a `join` before that instruction. Loops do
/// not overlap, and no branch from before a loop goes into its body.
fn internal_branches(mut ops: Vec<Op>) -> Vec<Op> {
    let mut at = alloc::collections::BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Op::Insn { eip, .. } = *op {
            at.insert(eip, i);
        }
    }
    let mut joins = BTreeSet::new();
    // (branch, target) op indices of the forward branches, (head, back edge) of loops.
    let mut forward: Vec<(usize, usize)> = Vec::new();
    let mut loops: Vec<(usize, usize)> = Vec::new();
    for (i, op) in ops.iter_mut().enumerate() {
        if let Op::ExitIf { cond, target } = *op {
            match at.get(&target).copied() {
                Some(j) if j > i => {
                    *op = Op::BranchIf { cond, target };
                    joins.insert(target);
                    forward.push((i, j));
                }
                Some(j) if j > 0 && j < i => {
                    let disjoint = loops.last().is_none_or(|&(_, end)| end < j);
                    let into = forward.iter().any(|&(b, t)| b < j && t > j && t <= i);
                    if disjoint && !into {
                        *op = Op::LoopIf { cond, target };
                        joins.insert(target);
                        loops.push((j, i));
                    }
                }
                _ => {}
            }
        }
    }
    if joins.is_empty() {
        return ops;
    }
    let mut out = Vec::with_capacity(ops.len() + joins.len());
    for op in ops {
        if let Op::Insn { eip, .. } = op {
            if joins.contains(&eip) {
                out.push(Op::Join { eip });
            }
        }
        out.push(op);
    }
    out
}
