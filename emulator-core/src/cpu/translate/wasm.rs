//! The Wasm backend: one module per region, with the region as the exported function
//! `run(ctx: i32, room: i32, done: i32) -> i64`.
//!
//! The module imports the core's linear memory (`env.memory`), its function table
//! (`env.table`, where the host puts each compiled region) and four slow paths as
//! functions of module `vmlab`: `flags(op, size, a, b)` records the lazy flags,
//! `cond(cc) -> i32` reads a condition, `load(addr, size) -> i64` (bit 32 set: the
//! access is off the fast path) and `store(addr, size, value) -> i32` (0: off the fast
//! path); the host binds them to the core's exports ([`Machine::slow_flags`] and the
//! others), the same code the IR interpreter runs.
//!
//! `ctx` is the address of the [`RegionContext`](super::context::RegionContext): at
//! entry `run` reads from it where the guest registers, the flags record and RAM are.
//! - **Registers in locals.** Every guest register the region uses is loaded into a
//!   local at entry and written back only where the region leaves.
//! - **Flags in locals.** A 32-bit `flags` operation computes its result and carry
//!   into locals; a condition after it is evaluated from them (`cmp` + `jb` is one
//!   unsigned compare). The lazy-flags record in memory is written only where the
//!   region leaves, or before a slow path that reads it. Other sizes, ADC and SBB call
//!   the `flags` slow path.
//! - **Selects for short branches.** A forward branch over a few register and logic
//!   operations (`ifconv.rs`) runs them either way; at the join `select` keeps the
//!   registers and flags of the path taken, and `done` drops the skipped instructions.
//! - **Memory inline.** With RAM in one allocation, a load or store whose physical
//!   address is plain RAM (below the ROM windows or above 1 MiB, on a page the
//!   plain-store map marks for stores) reads or writes RAM directly. With paging on the
//!   physical address comes from the TLB inline (the entry for the page, valid, with
//!   the bits the access needs, the access within the page) and the hit is counted as
//!   the fast tier counts it. Any other access calls the slow path, which walks a clean
//!   miss or leaves the region when the interpreter must run the instruction.
//! - **Chaining.** An exit to a known EIP (a branch, or a return's popped address)
//!   looks the target up in the chain table (`chain.rs`); when a compiled region is
//!   there for the current code generation of its page and `room` leaves space for all
//!   of it, the region writes the guest state back and tail-calls it
//!   (`return_call_indirect`), passing on the instructions retired so far as `done`.
//!
//! `run` returns `done` plus the instructions retired in the high half and the EIP to
//! continue at in the low half, as [`Machine::run_ir`] does. A region whose exit goes back to its
//! own entry loops inside `run` while `room` (the budget and the next device deadline,
//! in instructions) leaves space for one more pass: the same state as leaving and
//! entering it again. A backward branch to an earlier instruction of the region
//! (`loop.if`) is a Wasm `loop` with the same room check. Once a call has retired
//! [`CAP`] instructions a loop goes round no more: the region re-enters itself through
//! the table (a tail call) or leaves at the loop's head, so a long loop moves to V8's
//! optimised code once that is ready.

use alloc::vec::Vec;
use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    ImportSection, Instruction as I, MemArg, MemoryType, Module, RefType, TableType, TypeSection,
    ValType,
};

use super::ir::{BinOp, FlagOp, Op, Region, Val};
use super::run::Left;
use super::{chain, context, ifconv};
use crate::cpu::alu::Flags;
use crate::machine::Machine;

/// The slow-path imports, in function-index order.
const FLAGS: u32 = 0;
const COND: u32 = 1;
const LOAD: u32 = 2;
const STORE: u32 = 3;
/// The function index of `run`.
const RUN: u32 = 4;
/// `run`'s parameters: the region context's address, and the instructions it may
/// retire (its room).
const CTX: u32 = 0;
const ROOM: u32 = 1;
/// The third parameter: instructions retired before this region (by the regions that
/// chained to it), and by its earlier passes when it loops.
const DONE: u32 = 2;
/// The local of the first temporary.
const TEMPS: u32 = 3;
/// The type index of `run`.
const RUN_TYPE: u32 = 4;
/// Instructions a region's loops retire in one call (from the `done` it was entered
/// with) before the region re-enters itself through the function table or leaves at
/// the loop. Wasm has no on-stack replacement: a call that loops for long keeps running
/// the code V8 compiled first (its baseline tier) even after the optimised code is
/// ready, and a new call through the table picks that up.
pub const CAP: u32 = 1 << 16;

/// A flag operation's number in the `flags` import.
pub fn flag_op_number(op: FlagOp) -> u32 {
    super::ir::FLAG_OPS
        .iter()
        .position(|&o| o == op)
        .unwrap_or(0) as u32
}

/// `run`'s answer for `retired` instructions and continuing at `eip`.
fn packed(retired: u32, eip: u32) -> i64 {
    (((retired as u64) << 32) | eip as u64) as i64
}

/// Splits `run`'s answer.
pub fn unpack(v: i64) -> Left {
    Left {
        retired: ((v as u64) >> 32) as u32,
        eip: v as u32,
    }
}

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        memory_index: 0,
    }
}

/// The flags of one inline `flags` operation, held in locals.
#[derive(Clone, Copy)]
struct Pending {
    op: FlagOp,
    a: Val,
    b: Val,
    /// Locals: the result, CF (0 or 1) and OF (shifts and IMUL).
    res: u32,
    cf: u32,
    of: u32,
}

impl Pending {
    /// An addition or subtraction record (lazy flags from the operands).
    fn arith(&self) -> bool {
        matches!(
            self.op,
            FlagOp::Add | FlagOp::Sub | FlagOp::Inc | FlagOp::Dec | FlagOp::Neg
        )
    }
}

/// The locals past the temporaries.
#[derive(Clone, Copy)]
struct Locals {
    /// One per guest register.
    regs: u32,
    gpr: u32,
    flags: u32,
    ram: u32,
    low_end: u32,
    high_span: u32,
    plain: u32,
    chain: u32,
    generations: u32,
    tlb: u32,
    need_read: u32,
    need_write: u32,
    hits: u32,
    /// The physical address of an access (its linear address with paging off).
    phys: u32,
    /// A chain target, and its slot's address.
    target: u32,
    slot: u32,
    /// An address being accessed.
    addr: u32,
    /// A loop goes round again while `done` is at most this: the room less the
    /// region's instructions, or sooner ([`CAP`]).
    limit: u32,
    /// Eight: the registers a converted branch's skipped operations set, as they were
    /// before them.
    saved: u32,
    /// The first of three per `flags` operation.
    flag_locals: u32,
    /// An i64 scratch.
    wide: u32,
}

/// Emits one region's `run`.
struct Emitter<'a> {
    f: Function,
    r: &'a Region,
    l: Locals,
    /// Guest registers the region writes (written back where it leaves).
    written: u8,
    pending: Option<Pending>,
    next_flag_local: u32,
    insns: u32,
    /// The region's flags are overwritten before anything reads them or the region can
    /// leave, so a pass that loops back need not store them.
    entry_flags_dead: bool,
    /// The labels open, outermost first: joins' blocks (by EIP) and loops (`None`).
    open: Vec<Option<u32>>,
    /// Loops inside the region: per head EIP, the joins inside its body, in order.
    loops: alloc::collections::BTreeMap<u32, Vec<u32>>,
    /// Per join (by EIP): instructions before it on the straight path, and whether the
    /// flags are dead there.
    joins: alloc::collections::BTreeMap<u32, (u32, bool)>,
    /// The forward branches that may run as selects, by operation index (`ifconv.rs`).
    convertible: alloc::collections::BTreeMap<usize, ifconv::Skip>,
    /// The branch being run as selects, until its join.
    converting: Option<Converting>,
}

/// A forward branch run as selects: its skipped operations run either way, and at the
/// join the registers and flags they wrote take back their earlier values when the
/// branch was taken.
#[derive(Clone, Copy)]
struct Converting {
    join: u32,
    /// The local of the branch condition.
    cond: u32,
    skip: ifconv::Skip,
    /// The flags before the skipped operations.
    before: Option<Pending>,
    /// `done`'s correction when the branch is taken (the instructions it skips, negated).
    adjust: i32,
}

impl Emitter<'_> {
    fn ins(&mut self, i: I) {
        self.f.instruction(&i);
    }

    fn push(&mut self, v: Val) {
        match v {
            Val::C(c) => self.ins(I::I32Const(c as i32)),
            Val::T(t) => self.ins(I::LocalGet(t as u32 + TEMPS)),
        }
    }

    fn reg(&self, r: u8) -> u32 {
        self.l.regs + (r & 7) as u32
    }

    /// Stores the pending flags in the lazy-flags record.
    fn materialize(&mut self) {
        let Some(p) = self.pending else { return };
        let fl = self.l.flags;
        if p.arith() {
            let (borrow, a, b): (bool, Val, Option<Val>) = match p.op {
                FlagOp::Add => (false, p.a, Some(p.b)),
                FlagOp::Sub => (true, p.a, Some(p.b)),
                FlagOp::Inc => (false, p.a, Some(Val::C(1))),
                FlagOp::Dec => (true, p.a, Some(Val::C(1))),
                _ => (true, Val::C(0), Some(p.a)),
            };
            self.ins(I::LocalGet(fl));
            self.push(a);
            self.ins(I::I32Store(mem(Flags::OFFSET_A, 2)));
            self.ins(I::LocalGet(fl));
            if let Some(b) = b {
                self.push(b);
            }
            if borrow {
                self.ins(I::I32Const(-1));
                self.ins(I::I32Xor);
            }
            self.ins(I::I32Store(mem(Flags::OFFSET_B, 2)));
            self.ins(I::LocalGet(fl));
            self.ins(I::LocalGet(p.res));
            self.ins(I::I32Store(mem(Flags::OFFSET_RES, 2)));
            self.ins(I::LocalGet(fl));
            self.ins(I::I32Const(Flags::arith_state(4, borrow) as i32));
            self.ins(I::LocalGet(p.cf));
            self.ins(I::I32Or);
            self.ins(I::I32Store(mem(Flags::OFFSET_STATE, 2)));
        } else {
            self.ins(I::LocalGet(fl));
            self.ins(I::LocalGet(p.res));
            self.ins(I::I32Store(mem(Flags::OFFSET_RES, 2)));
            self.ins(I::LocalGet(fl));
            self.ins(I::I32Const(Flags::result_state(4) as i32));
            self.ins(I::LocalGet(p.cf));
            self.ins(I::I32Or);
            self.ins(I::LocalGet(p.of));
            self.ins(I::I32Const(11));
            self.ins(I::I32Shl);
            self.ins(I::I32Or);
            self.ins(I::I32Store(mem(Flags::OFFSET_STATE, 2)));
        }
    }

    /// Writes the registers back and the flags out: the guest state where the region
    /// leaves.
    fn sync(&mut self) {
        for r in 0..8u8 {
            if self.written & (1 << r) != 0 {
                self.ins(I::LocalGet(self.l.gpr));
                self.ins(I::LocalGet(self.reg(r)));
                self.ins(I::I32Store(mem(r as u64 * 4, 2)));
            }
        }
        self.materialize();
    }

    /// Pushes `done + retired` shifted into the high half, as an i64.
    fn push_retired(&mut self, retired: u32) {
        self.ins(I::LocalGet(DONE));
        self.ins(I::I32Const(retired as i32));
        self.ins(I::I32Add);
        self.ins(I::I64ExtendI32U);
        self.ins(I::I64Const(32));
        self.ins(I::I64Shl);
    }

    /// Tail-calls the compiled region at the EIP in local `target` when the chain table
    /// holds it and the room allows all of it (this pass retired `retired`); falls
    /// through otherwise.
    fn chain(&mut self, retired: u32) {
        let l = self.l;
        self.ins(I::Block(BlockType::Empty));
        self.ins(I::LocalGet(l.chain));
        self.ins(I::I32Eqz);
        self.ins(I::BrIf(0));
        // slot = chain + slot_of(target) * SLOT_BYTES
        self.ins(I::LocalGet(l.chain));
        self.ins(I::LocalGet(l.target));
        self.ins(I::LocalGet(l.target));
        self.ins(I::I32Const(10));
        self.ins(I::I32ShrU);
        self.ins(I::I32Xor);
        self.ins(I::I32Const((chain::SLOTS - 1) as i32));
        self.ins(I::I32And);
        self.ins(I::I32Const(chain::SLOT_BYTES.trailing_zeros() as i32));
        self.ins(I::I32Shl);
        self.ins(I::I32Add);
        self.ins(I::LocalTee(l.slot));
        self.ins(I::I32Load(mem(chain::EIP, 2)));
        self.ins(I::LocalGet(l.target));
        self.ins(I::I32Ne);
        self.ins(I::BrIf(0));
        self.ins(I::LocalGet(l.slot));
        self.ins(I::I32Load(mem(chain::HANDLE, 2)));
        self.ins(I::I32Eqz);
        self.ins(I::BrIf(0));
        // The page's code generation (the slot's EIP is on a RAM page, so this is in
        // the generation map).
        self.ins(I::LocalGet(l.generations));
        self.ins(I::LocalGet(l.target));
        self.ins(I::I32Const(12));
        self.ins(I::I32ShrU);
        self.ins(I::I32Const(2));
        self.ins(I::I32Shl);
        self.ins(I::I32Add);
        self.ins(I::I32Load(mem(0, 2)));
        self.ins(I::LocalGet(l.slot));
        self.ins(I::I32Load(mem(chain::GENERATION, 2)));
        self.ins(I::I32Ne);
        self.ins(I::BrIf(0));
        // done + retired + its instructions <= room
        self.ins(I::LocalGet(DONE));
        self.ins(I::I32Const(retired as i32));
        self.ins(I::I32Add);
        self.ins(I::LocalGet(l.slot));
        self.ins(I::I32Load(mem(chain::INSNS, 2)));
        self.ins(I::I32Add);
        self.ins(I::LocalGet(ROOM));
        self.ins(I::I32GtU);
        self.ins(I::BrIf(0));
        self.ins(I::LocalGet(l.slot));
        self.ins(I::LocalGet(l.slot));
        self.ins(I::I32Load(mem(chain::RUNS, 2)));
        self.ins(I::I32Const(1));
        self.ins(I::I32Add);
        self.ins(I::I32Store(mem(chain::RUNS, 2)));
        self.sync();
        self.ins(I::LocalGet(CTX));
        self.ins(I::LocalGet(ROOM));
        self.ins(I::LocalGet(DONE));
        self.ins(I::I32Const(retired as i32));
        self.ins(I::I32Add);
        self.ins(I::LocalGet(l.slot));
        self.ins(I::I32Load(mem(chain::HANDLE, 2)));
        self.ins(I::ReturnCallIndirect {
            type_index: RUN_TYPE,
            table_index: 0,
        });
        self.ins(I::End);
    }

    /// Leaves for `eip` after `retired` instructions of this pass, chaining to the
    /// region there when it can.
    fn leave_chained(&mut self, retired: u32, eip: u32) {
        self.ins(I::I32Const(eip as i32));
        self.ins(I::LocalSet(self.l.target));
        self.chain(retired);
        self.leave(retired, eip);
    }

    /// Leaves for `eip` after `retired` instructions of this pass.
    fn leave(&mut self, retired: u32, eip: u32) {
        self.sync();
        self.push_retired(retired);
        self.ins(I::I64Const(packed(0, eip)));
        self.ins(I::I64Or);
        self.ins(I::Return);
    }

    /// Adds `retired` to `done` and opens an `if` taken when the room leaves space for
    /// another pass through the whole region and the call is under its [`CAP`].
    fn if_room_for_another_pass(&mut self, retired: u32) {
        self.ins(I::LocalGet(DONE));
        self.ins(I::I32Const(retired as i32));
        self.ins(I::I32Add);
        self.ins(I::LocalTee(DONE));
        self.ins(I::LocalGet(self.l.limit));
        self.ins(I::I32LeU);
        self.ins(I::If(BlockType::Empty));
    }

    /// Leaves for `target` after `retired` instructions of this pass; back to the top
    /// of the loop instead when the target is the entry and the room allows another
    /// pass. Called one label inside the loop.
    fn exit_to(&mut self, retired: u32, target: u32) {
        if target != self.r.entry {
            self.leave_chained(retired, target);
            return;
        }
        self.if_room_for_another_pass(retired);
        if !self.entry_flags_dead {
            self.materialize();
        }
        self.ins(I::Br(2 + self.open.len() as u32));
        self.ins(I::End);
        // Past the cap: enter again through the table (where V8 puts the optimised
        // code) when the room allows, else leave.
        self.leave_chained(0, target);
    }

    /// A forward branch inside the region to the join of `target`, taken after `n`
    /// instructions of this pass.
    fn branch_if(&mut self, cond: Val, target: u32, n: u32, index: usize) {
        let Some(&(before, dead)) = self.joins.get(&target) else {
            return;
        };
        if let (Some(&skip), Val::T(t), None) =
            (self.convertible.get(&index), cond, self.converting)
        {
            // Selects need the flags before the skipped ones in locals, as a result record.
            if !skip.flags || self.pending.is_some_and(|p| !p.arith()) {
                for r in 0..8u8 {
                    if skip.regs & (1 << r) != 0 {
                        self.ins(I::LocalGet(self.reg(r)));
                        self.ins(I::LocalSet(self.l.saved + r as u32));
                    }
                }
                self.converting = Some(Converting {
                    join: target,
                    cond: t as u32 + TEMPS,
                    skip,
                    before: self.pending,
                    adjust: n.wrapping_sub(before) as i32,
                });
                return;
            }
        }
        let Some(pos) = self.open.iter().position(|&e| e == Some(target)) else {
            return;
        };
        self.push(cond);
        self.ins(I::If(BlockType::Empty));
        // Past the join the straight path's count holds: correct `done` for the
        // instructions this path skips.
        if n != before {
            self.ins(I::LocalGet(DONE));
            self.ins(I::I32Const(n.wrapping_sub(before) as i32));
            self.ins(I::I32Add);
            self.ins(I::LocalSet(DONE));
        }
        if !dead {
            self.materialize();
        }
        self.ins(I::Br((self.open.len() - pos) as u32));
        self.ins(I::End);
    }

    /// The join of a branch run as selects: the skipped operations' registers and flags
    /// take back their earlier values, and `done` drops the skipped instructions, when
    /// the branch was taken.
    fn join_selects(&mut self, c: Converting) {
        let select = |e: &mut Self, old: u32, new: u32, dst: u32| {
            e.ins(I::LocalGet(old));
            e.ins(I::LocalGet(new));
            e.ins(I::LocalGet(c.cond));
            e.ins(I::Select);
            e.ins(I::LocalSet(dst));
        };
        for r in 0..8u8 {
            if c.skip.regs & (1 << r) != 0 {
                let reg = self.reg(r);
                select(self, self.l.saved + r as u32, reg, reg);
            }
        }
        if let (true, Some(old), Some(new)) = (c.skip.flags, c.before, self.pending) {
            let res = self.next_flag_local;
            self.next_flag_local += 3;
            select(self, old.res, new.res, res);
            select(self, old.cf, new.cf, res + 1);
            select(self, old.of, new.of, res + 2);
            self.pending = Some(Pending {
                res,
                cf: res + 1,
                of: res + 2,
                ..new
            });
        }
        if c.adjust != 0 {
            self.ins(I::LocalGet(DONE));
            self.ins(I::I32Const(c.adjust));
            self.ins(I::I32Const(0));
            self.ins(I::LocalGet(c.cond));
            self.ins(I::Select);
            self.ins(I::I32Add);
            self.ins(I::LocalSet(DONE));
        }
    }

    /// The join before the instruction at `eip`: closes its block.
    fn join(&mut self, eip: u32) {
        if let Some(c) = self.converting.filter(|c| c.join == eip) {
            self.converting = None;
            self.join_selects(c);
            if self.open.last() == Some(&Some(eip)) {
                self.open.pop();
                self.ins(I::End);
            }
            return;
        }
        let dead = self.joins.get(&eip).is_some_and(|&(_, d)| d);
        if !dead {
            self.materialize();
        }
        if self.open.last() == Some(&Some(eip)) {
            self.open.pop();
            self.ins(I::End);
        }
        self.pending = None;
        if let Some(inner) = self.loops.get(&eip).cloned() {
            // A loop's head: its label, then the blocks of the joins in its body.
            self.ins(I::Loop(BlockType::Empty));
            self.open.push(None);
            for &j in inner.iter().rev() {
                self.ins(I::Block(BlockType::Empty));
                self.open.push(Some(j));
            }
        }
    }

    /// The back edge of the loop whose head is the join of `target`, taken after `n`
    /// instructions of this pass; closes the loop. Without the loop open, an exit.
    fn loop_if(&mut self, cond: Val, target: u32, n: u32) {
        let head = self.joins.get(&target).copied();
        let (Some((before, dead)), Some(None)) = (head, self.open.last().copied()) else {
            self.push(cond);
            self.ins(I::If(BlockType::Empty));
            self.exit_to(n, target);
            self.ins(I::End);
            return;
        };
        self.push(cond);
        self.ins(I::If(BlockType::Empty));
        // Back at the head the straight path's count holds again: `done` takes the
        // instructions of this round, and another round needs room for the rest.
        self.if_room_for_another_pass(n.wrapping_sub(before));
        if !dead {
            self.materialize();
        }
        self.ins(I::Br(2));
        self.ins(I::End);
        self.leave_chained(before, target);
        self.ins(I::End);
        self.ins(I::End);
        self.open.pop();
    }

    /// Pushes 1 when physical address `phys` is plain RAM for an access of at most 4
    /// bytes.
    fn in_ram(&mut self) {
        let l = self.l;
        self.ins(I::LocalGet(l.phys));
        self.ins(I::LocalGet(l.low_end));
        self.ins(I::I32LtU);
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Const(context_one_mib()));
        self.ins(I::I32Sub);
        self.ins(I::LocalGet(l.high_span));
        self.ins(I::I32LtU);
        self.ins(I::I32Or);
    }

    /// Translates linear `addr` into `phys` for a `size`-byte access, as the fast tier's
    /// TLB lookup does: with paging off `phys` is `addr`; with paging on an access
    /// within one page whose TLB entry allows it takes the entry's frame, and any other
    /// branches out of the innermost enclosing block (the slow path's).
    fn translate_inline(&mut self, size: u8, write: bool) {
        use crate::mmu::tlb_layout as tl;
        let l = self.l;
        let need = if write { l.need_write } else { l.need_read };
        self.ins(I::LocalGet(l.addr));
        self.ins(I::LocalSet(l.phys));
        self.ins(I::LocalGet(l.tlb));
        self.ins(I::If(BlockType::Empty));
        // Within one page.
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(0xfff));
        self.ins(I::I32And);
        self.ins(I::I32Const(0x1000 - size as i32));
        self.ins(I::I32GtU);
        self.ins(I::BrIf(1));
        // The entry: phys holds its address.
        self.ins(I::LocalGet(l.tlb));
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(12 - tl::SHIFT as i32));
        self.ins(I::I32ShrU);
        self.ins(I::I32Const((tl::MASK << tl::SHIFT) as i32));
        self.ins(I::I32And);
        self.ins(I::I32Add);
        self.ins(I::LocalTee(l.phys));
        // Its tag is the page's, valid.
        self.ins(I::I32Load(mem(tl::TAG, 2)));
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(!0xfff));
        self.ins(I::I32And);
        self.ins(I::I32Const(tl::VALID as i32));
        self.ins(I::I32Or);
        self.ins(I::I32Ne);
        self.ins(I::BrIf(1));
        // Its bits allow the access.
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Load8U(mem(tl::BITS, 0)));
        self.ins(I::LocalGet(need));
        self.ins(I::I32And);
        self.ins(I::LocalGet(need));
        self.ins(I::I32Ne);
        self.ins(I::BrIf(1));
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Load(mem(tl::RAM, 2)));
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(0xfff));
        self.ins(I::I32And);
        self.ins(I::I32Or);
        self.ins(I::LocalSet(l.phys));
        self.ins(I::End);
    }

    /// Counts a TLB hit when paging is on: the access went through the TLB (with paging
    /// off the counter is not touched).
    fn count_hit(&mut self) {
        let l = self.l;
        self.ins(I::LocalGet(l.tlb));
        self.ins(I::If(BlockType::Empty));
        self.ins(I::LocalGet(l.hits));
        self.ins(I::LocalGet(l.hits));
        self.ins(I::I64Load(mem(0, 3)));
        self.ins(I::I64Const(1));
        self.ins(I::I64Add);
        self.ins(I::I64Store(mem(0, 3)));
        self.ins(I::End);
    }

    fn load(&mut self, dst: u16, size: u8, addr: Val, retired: u32, here: u32) {
        let l = self.l;
        let dst = dst as u32 + TEMPS;
        self.push(addr);
        self.ins(I::LocalSet(l.addr));
        // block $done { block $slow { translate; if in RAM { load; br $done } } slow }
        self.ins(I::Block(BlockType::Empty));
        self.ins(I::Block(BlockType::Empty));
        self.translate_inline(size, false);
        self.in_ram();
        self.ins(I::If(BlockType::Empty));
        self.ins(I::LocalGet(l.ram));
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Add);
        self.ins(match size {
            1 => I::I32Load8U(mem(0, 0)),
            2 => I::I32Load16U(mem(0, 0)),
            _ => I::I32Load(mem(0, 0)),
        });
        self.ins(I::LocalSet(dst));
        self.count_hit();
        self.ins(I::Br(2));
        self.ins(I::End);
        self.ins(I::End);
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(size as i32));
        self.ins(I::Call(LOAD));
        self.ins(I::LocalTee(l.wide));
        self.ins(I::I64Const(32));
        self.ins(I::I64ShrU);
        self.ins(I::I32WrapI64);
        self.ins(I::If(BlockType::Empty));
        self.leave(retired, here);
        self.ins(I::End);
        self.ins(I::LocalGet(l.wide));
        self.ins(I::I32WrapI64);
        self.ins(I::LocalSet(dst));
        self.ins(I::End);
    }

    fn store(&mut self, size: u8, addr: Val, val: Val, retired: u32, here: u32) {
        let l = self.l;
        self.push(addr);
        self.ins(I::LocalSet(l.addr));
        // block $done { block $slow { translate; if in RAM and plain { store; br $done } } slow }
        self.ins(I::Block(BlockType::Empty));
        self.ins(I::Block(BlockType::Empty));
        self.translate_inline(size, true);
        self.in_ram();
        self.ins(I::If(BlockType::Empty));
        // On one page that the plain-store map marks.
        self.ins(I::LocalGet(l.plain));
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Const(12));
        self.ins(I::I32ShrU);
        self.ins(I::I32Add);
        self.ins(I::I32Load8U(mem(0, 0)));
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Const(0xfff));
        self.ins(I::I32And);
        self.ins(I::I32Const(0x1000 - size as i32));
        self.ins(I::I32LeU);
        self.ins(I::I32And);
        self.ins(I::If(BlockType::Empty));
        self.ins(I::LocalGet(l.ram));
        self.ins(I::LocalGet(l.phys));
        self.ins(I::I32Add);
        self.push(val);
        self.ins(match size {
            1 => I::I32Store8(mem(0, 0)),
            2 => I::I32Store16(mem(0, 0)),
            _ => I::I32Store(mem(0, 0)),
        });
        self.count_hit();
        self.ins(I::Br(3));
        self.ins(I::End);
        self.ins(I::End);
        self.ins(I::End);
        self.ins(I::LocalGet(l.addr));
        self.ins(I::I32Const(size as i32));
        self.push(val);
        self.ins(I::Call(STORE));
        self.ins(I::I32Eqz);
        self.ins(I::If(BlockType::Empty));
        self.leave(retired, here);
        self.ins(I::End);
        self.ins(I::End);
    }

    /// Pushes the current CF (0 or 1).
    fn push_cf(&mut self) {
        match self.pending {
            Some(p) => self.ins(I::LocalGet(p.cf)),
            None => {
                self.ins(I::LocalGet(self.l.flags));
                self.ins(I::I32Load(mem(Flags::OFFSET_STATE, 2)));
                self.ins(I::I32Const(1));
                self.ins(I::I32And);
            }
        }
    }

    /// A `flags` operation: inline for 32-bit operations other than ADC and SBB
    /// (shifts by a constant count), else the slow path.
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val) {
        let inline = size == 4
            && !matches!(op, FlagOp::Adc | FlagOp::Sbb | FlagOp::Rol | FlagOp::Ror)
            && (!matches!(op, FlagOp::Shl | FlagOp::Shr | FlagOp::Sar)
                || matches!(b, Val::C(1..=31)));
        if !inline {
            self.materialize();
            self.pending = None;
            self.ins(I::I32Const(flag_op_number(op) as i32));
            self.ins(I::I32Const(size as i32));
            self.push(a);
            self.push(b);
            self.ins(I::Call(FLAGS));
            return;
        }
        let (res, cf, of) = (
            self.next_flag_local,
            self.next_flag_local + 1,
            self.next_flag_local + 2,
        );
        self.next_flag_local += 3;
        let n = match b {
            Val::C(n) => n as i32,
            Val::T(_) => 0,
        };
        match op {
            FlagOp::Add => {
                self.push(a);
                self.push(b);
                self.ins(I::I32Add);
                self.ins(I::LocalTee(res));
                self.push(a);
                self.ins(I::I32LtU);
                self.ins(I::LocalSet(cf));
            }
            FlagOp::Sub => {
                self.push(a);
                self.push(b);
                self.ins(I::I32Sub);
                self.ins(I::LocalSet(res));
                self.push(a);
                self.push(b);
                self.ins(I::I32LtU);
                self.ins(I::LocalSet(cf));
            }
            FlagOp::Neg => {
                self.ins(I::I32Const(0));
                self.push(a);
                self.ins(I::I32Sub);
                self.ins(I::LocalSet(res));
                self.push(a);
                self.ins(I::I32Const(0));
                self.ins(I::I32Ne);
                self.ins(I::LocalSet(cf));
            }
            FlagOp::Inc | FlagOp::Dec => {
                self.push(a);
                self.ins(I::I32Const(1));
                self.ins(if op == FlagOp::Inc {
                    I::I32Add
                } else {
                    I::I32Sub
                });
                self.ins(I::LocalSet(res));
                self.push_cf();
                self.ins(I::LocalSet(cf));
            }
            FlagOp::And | FlagOp::Or | FlagOp::Xor => {
                self.push(a);
                self.push(b);
                self.ins(match op {
                    FlagOp::And => I::I32And,
                    FlagOp::Or => I::I32Or,
                    _ => I::I32Xor,
                });
                self.ins(I::LocalSet(res));
                self.ins(I::I32Const(0));
                self.ins(I::LocalSet(cf));
                self.ins(I::I32Const(0));
                self.ins(I::LocalSet(of));
            }
            FlagOp::Shl => {
                self.shifted(a, n, I::I32Shl, false, res);
                self.shifted(a, 32 - n, I::I32ShrU, true, cf);
                // OF = MSB(result) ^ CF
                self.ins(I::LocalGet(res));
                self.ins(I::I32Const(31));
                self.ins(I::I32ShrU);
                self.ins(I::LocalGet(cf));
                self.ins(I::I32Xor);
                self.ins(I::LocalSet(of));
            }
            FlagOp::Shr => {
                self.shifted(a, n, I::I32ShrU, false, res);
                self.shifted(a, n - 1, I::I32ShrU, true, cf);
                // OF = MSB(result) ^ the bit below it
                self.ins(I::LocalGet(res));
                self.ins(I::LocalGet(res));
                self.ins(I::I32Const(1));
                self.ins(I::I32Shl);
                self.ins(I::I32Xor);
                self.ins(I::I32Const(31));
                self.ins(I::I32ShrU);
                self.ins(I::LocalSet(of));
            }
            FlagOp::Sar => {
                self.shifted(a, n, I::I32ShrS, false, res);
                self.shifted(a, n - 1, I::I32ShrS, true, cf);
                self.ins(I::I32Const(0));
                self.ins(I::LocalSet(of));
            }
            _ => {
                // IMUL: CF = OF = the 64-bit product differs from the sign-extended
                // 32-bit one.
                self.push(a);
                self.push(b);
                self.ins(I::I32Mul);
                self.ins(I::LocalSet(res));
                self.push(a);
                self.ins(I::I64ExtendI32S);
                self.push(b);
                self.ins(I::I64ExtendI32S);
                self.ins(I::I64Mul);
                self.ins(I::LocalGet(res));
                self.ins(I::I64ExtendI32S);
                self.ins(I::I64Ne);
                self.ins(I::LocalTee(cf));
                self.ins(I::LocalSet(of));
            }
        }
        self.pending = Some(Pending {
            op,
            a,
            b,
            res,
            cf,
            of,
        });
    }

    /// `dst` = `a` shifted by `by` with `shift` (only its low bit when `bit`).
    fn shifted(&mut self, a: Val, by: i32, shift: I<'static>, bit: bool, dst: u32) {
        self.push(a);
        self.ins(I::I32Const(by));
        self.ins(shift);
        if bit {
            self.ins(I::I32Const(1));
            self.ins(I::I32And);
        }
        self.ins(I::LocalSet(dst));
    }

    /// Pushes OF of an inline record.
    fn push_of(&mut self, p: Pending) {
        if !p.arith() {
            self.ins(I::LocalGet(p.of));
            return;
        }
        // ((A ^ res) & (B ^ res)) >> 31 with the record's addends.
        let (a, b, inv) = match p.op {
            FlagOp::Add => (p.a, p.b, false),
            FlagOp::Sub => (p.a, p.b, true),
            FlagOp::Inc => (p.a, Val::C(1), false),
            FlagOp::Dec => (p.a, Val::C(1), true),
            _ => (Val::C(0), p.a, true),
        };
        self.push(a);
        self.ins(I::LocalGet(p.res));
        self.ins(I::I32Xor);
        self.push(b);
        if inv {
            self.ins(I::I32Const(-1));
            self.ins(I::I32Xor);
        }
        self.ins(I::LocalGet(p.res));
        self.ins(I::I32Xor);
        self.ins(I::I32And);
        self.ins(I::I32Const(31));
        self.ins(I::I32ShrU);
    }

    fn push_sf(&mut self, p: Pending) {
        self.ins(I::LocalGet(p.res));
        self.ins(I::I32Const(31));
        self.ins(I::I32ShrU);
    }

    fn push_zf(&mut self, p: Pending) {
        self.ins(I::LocalGet(p.res));
        self.ins(I::I32Eqz);
    }

    /// Pushes condition `cc` (0 or 1) from the pending flags; false (nothing pushed)
    /// when it needs the record (PF).
    fn cond_inline(&mut self, cc: u8) -> bool {
        let Some(p) = self.pending else { return false };
        let base = (cc >> 1) & 7;
        if base == 5 {
            return false;
        }
        if p.op == FlagOp::Sub && base != 0 && base != 4 {
            // A compare: one host comparison of the operands.
            self.push(p.a);
            self.push(p.b);
            self.ins(match (base, cc & 1) {
                (1, 0) => I::I32LtU,
                (1, _) => I::I32GeU,
                (2, 0) => I::I32Eq,
                (2, _) => I::I32Ne,
                (3, 0) => I::I32LeU,
                (3, _) => I::I32GtU,
                (6, 0) => I::I32LtS,
                (6, _) => I::I32GeS,
                (7, 0) => I::I32LeS,
                _ => I::I32GtS,
            });
            return true;
        }
        match base {
            0 => self.push_of(p),
            1 => self.ins(I::LocalGet(p.cf)),
            2 => self.push_zf(p),
            3 => {
                self.ins(I::LocalGet(p.cf));
                self.push_zf(p);
                self.ins(I::I32Or);
            }
            4 => self.push_sf(p),
            6 => {
                self.push_sf(p);
                self.push_of(p);
                self.ins(I::I32Xor);
            }
            _ => {
                self.push_zf(p);
                self.push_sf(p);
                self.push_of(p);
                self.ins(I::I32Xor);
                self.ins(I::I32Or);
            }
        }
        if cc & 1 != 0 {
            self.ins(I::I32Eqz);
        }
        true
    }

    /// Emits the body of `run`.
    fn body(&mut self) {
        let l = self.l;
        for (local, offset) in [
            (l.gpr, context::GPR),
            (l.flags, context::FLAGS),
            (l.ram, context::RAM),
            (l.low_end, context::LOW_END),
            (l.high_span, context::HIGH_SPAN),
            (l.plain, context::PLAIN_STORE),
            (l.chain, context::CHAIN),
            (l.generations, context::GENERATIONS),
            (l.tlb, context::TLB),
            (l.need_read, context::NEED_READ),
            (l.need_write, context::NEED_WRITE),
            (l.hits, context::HITS),
        ] {
            self.ins(I::LocalGet(CTX));
            self.ins(I::I32Load(mem(offset, 2)));
            self.ins(I::LocalSet(local));
        }
        // limit = min(room, done + CAP) - insns (the callers leave room for one pass;
        // should done + CAP wrap, loops only leave sooner).
        self.ins(I::LocalGet(ROOM));
        self.ins(I::I32Const(self.insns as i32));
        self.ins(I::I32Sub);
        self.ins(I::LocalSet(l.limit));
        self.ins(I::LocalGet(DONE));
        self.ins(I::I32Const(CAP.saturating_sub(self.insns) as i32));
        self.ins(I::I32Add);
        self.ins(I::LocalTee(l.addr));
        self.ins(I::LocalGet(l.limit));
        self.ins(I::I32LtU);
        self.ins(I::If(BlockType::Empty));
        self.ins(I::LocalGet(l.addr));
        self.ins(I::LocalSet(l.limit));
        self.ins(I::End);
        let mut used = 0u8;
        for op in &self.r.ops {
            match *op {
                Op::Get { reg, .. } => used |= 1 << (reg & 7),
                Op::Set { reg, .. } => {
                    used |= 1 << (reg & 7);
                    self.written |= 1 << (reg & 7);
                }
                _ => {}
            }
        }
        for r in 0..8u8 {
            if used & (1 << r) != 0 {
                self.ins(I::LocalGet(l.gpr));
                self.ins(I::I32Load(mem(r as u64 * 4, 2)));
                self.ins(I::LocalSet(self.reg(r)));
            }
        }
        self.ins(I::Loop(BlockType::Empty));
        // Loops: the joins inside each one's body get their blocks inside it.
        let mut inner = alloc::collections::BTreeSet::new();
        for (i, op) in self.r.ops.iter().enumerate() {
            if let Op::LoopIf { target, .. } = *op {
                let head = self.r.ops[..i]
                    .iter()
                    .position(|o| *o == Op::Join { eip: target });
                if let Some(h) = head {
                    let body: Vec<u32> = self.r.ops[h + 1..i]
                        .iter()
                        .filter_map(|o| match *o {
                            Op::Join { eip } => Some(eip),
                            _ => None,
                        })
                        .collect();
                    inner.extend(body.iter().copied());
                    self.loops.insert(target, body);
                }
            }
        }
        // One block per other join, the last join outermost.
        let mut n: u32 = 0;
        for (i, op) in self.r.ops.iter().enumerate() {
            match *op {
                Op::Insn { .. } => n += 1,
                Op::Join { eip } => {
                    let dead = flags_dead_from(&self.r.ops[i + 1..]);
                    self.joins.insert(eip, (n, dead));
                    if !inner.contains(&eip) {
                        self.open.push(Some(eip));
                    }
                }
                _ => {}
            }
        }
        self.open.reverse();
        for _ in 0..self.open.len() {
            self.ins(I::Block(BlockType::Empty));
        }
        let mut n: u32 = 0;
        let mut here = self.r.entry;
        let r = self.r;
        for (index, op) in r.ops.iter().enumerate() {
            match *op {
                Op::BranchIf { cond, target } => self.branch_if(cond, target, n, index),
                Op::LoopIf { cond, target } => self.loop_if(cond, target, n),
                Op::Join { eip } => self.join(eip),
                Op::Insn { eip, .. } => {
                    n += 1;
                    here = eip;
                }
                Op::Get { dst, reg } => {
                    self.ins(I::LocalGet(self.reg(reg)));
                    self.ins(I::LocalSet(dst as u32 + TEMPS));
                }
                Op::Set { reg, src } => {
                    self.push(src);
                    self.ins(I::LocalSet(self.reg(reg)));
                }
                Op::Bin { dst, op, a, b } => {
                    self.push(a);
                    self.push(b);
                    self.ins(match op {
                        BinOp::Add => I::I32Add,
                        BinOp::Sub => I::I32Sub,
                        BinOp::And => I::I32And,
                        BinOp::Or => I::I32Or,
                        BinOp::Xor => I::I32Xor,
                        BinOp::Shl => I::I32Shl,
                        BinOp::Shr => I::I32ShrU,
                        BinOp::Sar => I::I32ShrS,
                        BinOp::Mul => I::I32Mul,
                    });
                    self.ins(I::LocalSet(dst as u32 + TEMPS));
                }
                Op::Flags { op, size, a, b } => self.flags(op, size, a, b),
                Op::Cond { dst, cc } => {
                    if !self.cond_inline(cc) {
                        self.materialize();
                        self.ins(I::I32Const(cc as i32));
                        self.ins(I::Call(COND));
                    }
                    self.ins(I::LocalSet(dst as u32 + TEMPS));
                }
                Op::Load { dst, size, addr } => {
                    self.load(dst, size, addr, n.saturating_sub(1), here)
                }
                Op::Store { size, addr, val } => {
                    self.store(size, addr, val, n.saturating_sub(1), here)
                }
                Op::ExitIf { cond, target } => {
                    self.push(cond);
                    self.ins(I::If(BlockType::Empty));
                    self.exit_to(n, target);
                    self.ins(I::End);
                }
                Op::Exit { target } => match target {
                    Val::C(t) => {
                        // A block so that the loop is the same label depth as in
                        // `ExitIf`.
                        self.ins(I::Block(BlockType::Empty));
                        self.exit_to(n, t);
                        self.ins(I::End);
                    }
                    Val::T(_) => {
                        self.push(target);
                        self.ins(I::LocalSet(self.l.target));
                        self.chain(n);
                        self.sync();
                        self.push_retired(n);
                        self.push(target);
                        self.ins(I::I64ExtendI32U);
                        self.ins(I::I64Or);
                        self.ins(I::Return);
                    }
                },
            }
        }
        self.leave(n, here);
        self.ins(I::End);
        self.ins(I::Unreachable);
        self.ins(I::End);
    }
}

/// 1 MiB as the i32 the inline memory check subtracts.
const fn context_one_mib() -> i32 {
    crate::memory::ONE_MIB as i32
}

/// The flags before `ops` are overwritten before anything reads them, the region can
/// leave or control flow meets or parts.
fn flags_dead_from(ops: &[Op]) -> bool {
    for op in ops {
        match *op {
            Op::Flags { op, .. } => return op.writes_all(),
            Op::Cond { .. } => return false,
            o if o.may_leave() || o.is_branch_point() => return false,
            _ => {}
        }
    }
    false
}

/// Encodes region `r` as a module.
pub fn encode(r: &Region) -> Vec<u8> {
    let mut types = TypeSection::new();
    let i32t = ValType::I32;
    types.ty().function([i32t, i32t, i32t, i32t], []);
    types.ty().function([i32t], [i32t]);
    types.ty().function([i32t, i32t], [ValType::I64]);
    types.ty().function([i32t, i32t, i32t], [i32t]);
    types.ty().function([i32t, i32t, i32t], [ValType::I64]);
    let mut imports = ImportSection::new();
    imports.import(
        "env",
        "memory",
        EntityType::Memory(MemoryType {
            minimum: 0,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        }),
    );
    imports.import(
        "env",
        "table",
        EntityType::Table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 0,
            maximum: None,
            shared: false,
        }),
    );
    for (name, ty) in [("flags", 0), ("cond", 1), ("load", 2), ("store", 3)] {
        imports.import("vmlab", name, EntityType::Function(ty));
    }
    let mut funcs = FunctionSection::new();
    funcs.function(RUN_TYPE);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, RUN);

    // Locals: the parameters (ctx, room, done), one i32 per temporary, eight
    // registers, the context's twelve words, a physical address, a chain target and
    // slot, an address, the
    // loop limit, eight saved registers, three per `flags` operation and per branch
    // run as selects, then one i64.
    let convertible = ifconv::convertible(&r.ops);
    let flag_ops = r
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Flags { .. }))
        .count() as u32
        + convertible.len() as u32;
    let base = r.temps as u32 + TEMPS;
    let l = Locals {
        regs: base,
        gpr: base + 8,
        flags: base + 9,
        ram: base + 10,
        low_end: base + 11,
        high_span: base + 12,
        plain: base + 13,
        chain: base + 14,
        generations: base + 15,
        tlb: base + 16,
        need_read: base + 17,
        need_write: base + 18,
        hits: base + 19,
        phys: base + 20,
        target: base + 21,
        slot: base + 22,
        addr: base + 23,
        limit: base + 24,
        saved: base + 25,
        flag_locals: base + 33,
        wide: base + 33 + 3 * flag_ops,
    };
    let f = Function::new([
        (r.temps as u32 + 33 + 3 * flag_ops, ValType::I32),
        (1, ValType::I64),
    ]);
    let mut e = Emitter {
        f,
        r,
        l,
        written: 0,
        pending: None,
        next_flag_local: l.flag_locals,
        insns: r.instructions(),
        entry_flags_dead: flags_dead_from(&r.ops),
        open: Vec::new(),
        loops: Default::default(),
        joins: Default::default(),
        convertible,
        converting: None,
    };
    e.body();
    let mut code = CodeSection::new();
    code.function(&e.f);

    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&funcs)
        .section(&exports)
        .section(&code);
    module.finish()
}

impl Machine {
    /// The `flags` slow path of a Wasm region: records flag operation number `op`.
    pub fn slow_flags(&mut self, op: u32, size: u32, a: u32, b: u32) {
        if let Some(&fop) = super::ir::FLAG_OPS.get(op as usize) {
            super::run::record_flags(&mut self.cpu.flags, fop, size as u8, a, b);
        }
    }

    /// The `cond` slow path: 1 when condition code `cc` holds.
    pub fn slow_cond(&self, cc: u32) -> u32 {
        self.cpu.flags.cond(cc as u8 & 15) as u32
    }

    /// The `load` slow path: the value, or bit 32 set when the access is off the fast
    /// path (the region leaves before the instruction).
    pub fn slow_load(&mut self, addr: u32, size: u32) -> u64 {
        match self.region_read(addr, size as u8) {
            Some(v) => v as u64,
            None => 1 << 32,
        }
    }

    /// The `store` slow path: 1 when stored, 0 when the access is off the fast path.
    pub fn slow_store(&mut self, addr: u32, size: u32, value: u32) -> u32 {
        match self.region_store_ref(addr, size as u8) {
            Some(slot) => {
                self.mem.ram_store(slot, size as u8, value);
                1
            }
            None => 0,
        }
    }
}
