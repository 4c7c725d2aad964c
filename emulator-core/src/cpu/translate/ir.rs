//! The translating tier's intermediate representation: a region is a straight-line list
//! of operations on temporaries, guest registers, the lazy-flags record and memory, with
//! exits to the instruction the interpreter continues at.
//!
//! Temporaries are assigned once (`t3 = add t1, 0x4`). Guest registers are read and
//! written by explicit `get`/`set` operations, so the passes see every register
//! access; a backend keeps the values in its locals. The status flags are the core's
//! lazy-flags record: a `flags` operation stores what one ALU instruction leaves there
//! (its kind, size and operands, evaluated by `cpu::alu`), and `cond` reads a condition
//! from it, so dead-flag elimination is the removal of a `flags` operation that a later
//! one overwrites before anything reads it.
//!
//! Each guest instruction starts with an `insn` marker. The operations that can leave the
//! region part-way (`load` and `store`, which leave when the access is off the flat,
//! TLB-hit, plain-RAM fast path) come before any guest-visible write of their
//! instruction, so leaving there retires exactly the instructions before it and the
//! interpreter runs that one.

use alloc::vec::Vec;
use core::fmt;

// The operands and the ALU and flag operations are the ALU family's (the translation
// lab's API file), so a lowering written against that API builds this IR.
pub use super::alu_family::api::{BinOp, FlagOp, Tmp, Val, FLAG_OPS};

impl BinOp {
    /// Evaluates the operation.
    pub fn eval(self, a: u32, b: u32) -> u32 {
        match self {
            BinOp::Add => a.wrapping_add(b),
            BinOp::Sub => a.wrapping_sub(b),
            BinOp::And => a & b,
            BinOp::Or => a | b,
            BinOp::Xor => a ^ b,
            BinOp::Shl => a << (b & 31),
            BinOp::Shr => a >> (b & 31),
            BinOp::Sar => ((a as i32) >> (b & 31)) as u32,
            BinOp::Mul => a.wrapping_mul(b),
        }
    }
}

impl FlagOp {
    /// Whether the operation sets all six status flags from its operands alone (it
    /// neither reads nor keeps an earlier flag), so an earlier `flags` is dead before it.
    pub fn writes_all(self) -> bool {
        !matches!(
            self,
            FlagOp::Adc | FlagOp::Sbb | FlagOp::Inc | FlagOp::Dec | FlagOp::Rol | FlagOp::Ror
        )
    }
}

/// One IR operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A guest instruction starts here (at linear `eip`, `len` bytes).
    #[allow(missing_docs)]
    Insn { eip: u32, len: u8 },
    /// `dst` = guest register `reg` (0 = EAX … 7 = EDI).
    #[allow(missing_docs)]
    Get { dst: Tmp, reg: u8 },
    /// Guest register `reg` = `src`.
    #[allow(missing_docs)]
    Set { reg: u8, src: Val },
    /// `dst` = `op(a, b)`.
    #[allow(missing_docs)]
    Bin { dst: Tmp, op: BinOp, a: Val, b: Val },
    /// The lazy-flags record = what `op` of `size` bytes on `a`, `b` leaves.
    #[allow(missing_docs)]
    Flags {
        op: FlagOp,
        size: u8,
        a: Val,
        b: Val,
    },
    /// `dst` = 1 when condition code `cc` (the Jcc encoding's low nibble) holds, else 0.
    #[allow(missing_docs)]
    Cond { dst: Tmp, cc: u8 },
    /// `dst` = the `size`-byte value (zero-extended) at flat linear `addr`; leaves the
    /// region before this instruction when the access is off the fast path.
    #[allow(missing_docs)]
    Load { dst: Tmp, size: u8, addr: Val },
    /// Stores the low `size` bytes of `val` at flat linear `addr`; leaves like `Load`.
    #[allow(missing_docs)]
    Store { size: u8, addr: Val, val: Val },
    /// Leaves the region at EIP `target` when `cond` is not zero (the instruction that
    /// holds it retired).
    #[allow(missing_docs)]
    ExitIf { cond: Val, target: u32 },
    /// Leaves the region at EIP `target`.
    #[allow(missing_docs)]
    Exit { target: Val },
    /// Goes on at the `join` of the instruction at EIP `target`, later in the region,
    /// when `cond` is not zero (the instruction that holds it retired): a forward branch
    /// inside the region.
    #[allow(missing_docs)]
    BranchIf { cond: Val, target: u32 },
    /// Branches inside the region arrive here, before the instruction at `eip`: what
    /// the passes knew about the registers and flags is forgotten.
    #[allow(missing_docs)]
    Join { eip: u32 },
    /// Goes back to the `join` of the instruction at EIP `target`, earlier in the
    /// region, when `cond` is not zero (the instruction that holds it retired) and the
    /// room leaves space for another pass from there; leaves the region at `target`
    /// when `cond` holds but the room does not: a loop inside the region.
    #[allow(missing_docs)]
    LoopIf { cond: Val, target: u32 },
}

impl Op {
    /// The temporary the operation assigns.
    pub fn dst(&self) -> Option<Tmp> {
        match *self {
            Op::Get { dst, .. }
            | Op::Bin { dst, .. }
            | Op::Cond { dst, .. }
            | Op::Load { dst, .. } => Some(dst),
            _ => None,
        }
    }

    /// The operands the operation reads.
    pub fn uses(&self) -> [Option<Val>; 2] {
        match *self {
            Op::Set { src, .. } => [Some(src), None],
            Op::Bin { a, b, .. } | Op::Flags { a, b, .. } => [Some(a), Some(b)],
            Op::Load { addr, .. } => [Some(addr), None],
            Op::Store { addr, val, .. } => [Some(addr), Some(val)],
            Op::ExitIf { cond, .. } | Op::BranchIf { cond, .. } | Op::LoopIf { cond, .. } => {
                [Some(cond), None]
            }
            Op::Exit { target } => [Some(target), None],
            Op::Insn { .. } | Op::Get { .. } | Op::Cond { .. } | Op::Join { .. } => [None, None],
        }
    }

    /// Rewrites every operand with `f`.
    pub fn map_uses(&mut self, mut f: impl FnMut(Val) -> Val) {
        match self {
            Op::Set { src, .. } => *src = f(*src),
            Op::Bin { a, b, .. } | Op::Flags { a, b, .. } => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::Load { addr, .. } => *addr = f(*addr),
            Op::Store { addr, val, .. } => {
                *addr = f(*addr);
                *val = f(*val);
            }
            Op::ExitIf { cond, .. } | Op::BranchIf { cond, .. } | Op::LoopIf { cond, .. } => {
                *cond = f(*cond)
            }
            Op::Exit { target } => *target = f(*target),
            Op::Insn { .. } | Op::Get { .. } | Op::Cond { .. } | Op::Join { .. } => {}
        }
    }

    /// The region may end at this operation (an exit, or an access that can leave): the
    /// guest registers and flags must be up to date here.
    pub fn may_leave(&self) -> bool {
        matches!(
            self,
            Op::Load { .. }
                | Op::Store { .. }
                | Op::ExitIf { .. }
                | Op::Exit { .. }
                | Op::LoopIf { .. }
        )
    }

    /// Control flow inside the region meets or parts here: the backward passes assume
    /// nothing across it.
    pub fn is_branch_point(&self) -> bool {
        matches!(
            self,
            Op::BranchIf { .. } | Op::Join { .. } | Op::LoopIf { .. }
        )
    }
}

/// A translated region: one entry, straight-line operations, exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Linear address of the first instruction.
    pub entry: u32,
    /// The operations.
    pub ops: Vec<Op>,
    /// Number of temporaries (`t0` … `t{temps-1}`).
    pub temps: u16,
}

impl Region {
    /// Number of guest instructions (the most one pass through the region retires; a
    /// run that goes round a loop inside it retires more).
    pub fn instructions(&self) -> u32 {
        self.ops
            .iter()
            .filter(|o| matches!(o, Op::Insn { .. }))
            .count() as u32
    }

    /// The EIPs the region's exits with a known target leave to, each once, in order.
    pub fn exit_targets(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for op in &self.ops {
            let t = match *op {
                Op::ExitIf { target, .. }
                | Op::LoopIf { target, .. }
                | Op::Exit {
                    target: Val::C(target),
                } => target,
                _ => continue,
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

/// Register names for printing.
const REGS: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
/// Condition names, by the Jcc encoding's low nibble.
const CONDS: [&str; 16] = [
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
];

fn reg_name(r: u8) -> &'static str {
    REGS.get(r as usize).copied().unwrap_or("r?")
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Insn { eip, len } => write!(f, "insn {eip:#010x} ({len} bytes)"),
            Op::Get { dst, reg } => write!(f, "  t{dst} = get {}", reg_name(reg)),
            Op::Set { reg, src } => write!(f, "  set {}, {src}", reg_name(reg)),
            Op::Bin { dst, op, a, b } => write!(f, "  t{dst} = {} {a}, {b}", op.name()),
            Op::Flags { op, size, a, b } => {
                write!(f, "  flags = {}.{} {a}, {b}", op.name(), size * 8)
            }
            Op::Cond { dst, cc } => write!(
                f,
                "  t{dst} = cond.{}",
                CONDS.get(cc as usize).copied().unwrap_or("?")
            ),
            Op::Load { dst, size, addr } => write!(f, "  t{dst} = load.{} [{addr}]", size * 8),
            Op::Store { size, addr, val } => write!(f, "  store.{} [{addr}], {val}", size * 8),
            Op::ExitIf { cond, target } => write!(f, "  exit.if {cond} -> {target:#010x}"),
            Op::Exit { target } => write!(f, "  exit -> {target}"),
            Op::BranchIf { cond, target } => write!(f, "  branch.if {cond} -> {target:#010x}"),
            Op::LoopIf { cond, target } => write!(f, "  loop.if {cond} -> {target:#010x}"),
            Op::Join { eip } => write!(f, "join {eip:#010x}"),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "region {:#010x}: {} instructions, {} operations",
            self.entry,
            self.instructions(),
            self.ops.len()
        )?;
        for op in &self.ops {
            writeln!(f, "{op}")?;
        }
        Ok(())
    }
}
