//! Arithmetic and logic: the binary and unary ALU operations, shifts and rotates,
//! SHLD/SHRD, multiply and divide, BCD adjusts, bit tests and scans, flag instructions.

use iced_x86::{Mnemonic as M, OpKind};

use crate::cpu::alu;
use crate::cpu::decode::{Decoded, K_GPR};
use crate::cpu::{EAX, EDX};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::flags;

/// A read-modify-write ALU instruction on operand 0 with source operand 1; the register
/// form runs without a closure call.
macro_rules! binary_op {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[inline(always)]
        pub(super) fn $name(&mut self, d: &Decoded) -> Result<(), Exception> {
            let size = d.osize;
            let b = self.op_read(d, 1)?;
            if d.kind[0] == K_GPR {
                let r = d.reg[0];
                let a = self.gpr_get(r);
                let v = $f(&mut self.cpu.flags, size, a, b);
                self.gpr_set(r, v);
                return Ok(());
            }
            self.op0_rmw(d, |m, a| Ok(Some($f(&mut m.cpu.flags, size, a, b))))
        }
    )*};
}

/// A read-modify-write ALU instruction on operand 0 alone.
macro_rules! unary_op {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[inline(always)]
        pub(super) fn $name(&mut self, d: &Decoded) -> Result<(), Exception> {
            let size = d.osize;
            if d.kind[0] == K_GPR {
                let r = d.reg[0];
                let a = self.gpr_get(r);
                let v = $f(&mut self.cpu.flags, size, a);
                self.gpr_set(r, v);
                return Ok(());
            }
            self.op0_rmw(d, |m, a| Ok(Some($f(&mut m.cpu.flags, size, a))))
        }
    )*};
}

/// A shift or rotate of operand 0 by operand 1 (an immediate or CL).
macro_rules! shift_op {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[inline(always)]
        pub(super) fn $name(&mut self, d: &Decoded) -> Result<(), Exception> {
            let size = d.osize;
            let count = self.op_read(d, 1)? as u8;
            if d.kind[0] == K_GPR {
                let r = d.reg[0];
                let a = self.gpr_get(r);
                let v = $f(&mut self.cpu.flags, size, a, count);
                self.gpr_set(r, v);
                return Ok(());
            }
            self.op0_rmw(d, |m, a| Ok(Some($f(&mut m.cpu.flags, size, a, count))))
        }
    )*};
}

/// NOT: no flags.
fn not(_: &mut alu::Flags, size: u8, a: u32) -> u32 {
    !a & crate::cpu::size_mask(size)
}

impl Machine {
    binary_op! {
        op_add => alu::add,
        op_or => alu::or,
        op_adc => alu::adc,
        op_sbb => alu::sbb,
        op_and => alu::and,
        op_sub => alu::sub,
        op_xor => alu::xor,
    }
    unary_op! {
        op_inc => alu::inc,
        op_dec => alu::dec,
        op_neg => alu::neg,
        op_not => not,
    }
    shift_op! {
        op_rol => alu::rol,
        op_ror => alu::ror,
        op_rcl => alu::rcl,
        op_rcr => alu::rcr,
        op_shl => alu::shl,
        op_shr => alu::shr,
        op_sar => alu::sar,
    }

    /// CMP and TEST: flags only.
    #[inline(always)]
    pub(super) fn op_compare(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let b = self.op_read(d, 1)?;
        let a = self.op_read(d, 0)?;
        if d.mnem == M::Cmp {
            alu::cmp(&mut self.cpu.flags, size, a, b);
        } else {
            alu::test(&mut self.cpu.flags, size, a, b);
        }
        Ok(())
    }

    pub(super) fn op_shxd(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let src = self.op_read(d, 1)?;
        let count = self.op_read(d, 2)? as u8;
        let left = d.mnem == M::Shld;
        self.op0_rmw(d, |m, v| {
            Ok(Some(if left {
                alu::shld(&mut m.cpu.flags, size, v, src, count)
            } else {
                alu::shrd(&mut m.cpu.flags, size, v, src, count)
            }))
        })
    }

    pub(super) fn op_muldiv(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let i = &d.ins;
        if d.mnem == M::Imul && i.op_count() > 1 {
            let (a, b) = if i.op_count() == 3 {
                (self.op_read(d, 1)?, self.op_read(d, 2)?)
            } else {
                (self.op_read(d, 0)?, self.op_read(d, 1)?)
            };
            let (lo, _) = alu::imul(&mut self.cpu.flags, size, a, b);
            self.reg_write(i.op0_register(), lo);
            return Ok(());
        }
        let src = self.op_read(d, 0)?;
        let g = self.cpu.gpr;
        let (a_lo, a_hi) = match size {
            1 => (g[EAX] & 0xff, (g[EAX] >> 8) & 0xff),
            2 => (g[EAX] & 0xffff, g[EDX] & 0xffff),
            _ => (g[EAX], g[EDX]),
        };
        let (lo, hi) = match d.mnem {
            M::Mul => alu::mul(&mut self.cpu.flags, size, a_lo, src),
            M::Imul => alu::imul(&mut self.cpu.flags, size, a_lo, src),
            M::Div => alu::div(size, a_hi, a_lo, src)?,
            _ => alu::idiv(size, a_hi, a_lo, src)?,
        };
        if size == 1 {
            self.gpr_write(EAX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
        } else {
            self.gpr_write(EAX, size, lo);
            self.gpr_write(EDX, size, hi);
        }
        Ok(())
    }

    pub(super) fn op_bcd(&mut self, d: &Decoded) -> Result<(), Exception> {
        let ax = self.cpu.gpr[EAX] as u16;
        let al = ax as u8;
        let f = &mut self.cpu.flags;
        let new_ax = match d.mnem {
            M::Daa => (ax & 0xff00) | alu::daa(f, al) as u16,
            M::Das => (ax & 0xff00) | alu::das(f, al) as u16,
            M::Aaa => alu::aaa(f, ax),
            M::Aas => alu::aas(f, ax),
            M::Aam => alu::aam(f, al, d.ins.immediate8())?,
            _ => alu::aad(f, ax, d.ins.immediate8()),
        };
        self.gpr_write(EAX, 2, new_ax as u32);
        Ok(())
    }

    pub(super) fn op_bt(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let bits = size as u32 * 8;
        let i = &d.ins;
        let off_val = self.op_read(d, 1)?;
        let mnem = d.mnem;
        let apply = |f: &mut alu::Flags, v: u32, bit: u32| -> Option<u32> {
            let m = 1u32 << bit;
            f.set_cf(v & m != 0);
            match mnem {
                M::Bts => Some(v | m),
                M::Btr => Some(v & !m),
                M::Btc => Some(v ^ m),
                _ => None,
            }
        };
        if i.op0_kind() == OpKind::Register || i.op1_kind() != OpKind::Register {
            let bit = off_val & (bits - 1);
            if mnem == M::Bt {
                let v = self.op_read(d, 0)?;
                apply(&mut self.cpu.flags, v, bit);
                return Ok(());
            }
            return self.op0_rmw(d, |m, v| Ok(apply(&mut m.cpu.flags, v, bit)));
        }
        // Memory bit string with a register offset: the offset is signed and unbounded.
        let signed = match size {
            2 => off_val as u16 as i16 as i32,
            _ => off_val as i32,
        };
        let elem = signed.div_euclid(bits as i32);
        let bit = signed.rem_euclid(bits as i32) as u32;
        let mut off = self.ea(d).wrapping_add((elem * size as i32) as u32);
        if d.addr16 {
            off &= 0xffff;
        }
        let seg = d.seg as usize;
        if mnem == M::Bt {
            let v = self.read_mem(seg, off, size)?;
            apply(&mut self.cpu.flags, v, bit);
            return Ok(());
        }
        let p = self.mem_ref_write(seg, off, size)?;
        let v = self.phys_read(p, size);
        if let Some(nv) = apply(&mut self.cpu.flags, v, bit) {
            self.phys_write(p, size, nv);
        }
        Ok(())
    }

    pub(super) fn op_bitscan(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.op_read(d, 1)?;
        let r = if matches!(d.mnem, M::Bsf | M::Tzcnt) {
            alu::bsf(&mut self.cpu.flags, d.osize, v)
        } else {
            alu::bsr(&mut self.cpu.flags, d.osize, v)
        };
        if let Some(idx) = r {
            self.reg_write(d.ins.op0_register(), idx);
        }
        Ok(())
    }

    pub(super) fn op_flag(&mut self, d: &Decoded) -> Result<(), Exception> {
        match d.mnem {
            M::Clc => self.cpu.flags.set_cf(false),
            M::Stc => self.cpu.flags.set_cf(true),
            M::Cmc => {
                let c = self.cpu.flags.cf();
                self.cpu.flags.set_cf(!c);
            }
            M::Cld => self.cpu.eflags &= !flags::DF,
            _ => self.cpu.eflags |= flags::DF,
        }
        Ok(())
    }

    pub(super) fn op_salc(&mut self) -> Result<(), Exception> {
        let v = if self.cpu.flags.cf() { 0xff } else { 0 };
        self.gpr_write(EAX, 1, v);
        Ok(())
    }
}
