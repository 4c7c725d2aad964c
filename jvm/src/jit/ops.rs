//! The bytecodes of the int subset as x86, on the emitter's virtual stack: stores
//! and `x = x op y` straight into a local's register, `iand; ifeq` as `test`,
//! compare-and-branch as one `cmp`, division with its #DE stub, and loops whose
//! back edge repeats the loop's test (loop inversion), so a turn of a loop takes one
//! conditional jump.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

use super::analyze::ldc_int;
use super::emit::{home, Emitter, Exit, Slot};
use super::regs::{EAX, ECX, EDX, SCRATCH};
use crate::interp::exec::{cond as cond_holds, int_binop};
use crate::opcode;

/// Condition codes of `if<cond>` / `if_icmp<cond>` by `opcode - first of the family`.
const CC: [&str; 6] = ["e", "ne", "l", "ge", "g", "le"];
/// The condition with its operands swapped (a < b is b > a).
const SWAPPED: [u8; 6] = [0, 1, 4, 5, 2, 3];
/// Most bytecodes before the `if` of a loop's test that the back edge repeats.
const TEST_LEN: usize = 8;

fn reg(r: u8) -> &'static str {
    SCRATCH[usize::from(r)].0
}

fn commutative(op: u8) -> bool {
    matches!(op, 96 | 104 | 126 | 128 | 130)
}

fn alu(op: u8) -> &'static str {
    match op {
        96 => "add",
        100 => "sub",
        104 => "imul",
        120 => "shl",
        122 => "sar",
        124 => "shr",
        126 => "and",
        128 => "or",
        _ => "xor",
    }
}

impl Emitter<'_> {
    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.code[at], self.code[at + 1]])
    }

    fn i16_at(&self, at: usize) -> i16 {
        i16::from_be_bytes([self.code[at], self.code[at + 1]])
    }

    /// The local an `istore` at `pc` writes.
    fn store_target(&self, pc: usize) -> Option<u16> {
        match self.code[pc] {
            54 => Some(u16::from(self.code[pc + 1])),
            59..=62 => Some(u16::from(self.code[pc] - 59)),
            196 if self.code[pc + 1] == 54 => Some(self.u16_at(pc + 2)),
            _ => None,
        }
    }

    pub(super) fn instruction(&mut self, pc: usize, op: u8) -> Result<(), String> {
        let code = self.code;
        let target = |off: i64| (pc as i64 + off) as usize;
        match op {
            0 => {}
            2..=8 => self.vs.push(Slot::Const(i32::from(op) - 3)),
            16 => self.vs.push(Slot::Const(i32::from(code[pc + 1] as i8))),
            17 => self.vs.push(Slot::Const(i32::from(self.i16_at(pc + 1)))),
            18 | 19 => {
                let n = ldc_int(code, pc, self.pool)
                    .ok_or_else(|| format!("ldc at pc {pc} is not an int"))?;
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
                    Slot::Reg(_) | Slot::Home(_) => {
                        let t = self.temp(&[])?;
                        let src = self.opnd(d);
                        self.emit(&format!("mov {}, {src}", reg(t)));
                        self.vs.push(Slot::Reg(t));
                    }
                    s => self.vs.push(s),
                }
            }
            96 | 100 | 104 | 108 | 112 | 120 | 122 | 124 | 126 | 128 | 130 => self.binop(op)?,
            116 | 145..=147 => self.unary(op)?,
            132 => self.iinc(u16::from(code[pc + 1]), i32::from(code[pc + 2] as i8))?,
            153..=158 => self.branch(op - 153, true, target(i64::from(self.i16_at(pc + 1))))?,
            159..=164 => self.branch(op - 159, false, target(i64::from(self.i16_at(pc + 1))))?,
            167 | 200 => {
                let (off, len) = if op == 167 {
                    (i64::from(self.i16_at(pc + 1)), 3)
                } else {
                    let b = [code[pc + 1], code[pc + 2], code[pc + 3], code[pc + 4]];
                    (i64::from(i32::from_be_bytes(b)), 5)
                };
                self.flush();
                let t = target(off);
                match self.loop_test(t) {
                    Some(test) if t <= pc => self.invert(t, test, pc + len)?,
                    _ => self.emit(&format!("jmp L{t}")),
                }
            }
            172 => {
                let d = self.depth_check(1)?;
                if self.vs[d] != Slot::Reg(EAX) {
                    let a = self.opnd(d);
                    self.emit(&format!("mov eax, {a}"));
                }
                self.exit(Exit::IReturn);
            }
            177 => self.exit(Exit::Return),
            196 => {
                let k = self.u16_at(pc + 2);
                match code[pc + 1] {
                    21 => self.vs.push(Slot::Local(k)),
                    54 => self.store(k)?,
                    _ => self.iinc(k, i32::from(self.i16_at(pc + 4)))?,
                }
            }
            _ => {
                return Err(format!(
                    "{} at pc {pc} has no code generator",
                    opcode::name(op)
                ))
            }
        }
        Ok(())
    }

    fn store(&mut self, k: u16) -> Result<(), String> {
        let d = self.depth_check(1)?;
        if self.vs[d] != Slot::Local(k) {
            self.before_store(k, d)?;
            let dst = self.loc(k);
            let direct = match self.vs[d] {
                Slot::Const(_) | Slot::Reg(_) => true,
                Slot::Local(j) => self.loc_in_reg(k) || self.loc_in_reg(j),
                Slot::Home(_) => self.loc_in_reg(k),
            };
            if !direct {
                self.load_reg(d, &[])?;
            }
            let src = self.opnd(d);
            self.emit(&format!("mov {dst}, {src}"));
        }
        self.vs.truncate(d);
        Ok(())
    }

    fn iinc(&mut self, k: u16, c: i32) -> Result<(), String> {
        self.before_store(k, self.vs.len())?;
        let dst = self.loc(k);
        self.emit(&format!("add {dst}, {c}"));
        Ok(())
    }

    fn unary(&mut self, op: u8) -> Result<(), String> {
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
        let r = self.load_reg(d, &[])?;
        let (r32, r16, r8) = SCRATCH[usize::from(r)];
        self.emit(&match op {
            116 => format!("neg {r32}"),
            145 => format!("movsx {r32}, {r8}"),
            146 => format!("movzx {r32}, {r16}"),
            _ => format!("movsx {r32}, {r16}"),
        });
        Ok(())
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
        if matches!(op, 108 | 112) {
            return self.divide(op, d);
        }
        if self.update_in_place(op, d)?
            || self.compute_in_local(op, d)?
            || (op == 126 && self.test_and_branch(d)?)
        {
            return Ok(());
        }
        let a_reg = matches!(self.vs[d], Slot::Reg(_));
        let b_reg = matches!(self.vs[d + 1], Slot::Reg(_));
        if commutative(op) && (self.is_const(d).is_some() || (!a_reg && b_reg)) {
            self.vs.swap(d, d + 1);
        }
        let ins = alu(op);
        let r = match (op, self.is_const(d + 1)) {
            (104, Some(n)) => {
                let r = match self.vs[d] {
                    Slot::Reg(r) => r,
                    _ => self.temp(&[])?,
                };
                let a = self.opnd(d);
                self.emit(&format!("imul {}, {a}, {n}", reg(r)));
                r
            }
            (120 | 122 | 124, Some(n)) => {
                let r = self.load_reg(d, &[])?;
                self.emit(&format!("{ins} {}, {}", reg(r), n & 31));
                r
            }
            (120 | 122 | 124, None) => {
                let r = self.load_reg(d, &[ECX])?;
                if self.vs[d + 1] != Slot::Reg(ECX) {
                    if let Some(i) = self.vs.iter().position(|s| *s == Slot::Reg(ECX)) {
                        self.spill(i);
                    }
                    let b = self.opnd(d + 1);
                    self.emit(&format!("mov ecx, {b}"));
                    self.vs[d + 1] = Slot::Reg(ECX);
                }
                self.emit(&format!("{ins} {}, cl", reg(r)));
                r
            }
            _ => {
                let r = self.load_reg(d, &[])?;
                let b = self.opnd(d + 1);
                self.emit(&format!("{ins} {}, {b}", reg(r)));
                r
            }
        };
        self.vs.truncate(d);
        self.vs.push(Slot::Reg(r));
        Ok(())
    }

    /// `iload k; ...; op; istore k` as one instruction on local `k`.
    fn update_in_place(&mut self, op: u8, d: usize) -> Result<bool, String> {
        let Some((next, _)) = self.next_fusable() else {
            return Ok(false);
        };
        let Some(k) = self.store_target(next) else {
            return Ok(false);
        };
        if self.vs[d] != Slot::Local(k) {
            if commutative(op) && self.vs[d + 1] == Slot::Local(k) {
                self.vs.swap(d, d + 1);
            } else {
                return Ok(false);
            }
        }
        let in_reg = self.loc_in_reg(k);
        let b_const = self.is_const(d + 1);
        let fits = match op {
            96 | 100 | 126 | 128 | 130 => true,
            104 => in_reg,
            120 | 122 | 124 => b_const.is_some(),
            _ => false,
        };
        if !fits {
            return Ok(false);
        }
        self.before_store(k, d)?;
        if !in_reg && self.is_mem(d + 1) {
            self.load_reg(d + 1, &[])?;
        }
        let dst = self.loc(k);
        let b = self.opnd(d + 1);
        let ins = alu(op);
        self.emit(&match (op, b_const) {
            (104, Some(n)) => format!("imul {dst}, {dst}, {n}"),
            (120 | 122 | 124, Some(n)) => format!("{ins} {dst}, {}", n & 31),
            _ => format!("{ins} {dst}, {b}"),
        });
        self.vs.truncate(d);
        self.fused = Some(next);
        Ok(true)
    }

    /// `op; istore k` with `k` in a register: the result is computed there (`lea`
    /// for an addition of a constant).
    fn compute_in_local(&mut self, op: u8, d: usize) -> Result<bool, String> {
        let Some((next, _)) = self.next_fusable() else {
            return Ok(false);
        };
        let Some(k) = self.store_target(next) else {
            return Ok(false);
        };
        let reads_k = self.vs[d] == Slot::Local(k) || self.vs[d + 1] == Slot::Local(k);
        let variable_shift = matches!(op, 120 | 122 | 124) && self.is_const(d + 1).is_none();
        if !self.loc_in_reg(k) || reads_k || variable_shift {
            return Ok(false);
        }
        if commutative(op) && self.is_const(d).is_some() {
            self.vs.swap(d, d + 1);
        }
        self.before_store(k, d)?;
        let dst = self.loc(k);
        let (a, b) = (self.opnd(d), self.opnd(d + 1));
        let a_reg = !self.is_mem(d) && self.is_const(d).is_none();
        let ins = alu(op);
        match (op, self.is_const(d + 1)) {
            (96 | 100, Some(n)) if a_reg && n != i32::MIN => {
                let n = if op == 100 { -n } else { n };
                self.emit(&format!("lea {dst}, [{a}{n:+}]"));
            }
            (104, Some(n)) if self.is_const(d).is_none() => {
                self.emit(&format!("imul {dst}, {a}, {n}"));
            }
            (120 | 122 | 124, Some(n)) => {
                self.emit(&format!("mov {dst}, {a}"));
                self.emit(&format!("{ins} {dst}, {}", n & 31));
            }
            _ => {
                self.emit(&format!("mov {dst}, {a}"));
                self.emit(&format!("{ins} {dst}, {b}"));
            }
        }
        self.vs.truncate(d);
        self.fused = Some(next);
        Ok(true)
    }

    /// `iand; ifeq/ifne` as `test` and a jump.
    fn test_and_branch(&mut self, d: usize) -> Result<bool, String> {
        let Some((next, nop)) = self.next_fusable() else {
            return Ok(false);
        };
        if !matches!(nop, 153 | 154) {
            return Ok(false);
        }
        let target = (next as i64 + i64::from(self.i16_at(next + 1))) as usize;
        self.flush_below(d);
        if self.is_const(d).is_some() {
            self.vs.swap(d, d + 1);
        }
        if self.is_mem(d + 1) {
            if self.is_mem(d) {
                self.load_reg(d + 1, &[])?;
            } else {
                self.vs.swap(d, d + 1);
            }
        }
        let (a, b) = (self.opnd(d), self.opnd(d + 1));
        self.emit(&format!("test {a}, {b}"));
        self.emit(&format!("j{} L{target}", CC[usize::from(nop - 153)]));
        self.vs.truncate(d);
        self.fused = Some(next);
        Ok(true)
    }

    /// `idiv`/`irem`: a zero divisor deoptimizes so the interpreter throws the
    /// ArithmeticException; a constant -1 is negation (x86 faults on MIN_VALUE / -1).
    fn divide(&mut self, op: u8, d: usize) -> Result<(), String> {
        let rem = op == 112;
        match self.is_const(d + 1) {
            Some(0) => {
                // The interpreter throws; the code after is not reached.
                self.flush();
                let pc = self.pc;
                self.exit(Exit::Deopt { pc });
                self.vs.truncate(d);
                self.vs.push(home(d));
                return Ok(());
            }
            Some(-1) => {
                if rem {
                    self.vs.truncate(d);
                    self.vs.push(Slot::Const(0));
                } else {
                    let r = self.load_reg(d, &[])?;
                    self.emit(&format!("neg {}", reg(r)));
                    self.vs.truncate(d + 1);
                }
                return Ok(());
            }
            Some(n) if !rem && n > 1 && n & (n - 1) == 0 => {
                return self.divide_by_power_of_two(d, n.trailing_zeros());
            }
            _ => {}
        }
        // The values below stay out of EAX, ECX and EDX; the divisor out of EAX and EDX.
        for i in 0..d {
            self.spill(i);
        }
        if let Slot::Reg(r @ (EAX | EDX)) = self.vs[d + 1] {
            if self.vs[d] == Slot::Reg(ECX) {
                self.spill(d + 1);
            } else {
                self.emit(&format!("mov ecx, {}", reg(r)));
                self.vs[d + 1] = Slot::Reg(ECX);
            }
        }
        if self.vs[d] != Slot::Reg(EAX) {
            let a = self.opnd(d);
            self.emit(&format!("mov eax, {a}"));
            self.vs[d] = Slot::Reg(EAX);
        }
        let divisor = match self.is_const(d + 1) {
            Some(n) => {
                self.emit(&format!("mov ecx, {n}"));
                None
            }
            None => Some(self.opnd(d + 1)),
        };
        self.emit("cdq");
        match divisor {
            None => self.emit("idiv ecx"),
            Some(b) => {
                // A zero divisor, or MIN_VALUE / -1, makes idiv raise #DE; the host
                // then runs the stub, which writes the stack back as it was before
                // the division, and the interpreter executes it.
                let n = self.next;
                self.next += 1;
                let _ = writeln!(self.out, "F{n}:");
                self.emit(&format!(
                    "idiv {b}          ; #DE: divisor 0, or MIN_VALUE / -1"
                ));
                let stub = format!("DZ{n}:\n") + &self.flush_code(&self.vs, self.vs.len());
                let main = core::mem::replace(&mut self.out, stub);
                let pc = self.pc;
                self.exit(Exit::Deopt { pc });
                let stub = core::mem::replace(&mut self.out, main);
                self.stubs.push_str(&stub);
                self.faults.push((format!("F{n}"), format!("DZ{n}")));
            }
        }
        self.vs.truncate(d);
        self.vs.push(Slot::Reg(if rem { EDX } else { EAX }));
        Ok(())
    }

    /// `idiv` by `2^k` as shifts: a negative dividend gets `2^k - 1` added first, so
    /// the quotient rounds toward zero; `x = x / 2^k` works in `x`'s register.
    fn divide_by_power_of_two(&mut self, d: usize, k: u32) -> Result<(), String> {
        let in_place = self
            .next_fusable()
            .and_then(|(next, _)| Some((next, self.store_target(next)?)))
            .filter(|&(_, x)| self.vs[d] == Slot::Local(x) && self.loc_in_reg(x));
        if let Some((_, x)) = in_place {
            self.before_store(x, d)?;
        }
        let t = self.temp(&[])?;
        let (a, tr) = (self.opnd(d), reg(t));
        self.emit(&format!("mov {tr}, {a}"));
        if k == 1 {
            self.emit(&format!("shr {tr}, 31"));
        } else {
            self.emit(&format!("sar {tr}, 31"));
            self.emit(&format!("shr {tr}, {}", 32 - k));
        }
        self.vs.truncate(d);
        match in_place {
            Some((next, x)) => {
                let dst = self.loc(x);
                self.emit(&format!("add {dst}, {tr}"));
                self.emit(&format!("sar {dst}, {k}"));
                self.fused = Some(next);
            }
            None => {
                self.emit(&format!("add {tr}, {a}"));
                self.emit(&format!("sar {tr}, {k}"));
                self.vs.push(Slot::Reg(t));
            }
        }
        Ok(())
    }

    /// A conditional branch on the top one (`zero`) or two slots.
    fn branch(&mut self, cond: u8, zero: bool, target: usize) -> Result<(), String> {
        let d = self.depth_check(if zero { 1 } else { 2 })?;
        self.flush_below(d);
        let mut cond = cond.min(5);
        let b_const = if zero { Some(0) } else { self.is_const(d + 1) };
        if let (Some(a), Some(b)) = (self.is_const(d), b_const) {
            if cond_holds(cond, a, b) {
                self.emit(&format!("jmp L{target}"));
            }
            self.vs.truncate(d);
            return Ok(());
        }
        if zero {
            let a = self.opnd(d);
            if self.is_mem(d) {
                self.emit(&format!("cmp {a}, 0"));
            } else {
                self.emit(&format!("test {a}, {a}"));
            }
        } else {
            if self.is_const(d).is_some() {
                self.vs.swap(d, d + 1);
                cond = SWAPPED[usize::from(cond)];
            }
            if self.is_mem(d) && self.is_mem(d + 1) {
                self.load_reg(d, &[])?;
            }
            let (a, b) = (self.opnd(d), self.opnd(d + 1));
            self.emit(&format!("cmp {a}, {b}"));
        }
        self.emit(&format!("j{} L{target}", CC[usize::from(cond)]));
        self.vs.truncate(d);
        Ok(())
    }

    /// The pc of the test at loop head `head` when the back edge can repeat it: an
    /// empty stack, a few loads, constants and arithmetic that cannot fault, then
    /// an `if`.
    pub(super) fn loop_test(&self, head: usize) -> Option<usize> {
        if self.plan.depth.get(head).copied().flatten() != Some(0) {
            return None;
        }
        let mut p = head;
        for _ in 0..=TEST_LEN {
            if !self.plan.compiled.get(p).copied().unwrap_or(false)
                || (p != head && self.plan.starts[p])
            {
                return None;
            }
            match self.code[p] {
                153..=164 => return Some(p),
                2..=8 | 16 | 17 | 21 | 26..=29 => {}
                96 | 100 | 104 | 116 | 120 | 122 | 124 | 126 | 128 | 130 | 145..=147 => {}
                18 | 19 if ldc_int(self.code, p, self.pool).is_some() => {}
                _ => return None,
            }
            p += opcode::length(self.code, p)?;
        }
        None
    }

    /// The loop bodies whose test a back edge repeats (see `loop_test`).
    pub(super) fn loop_heads(&self) -> BTreeSet<usize> {
        let mut heads = BTreeSet::new();
        for pc in 0..self.code.len() {
            if !self.plan.compiled[pc] || !matches!(self.code[pc], 167 | 200) {
                continue;
            }
            let off = if self.code[pc] == 167 {
                i64::from(self.i16_at(pc + 1))
            } else {
                let c = self.code;
                i64::from(i32::from_be_bytes([
                    c[pc + 1],
                    c[pc + 2],
                    c[pc + 3],
                    c[pc + 4],
                ]))
            };
            let t = pc as i64 + off;
            let Ok(t) = usize::try_from(t) else {
                continue;
            };
            if t <= pc {
                if let Some(test) = self.loop_test(t) {
                    heads.insert(test + 3);
                }
            }
        }
        heads
    }

    /// The back edge to `head` as the loop's test with the condition inverted: it
    /// jumps to the body while the loop goes on, and on to the loop's exit.
    fn invert(&mut self, head: usize, test: usize, after: usize) -> Result<(), String> {
        let back = self.pc;
        let mut p = head;
        self.replay = true;
        while p < test {
            self.pc = p;
            let done = self.instruction(p, self.code[p]);
            if done.is_err() {
                self.replay = false;
            }
            done?;
            p += opcode::length(self.code, p).ok_or("an undecodable loop test")?;
        }
        self.replay = false;
        self.pc = test;
        let op = self.code[test];
        let exit = (test as i64 + i64::from(self.i16_at(test + 1))) as usize;
        let (cond, zero) = if op <= 158 {
            (op - 153, true)
        } else {
            (op - 159, false)
        };
        self.branch(cond ^ 1, zero, test + 3)?;
        if exit != after {
            self.emit(&format!("jmp L{exit}"));
        }
        self.pc = back;
        Ok(())
    }
}
