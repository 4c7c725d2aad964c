//! Integer addition, subtraction, comparison and the bitwise logic operations.

use super::flags::{size_mask, Flags};

/// ADD: `a + b` masked to `size` bytes; all six flags.
#[inline]
pub fn add(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = a.wrapping_add(b) & size_mask(size);
    f.record_arith(size, a, b, res, false);
    res
}

/// ADC: `a + b + CF`; all six flags.
#[inline]
pub fn adc(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = a.wrapping_add(b).wrapping_add(f.cf() as u32) & size_mask(size);
    f.record_arith(size, a, b, res, false);
    res
}

/// SUB: `a - b`; all six flags (CF and AF are borrows).
#[inline]
pub fn sub(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = a.wrapping_sub(b) & size_mask(size);
    f.record_arith(size, a, b, res, true);
    res
}

/// SBB: `a - b - CF`; all six flags.
#[inline]
pub fn sbb(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = a.wrapping_sub(b).wrapping_sub(f.cf() as u32) & size_mask(size);
    f.record_arith(size, a, b, res, true);
    res
}

/// CMP: the flags of `a - b`, no result.
#[inline]
pub fn cmp(f: &mut Flags, size: u8, a: u32, b: u32) {
    sub(f, size, a, b);
}

/// NEG: `0 - b`; CF = (b != 0), the other flags as for SUB.
#[inline]
pub fn neg(f: &mut Flags, size: u8, b: u32) -> u32 {
    sub(f, size, 0, b)
}

/// INC: `a + 1`; CF unchanged, the other flags as for ADD.
#[inline]
pub fn inc(f: &mut Flags, size: u8, a: u32) -> u32 {
    let cf = f.cf();
    let res = add(f, size, a, 1);
    f.keep_cf(cf);
    res
}

/// DEC: `a - 1`; CF unchanged, the other flags as for SUB.
#[inline]
pub fn dec(f: &mut Flags, size: u8, a: u32) -> u32 {
    let cf = f.cf();
    let res = sub(f, size, a, 1);
    f.keep_cf(cf);
    res
}

/// AND: CF = OF = 0, AF = 0 (undefined in the SDM), SF ZF PF from the result.
#[inline]
pub fn and(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = a & b & size_mask(size);
    f.record_logic(size, res);
    res
}

/// OR: flags as for AND.
#[inline]
pub fn or(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = (a | b) & size_mask(size);
    f.record_logic(size, res);
    res
}

/// XOR: flags as for AND.
#[inline]
pub fn xor(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let res = (a ^ b) & size_mask(size);
    f.record_logic(size, res);
    res
}

/// TEST: the flags of AND, no result.
#[inline]
pub fn test(f: &mut Flags, size: u8, a: u32, b: u32) {
    and(f, size, a, b);
}
