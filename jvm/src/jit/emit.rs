//! The code generator: a planned region's bytecodes as NASM text for 32-bit x86.
//!
//! Locals live in emulated memory at `[ebp + 4*k]`; operand-stack slot `s` has its
//! home at `[ebp + 4*(max_locals + s)]`, except the first three slots, whose homes
//! are EBX, ESI and EDI. Within a block the generator keeps a virtual stack (a local,
//! a constant, or the value in its home), so `iload; iconst; iadd` becomes one load
//! and one add; at block starts, branches and exits every slot is in its home. EAX,
//! ECX and EDX are scratch. Every exit is a `hlt` the host maps back to a bytecode pc.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use super::analyze::{ldc_int, Plan};
use crate::classfile::verify::ends_flow;
use crate::classfile::ConstantPool;
use crate::interp::exec::{cond as cond_holds, int_binop};
use crate::opcode;

/// The registers that hold the first operand-stack slots.
pub(crate) const SLOT_REGS: [&str; 3] = ["ebx", "esi", "edi"];
/// Their indices in the CPU's general registers (EBX, ESI, EDI).
pub(crate) const SLOT_GPRS: [usize; 3] = [3, 6, 7];

/// How compiled code leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exit {
    /// The interpreter continues at `pc` with the stack in its homes.
    Deopt { pc: usize },
    /// `return`.
    Return,
    /// `ireturn` with the value in EAX.
    IReturn,
}

/// Where a stack value is while a block is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Local(u16),
    Const(i32),
    Home,
}

/// The text of a region and the labels the host resolves after assembly.
pub(crate) struct Text {
    pub text: String,
    /// (label, exit) for every `hlt`.
    pub exits: Vec<(String, Exit)>,
    /// (label of an `idiv` that may fault, label of the stub that deoptimizes).
    pub faults: Vec<(String, String)>,
}

struct Emitter<'a> {
    max_locals: u32,
    out: String,
    stubs: String,
    vs: Vec<Slot>,
    exits: Vec<(String, Exit)>,
    faults: Vec<(String, String)>,
    next: u32,
    pool: &'a ConstantPool,
    /// The bytecode being compiled.
    pc: usize,
}

fn local(k: u16) -> String {
    alloc::format!("dword [ebp+{}]", 4 * u32::from(k))
}

impl Emitter<'_> {
    fn home(&self, s: usize) -> String {
        alloc::format!("dword [ebp+{}]", 4 * (self.max_locals as usize + s))
    }

    fn line(out: &mut String, s: &str) {
        out.push_str("    ");
        out.push_str(s);
        out.push('\n');
    }

    fn emit(&mut self, s: &str) {
        Self::line(&mut self.out, s);
    }

    /// The operand for stack slot `i` as it is now.
    fn opnd(&self, i: usize) -> String {
        match self.vs[i] {
            Slot::Local(k) => local(k),
            Slot::Const(n) => n.to_string(),
            Slot::Home if i < SLOT_REGS.len() => SLOT_REGS[i].into(),
            Slot::Home => self.home(i),
        }
    }

    fn in_reg(&self, i: usize) -> bool {
        self.vs[i] == Slot::Home && i < SLOT_REGS.len()
    }

    fn is_const(&self, i: usize) -> Option<i32> {
        match self.vs[i] {
            Slot::Const(n) => Some(n),
            _ => None,
        }
    }

    /// Code that moves slot `i` of `vs` to its home (into `out`).
    fn materialize_into(&self, out: &mut String, vs: &[Slot], i: usize) {
        let src = match vs[i] {
            Slot::Home => return,
            Slot::Local(k) => local(k),
            Slot::Const(n) => n.to_string(),
        };
        if i < SLOT_REGS.len() {
            Self::line(out, &alloc::format!("mov {}, {src}", SLOT_REGS[i]));
        } else if matches!(vs[i], Slot::Const(_)) {
            Self::line(out, &alloc::format!("mov {}, {src}", self.home(i)));
        } else {
            Self::line(out, &alloc::format!("mov eax, {src}"));
            Self::line(out, &alloc::format!("mov {}, eax", self.home(i)));
        }
    }

    fn materialize(&mut self, i: usize) {
        let mut out = core::mem::take(&mut self.out);
        let vs = self.vs.clone();
        self.materialize_into(&mut out, &vs, i);
        self.out = out;
        self.vs[i] = Slot::Home;
    }

    /// Every slot below `upto` to its home.
    fn flush_below(&mut self, upto: usize) {
        for i in 0..upto.min(self.vs.len()) {
            self.materialize(i);
        }
    }

    fn flush(&mut self) {
        self.flush_below(self.vs.len());
    }

    fn exit(&mut self, e: Exit) {
        let l = alloc::format!("X{}", self.next);
        self.next += 1;
        let _ = writeln!(self.out, "{l}:");
        self.emit(match e {
            Exit::Deopt { .. } => "hlt                ; deoptimize: the interpreter continues",
            Exit::Return | Exit::IReturn => "hlt                ; return to the interpreter",
        });
        self.exits.push((l, e));
    }

    /// The register a result at depth `d` is computed in.
    fn res(d: usize) -> &'static str {
        SLOT_REGS.get(d).copied().unwrap_or("eax")
    }

    /// After computing into `res(d)`: stores it home when the slot lives in memory.
    fn finish(&mut self, d: usize) {
        if d >= SLOT_REGS.len() {
            let h = self.home(d);
            self.emit(&alloc::format!("mov {h}, eax"));
        }
        self.vs.truncate(d);
        self.vs.push(Slot::Home);
    }

    /// Loads slot `d` into `res(d)` unless it is already there.
    fn load_res(&mut self, d: usize) {
        if !self.in_reg(d) {
            let src = self.opnd(d);
            self.emit(&alloc::format!("mov {}, {src}", Self::res(d)));
        }
    }

    fn binop(&mut self, op: u8) -> Result<(), String> {
        let d = self.depth_check(2)?;
        if let (Some(a), Some(b)) = (self.is_const(d), self.is_const(d + 1)) {
            if let Some(r) = int_binop(op, a, b) {
                self.vs.truncate(d);
                self.vs.push(Slot::Const(r));
                return Ok(());
            }
        }
        let r = Self::res(d);
        if matches!(op, 108 | 112) {
            return self.divide(op, d);
        }
        self.load_res(d);
        let b = self.opnd(d + 1);
        let bc = self.is_const(d + 1);
        match op {
            96 | 100 | 126 | 128 | 130 => {
                let ins = match op {
                    96 => "add",
                    100 => "sub",
                    126 => "and",
                    128 => "or",
                    _ => "xor",
                };
                self.emit(&alloc::format!("{ins} {r}, {b}"));
            }
            104 => match bc {
                Some(n) => self.emit(&alloc::format!("imul {r}, {r}, {n}")),
                None => self.emit(&alloc::format!("imul {r}, {b}")),
            },
            _ => {
                let ins = match op {
                    120 => "shl",
                    122 => "sar",
                    _ => "shr",
                };
                match bc {
                    Some(n) => self.emit(&alloc::format!("{ins} {r}, {}", n & 31)),
                    None => {
                        self.emit(&alloc::format!("mov ecx, {b}"));
                        self.emit(&alloc::format!("{ins} {r}, cl"));
                    }
                }
            }
        }
        self.finish(d);
        Ok(())
    }

    /// `idiv`/`irem`: a zero divisor deoptimizes so the interpreter throws the
    /// ArithmeticException; a constant -1 is negation (x86 faults on MIN_VALUE / -1).
    fn divide(&mut self, op: u8, d: usize) -> Result<(), String> {
        let r = Self::res(d);
        let rem = op == 112;
        let take = if rem { "edx" } else { "eax" };
        match self.is_const(d + 1) {
            Some(0) => {
                // The interpreter throws; the code after is not reached.
                self.flush();
                let pc = self.pc;
                self.exit(Exit::Deopt { pc });
                self.vs.truncate(d);
                self.vs.push(Slot::Home);
                return Ok(());
            }
            Some(-1) => {
                if rem {
                    self.emit(&alloc::format!("mov {r}, 0"));
                } else {
                    self.load_res(d);
                    self.emit(&alloc::format!("neg {r}"));
                }
            }
            Some(n) => {
                let a = self.opnd(d);
                self.emit(&alloc::format!("mov ecx, {n}"));
                self.emit(&alloc::format!("mov eax, {a}"));
                self.emit("cdq");
                self.emit("idiv ecx");
                if r != take {
                    self.emit(&alloc::format!("mov {r}, {take}"));
                }
            }
            None => {
                // A zero divisor, or MIN_VALUE / -1, makes idiv raise #DE; the host
                // then runs the stub, which writes the stack back as it was before
                // the division, and the interpreter executes it.
                let n = self.next;
                self.next += 1;
                let (a, b) = (self.opnd(d), self.opnd(d + 1));
                self.emit(&alloc::format!("mov ecx, {b}"));
                self.emit(&alloc::format!("mov eax, {a}"));
                self.emit("cdq");
                let _ = writeln!(self.out, "F{n}:");
                self.emit("idiv ecx           ; #DE: divisor 0, or MIN_VALUE / -1");
                if r != take {
                    self.emit(&alloc::format!("mov {r}, {take}"));
                }
                let mut stub = alloc::format!("DZ{n}:\n");
                let vs = self.vs.clone();
                for i in 0..vs.len() {
                    self.materialize_into(&mut stub, &vs, i);
                }
                let main = core::mem::replace(&mut self.out, stub);
                let pc = self.pc;
                self.exit(Exit::Deopt { pc });
                let stub = core::mem::replace(&mut self.out, main);
                self.stubs.push_str(&stub);
                self.faults
                    .push((alloc::format!("F{n}"), alloc::format!("DZ{n}")));
            }
        }
        self.finish(d);
        Ok(())
    }

    /// The depth of the lowest of the top `n` slots, checked.
    fn depth_check(&self, n: usize) -> Result<usize, String> {
        self.vs
            .len()
            .checked_sub(n)
            .ok_or_else(|| alloc::format!("operand stack underflow at pc {}", self.pc))
    }

    /// Moves any virtual copies of local `k` to their homes before `k` changes.
    fn before_store(&mut self, k: u16, upto: usize) {
        for i in 0..upto {
            if self.vs[i] == Slot::Local(k) {
                self.materialize(i);
            }
        }
    }

    fn store(&mut self, k: u16) -> Result<(), String> {
        let d = self.depth_check(1)?;
        if self.vs[d] != Slot::Local(k) {
            self.before_store(k, d);
            let dst = local(k);
            match self.vs[d] {
                Slot::Const(n) => self.emit(&alloc::format!("mov {dst}, {n}")),
                _ if self.in_reg(d) => self.emit(&alloc::format!("mov {dst}, {}", SLOT_REGS[d])),
                _ => {
                    let src = self.opnd(d);
                    self.emit(&alloc::format!("mov eax, {src}"));
                    self.emit(&alloc::format!("mov {dst}, eax"));
                }
            }
        }
        self.vs.truncate(d);
        Ok(())
    }

    fn iinc(&mut self, k: u16, c: i32) {
        let n = self.vs.len();
        self.before_store(k, n);
        self.emit(&alloc::format!("add {}, {c}", local(k)));
    }

    /// A conditional branch on the top one (`zero`) or two slots.
    fn branch(&mut self, cond: u8, zero: bool, target: usize) -> Result<(), String> {
        let d = self.depth_check(if zero { 1 } else { 2 })?;
        self.flush_below(d);
        let cc = ["e", "ne", "l", "ge", "g", "le"][usize::from(cond.min(5))];
        let b_const = if zero { Some(0) } else { self.is_const(d + 1) };
        if let (Some(a), Some(b)) = (self.is_const(d), b_const) {
            if cond_holds(cond, a, b) {
                self.emit(&alloc::format!("jmp L{target}"));
            }
            self.vs.truncate(d);
            return Ok(());
        }
        let a = self.opnd(d);
        let b = if zero { "0".into() } else { self.opnd(d + 1) };
        let b_easy = zero || b_const.is_some() || (d + 1 < SLOT_REGS.len() && self.in_reg(d + 1));
        if zero && self.in_reg(d) {
            self.emit(&alloc::format!("test {a}, {a}"));
        } else if self.in_reg(d) || (self.is_const(d).is_none() && b_easy) {
            self.emit(&alloc::format!("cmp {a}, {b}"));
        } else {
            self.emit(&alloc::format!("mov eax, {a}"));
            self.emit(&alloc::format!("cmp eax, {b}"));
        }
        self.emit(&alloc::format!("j{cc} L{target}"));
        self.vs.truncate(d);
        Ok(())
    }
}

/// Generates the region `plan` covers, to be assembled at `origin`.
pub(crate) fn generate(
    code: &[u8],
    pool: &ConstantPool,
    plan: &Plan,
    max_locals: u16,
    origin: u32,
    title: &str,
) -> Result<Text, String> {
    let mut e = Emitter {
        max_locals: u32::from(max_locals),
        out: alloc::format!(
            "; {title}, from pc {}\n; locals at [ebp+4*k]; stack slots 0-2 in ebx, esi, edi, the rest at [ebp+4*({max_locals}+s)]\nbits 32\norg {origin:#x}\n",
            plan.entry
        ),
        stubs: String::new(),
        vs: Vec::new(),
        exits: Vec::new(),
        faults: Vec::new(),
        next: 0,
        pool,
        pc: 0,
    };
    let mut fall_to = usize::MAX;
    for pc in 0..code.len() {
        let Some(d) = plan.depth[pc] else {
            continue;
        };
        e.pc = pc;
        let d = usize::from(d);
        if fall_to != pc {
            e.vs = vec![Slot::Home; d];
        } else if e.vs.len() != d {
            return Err(alloc::format!(
                "the stack depth at pc {pc} is {d}, but {} values reach it",
                e.vs.len()
            ));
        }
        let op = code[pc];
        let len = opcode::length(code, pc)
            .ok_or_else(|| alloc::format!("undecodable {} at pc {pc}", opcode::name(op)))?;
        if plan.starts[pc] || !plan.compiled[pc] {
            e.flush();
        }
        if plan.starts[pc] {
            let _ = writeln!(e.out, "L{pc}:");
        }
        let _ = writeln!(e.out, "P{pc}:               ; {}", opcode::name(op));
        if !plan.compiled[pc] {
            e.exit(Exit::Deopt { pc });
            fall_to = usize::MAX;
            continue;
        }
        e.instruction(code, pc, op)?;
        fall_to = if ends_flow(op) { usize::MAX } else { pc + len };
    }
    e.out.push_str("S:                 ; out-of-line exits\n");
    e.out.push_str(&e.stubs);
    Ok(Text {
        text: e.out,
        exits: e.exits,
        faults: e.faults,
    })
}

impl Emitter<'_> {
    fn instruction(&mut self, code: &[u8], pc: usize, op: u8) -> Result<(), String> {
        let u16_at = |at: usize| u16::from_be_bytes([code[at], code[at + 1]]);
        let i16_at = |at: usize| i16::from_be_bytes([code[at], code[at + 1]]);
        let target = |off: i64| (pc as i64 + off) as usize;
        match op {
            0 => {}
            2..=8 => self.vs.push(Slot::Const(i32::from(op) - 3)),
            16 => self.vs.push(Slot::Const(i32::from(code[pc + 1] as i8))),
            17 => self.vs.push(Slot::Const(i32::from(i16_at(pc + 1)))),
            18 | 19 => {
                let n = ldc_int(code, pc, self.pool)
                    .ok_or_else(|| alloc::format!("ldc at pc {pc} is not an int"))?;
                self.vs.push(Slot::Const(n));
            }
            21 => self.vs.push(Slot::Local(u16::from(code[pc + 1]))),
            26..=29 => self.vs.push(Slot::Local(u16::from(op - 26))),
            54 => self.store(u16::from(code[pc + 1]))?,
            59..=62 => self.store(u16::from(op - 59))?,
            87 => {
                let d = self.depth_check(1)?;
                self.vs.truncate(d);
            }
            89 => {
                let d = self.depth_check(1)?;
                match self.vs[d] {
                    Slot::Home => {
                        let src = self.opnd(d);
                        if d + 1 < SLOT_REGS.len() {
                            self.emit(&alloc::format!("mov {}, {src}", SLOT_REGS[d + 1]));
                        } else {
                            let h = self.home(d + 1);
                            if self.in_reg(d) {
                                self.emit(&alloc::format!("mov {h}, {src}"));
                            } else {
                                self.emit(&alloc::format!("mov eax, {src}"));
                                self.emit(&alloc::format!("mov {h}, eax"));
                            }
                        }
                        self.vs.push(Slot::Home);
                    }
                    s => self.vs.push(s),
                }
            }
            96 | 100 | 104 | 108 | 112 | 120 | 122 | 124 | 126 | 128 | 130 => self.binop(op)?,
            116 | 145..=147 => {
                let d = self.depth_check(1)?;
                if let Some(a) = self.is_const(d) {
                    let r = match op {
                        116 => a.wrapping_neg(),
                        145 => i32::from(a as i8),
                        146 => i32::from(a as u16),
                        _ => i32::from(a as i16),
                    };
                    self.vs[d] = Slot::Const(r);
                    return Ok(());
                }
                let r = Self::res(d);
                if op == 116 {
                    self.load_res(d);
                    self.emit(&alloc::format!("neg {r}"));
                } else {
                    let a = self.opnd(d);
                    if a != "eax" {
                        self.emit(&alloc::format!("mov eax, {a}"));
                    }
                    self.emit(match op {
                        145 => "movsx eax, al",
                        146 => "movzx eax, ax",
                        _ => "movsx eax, ax",
                    });
                    if r != "eax" {
                        self.emit(&alloc::format!("mov {r}, eax"));
                    }
                }
                self.finish(d);
            }
            132 => self.iinc(u16::from(code[pc + 1]), i32::from(code[pc + 2] as i8)),
            153..=158 => self.branch(op - 153, true, target(i64::from(i16_at(pc + 1))))?,
            159..=164 => self.branch(op - 159, false, target(i64::from(i16_at(pc + 1))))?,
            167 | 200 => {
                let off = if op == 167 {
                    i64::from(i16_at(pc + 1))
                } else {
                    i64::from(i32::from_be_bytes([
                        code[pc + 1],
                        code[pc + 2],
                        code[pc + 3],
                        code[pc + 4],
                    ]))
                };
                self.flush();
                self.emit(&alloc::format!("jmp L{}", target(off)));
            }
            172 => {
                let d = self.depth_check(1)?;
                let a = self.opnd(d);
                self.emit(&alloc::format!("mov eax, {a}"));
                self.exit(Exit::IReturn);
            }
            177 => self.exit(Exit::Return),
            196 => {
                let k = u16_at(pc + 2);
                match code[pc + 1] {
                    21 => self.vs.push(Slot::Local(k)),
                    54 => self.store(k)?,
                    _ => self.iinc(k, i32::from(i16_at(pc + 4))),
                }
            }
            _ => {
                return Err(alloc::format!(
                    "{} at pc {pc} has no code generator",
                    opcode::name(op)
                ))
            }
        }
        Ok(())
    }
}
