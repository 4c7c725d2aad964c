//! Multiplication and division: MUL, IMUL (one-, two- and three-operand), DIV, IDIV.

use super::flags::{size_mask, top_bit, Flags};
use crate::error::Exception;
use crate::state::flags::{CF, OF};

/// `v` (the low `bits` bits) sign-extended to 64 bits.
#[inline(always)]
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Records CF = OF = `wide` with SF ZF PF from `lo` and AF = 0 (the SDM leaves SF ZF
/// AF PF undefined after multiplication).
#[inline(always)]
fn record_product(f: &mut Flags, size: u8, lo: u32, wide: bool) {
    f.record_result(size, lo, if wide { CF | OF } else { 0 });
}

/// MUL: the unsigned double-width product as (low half, high half); CF = OF = (high
/// half != 0). For `size` 1 the halves are AL and AH.
#[inline]
pub fn mul(f: &mut Flags, size: u8, a: u32, b: u32) -> (u32, u32) {
    let m = size_mask(size);
    let bits = top_bit(size) as u32 + 1;
    let p = (a & m) as u64 * (b & m) as u64;
    let (lo, hi) = (p as u32 & m, (p >> bits) as u32 & m);
    record_product(f, size, lo, hi != 0);
    (lo, hi)
}

/// The signed product of `a` and `b` as `size`-byte values, and its low half.
#[inline(always)]
fn signed_product(size: u8, a: u32, b: u32) -> (i64, u32) {
    let bits = top_bit(size) as u32 + 1;
    let p = sext(a as u64, bits) * sext(b as u64, bits);
    (p, p as u32 & size_mask(size))
}

/// IMUL (one operand): the signed double-width product as (low half, high half);
/// CF = OF = (the product does not fit the low half sign-extended).
#[inline]
pub fn imul(f: &mut Flags, size: u8, a: u32, b: u32) -> (u32, u32) {
    let bits = top_bit(size) as u32 + 1;
    let (p, lo) = signed_product(size, a, b);
    let hi = (p >> bits) as u32 & size_mask(size);
    record_product(f, size, lo, sext(lo as u64, bits) != p);
    (lo, hi)
}

/// IMUL (two and three operands): the product truncated to `size`; CF = OF = (the
/// truncation lost significant bits).
#[inline]
pub fn imul_trunc(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let bits = top_bit(size) as u32 + 1;
    let (p, lo) = signed_product(size, a, b);
    record_product(f, size, lo, sext(lo as u64, bits) != p);
    lo
}

/// DIV: the unsigned dividend `hi:lo` (AH:AL, DX:AX or EDX:EAX) divided by `divisor`,
/// as (quotient, remainder). #DE when the divisor is 0 or the quotient does not fit.
/// The flags are left unchanged (the SDM leaves all six undefined).
#[inline]
pub fn div(size: u8, hi: u32, lo: u32, divisor: u32) -> Result<(u32, u32), Exception> {
    let m = size_mask(size);
    let bits = top_bit(size) as u32 + 1;
    let dividend = (((hi & m) as u64) << bits) | (lo & m) as u64;
    let d = (divisor & m) as u64;
    if d == 0 {
        return Err(Exception::DivideError);
    }
    let q = dividend / d;
    if q > m as u64 {
        return Err(Exception::DivideError);
    }
    Ok((q as u32, (dividend % d) as u32))
}

/// IDIV: the signed dividend `hi:lo` divided by the signed `divisor`, as (quotient,
/// remainder) masked to `size`; the remainder takes the dividend's sign. #DE when the
/// divisor is 0 or the quotient is outside the signed range of `size`. Flags unchanged.
#[inline]
pub fn idiv(size: u8, hi: u32, lo: u32, divisor: u32) -> Result<(u32, u32), Exception> {
    let m = size_mask(size);
    let bits = top_bit(size) as u32 + 1;
    let dividend = sext((((hi & m) as u64) << bits) | (lo & m) as u64, 2 * bits);
    let d = sext(divisor as u64, bits);
    let (Some(q), Some(r)) = (dividend.checked_div(d), dividend.checked_rem(d)) else {
        return Err(Exception::DivideError);
    };
    if sext(q as u64, bits) != q {
        return Err(Exception::DivideError);
    }
    Ok((q as u32 & m, r as u32 & m))
}
