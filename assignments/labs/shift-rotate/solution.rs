// reference solution: shift-rotate (vmlab component lab 7)
//! Shifts and rotates as the Intel SDM defines them (vol. 2B, RCL/RCR/ROL/ROR, SAL/SAR/SHL/SHR).

use assignments::component::shift::{ShiftOp, ShiftRotate, CF, OF, PF, SF, ZF};

/// The reference implementation.
#[derive(Debug)]
pub struct Submission;

fn parity(byte: u32) -> bool {
    (byte & 0xff).count_ones().is_multiple_of(2)
}

fn set(flags: u32, bit: u32, on: bool) -> u32 {
    if on {
        flags | bit
    } else {
        flags & !bit
    }
}

impl ShiftRotate for Submission {
    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {
        let n = u32::from(size);
        let mask = ((1u64 << n) - 1) as u32;
        let v = value & mask;
        let msb = |x: u32| (x >> (n - 1)) & 1 != 0;
        let c = u32::from(count & 0x1f);
        if c == 0 {
            return (v, eflags);
        }
        let mut f = eflags;
        let cf_in = eflags & CF != 0;
        let result = match op {
            ShiftOp::Rol => {
                let r = c % n;
                let res = (((u64::from(v) << r) | (u64::from(v) >> (n - r))) as u32) & mask;
                let cf = res & 1 != 0;
                f = set(f, CF, cf);
                if c == 1 {
                    f = set(f, OF, msb(res) != cf);
                }
                res
            }
            ShiftOp::Ror => {
                let r = c % n;
                let res = (((u64::from(v) >> r) | (u64::from(v) << (n - r))) as u32) & mask;
                f = set(f, CF, msb(res));
                if c == 1 {
                    f = set(f, OF, msb(res) != ((res >> (n - 2)) & 1 != 0));
                }
                res
            }
            ShiftOp::Rcl | ShiftOp::Rcr => {
                let width = n + 1;
                let r = c % width;
                let full = (1u64 << width) - 1;
                let x = (u64::from(cf_in) << n) | u64::from(v);
                let rotated = if op == ShiftOp::Rcl {
                    ((x << r) | (x >> (width - r))) & full
                } else {
                    ((x >> r) | (x << (width - r))) & full
                };
                let res = (rotated as u32) & mask;
                let cf = (rotated >> n) & 1 != 0;
                if c == 1 {
                    let of = if op == ShiftOp::Rcl {
                        msb(res) != cf
                    } else {
                        msb(v) != cf_in
                    };
                    f = set(f, OF, of);
                }
                f = set(f, CF, cf);
                res
            }
            ShiftOp::Shl | ShiftOp::Shr | ShiftOp::Sar => {
                let (res, cf) = match op {
                    ShiftOp::Shl => {
                        let wide = u64::from(v) << c;
                        ((wide as u32) & mask, (wide >> n) & 1 != 0)
                    }
                    ShiftOp::Shr => (v >> c, (u64::from(v) >> (c - 1)) & 1 != 0),
                    _ => {
                        let signed = i64::from(v) - if msb(v) { 1i64 << n } else { 0 };
                        (((signed >> c) as u32) & mask, (signed >> (c - 1)) & 1 != 0)
                    }
                };
                f = set(f, CF, cf);
                if c == 1 {
                    let of = match op {
                        ShiftOp::Shl => msb(res) != cf,
                        ShiftOp::Shr => msb(v),
                        _ => false,
                    };
                    f = set(f, OF, of);
                }
                f = set(f, ZF, res == 0);
                f = set(f, SF, msb(res));
                f = set(f, PF, parity(res));
                res
            }
        };
        (result, f)
    }
}
