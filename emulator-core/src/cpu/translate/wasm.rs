//! The Wasm backend: one module per region, with the region as the exported function
//! `run(gpr: i32) -> i64`.
//!
//! The module imports the core's linear memory (`env.memory`), where the guest
//! registers live at `gpr` (the address of `CpuState::gpr`, given at each call), and
//! the slow paths as functions of module `vmlab`: `flags(op, size, a, b)` records the
//! lazy flags, `cond(cc) -> i32` reads a condition, `load(addr, size) -> i64` (bit 32 set:
//! the access is off the fast path) and `store(addr, size, value) -> i32` (0: off the
//! fast path); the host binds them to the core's exports ([`Machine::slow_flags`] and
//! the others), the same code the IR interpreter runs. Temporaries are Wasm locals, so
//! a guest register that the passes forwarded stays in a local across the region.
//!
//! `run(gpr, room)` returns the instructions retired in the high half and the EIP to
//! continue at in the low half, as [`Machine::run_ir`] does. A region whose exit goes
//! back to its own entry loops inside `run` while `room` (the budget and the next
//! device deadline, in instructions) leaves space for one more pass: the same state as
//! leaving and entering it again.

use alloc::vec::Vec;
use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    ImportSection, Instruction as I, MemArg, MemoryType, Module, TypeSection, ValType,
};

use super::ir::{BinOp, Op, Region, Val};
use super::run::Left;
use crate::machine::Machine;

/// The slow-path imports, in function-index order.
const FLAGS: u32 = 0;
const COND: u32 = 1;
const LOAD: u32 = 2;
const STORE: u32 = 3;
/// The function index of `run`.
const RUN: u32 = 4;
/// `run`'s parameters: the address of the guest registers, and the instructions it may
/// retire (its room).
const GPR: u32 = 0;
const ROOM: u32 = 1;
/// The local of the first temporary.
const TEMPS: u32 = 2;

/// A flag operation's number in the `flags` import.
pub fn flag_op_number(op: super::ir::FlagOp) -> u32 {
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

/// Emits code that pushes `v`.
fn push(f: &mut Function, v: Val) {
    match v {
        Val::C(c) => f.instruction(&I::I32Const(c as i32)),
        Val::T(t) => f.instruction(&I::LocalGet(t as u32 + TEMPS)),
    };
}

fn reg_arg(reg: u8) -> MemArg {
    MemArg {
        offset: (reg as u64 & 7) * 4,
        align: 2,
        memory_index: 0,
    }
}

/// The function's locals past the temporaries.
#[derive(Clone, Copy)]
struct Locals {
    scratch: u32,
    /// Instructions retired by earlier passes of a looping region.
    done: u32,
}

/// Pushes `done + retired` shifted into the high half, as an i64.
fn push_retired(f: &mut Function, l: Locals, retired: u32) {
    f.instruction(&I::LocalGet(l.done));
    f.instruction(&I::I32Const(retired as i32));
    f.instruction(&I::I32Add);
    f.instruction(&I::I64ExtendI32U);
    f.instruction(&I::I64Const(32));
    f.instruction(&I::I64Shl);
}

/// Returns `packed(done + retired, eip)` from the function.
fn leave(f: &mut Function, l: Locals, retired: u32, eip: u32) {
    push_retired(f, l, retired);
    f.instruction(&I::I64Const(packed(0, eip)));
    f.instruction(&I::I64Or);
    f.instruction(&I::Return);
}

/// Leaves for `target` after `retired` instructions of this pass; back to the top of
/// the loop instead when the target is the entry and the room allows another pass of
/// `insns`.
fn exit_to(f: &mut Function, l: Locals, r: &Region, insns: u32, retired: u32, target: u32) {
    if target == r.entry && retired == insns {
        f.instruction(&I::LocalGet(l.done));
        f.instruction(&I::I32Const(retired as i32));
        f.instruction(&I::I32Add);
        f.instruction(&I::LocalTee(l.done));
        f.instruction(&I::I32Const(insns as i32));
        f.instruction(&I::I32Add);
        f.instruction(&I::LocalGet(ROOM));
        f.instruction(&I::I32LeU);
        // The loop is the innermost label but one (inside the exit's `if`).
        f.instruction(&I::BrIf(1));
        leave(f, l, 0, target);
    } else {
        leave(f, l, retired, target);
    }
}

/// Encodes region `r` as a module.
pub fn encode(r: &Region) -> Vec<u8> {
    let mut types = TypeSection::new();
    let i32t = ValType::I32;
    types.ty().function([i32t, i32t, i32t, i32t], []);
    types.ty().function([i32t], [i32t]);
    types.ty().function([i32t, i32t], [ValType::I64]);
    types.ty().function([i32t, i32t, i32t], [i32t]);
    types.ty().function([i32t, i32t], [ValType::I64]);
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
    for (name, ty) in [("flags", 0), ("cond", 1), ("load", 2), ("store", 3)] {
        imports.import("vmlab", name, EntityType::Function(ty));
    }
    let mut funcs = FunctionSection::new();
    funcs.function(4);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, RUN);

    // Locals: the parameters (gpr, room), one i32 per temporary, an i64 scratch and
    // the count of earlier passes' instructions.
    let l = Locals {
        scratch: r.temps as u32 + TEMPS,
        done: r.temps as u32 + TEMPS + 1,
    };
    let scratch = l.scratch;
    let insns = r.instructions();
    let mut f = Function::new([
        (r.temps as u32, ValType::I32),
        (1, ValType::I64),
        (1, ValType::I32),
    ]);
    f.instruction(&I::Loop(BlockType::Empty));
    let mut n: u32 = 0;
    let mut here = r.entry;
    for op in &r.ops {
        match *op {
            Op::Insn { eip, .. } => {
                n += 1;
                here = eip;
            }
            Op::Get { dst, reg } => {
                f.instruction(&I::LocalGet(GPR));
                f.instruction(&I::I32Load(reg_arg(reg)));
                f.instruction(&I::LocalSet(dst as u32 + TEMPS));
            }
            Op::Set { reg, src } => {
                f.instruction(&I::LocalGet(GPR));
                push(&mut f, src);
                f.instruction(&I::I32Store(reg_arg(reg)));
            }
            Op::Bin { dst, op, a, b } => {
                push(&mut f, a);
                push(&mut f, b);
                f.instruction(&match op {
                    BinOp::Add => I::I32Add,
                    BinOp::Sub => I::I32Sub,
                    BinOp::And => I::I32And,
                    BinOp::Or => I::I32Or,
                    BinOp::Xor => I::I32Xor,
                    BinOp::Shl => I::I32Shl,
                    BinOp::Shr => I::I32ShrU,
                    BinOp::Sar => I::I32ShrS,
                });
                f.instruction(&I::LocalSet(dst as u32 + TEMPS));
            }
            Op::Flags { op, size, a, b } => {
                f.instruction(&I::I32Const(flag_op_number(op) as i32));
                f.instruction(&I::I32Const(size as i32));
                push(&mut f, a);
                push(&mut f, b);
                f.instruction(&I::Call(FLAGS));
            }
            Op::Cond { dst, cc } => {
                f.instruction(&I::I32Const(cc as i32));
                f.instruction(&I::Call(COND));
                f.instruction(&I::LocalSet(dst as u32 + TEMPS));
            }
            Op::Load { dst, size, addr } => {
                push(&mut f, addr);
                f.instruction(&I::I32Const(size as i32));
                f.instruction(&I::Call(LOAD));
                f.instruction(&I::LocalTee(scratch));
                f.instruction(&I::I64Const(32));
                f.instruction(&I::I64ShrU);
                f.instruction(&I::I32WrapI64);
                f.instruction(&I::If(BlockType::Empty));
                leave(&mut f, l, n.saturating_sub(1), here);
                f.instruction(&I::End);
                f.instruction(&I::LocalGet(scratch));
                f.instruction(&I::I32WrapI64);
                f.instruction(&I::LocalSet(dst as u32 + TEMPS));
            }
            Op::Store { size, addr, val } => {
                push(&mut f, addr);
                f.instruction(&I::I32Const(size as i32));
                push(&mut f, val);
                f.instruction(&I::Call(STORE));
                f.instruction(&I::I32Eqz);
                f.instruction(&I::If(BlockType::Empty));
                leave(&mut f, l, n.saturating_sub(1), here);
                f.instruction(&I::End);
            }
            Op::ExitIf { cond, target } => {
                push(&mut f, cond);
                f.instruction(&I::If(BlockType::Empty));
                exit_to(&mut f, l, r, insns, n, target);
                f.instruction(&I::End);
            }
            Op::Exit { target } => match target {
                Val::C(t) => {
                    // A block so that the loop is the same label depth as in `ExitIf`.
                    f.instruction(&I::Block(BlockType::Empty));
                    exit_to(&mut f, l, r, insns, n, t);
                    f.instruction(&I::End);
                }
                Val::T(_) => {
                    push_retired(&mut f, l, n);
                    push(&mut f, target);
                    f.instruction(&I::I64ExtendI32U);
                    f.instruction(&I::I64Or);
                    f.instruction(&I::Return);
                }
            },
        }
    }
    leave(&mut f, l, n, here);
    f.instruction(&I::End);
    f.instruction(&I::Unreachable);
    f.instruction(&I::End);
    let mut code = CodeSection::new();
    code.function(&f);

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
        match self.fast_read(addr, size as u8) {
            Some(v) => v as u64,
            None => 1 << 32,
        }
    }

    /// The `store` slow path: 1 when stored, 0 when the access is off the fast path.
    pub fn slow_store(&mut self, addr: u32, size: u32, value: u32) -> u32 {
        match self.fast_store_ref(addr, size as u8) {
            Some(slot) => {
                self.mem.ram_store(slot, size as u8, value);
                1
            }
            None => 0,
        }
    }
}
