//! Integer addition, subtraction, comparison and the bitwise logic operations.

use super::flags::{size_mask, Flags};

/// `a + b + cin` masked to `size` bytes, and the carry out of the operand size.
#[inline(always)]
fn add_carry(size: u8, a: u32, b: u32, cin: bool) -> (u32, bool) {
    let m = size_mask(size);
    let wide = (a & m) as u64 + (b & m) as u64 + cin as u64;
    (wide as u32 & m, wide > m as u64)
}

/// `a - b - bin` masked to `size` bytes, and the borrow out of the operand size.
#[inline(always)]
fn sub_borrow(size: u8, a: u32, b: u32, bin: bool) -> (u32, bool) {
    let m = size_mask(size);
    let (a, b) = ((a & m) as u64, (b & m) as u64 + bin as u64);
    (a.wrapping_sub(b) as u32 & m, a < b)
}

/// ADD: `a + b` masked to `size` bytes; all six flags.
#[inline]
pub fn add(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let (res, cf) = add_carry(size, a, b, false);
    f.record_arith(size, a, b, res, false, cf);
    res
}

/// ADC: `a + b + CF`; all six flags.
#[inline]
pub fn adc(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let (res, cf) = add_carry(size, a, b, f.cf());
    f.record_arith(size, a, b, res, false, cf);
    res
}

/// SUB: `a - b`; all six flags (CF and AF are borrows).
#[inline]
pub fn sub(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let (res, cf) = sub_borrow(size, a, b, false);
    f.record_arith(size, a, b, res, true, cf);
    res
}

/// SBB: `a - b - CF`; all six flags.
#[inline]
pub fn sbb(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let (res, cf) = sub_borrow(size, a, b, f.cf());
    f.record_arith(size, a, b, res, true, cf);
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
    let (res, _) = add_carry(size, a, 1, false);
    f.record_arith(size, a, 1, res, false, f.cf());
    res
}

/// DEC: `a - 1`; CF unchanged, the other flags as for SUB.
#[inline]
pub fn dec(f: &mut Flags, size: u8, a: u32) -> u32 {
    let (res, _) = sub_borrow(size, a, 1, false);
    f.record_arith(size, a, 1, res, true, f.cf());
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
