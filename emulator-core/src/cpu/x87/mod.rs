//! The x87 floating-point unit: its state (eight 80-bit registers used as a stack,
//! the control, status and tag words, the last-instruction pointers), the stack and
//! exception rules, and the instructions (`exec.rs`), on the soft 80-bit numbers of
//! `f80.rs`.

mod exec;
pub mod f80;
mod layout;

use serde::{Deserialize, Serialize};

use f80::{exc, Class, F80};

/// Status word bits besides the exception flags.
pub mod sw {
    /// Stack fault (with IE: overflow when C1 is set, underflow when clear).
    pub const SF: u16 = 1 << 6;
    /// Exception summary: an unmasked exception is pending.
    pub const ES: u16 = 1 << 7;
    /// Condition code C0.
    pub const C0: u16 = 1 << 8;
    /// Condition code C1.
    pub const C1: u16 = 1 << 9;
    /// Condition code C2.
    pub const C2: u16 = 1 << 10;
    /// Condition code C3.
    pub const C3: u16 = 1 << 14;
    /// Busy (mirrors ES).
    pub const B: u16 = 1 << 15;
    /// The TOP field.
    pub const TOP: u16 = 7 << 11;
}

/// A register's tag: what the tag word says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// A valid non-zero number.
    Valid = 0,
    /// Zero.
    Zero = 1,
    /// NaN, infinity, denormal or unsupported.
    Special = 2,
    /// Empty.
    Empty = 3,
}

impl Tag {
    /// The tag a register holding `v` gets.
    pub fn of(v: F80) -> Tag {
        match v.class() {
            Class::Normal => Tag::Valid,
            Class::Zero => Tag::Zero,
            _ => Tag::Special,
        }
    }
}

/// The FPU's architectural state.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Fpu {
    /// R0–R7 as stored (10 bytes each: significand, then sign and exponent).
    pub regs: [[u8; 10]; 8],
    /// Control word.
    pub cw: u16,
    /// Status word (TOP in bits 11–13).
    pub sw: u16,
    /// Tag word, two bits per physical register.
    pub tw: u16,
    /// Last instruction's offset.
    pub fip: u32,
    /// Last instruction's code selector.
    pub fcs: u16,
    /// Last instruction's opcode (11 bits).
    pub fop: u16,
    /// Last memory operand's offset.
    pub fdp: u32,
    /// Last memory operand's selector.
    pub fds: u16,
}

impl Default for Fpu {
    fn default() -> Self {
        Fpu::reset()
    }
}

impl Fpu {
    /// The state after RESET: control word 0040h, every register +0 and tagged valid.
    pub fn reset() -> Fpu {
        Fpu {
            regs: [[0; 10]; 8],
            cw: 0x0040,
            sw: 0,
            tw: 0x5555,
            fip: 0,
            fcs: 0,
            fop: 0,
            fdp: 0,
            fds: 0,
        }
    }

    /// The state FNINIT leaves: control word 037Fh (everything masked, extended
    /// precision, round to nearest), every register empty.
    pub fn init(&mut self) {
        self.cw = 0x037f;
        self.sw = 0;
        self.tw = 0xffff;
        self.fip = 0;
        self.fcs = 0;
        self.fop = 0;
        self.fdp = 0;
        self.fds = 0;
    }

    /// A fresh FNINIT state.
    pub fn initialized() -> Fpu {
        let mut f = Fpu::reset();
        f.init();
        f
    }

    /// TOP.
    pub fn top(&self) -> usize {
        ((self.sw >> 11) & 7) as usize
    }
    fn set_top(&mut self, t: usize) {
        self.sw = (self.sw & !sw::TOP) | (((t & 7) as u16) << 11);
    }
    fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }
    /// The tag of physical register `r`.
    pub fn tag_phys(&self, r: usize) -> Tag {
        match (self.tw >> (2 * r)) & 3 {
            0 => Tag::Valid,
            1 => Tag::Zero,
            2 => Tag::Special,
            _ => Tag::Empty,
        }
    }
    fn set_tag_phys(&mut self, r: usize, t: Tag) {
        self.tw = (self.tw & !(3 << (2 * r))) | ((t as u16) << (2 * r));
    }
    /// ST(i) is empty.
    pub fn empty(&self, i: usize) -> bool {
        self.tag_phys(self.phys(i)) == Tag::Empty
    }
    /// ST(i) (whatever it holds, empty or not).
    pub fn st(&self, i: usize) -> F80 {
        F80::from_bytes(self.regs[self.phys(i)])
    }
    /// Writes ST(i) and tags it by its value.
    pub fn set_st(&mut self, i: usize, v: F80) {
        let r = self.phys(i);
        self.regs[r] = v.to_bytes();
        self.set_tag_phys(r, Tag::of(v));
    }
    /// Marks ST(i) empty.
    pub fn free(&mut self, i: usize) {
        let r = self.phys(i);
        self.set_tag_phys(r, Tag::Empty);
    }
    /// Pops ST(0).
    pub fn pop(&mut self) {
        self.free(0);
        self.set_top(self.top() + 1);
    }
    /// Moves TOP down one (the register becomes ST(0); its tag is left as it is).
    fn dec_top(&mut self) {
        self.set_top(self.top().wrapping_sub(1));
    }
    /// Moves TOP up one.
    fn inc_top(&mut self) {
        self.set_top(self.top() + 1);
    }

    /// Sets the condition codes C0..C3 (the others cleared).
    fn set_cc(&mut self, c0: bool, c1: bool, c2: bool, c3: bool) {
        self.sw &= !(sw::C0 | sw::C1 | sw::C2 | sw::C3);
        self.sw |= if c0 { sw::C0 } else { 0 }
            | if c1 { sw::C1 } else { 0 }
            | if c2 { sw::C2 } else { 0 }
            | if c3 { sw::C3 } else { 0 };
    }

    /// Records exception flags; answers whether an unmasked invalid, denormal or
    /// zero-divide exception means the result must not be stored.
    fn raise(&mut self, flags: u16) -> bool {
        self.sw |= flags & 0x7f;
        let unmasked = flags & !self.cw & 0x3f;
        if unmasked != 0 {
            self.sw |= sw::ES | sw::B;
        }
        unmasked & (exc::IE | exc::DE | exc::ZE) != 0
    }

    /// Recomputes ES and B from the flags and masks (after the control word changes).
    fn update_summary(&mut self) {
        if self.sw & !self.cw & 0x3f != 0 {
            self.sw |= sw::ES | sw::B;
        } else {
            self.sw &= !(sw::ES | sw::B);
        }
    }

    /// A stack underflow (reading an empty register): IE and SF, C1 clear; true when
    /// unmasked (nothing is to be stored).
    fn underflow(&mut self) -> bool {
        self.sw &= !sw::C1;
        self.raise(exc::IE | sw::SF)
    }

    /// A stack overflow (pushing onto a full stack): IE and SF, C1 set.
    fn overflow(&mut self) -> bool {
        self.sw |= sw::C1;
        self.raise(exc::IE | sw::SF)
    }

    /// Pushes `v`; on a full stack pushes the indefinite when masked.
    pub fn push(&mut self, v: F80) {
        if !self.empty(7) {
            if self.overflow() {
                return;
            }
            self.dec_top();
            self.set_st(0, F80::INDEFINITE);
            return;
        }
        self.dec_top();
        self.set_st(0, v);
    }
}
