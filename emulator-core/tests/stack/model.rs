//! A model of the stack instructions written from the Intel SDM's pseudo-code
//! (vol. 2: PUSH, POP, PUSHA, POPA, ENTER, LEAVE, CALL, RET, INT n, IRET), apart from
//! the emulator: it keeps its own registers and a byte map of the memory it wrote.
//!
//! Where the SDM leaves a choice or its pseudo-code is loose, the model follows what
//! the description says and real processors do:
//! - the stack-size attribute (SS.B) picks SP or ESP for every stack access and for
//!   the pointer update, and a 16-bit stack keeps ESP's upper half;
//! - ENTER's FrameTemp is ESP with a 32-bit operand size and SP with a 16-bit one;
//!   the frame-pointer copies walk BP with a 16-bit stack and EBP with a 32-bit one;
//!   its final write check probes an operand-size item at the new stack pointer;
//! - PUSH of a segment register with a 32-bit operand size pushes the selector
//!   zero-extended (the SDM allows this or a 16-bit move);
//! - a fault leaves the registers as they were before the instruction (writes already
//!   made below the stack pointer stay).

use std::collections::HashMap;

use super::layout::{descriptor, pattern, Mem, Op, SegDesc, Setup, INT_GATES, WINDOWS};

/// A fault the instruction raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// #SS(0).
    Stack,
    /// #GP(0).
    General,
    /// #PF with the first faulting linear address and the error code.
    Page(u32, u32),
}

/// The user-visible registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regs {
    pub gpr: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS selectors.
    pub sel: [u16; 6],
}

const ESP: usize = 4;
const EBP: usize = 5;
const SS: usize = 2;
const CS: usize = 1;
const DS: usize = 3;

/// The model machine.
pub struct Model {
    pub regs: Regs,
    /// Bytes written (or preset), by linear address.
    pub mem: HashMap<u32, u8>,
    down_limit: u32,
    absent_page: Option<u32>,
    code32: bool,
    cpl: u8,
    /// Stack writes in order: (linear address, size).
    pub writes: Vec<(u32, u8)>,
}

/// Low `size` bytes of `v`.
fn trunc(v: u32, size: u8) -> u32 {
    if size == 2 {
        v & 0xffff
    } else {
        v
    }
}

impl Model {
    pub fn new(s: &Setup) -> Model {
        Model {
            regs: Regs {
                gpr: s.gpr,
                eip: super::layout::CODE,
                eflags: s.eflags,
                sel: s.sel,
            },
            mem: s.preset.iter().copied().collect(),
            down_limit: s.down_limit,
            absent_page: s.absent_page,
            code32: s.code32,
            cpl: s.ring,
            writes: Vec::new(),
        }
    }

    fn seg(&self, i: usize) -> SegDesc {
        descriptor(self.regs.sel[i], self.down_limit).expect("a valid selector")
    }

    fn ss_big(&self) -> bool {
        self.seg(SS).big()
    }

    /// SP or ESP, as the stack size says.
    fn sp(&self) -> u32 {
        let esp = self.regs.gpr[ESP];
        if self.ss_big() {
            esp
        } else {
            esp & 0xffff
        }
    }

    /// Wraps an offset to the stack size.
    fn wrap_sp(&self, v: u32) -> u32 {
        if self.ss_big() {
            v
        } else {
            v & 0xffff
        }
    }

    fn set_sp(&mut self, v: u32) {
        let big = self.ss_big();
        let esp = &mut self.regs.gpr[ESP];
        *esp = if big {
            v
        } else {
            (*esp & 0xffff_0000) | (v & 0xffff)
        };
    }

    fn set_reg(&mut self, r: usize, size: u8, v: u32) {
        let x = &mut self.regs.gpr[r];
        *x = if size == 2 {
            (*x & 0xffff_0000) | (v & 0xffff)
        } else {
            v
        };
    }

    /// The segment checks of an access: the linear address, or the fault.
    fn check(&self, seg: usize, off: u32, size: u8, write: bool) -> Result<u32, Fault> {
        let d = self.seg(seg);
        let fault = if seg == SS {
            Fault::Stack
        } else {
            Fault::General
        };
        let Some(last) = off.checked_add(size as u32 - 1) else {
            return Err(fault);
        };
        let ok = if d.expand_down() {
            let top = if d.big() { u32::MAX } else { 0xffff };
            off > d.limit && last <= top
        } else {
            last <= d.limit
        };
        if !ok {
            return Err(fault);
        }
        let lin = d.base.wrapping_add(off);
        if let Some(page) = self.absent_page {
            for i in 0..size as u32 {
                let a = lin.wrapping_add(i);
                if a & !0xfff == page {
                    return Err(Fault::Page(a, 4 | if write { 2 } else { 0 }));
                }
            }
        }
        Ok(lin)
    }

    /// The byte at `lin` as the model's memory holds it.
    pub fn byte(&self, lin: u32) -> u8 {
        self.mem.get(&lin).copied().unwrap_or_else(|| pattern(lin))
    }

    fn read(&self, seg: usize, off: u32, size: u8) -> Result<u32, Fault> {
        let lin = self.check(seg, off, size, false)?;
        Ok((0..size as u32).fold(0, |v, i| {
            v | (self.byte(lin.wrapping_add(i)) as u32) << (8 * i)
        }))
    }

    fn write(&mut self, seg: usize, off: u32, size: u8, v: u32) -> Result<(), Fault> {
        let lin = self.check(seg, off, size, true)?;
        for i in 0..size as u32 {
            let a = lin.wrapping_add(i);
            assert!(
                WINDOWS.iter().any(|&(s, e)| a >= s && a < e),
                "the model writes {a:#x}, outside the compared windows"
            );
            self.mem.insert(a, (v >> (8 * i)) as u8);
        }
        if seg == SS {
            self.writes.push((lin, size));
        }
        Ok(())
    }

    /// Push(v) of `size` bytes.
    fn push(&mut self, size: u8, v: u32) -> Result<(), Fault> {
        let sp = self.wrap_sp(self.sp().wrapping_sub(size as u32));
        self.write(SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pop() of `size` bytes.
    fn pop(&mut self, size: u8) -> Result<u32, Fault> {
        let v = self.read(SS, self.sp(), size)?;
        self.set_sp(self.sp().wrapping_add(size as u32));
        Ok(v)
    }

    /// The offset and segment of a memory operand.
    fn ea(&self, m: Mem) -> (usize, u32) {
        Self::ea_of(&self.regs.gpr, m)
    }

    fn ea_of(g: &[u32; 8], m: Mem) -> (usize, u32) {
        match m {
            Mem::A16BxSi(d) => (
                DS,
                (g[3].wrapping_add(g[6]).wrapping_add(d as u32)) & 0xffff,
            ),
            Mem::A16Bp(d) => (SS, g[EBP].wrapping_add(d as u32) & 0xffff),
            Mem::A32Ebx(d) => (DS, g[3].wrapping_add(d)),
            Mem::A32Esp(d) => (SS, g[ESP].wrapping_add(d as u32)),
        }
    }

    /// The linear address of a memory operand for registers `gpr` and selectors `sel`.
    pub fn operand_linear(gpr: &[u32; 8], sel: &[u16; 6], m: Mem) -> u32 {
        let (seg, off) = Self::ea_of(gpr, m);
        let base = descriptor(sel[seg], 0).map_or(0, |d| d.base);
        base.wrapping_add(off)
    }

    /// A near branch target: the operand-size truncation and the CS limit check.
    fn near_target(&self, t: u32, osize: u8) -> Result<u32, Fault> {
        let t = trunc(t, osize);
        if t > self.seg(CS).limit {
            return Err(Fault::General);
        }
        Ok(t)
    }

    /// Executes `op` (of `len` bytes, operand size `osize`); on a fault the registers
    /// are put back as they were.
    pub fn exec(&mut self, op: Op, len: u32, osize: u8) -> Option<Fault> {
        let before = self.regs.clone();
        self.regs.eip = trunc(
            self.regs.eip.wrapping_add(len),
            if self.code32 { 4 } else { 2 },
        );
        match self.step(op, osize) {
            Ok(()) => None,
            Err(f) => {
                self.regs = before;
                Some(f)
            }
        }
    }

    fn step(&mut self, op: Op, o: u8) -> Result<(), Fault> {
        match op {
            Op::PushR(r) => {
                // PUSH ESP pushes the value before the instruction.
                let v = self.regs.gpr[r];
                self.push(o, v)
            }
            Op::PopR(r) => {
                let v = self.pop(o)?;
                self.set_reg(r, o, v);
                Ok(())
            }
            Op::PushI(v, imm8) => {
                let v = if imm8 { v as u8 as i8 as i32 as u32 } else { v };
                self.push(o, v)
            }
            Op::PushM(m) => {
                let (seg, off) = self.ea(m);
                let v = self.read(seg, off, o)?;
                self.push(o, v)
            }
            Op::PopM(m) => {
                // The address is computed after ESP is incremented.
                let v = self.pop(o)?;
                let (seg, off) = self.ea(m);
                self.write(seg, off, o, v)
            }
            Op::PushS(s) => {
                let v = self.regs.sel[s] as u32;
                self.push(o, v)
            }
            Op::PopS(s) => {
                // The increment uses the stack size in force before SS changes.
                let v = self.read(SS, self.sp(), o)?;
                let sp = self.wrap_sp(self.sp().wrapping_add(o as u32));
                self.set_sp(sp);
                self.regs.sel[s] = v as u16;
                Ok(())
            }
            Op::Pusha => {
                let temp = self.regs.gpr[ESP];
                for r in 0..8 {
                    let v = if r == ESP { temp } else { self.regs.gpr[r] };
                    self.push(o, v)?;
                }
                Ok(())
            }
            Op::Popa => {
                for r in (0..8).rev() {
                    let v = self.pop(o)?;
                    if r != ESP {
                        self.set_reg(r, o, v);
                    }
                }
                Ok(())
            }
            Op::Enter(alloc, level) => self.enter(alloc, level, o),
            Op::Leave => {
                let bp = self.wrap_sp(self.regs.gpr[EBP]);
                self.set_sp(bp);
                let v = self.pop(o)?;
                self.set_reg(EBP, o, v);
                Ok(())
            }
            Op::CallRel(rel) => {
                let next = self.regs.eip;
                let t = self.near_target(next.wrapping_add(rel as u32), o)?;
                self.push(o, next)?;
                self.regs.eip = t;
                Ok(())
            }
            Op::CallR(r) => {
                let next = self.regs.eip;
                let t = self.near_target(self.regs.gpr[r], o)?;
                self.push(o, next)?;
                self.regs.eip = t;
                Ok(())
            }
            Op::CallM(m) => {
                let next = self.regs.eip;
                let (seg, off) = self.ea(m);
                let t = self.read(seg, off, o)?;
                let t = self.near_target(t, o)?;
                self.push(o, next)?;
                self.regs.eip = t;
                Ok(())
            }
            Op::Ret(imm) => {
                let t = self.pop(o)?;
                let t = self.near_target(t, o)?;
                let sp = self.sp().wrapping_add(imm.unwrap_or(0) as u32);
                self.set_sp(self.wrap_sp(sp));
                self.regs.eip = t;
                Ok(())
            }
            Op::CallFar(sel, off) => self.call_far(sel, off, o),
            Op::CallFarM(m) => {
                let (seg, off) = self.ea(m);
                let target = self.read(seg, off, o)?;
                let sel = self.read(seg, off.wrapping_add(o as u32), 2)? as u16;
                self.call_far(sel, target, o)
            }
            Op::Retf(imm) => {
                let t = self.pop(o)?;
                let cs = self.pop(o)? as u16;
                let d = descriptor(cs, self.down_limit).expect("a code selector");
                let t = trunc(t, o);
                if t > d.limit {
                    return Err(Fault::General);
                }
                let sp = self.sp().wrapping_add(imm.unwrap_or(0) as u32);
                self.set_sp(self.wrap_sp(sp));
                self.regs.sel[CS] = cs;
                self.regs.eip = t;
                Ok(())
            }
            Op::Int(v) => self.int(v),
            Op::Iret => self.iret(o),
        }
    }

    /// ENTER: the SDM's pseudo-code with the stack size choosing SP/BP or ESP/EBP.
    fn enter(&mut self, alloc: u16, level: u8, o: u8) -> Result<(), Fault> {
        let level = level % 32;
        let ebp = self.regs.gpr[EBP];
        self.push(o, ebp)?;
        let frame_temp = if o == 4 {
            self.regs.gpr[ESP]
        } else {
            self.regs.gpr[ESP] & 0xffff
        };
        if level > 0 {
            let mut bp = self.wrap_sp(ebp);
            for _ in 1..level {
                bp = self.wrap_sp(bp.wrapping_sub(o as u32));
                let v = self.read(SS, bp, o)?;
                self.push(o, v)?;
            }
            self.push(o, frame_temp)?;
        }
        let sp = self.wrap_sp(self.sp().wrapping_sub(alloc as u32));
        // The final write check: a write at the new stack pointer must not fault.
        let lin = self.check(SS, sp, o, true)?;
        self.writes.push((lin, o));
        self.set_reg(EBP, o, frame_temp);
        self.set_sp(sp);
        Ok(())
    }

    /// A far CALL to a code segment of the current privilege level.
    fn call_far(&mut self, sel: u16, off: u32, o: u8) -> Result<(), Fault> {
        let d = descriptor(sel, self.down_limit).expect("a code selector");
        let off = trunc(off, o);
        if off > d.limit {
            return Err(Fault::General);
        }
        let cs = self.regs.sel[CS] as u32;
        let next = self.regs.eip;
        self.push(o, cs)?;
        self.push(o, next)?;
        self.regs.sel[CS] = (sel & !3) | self.cpl as u16;
        self.regs.eip = off;
        Ok(())
    }

    /// INT n through a gate to code of the current privilege level: the frame's size
    /// is the gate's, not the operand size.
    fn int(&mut self, vector: u8) -> Result<(), Fault> {
        let &(_, typ, sel, off) = INT_GATES
            .iter()
            .find(|g| g.0 == vector)
            .expect("a vector with a gate");
        let size = if typ & 8 != 0 { 4 } else { 2 };
        let fl = self.regs.eflags;
        let cs = self.regs.sel[CS] as u32;
        let next = self.regs.eip;
        self.push(size, fl)?;
        self.push(size, cs)?;
        self.push(size, next)?;
        self.regs.sel[CS] = (sel & !3) | self.cpl as u16;
        self.regs.eip = trunc(off, size);
        // TF, NT, RF and VM clear; IF too through an interrupt gate.
        let mut clear = 1 << 8 | 1 << 14 | 1 << 16 | 1 << 17;
        if typ & 1 == 0 {
            clear |= 1 << 9;
        }
        self.regs.eflags &= !clear;
        Ok(())
    }

    /// IRET to the same privilege level (IOPL 0).
    fn iret(&mut self, o: u8) -> Result<(), Fault> {
        let t = self.pop(o)?;
        let cs = self.pop(o)? as u16;
        let fl = self.pop(o)?;
        let d = descriptor(cs, self.down_limit).expect("a code selector");
        let t = trunc(t, o);
        if t > d.limit {
            return Err(Fault::General);
        }
        self.regs.sel[CS] = cs;
        self.regs.eip = t;
        // CF PF AF ZF SF TF DF OF NT; with a 32-bit operand also RF AC ID. IF needs
        // CPL <= IOPL, IOPL needs CPL 0, and so do VIF and VIP (32-bit operand).
        let mut changeable = 0x0000_4dd5;
        if o == 4 {
            changeable |= 1 << 16 | 1 << 18 | 1 << 21;
        }
        if self.cpl == 0 {
            changeable |= 1 << 9 | 3 << 12;
            if o == 4 {
                changeable |= 3 << 19;
            }
        }
        self.regs.eflags = (self.regs.eflags & !changeable) | (fl & changeable);
        Ok(())
    }
}
