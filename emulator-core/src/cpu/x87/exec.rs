//! The x87 instructions: loads and stores of every format, the arithmetic, compares,
//! constants, the transcendental basics (computed in double precision), and the
//! control instructions, with the stack checks, the masked responses and #MF.

use iced_x86::{MemorySize, Mnemonic as M, OpKind, Register};

use super::f80::{exc, Class, Ctx, Round, Rounded, F80};
use super::{sw, Fpu};
use crate::cpu::decode::Decoded;
use crate::cpu::{CS, EAX};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, flags};

/// The constants FLD1…FLDLN2 load, with 128 significand bits to round from.
const PI: (u16, u128) = (0x4000, 0xc90f_daa2_2168_c234_c4c6_628b_80dc_1cd1);
const L2E: (u16, u128) = (0x3fff, 0xb8aa_3b29_5c17_f0bb_be87_fed0_691d_3e89);
const L2T: (u16, u128) = (0x4000, 0xd49a_784b_cd1b_8afe_492b_f6ff_4daf_db4d);
const LG2: (u16, u128) = (0x3ffd, 0x9a20_9a84_fbcf_f798_8f89_59ac_0b7c_9178);
const LN2: (u16, u128) = (0x3ffe, 0xb172_17f7_d1cf_79ab_c9e3_b398_03f2_f6af);

/// A constant rounded to 64 bits as `round` says.
fn constant((exp, sig): (u16, u128), round: Round) -> F80 {
    let kept = (sig >> 64) as u64;
    let rest = sig as u64;
    let up = match round {
        Round::Nearest => rest > 1 << 63 || (rest == 1 << 63 && kept & 1 == 1),
        Round::Up => rest != 0,
        Round::Down | Round::Zero => false,
    };
    F80::new(false, exp, kept + up as u64)
}

fn st_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

/// Instructions that do not wait for a pending unmasked exception and do not update
/// the last-instruction pointers.
fn is_control(m: M) -> bool {
    matches!(
        m,
        M::Fninit
            | M::Fnclex
            | M::Fnstcw
            | M::Fnstsw
            | M::Fnstenv
            | M::Fldcw
            | M::Fldenv
            | M::Fnsave
            | M::Frstor
            | M::Fxsave
            | M::Fxrstor
            | M::Fneni
            | M::Fndisi
            | M::Fnsetpm
    )
}

/// The waiting forms of the control instructions (a WAIT folded in).
fn is_waiting_control(m: M) -> bool {
    matches!(
        m,
        M::Finit | M::Fclex | M::Fstcw | M::Fstsw | M::Fstenv | M::Fsave
    )
}

impl Machine {
    /// Executes one x87 instruction (CR0.EM and CR0.TS are checked by the caller).
    pub(crate) fn op_x87(&mut self, d: &Decoded) -> Result<(), Exception> {
        if is_waiting_control(d.mnem) {
            self.x87_pending()?;
        }
        if !is_control(d.mnem) && !is_waiting_control(d.mnem) {
            self.x87_pending()?;
            self.x87_record(d);
        }
        self.x87_execute(d)
    }

    /// FWAIT: #MF when an unmasked exception is pending and CR0.NE is set.
    pub(crate) fn x87_pending(&mut self) -> Result<(), Exception> {
        if self.cpu.fpu.sw & sw::ES != 0 && self.cpu.cr0 & cr0::NE != 0 {
            return Err(Exception::FloatingPoint);
        }
        Ok(())
    }

    fn x87_record(&mut self, d: &Decoded) {
        let (ip, cs) = (d.ins.ip32(), self.cpu.seg[CS].selector);
        let data = Self::has_mem(d).then(|| (self.ea(d), self.cpu.seg[d.seg as usize].selector));
        let f = &mut self.cpu.fpu;
        f.fip = ip;
        f.fcs = cs;
        if let Some((dp, ds)) = data {
            f.fdp = dp;
            f.fds = ds;
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx::from_cw(self.cpu.fpu.cw)
    }

    /// A memory operand as an 80-bit value: `Ok(None)` for a non-memory operand.
    fn x87_load_mem(&mut self, d: &Decoded) -> Result<Rounded<F80>, Exception> {
        let plain = |v: F80| Rounded {
            value: v,
            flags: 0,
            up: false,
        };
        Ok(match d.ins.memory_size() {
            MemorySize::Float32 => {
                let mut b = [0u8; 4];
                self.x87_read(d, 0, &mut b)?;
                F80::from_f32(f32::from_le_bytes(b))
            }
            MemorySize::Float64 => {
                let mut b = [0u8; 8];
                self.x87_read(d, 0, &mut b)?;
                F80::from_f64(f64::from_le_bytes(b))
            }
            MemorySize::Float80 => {
                let mut b = [0u8; 10];
                self.x87_read(d, 0, &mut b)?;
                plain(F80::from_bytes(b))
            }
            MemorySize::Int16 => {
                let mut b = [0u8; 2];
                self.x87_read(d, 0, &mut b)?;
                plain(F80::from_i64(i16::from_le_bytes(b) as i64))
            }
            MemorySize::Int32 => {
                let mut b = [0u8; 4];
                self.x87_read(d, 0, &mut b)?;
                plain(F80::from_i64(i32::from_le_bytes(b) as i64))
            }
            MemorySize::Int64 => {
                let mut b = [0u8; 8];
                self.x87_read(d, 0, &mut b)?;
                plain(F80::from_i64(i64::from_le_bytes(b)))
            }
            MemorySize::Bcd => {
                let mut b = [0u8; 10];
                self.x87_read(d, 0, &mut b)?;
                plain(F80::from_bcd(b))
            }
            _ => return Err(Exception::InvalidOpcode),
        })
    }

    fn has_mem(d: &Decoded) -> bool {
        (0..d.ins.op_count()).any(|i| d.ins.op_kind(i) == OpKind::Memory)
    }

    /// Stores ST(0) to the memory operand in its format (FST, FIST, FBSTP); true when
    /// stored (an unmasked exception stores nothing).
    fn x87_store_mem(&mut self, d: &Decoded) -> Result<bool, Exception> {
        let f = &self.cpu.fpu;
        if f.empty(0) {
            // Masked underflow stores the indefinite of the destination format.
            let unmasked = self.cpu.fpu.underflow();
            if unmasked {
                return Ok(false);
            }
            let bytes: alloc::vec::Vec<u8> = match d.ins.memory_size() {
                MemorySize::Float32 => 0xffc0_0000u32.to_le_bytes().to_vec(),
                MemorySize::Float64 => 0xfff8_0000_0000_0000u64.to_le_bytes().to_vec(),
                MemorySize::Float80 => F80::INDEFINITE.to_bytes().to_vec(),
                MemorySize::Int16 => 0x8000u16.to_le_bytes().to_vec(),
                MemorySize::Int32 => 0x8000_0000u32.to_le_bytes().to_vec(),
                MemorySize::Int64 => (1u64 << 63).to_le_bytes().to_vec(),
                _ => {
                    let mut b = [0u8; 10];
                    b[7] = 0xc0;
                    b[8] = 0xff;
                    b[9] = 0xff;
                    b.to_vec()
                }
            };
            self.x87_write(d, &bytes)?;
            return Ok(true);
        }
        let v = f.st(0);
        let ctx = self.ctx();
        let (bytes, flags, up): (alloc::vec::Vec<u8>, u16, bool) = match d.ins.memory_size() {
            MemorySize::Float32 => {
                let r = v.to_f32(ctx);
                (r.value.to_le_bytes().to_vec(), r.flags, r.up)
            }
            MemorySize::Float64 => {
                let r = v.to_f64(ctx);
                (r.value.to_le_bytes().to_vec(), r.flags, r.up)
            }
            MemorySize::Float80 => (v.to_bytes().to_vec(), 0, false),
            MemorySize::Int16 | MemorySize::Int32 | MemorySize::Int64 => {
                let bits = match d.ins.memory_size() {
                    MemorySize::Int16 => 16,
                    MemorySize::Int32 => 32,
                    _ => 64,
                };
                let r = v.to_int(bits, ctx.round);
                let b = r.value.to_le_bytes();
                (b[..bits as usize / 8].to_vec(), r.flags, r.up)
            }
            MemorySize::Bcd => {
                let r = v.to_bcd(ctx.round);
                (r.value.to_vec(), r.flags, r.up)
            }
            _ => return Err(Exception::InvalidOpcode),
        };
        // Unmasked invalid, or unmasked overflow/underflow on a narrowing store,
        // leaves memory unchanged.
        let f = &mut self.cpu.fpu;
        let stop = f.raise(flags) || flags & !f.cw & (exc::OE | exc::UE) != 0;
        f.set_c1(up && flags & exc::PE != 0);
        if stop {
            return Ok(false);
        }
        self.x87_write(d, &bytes)?;
        Ok(true)
    }

    /// The two operands of an arithmetic instruction: (destination ST index, a, b).
    fn x87_operands(&mut self, d: &Decoded) -> Result<Option<(usize, F80, F80, u16)>, Exception> {
        if Self::has_mem(d) {
            let m = self.x87_load_mem(d)?;
            if self.cpu.fpu.empty(0) {
                return Ok(if self.cpu.fpu.underflow() {
                    None
                } else {
                    Some((0, F80::INDEFINITE, F80::INDEFINITE, 0))
                });
            }
            return Ok(Some((0, self.cpu.fpu.st(0), m.value, m.flags)));
        }
        let (i, j) = match d.ins.op_count() {
            2 => (
                st_index(d.ins.op0_register()),
                st_index(d.ins.op1_register()),
            ),
            1 => (0, st_index(d.ins.op0_register())),
            _ => (1, 0),
        };
        let f = &mut self.cpu.fpu;
        if f.empty(i) || f.empty(j) {
            return Ok(if f.underflow() {
                None
            } else {
                Some((i, F80::INDEFINITE, F80::INDEFINITE, 0))
            });
        }
        Ok(Some((i, f.st(i), f.st(j), 0)))
    }

    /// Stores an arithmetic result in ST(`i`) unless an unmasked exception forbids it.
    fn x87_result(&mut self, i: usize, r: Rounded<F80>, pop: bool) {
        let f = &mut self.cpu.fpu;
        let stop = f.raise(r.flags);
        f.set_c1(r.up && r.flags & exc::PE != 0);
        if !stop {
            f.set_st(i, r.value);
        }
        if pop && !stop {
            f.pop();
        }
    }

    fn x87_compare(&mut self, a: F80, b: F80, unordered_ok: bool) -> Option<core::cmp::Ordering> {
        let f = &mut self.cpu.fpu;
        let snan = matches!(a.class(), Class::SNan | Class::Unsupported)
            || matches!(b.class(), Class::SNan | Class::Unsupported);
        let nan = a.is_nan() || b.is_nan();
        let mut flags = 0;
        if snan || (nan && !unordered_ok) {
            flags |= exc::IE;
        }
        if a.class() == Class::Denormal || b.class() == Class::Denormal {
            flags |= exc::DE;
        }
        f.raise(flags);
        a.compare(b)
    }

    fn x87_execute(&mut self, d: &Decoded) -> Result<(), Exception> {
        use core::cmp::Ordering;
        let ctx = self.ctx();
        match d.mnem {
            // ---- loads and stores ------------------------------------------------
            M::Fld | M::Fild | M::Fbld => {
                let v = if Self::has_mem(d) {
                    let r = self.x87_load_mem(d)?;
                    if self.cpu.fpu.raise(r.flags) {
                        return Ok(());
                    }
                    r.value
                } else {
                    let i = st_index(d.ins.op0_register());
                    if self.cpu.fpu.empty(i) {
                        if self.cpu.fpu.underflow() {
                            return Ok(());
                        }
                        F80::INDEFINITE
                    } else {
                        self.cpu.fpu.st(i)
                    }
                };
                self.cpu.fpu.set_c1(false);
                self.cpu.fpu.push(v);
            }
            M::Fst | M::Fstp | M::Fist | M::Fistp | M::Fbstp => {
                let pop = matches!(d.mnem, M::Fstp | M::Fistp | M::Fbstp);
                if Self::has_mem(d) {
                    if self.x87_store_mem(d)? && pop {
                        self.cpu.fpu.pop();
                    }
                } else {
                    let i = st_index(d.ins.op0_register());
                    let f = &mut self.cpu.fpu;
                    if f.empty(0) {
                        if f.underflow() {
                            return Ok(());
                        }
                        f.set_st(i, F80::INDEFINITE);
                    } else {
                        let v = f.st(0);
                        f.set_st(i, v);
                    }
                    f.set_c1(false);
                    if pop {
                        f.pop();
                    }
                }
            }
            M::Fxch => {
                let i = if d.ins.op_count() == 2 {
                    st_index(d.ins.op1_register())
                } else {
                    1
                };
                let f = &mut self.cpu.fpu;
                if f.empty(0) || f.empty(i) {
                    if f.underflow() {
                        return Ok(());
                    }
                    let a = if f.empty(0) { F80::INDEFINITE } else { f.st(0) };
                    let b = if f.empty(i) { F80::INDEFINITE } else { f.st(i) };
                    f.set_st(0, b);
                    f.set_st(i, a);
                    return Ok(());
                }
                let (a, b) = (f.st(0), f.st(i));
                f.set_st(0, b);
                f.set_st(i, a);
                f.set_c1(false);
            }
            M::Fcmovb
            | M::Fcmove
            | M::Fcmovbe
            | M::Fcmovu
            | M::Fcmovnb
            | M::Fcmovne
            | M::Fcmovnbe
            | M::Fcmovnu => {
                let e = self.eflags();
                let (cf, zf, pf) = (e & flags::CF != 0, e & flags::ZF != 0, e & flags::PF != 0);
                let take = match d.mnem {
                    M::Fcmovb => cf,
                    M::Fcmove => zf,
                    M::Fcmovbe => cf || zf,
                    M::Fcmovu => pf,
                    M::Fcmovnb => !cf,
                    M::Fcmovne => !zf,
                    M::Fcmovnbe => !cf && !zf,
                    _ => !pf,
                };
                let i = st_index(d.ins.op1_register());
                let f = &mut self.cpu.fpu;
                if f.empty(0) || f.empty(i) {
                    if !f.underflow() {
                        f.set_st(0, F80::INDEFINITE);
                    }
                } else if take {
                    let v = f.st(i);
                    f.set_st(0, v);
                }
            }
            // ---- arithmetic ------------------------------------------------------
            M::Fadd
            | M::Faddp
            | M::Fiadd
            | M::Fsub
            | M::Fsubp
            | M::Fisub
            | M::Fsubr
            | M::Fsubrp
            | M::Fisubr
            | M::Fmul
            | M::Fmulp
            | M::Fimul
            | M::Fdiv
            | M::Fdivp
            | M::Fidiv
            | M::Fdivr
            | M::Fdivrp
            | M::Fidivr => {
                let Some((i, a, b, load_flags)) = self.x87_operands(d)? else {
                    return Ok(());
                };
                if self.cpu.fpu.raise(load_flags) {
                    return Ok(());
                }
                let pop = matches!(
                    d.mnem,
                    M::Faddp | M::Fsubp | M::Fsubrp | M::Fmulp | M::Fdivp | M::Fdivrp
                );
                let r = match d.mnem {
                    M::Fadd | M::Faddp | M::Fiadd => a.add(b, ctx),
                    M::Fsub | M::Fsubp | M::Fisub => a.sub(b, ctx),
                    M::Fsubr | M::Fsubrp | M::Fisubr => b.sub(a, ctx),
                    M::Fmul | M::Fmulp | M::Fimul => a.mul(b, ctx),
                    M::Fdiv | M::Fdivp | M::Fidiv => a.div(b, ctx),
                    _ => b.div(a, ctx),
                };
                self.x87_result(i, r, pop);
            }
            M::Fsqrt | M::Frndint | M::Fchs | M::Fabs => {
                let Some(v) = self.cpu.fpu.st0_or_underflow() else {
                    return Ok(());
                };
                let r = match d.mnem {
                    M::Fsqrt => v.sqrt(ctx),
                    M::Frndint => v.round_int(ctx.round),
                    M::Fchs => Rounded {
                        value: -v,
                        flags: 0,
                        up: false,
                    },
                    _ => Rounded {
                        value: v.abs(),
                        flags: 0,
                        up: false,
                    },
                };
                self.x87_result(0, r, false);
            }
            M::Fscale => {
                let Some((v, s)) = self.cpu.fpu.st01_or_underflow() else {
                    return Ok(());
                };
                let r = scale(v, s, ctx);
                self.x87_result(0, r, false);
            }
            M::Fxtract => {
                let f = &mut self.cpu.fpu;
                if f.empty(0) {
                    if !f.underflow() {
                        f.set_st(0, F80::INDEFINITE);
                        f.push(F80::INDEFINITE);
                    }
                    return Ok(());
                }
                let v = f.st(0);
                match v.class() {
                    Class::Zero => {
                        if f.raise(exc::ZE) {
                            return Ok(());
                        }
                        f.set_st(0, F80::infinity(true));
                        f.push(v);
                    }
                    Class::Infinity => {
                        f.set_st(0, F80::infinity(false));
                        f.push(v);
                    }
                    Class::QNan | Class::SNan | Class::Unsupported => {
                        let r = v.add(v, ctx);
                        if f.raise(r.flags) {
                            return Ok(());
                        }
                        f.set_st(0, r.value);
                        f.push(r.value);
                    }
                    _ => {
                        if v.class() == Class::Denormal && f.raise(exc::DE) {
                            return Ok(());
                        }
                        let (e, s) = v.extract();
                        f.set_st(0, e);
                        f.push(s);
                    }
                }
            }
            M::Fprem | M::Fprem1 => {
                let Some((a, b)) = self.cpu.fpu.st01_or_underflow() else {
                    return Ok(());
                };
                let f = &mut self.cpu.fpu;
                let (r, q, complete) = a.rem(b, d.mnem == M::Fprem1);
                if f.raise(r.flags) {
                    return Ok(());
                }
                f.set_st(0, r.value);
                f.set_cc(q & 4 != 0, q & 1 != 0, !complete, q & 2 != 0);
            }
            // ---- compares ----------------------------------------------------------
            M::Fcom
            | M::Fcomp
            | M::Fcompp
            | M::Ficom
            | M::Ficomp
            | M::Fucom
            | M::Fucomp
            | M::Fucompp
            | M::Ftst => {
                let (a, b) = if d.mnem == M::Ftst {
                    let f = &mut self.cpu.fpu;
                    if f.empty(0) {
                        if !f.underflow() {
                            f.set_cc(true, false, true, true);
                        }
                        return Ok(());
                    }
                    (f.st(0), F80::ZERO)
                } else {
                    let Some((_, a, b, load_flags)) = self.x87_operands_compare(d)? else {
                        return Ok(());
                    };
                    if self.cpu.fpu.raise(load_flags) {
                        return Ok(());
                    }
                    (a, b)
                };
                let unordered_ok = matches!(d.mnem, M::Fucom | M::Fucomp | M::Fucompp);
                let ord = self.x87_compare(a, b, unordered_ok);
                let f = &mut self.cpu.fpu;
                if f.sw & exc::IE != 0 && f.cw & exc::IE == 0 && ord.is_none() {
                    return Ok(());
                }
                match ord {
                    Some(Ordering::Greater) => f.set_cc(false, false, false, false),
                    Some(Ordering::Less) => f.set_cc(true, false, false, false),
                    Some(Ordering::Equal) => f.set_cc(false, false, false, true),
                    None => f.set_cc(true, false, true, true),
                }
                match d.mnem {
                    M::Fcomp | M::Ficomp | M::Fucomp => f.pop(),
                    M::Fcompp | M::Fucompp => {
                        f.pop();
                        f.pop();
                    }
                    _ => {}
                }
            }
            M::Fcomi | M::Fcomip | M::Fucomi | M::Fucomip => {
                let i = st_index(d.ins.op1_register());
                let f = &mut self.cpu.fpu;
                let ord = if f.empty(0) || f.empty(i) {
                    if f.underflow() {
                        return Ok(());
                    }
                    None
                } else {
                    let (a, b) = (f.st(0), f.st(i));
                    self.x87_compare(a, b, matches!(d.mnem, M::Fucomi | M::Fucomip))
                };
                let (zf, pf, cf) = match ord {
                    Some(Ordering::Greater) => (false, false, false),
                    Some(Ordering::Less) => (false, false, true),
                    Some(Ordering::Equal) => (true, false, false),
                    None => (true, true, true),
                };
                let e = self.eflags()
                    & !(flags::ZF | flags::PF | flags::CF | flags::OF | flags::SF | flags::AF);
                self.set_eflags(
                    e | if zf { flags::ZF } else { 0 }
                        | if pf { flags::PF } else { 0 }
                        | if cf { flags::CF } else { 0 },
                );
                self.cpu.fpu.set_c1(false);
                if matches!(d.mnem, M::Fcomip | M::Fucomip) {
                    self.cpu.fpu.pop();
                }
            }
            M::Fxam => {
                let f = &mut self.cpu.fpu;
                let v = f.st(0);
                let (c3, c2, c0) = if f.empty(0) {
                    (true, false, true)
                } else {
                    match v.class() {
                        Class::Unsupported => (false, false, false),
                        Class::QNan | Class::SNan => (false, false, true),
                        Class::Normal => (false, true, false),
                        Class::Infinity => (false, true, true),
                        Class::Zero => (true, false, false),
                        Class::Denormal => (true, true, false),
                    }
                };
                f.set_cc(c0, v.sign, c2, c3);
            }
            // ---- constants ---------------------------------------------------------
            M::Fld1 | M::Fldz | M::Fldpi | M::Fldl2e | M::Fldl2t | M::Fldlg2 | M::Fldln2 => {
                let v = match d.mnem {
                    M::Fld1 => F80::ONE,
                    M::Fldz => F80::ZERO,
                    M::Fldpi => constant(PI, ctx.round),
                    M::Fldl2e => constant(L2E, ctx.round),
                    M::Fldl2t => constant(L2T, ctx.round),
                    M::Fldlg2 => constant(LG2, ctx.round),
                    _ => constant(LN2, ctx.round),
                };
                self.cpu.fpu.set_c1(false);
                self.cpu.fpu.push(v);
            }
            // ---- transcendental basics, in double precision -------------------------
            M::Fsin | M::Fcos | M::Fptan | M::Fsincos => {
                let Some(v) = self.cpu.fpu.st0_or_underflow() else {
                    return Ok(());
                };
                let f = &mut self.cpu.fpu;
                if v.is_nan() || v.class() == Class::Infinity {
                    let r = if v.class() == Class::Infinity {
                        Rounded {
                            value: F80::INDEFINITE,
                            flags: exc::IE,
                            up: false,
                        }
                    } else {
                        v.add(v, ctx)
                    };
                    if !f.raise(r.flags) {
                        f.set_st(0, r.value);
                        if matches!(d.mnem, M::Fptan | M::Fsincos) {
                            f.push(r.value);
                        }
                    }
                    return Ok(());
                }
                // |x| ≥ 2^63 is out of range: C2 set, ST(0) unchanged.
                if v.exp >= 0x3fff + 63 {
                    f.sw |= sw::C2;
                    return Ok(());
                }
                f.sw &= !sw::C2;
                let x = v.to_f64_value();
                let (first, second) = match d.mnem {
                    M::Fsin => (libm::sin(x), None),
                    M::Fcos => (libm::cos(x), None),
                    M::Fptan => (libm::tan(x), Some(1.0)),
                    _ => (libm::sin(x), Some(libm::cos(x))),
                };
                self.x87_result(0, inexact(first), false);
                if let Some(s) = second {
                    self.cpu.fpu.push(F80::from_f64(s).value);
                }
            }
            M::F2xm1 | M::Fpatan | M::Fyl2x | M::Fyl2xp1 => {
                let two = d.mnem != M::F2xm1;
                let f = &mut self.cpu.fpu;
                if f.empty(0) || (two && f.empty(1)) {
                    if !f.underflow() {
                        f.set_st(if two { 1 } else { 0 }, F80::INDEFINITE);
                        if two {
                            f.pop();
                        }
                    }
                    return Ok(());
                }
                let x = f.st(0);
                let y = if two { f.st(1) } else { F80::ZERO };
                if x.is_nan() || y.is_nan() {
                    let r = x.add(y, ctx);
                    self.x87_result(if two { 1 } else { 0 }, r, two);
                    return Ok(());
                }
                let (xf, yf) = (x.to_f64_value(), y.to_f64_value());
                let v = match d.mnem {
                    M::F2xm1 => libm::exp2(xf) - 1.0,
                    M::Fpatan => libm::atan2(yf, xf),
                    M::Fyl2x => {
                        if xf < 0.0 || (xf == 0.0 && yf == 0.0) {
                            self.x87_result(
                                1,
                                Rounded {
                                    value: F80::INDEFINITE,
                                    flags: exc::IE,
                                    up: false,
                                },
                                true,
                            );
                            return Ok(());
                        }
                        if xf == 0.0 {
                            let r = Rounded {
                                value: F80::infinity(!y.sign),
                                flags: exc::ZE,
                                up: false,
                            };
                            self.x87_result(1, r, true);
                            return Ok(());
                        }
                        yf * libm::log2(xf)
                    }
                    _ => yf * libm::log1p(xf) / core::f64::consts::LN_2,
                };
                self.x87_result(if two { 1 } else { 0 }, inexact(v), two);
            }
            // ---- stack and control -------------------------------------------------
            M::Ffree | M::Ffreep => {
                let i = st_index(d.ins.op0_register());
                self.cpu.fpu.free(i);
                if d.mnem == M::Ffreep {
                    self.cpu.fpu.inc_top();
                }
            }
            M::Fincstp => {
                self.cpu.fpu.inc_top();
                self.cpu.fpu.set_c1(false);
            }
            M::Fdecstp => {
                self.cpu.fpu.dec_top();
                self.cpu.fpu.set_c1(false);
            }
            M::Fnop | M::Fneni | M::Fndisi | M::Fnsetpm => {}
            M::Fninit | M::Finit => self.cpu.fpu.init(),
            M::Fnclex | M::Fclex => self.cpu.fpu.sw &= !(0x7f | sw::ES | sw::B),
            M::Fnstcw | M::Fstcw => {
                let cw = self.cpu.fpu.cw;
                self.x87_write(d, &cw.to_le_bytes())?;
            }
            M::Fldcw => {
                let mut b = [0u8; 2];
                self.x87_read(d, 0, &mut b)?;
                // Bits 6, 7 and 13–15 are reserved: bit 6 reads as 1.
                self.cpu.fpu.cw = (u16::from_le_bytes(b) & 0x1f3f) | 0x0040;
                self.cpu.fpu.update_summary();
            }
            M::Fnstsw | M::Fstsw => {
                let v = self.cpu.fpu.sw;
                if Self::has_mem(d) {
                    self.x87_write(d, &v.to_le_bytes())?;
                } else {
                    self.cpu.gpr[EAX] = (self.cpu.gpr[EAX] & 0xffff_0000) | v as u32;
                }
            }
            M::Fnstenv | M::Fnsave | M::Fstenv | M::Fsave => {
                let size32 = d.osize == 4;
                let mut img = self.cpu.fpu.env_image(size32);
                let save = matches!(d.mnem, M::Fnsave | M::Fsave);
                if save {
                    for i in 0..8 {
                        img.extend_from_slice(&self.cpu.fpu.st(i).to_bytes());
                    }
                }
                self.x87_write(d, &img)?;
                if save {
                    self.cpu.fpu.init();
                } else {
                    self.cpu.fpu.cw |= 0x3f;
                    self.cpu.fpu.update_summary();
                }
            }
            M::Fldenv | M::Frstor => {
                let size32 = d.osize == 4;
                let env = if size32 { 28 } else { 14 };
                let total = if d.mnem == M::Frstor { env + 80 } else { env };
                let mut img = alloc::vec![0u8; total];
                self.x87_read(d, 0, &mut img)?;
                let mut next: Fpu = self.cpu.fpu.clone();
                if d.mnem == M::Frstor {
                    // The registers come in stack order, relative to the new TOP.
                    let top = ((u16::from_le_bytes([
                        img[if size32 { 4 } else { 2 }],
                        img[if size32 { 5 } else { 3 }],
                    ]) >> 11)
                        & 7) as usize;
                    for i in 0..8 {
                        let mut r = [0u8; 10];
                        r.copy_from_slice(&img[env + 10 * i..env + 10 * i + 10]);
                        next.regs[(top + i) & 7] = r;
                    }
                }
                next.load_env(&img[..env], size32);
                self.cpu.fpu = next;
            }
            M::Fxsave | M::Fxrstor => {
                if self.ea(d) & 15 != 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                if d.mnem == M::Fxsave {
                    let img = self.cpu.fpu.fxsave_image();
                    self.x87_write(d, &img)?;
                } else {
                    let mut img = alloc::vec![0u8; 512];
                    self.x87_read(d, 0, &mut img)?;
                    self.cpu.fpu.load_fxsave(&img);
                }
            }
            _ => return Err(Exception::InvalidOpcode),
        }
        Ok(())
    }

    fn x87_operands_compare(
        &mut self,
        d: &Decoded,
    ) -> Result<Option<(usize, F80, F80, u16)>, Exception> {
        if Self::has_mem(d) || d.ins.op_count() >= 1 {
            return self.x87_operands(d);
        }
        // FCOMPP/FUCOMPP (and FCOM without operands) compare with ST(1).
        let f = &mut self.cpu.fpu;
        if f.empty(0) || f.empty(1) {
            return Ok(if f.underflow() {
                None
            } else {
                Some((0, F80::INDEFINITE, F80::INDEFINITE, 0))
            });
        }
        Ok(Some((0, f.st(0), f.st(1), 0)))
    }
}

/// A double-precision result as an inexact 80-bit one.
fn inexact(v: f64) -> Rounded<F80> {
    let r = F80::from_f64(v);
    Rounded {
        value: r.value,
        flags: r.flags | exc::PE,
        up: false,
    }
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
fn scale(v: F80, s: F80, ctx: Ctx) -> Rounded<F80> {
    if v.is_nan() || s.is_nan() {
        return v.add(s, ctx);
    }
    match (v.class(), s.class()) {
        (Class::Zero, Class::Infinity) if !s.sign => {
            return Rounded {
                value: F80::INDEFINITE,
                flags: exc::IE,
                up: false,
            }
        }
        (Class::Infinity, Class::Infinity) if s.sign => {
            return Rounded {
                value: F80::INDEFINITE,
                flags: exc::IE,
                up: false,
            }
        }
        (_, Class::Infinity) => {
            let value = if s.sign {
                F80::new(v.sign, 0, 0)
            } else {
                F80::infinity(v.sign)
            };
            let value = if v.is_zero() { v } else { value };
            return Rounded {
                value,
                flags: 0,
                up: false,
            };
        }
        _ => {}
    }
    let n = s.to_int(32, Round::Zero);
    let n = if n.flags & exc::IE != 0 {
        if s.sign {
            i32::MIN / 2
        } else {
            i32::MAX / 2
        }
    } else {
        n.value as i32
    };
    v.scale(n, ctx)
}

impl Fpu {
    /// ST(0), or None after a stack underflow (which leaves the indefinite in ST(0)
    /// when masked).
    fn st0_or_underflow(&mut self) -> Option<F80> {
        if self.empty(0) {
            if !self.underflow() {
                self.set_st(0, F80::INDEFINITE);
            }
            return None;
        }
        Some(self.st(0))
    }

    /// ST(0) and ST(1), or None after a stack underflow (which leaves the indefinite
    /// in ST(0) when masked).
    fn st01_or_underflow(&mut self) -> Option<(F80, F80)> {
        if self.empty(0) || self.empty(1) {
            if !self.underflow() {
                self.set_st(0, F80::INDEFINITE);
            }
            return None;
        }
        Some((self.st(0), self.st(1)))
    }

    fn set_c1(&mut self, on: bool) {
        if on {
            self.sw |= sw::C1;
        } else {
            self.sw &= !sw::C1;
        }
    }
}
