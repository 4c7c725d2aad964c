//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD.
//!
//! Every count is masked to 5 bits first, as on the i486; a masked count of 0 leaves
//! the value and all flags unchanged.

use super::flags::{size_mask, top_bit, Flags};
use crate::state::flags::{CF, OF};

/// `v` copied into every `size`-byte lane of a `u32`, so a 32-bit rotate by any count
/// equals a `size`-wide rotate by the same count modulo the width.
#[inline(always)]
fn replicate(size: u8, v: u32) -> u32 {
    match size {
        1 => (v & 0xff).wrapping_mul(0x0101_0101),
        2 => (v & 0xffff).wrapping_mul(0x0001_0001),
        _ => v,
    }
}

/// Operand width in bits.
#[inline(always)]
fn width(size: u8) -> u32 {
    top_bit(size) as u32 + 1
}

/// Bit `top` of `v` (the sign bit for the size).
#[inline(always)]
fn msb(v: u32, top: u32) -> u32 {
    (v >> top) & 1
}

/// CF and OF in their EFLAGS positions.
#[inline(always)]
fn cf_of(cf: u32, of: u32) -> u32 {
    ((cf & 1) * CF) | ((of & 1) * OF)
}

/// SHL/SAL. CF = last bit shifted out (0 once the count exceeds the width);
/// OF = MSB(result) XOR CF; AF = 0; SF ZF PF from the result.
#[inline]
pub fn shl(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let w = width(size);
    let wide = ((value & size_mask(size)) as u64) << c;
    let res = wide as u32 & size_mask(size);
    let cf = (wide >> w) as u32 & 1;
    f.record_result(size, res, cf_of(cf, msb(res, w - 1) ^ cf));
    res
}

/// SHR. CF = last bit shifted out; OF = MSB(result) XOR bit below it (for a count of
/// 1 that is the original MSB); AF = 0; SF ZF PF from the result.
#[inline]
pub fn shr(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let top = width(size) - 1;
    let v = value & size_mask(size);
    let res = v >> c;
    let cf = (v >> (c - 1)) & 1;
    f.record_result(size, res, cf_of(cf, msb(res, top) ^ msb(res, top - 1)));
    res
}

/// SAR. CF = last bit shifted out (the sign once the count reaches the width);
/// OF = 0; AF = 0; SF ZF PF from the result.
#[inline]
pub fn sar(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let shift = 31 - top_bit(size) as u32;
    let sv = ((value << shift) as i32) >> shift;
    let res = (sv >> c) as u32 & size_mask(size);
    let cf = (sv >> (c - 1)) as u32 & 1;
    f.record_result(size, res, cf_of(cf, 0));
    res
}

/// ROL. CF = LSB(result); OF = MSB(result) XOR CF; SF ZF AF PF unchanged.
#[inline]
pub fn rol(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let res = replicate(size, value).rotate_left(c) & size_mask(size);
    let cf = res & 1;
    f.put_cf_of(cf != 0, (msb(res, width(size) - 1) ^ cf) != 0);
    res
}

/// ROR. CF = MSB(result); OF = MSB(result) XOR the bit below it; SF ZF AF PF unchanged.
#[inline]
pub fn ror(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let top = width(size) - 1;
    let res = replicate(size, value).rotate_right(c) & size_mask(size);
    let cf = msb(res, top);
    f.put_cf_of(cf != 0, (cf ^ msb(res, top - 1)) != 0);
    res
}

/// RCL: rotate left through CF by `count mod (width + 1)`. CF = the bit rotated into
/// it; OF = MSB(result) XOR CF; SF ZF AF PF unchanged.
#[inline]
pub fn rcl(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let w = width(size);
    let n = c % (w + 1);
    let ring_mask = (1u64 << (w + 1)) - 1;
    let ring = ((f.cf() as u64) << w) | (value & size_mask(size)) as u64;
    let rotated = ((ring << n) | (ring >> (w + 1 - n))) & ring_mask;
    let res = rotated as u32 & size_mask(size);
    let cf = (rotated >> w) as u32 & 1;
    f.put_cf_of(cf != 0, (msb(res, w - 1) ^ cf) != 0);
    res
}

/// RCR: rotate right through CF by `count mod (width + 1)`. CF = the bit rotated into
/// it; OF = MSB(result) XOR the bit below it (for a count of 1: the original MSB XOR
/// the original CF); SF ZF AF PF unchanged.
#[inline]
pub fn rcr(f: &mut Flags, size: u8, value: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return value;
    }
    let w = width(size);
    let n = c % (w + 1);
    let ring_mask = (1u64 << (w + 1)) - 1;
    let ring = ((f.cf() as u64) << w) | (value & size_mask(size)) as u64;
    let rotated = ((ring >> n) | (ring << (w + 1 - n))) & ring_mask;
    let res = rotated as u32 & size_mask(size);
    let cf = (rotated >> w) as u32 & 1;
    f.put_cf_of(cf != 0, (msb(res, w - 1) ^ msb(res, w - 2)) != 0);
    res
}

/// SHLD: shift `dst` left, filling from the top of `src`. `size` is 2 or 4 (any other
/// value is treated as 4). CF = last bit shifted out of `dst`; OF = MSB(result) XOR CF;
/// AF = 0; SF ZF PF from the result. For a 16-bit operand and a count above 16 the
/// SDM leaves the result undefined; vmlab shifts the 48-bit string `dst:src:dst`.
#[inline]
pub fn shld(f: &mut Flags, size: u8, dst: u32, src: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return dst;
    }
    let (res, cf) = if size == 2 {
        let (d, s) = ((dst & 0xffff) as u64, (src & 0xffff) as u64);
        let string = (d << 32) | (s << 16) | d;
        (
            ((string << c) >> 32) as u32 & 0xffff,
            (string >> (48 - c)) as u32 & 1,
        )
    } else {
        let string = ((dst as u64) << 32) | src as u64;
        (((string << c) >> 32) as u32, (dst >> (32 - c)) & 1)
    };
    let size = if size == 2 { 2 } else { 4 };
    f.record_result(size, res, cf_of(cf, msb(res, width(size) - 1) ^ cf));
    res
}

/// SHRD: shift `dst` right, filling from the bottom of `src`. `size` is 2 or 4 (any
/// other value is treated as 4). CF = last bit shifted out of `dst`; OF = MSB(result)
/// XOR the bit below it; AF = 0; SF ZF PF from the result. For a 16-bit operand and a
/// count above 16 vmlab shifts the 48-bit string `dst:src:dst`.
#[inline]
pub fn shrd(f: &mut Flags, size: u8, dst: u32, src: u32, count: u8) -> u32 {
    let c = (count & 31) as u32;
    if c == 0 {
        return dst;
    }
    let (res, cf) = if size == 2 {
        let (d, s) = ((dst & 0xffff) as u64, (src & 0xffff) as u64);
        let string = (d << 32) | (s << 16) | d;
        (
            (string >> c) as u32 & 0xffff,
            (string >> (c - 1)) as u32 & 1,
        )
    } else {
        let string = ((src as u64) << 32) | dst as u64;
        ((string >> c) as u32, (dst >> (c - 1)) & 1)
    };
    let size = if size == 2 { 2 } else { 4 };
    let top = width(size) - 1;
    f.record_result(size, res, cf_of(cf, msb(res, top) ^ msb(res, top - 1)));
    res
}
