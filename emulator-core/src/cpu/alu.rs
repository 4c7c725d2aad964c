//! Status flags and the pure arithmetic of the integer unit (SDM vol. 1, 3.4.3 and vol. 2).
//!
//! Flags are computed eagerly here; every function takes the operand size in bytes
//! (1, 2 or 4) and zero-extended operands, and returns the zero-extended result.

use serde::{Deserialize, Serialize};

use crate::error::Exception;
use crate::state::flags::{AF, CF, OF, PF, SF, STATUS, ZF};

/// The six arithmetic status flags (CF PF AF ZF SF OF).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Flags {
    bits: u32,
}

macro_rules! flag_accessors {
    ($($get:ident $set:ident $bit:ident),*) => {$(
        #[inline]
        pub fn $get(&self) -> bool { self.bits & $bit != 0 }
        #[inline]
        pub fn $set(&mut self, v: bool) { if v { self.bits |= $bit } else { self.bits &= !$bit } }
    )*};
}

#[allow(dead_code)] // the full accessor set, not every one used by the executor
impl Flags {
    /// The status flags taken from an EFLAGS image.
    pub fn from_eflags(e: u32) -> Flags {
        Flags { bits: e & STATUS }
    }
    /// The status flags as EFLAGS bits (only the six status bits).
    #[inline]
    pub fn status(&self) -> u32 {
        self.bits
    }
    /// Replaces the six status bits.
    #[inline]
    pub fn set_status(&mut self, bits: u32) {
        self.bits = bits & STATUS;
    }
    flag_accessors!(cf set_cf CF, pf set_pf PF, af set_af AF, zf set_zf ZF, sf set_sf SF, of set_of OF);
    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc).
    #[inline]
    pub fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r != (cc & 1 != 0)
    }
    #[inline]
    fn szp(&mut self, size: u8, r: u32) {
        let r = r & mask(size);
        let mut b = self.bits & !(ZF | SF | PF);
        if r == 0 {
            b |= ZF;
        }
        if r & sign(size) != 0 {
            b |= SF;
        }
        if (r as u8).count_ones().is_multiple_of(2) {
            b |= PF;
        }
        self.bits = b;
    }
    #[inline]
    fn put(&mut self, bit: u32, v: bool) {
        if v {
            self.bits |= bit
        } else {
            self.bits &= !bit
        }
    }
}

/// All-ones mask for `size` bytes.
#[inline]
pub(crate) const fn mask(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

/// The sign bit for `size` bytes.
#[inline]
pub(crate) const fn sign(size: u8) -> u32 {
    match size {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

#[inline]
fn sext(size: u8, v: u32) -> i64 {
    match size {
        1 => v as u8 as i8 as i64,
        2 => v as u16 as i16 as i64,
        _ => v as i32 as i64,
    }
}

#[inline]
fn addc(f: &mut Flags, size: u8, a: u32, b: u32, c: u32) -> u32 {
    let m = mask(size);
    let wide = (a & m) as u64 + (b & m) as u64 + c as u64;
    let r = (wide as u32) & m;
    f.szp(size, r);
    f.put(CF, wide > m as u64);
    f.put(AF, (a ^ b ^ r) & 0x10 != 0);
    f.put(OF, (!(a ^ b) & (a ^ r)) & sign(size) != 0);
    r
}

#[inline]
fn subc(f: &mut Flags, size: u8, a: u32, b: u32, c: u32) -> u32 {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(c) & m;
    f.szp(size, r);
    f.put(CF, (a as u64) < b as u64 + c as u64);
    f.put(AF, (a ^ b ^ r) & 0x10 != 0);
    f.put(OF, ((a ^ b) & (a ^ r)) & sign(size) != 0);
    r
}

/// ADD.
#[inline]
pub(crate) fn add(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    addc(f, size, a, b, 0)
}
/// ADC.
#[inline]
pub(crate) fn adc(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let c = f.cf() as u32;
    addc(f, size, a, b, c)
}
/// SUB.
#[inline]
pub(crate) fn sub(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    subc(f, size, a, b, 0)
}
/// SBB.
#[inline]
pub(crate) fn sbb(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    let c = f.cf() as u32;
    subc(f, size, a, b, c)
}
/// CMP (flags only).
#[inline]
pub(crate) fn cmp(f: &mut Flags, size: u8, a: u32, b: u32) {
    subc(f, size, a, b, 0);
}
#[inline]
fn logic(f: &mut Flags, size: u8, r: u32) -> u32 {
    let r = r & mask(size);
    f.szp(size, r);
    f.bits &= !(CF | OF | AF); // AF is undefined; vmlab clears it.
    r
}
/// AND.
#[inline]
pub(crate) fn and(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    logic(f, size, a & b)
}
/// OR.
#[inline]
pub(crate) fn or(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    logic(f, size, a | b)
}
/// XOR.
#[inline]
pub(crate) fn xor(f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
    logic(f, size, a ^ b)
}
/// TEST (flags only).
#[inline]
pub(crate) fn test(f: &mut Flags, size: u8, a: u32, b: u32) {
    logic(f, size, a & b);
}
/// INC (CF unchanged).
#[inline]
pub(crate) fn inc(f: &mut Flags, size: u8, a: u32) -> u32 {
    let c = f.cf();
    let r = addc(f, size, a, 1, 0);
    f.put(CF, c);
    r
}
/// DEC (CF unchanged).
#[inline]
pub(crate) fn dec(f: &mut Flags, size: u8, a: u32) -> u32 {
    let c = f.cf();
    let r = subc(f, size, a, 1, 0);
    f.put(CF, c);
    r
}
/// NEG.
#[inline]
pub(crate) fn neg(f: &mut Flags, size: u8, a: u32) -> u32 {
    subc(f, size, 0, a, 0)
}

/// SHL/SAL.
pub(crate) fn shl(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let n = (count & 31) as u32;
    if n == 0 {
        return v & mask(size);
    }
    let bits = size as u32 * 8;
    let v = v & mask(size);
    let wide = (v as u64) << n;
    let r = (wide as u32) & mask(size);
    f.szp(size, r);
    f.put(CF, n <= bits && (wide >> bits) & 1 != 0);
    f.put(OF, ((r & sign(size) != 0) as u32 ^ f.cf() as u32) != 0);
    f.bits &= !AF;
    r
}
/// SHR.
pub(crate) fn shr(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let n = (count & 31) as u32;
    let v = v & mask(size);
    if n == 0 {
        return v;
    }
    let r = ((v as u64) >> n) as u32;
    f.szp(size, r);
    f.put(CF, ((v as u64) >> (n - 1)) & 1 != 0);
    f.put(OF, v & sign(size) != 0);
    f.bits &= !AF;
    r
}
/// SAR.
pub(crate) fn sar(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let n = (count & 31) as u32;
    if n == 0 {
        return v & mask(size);
    }
    let s = sext(size, v);
    let r = (s >> n) as u32 & mask(size);
    f.szp(size, r);
    f.put(CF, (s >> (n - 1)) & 1 != 0);
    f.put(OF, false);
    f.bits &= !AF;
    r
}
/// ROL.
pub(crate) fn rol(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let bits = size as u32 * 8;
    let n = (count & 31) as u32;
    let v = v & mask(size);
    if n == 0 {
        return v;
    }
    let k = n % bits;
    let r = if k == 0 {
        v
    } else {
        ((v << k) | (v >> (bits - k))) & mask(size)
    };
    f.put(CF, r & 1 != 0);
    f.put(OF, ((r & sign(size) != 0) as u32 ^ (r & 1)) != 0);
    r
}
/// ROR.
pub(crate) fn ror(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let bits = size as u32 * 8;
    let n = (count & 31) as u32;
    let v = v & mask(size);
    if n == 0 {
        return v;
    }
    let k = n % bits;
    let r = if k == 0 {
        v
    } else {
        ((v >> k) | (v << (bits - k))) & mask(size)
    };
    let msb = r & sign(size) != 0;
    let msb2 = r & (sign(size) >> 1) != 0;
    f.put(CF, msb);
    f.put(OF, msb != msb2);
    r
}
/// RCL.
pub(crate) fn rcl(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let bits = size as u32 * 8;
    let n = (count & 31) as u32 % (bits + 1);
    let v = v & mask(size);
    if count & 31 == 0 {
        return v;
    }
    let mut r = v as u64 | ((f.cf() as u64) << bits);
    for _ in 0..n {
        let top = (r >> bits) & 1;
        r = ((r << 1) | top) & ((1u64 << (bits + 1)) - 1);
    }
    let res = (r as u32) & mask(size);
    f.put(CF, (r >> bits) & 1 != 0);
    f.put(OF, ((res & sign(size) != 0) as u32 ^ f.cf() as u32) != 0);
    res
}
/// RCR.
pub(crate) fn rcr(f: &mut Flags, size: u8, v: u32, count: u8) -> u32 {
    let bits = size as u32 * 8;
    let n = (count & 31) as u32 % (bits + 1);
    let v = v & mask(size);
    if count & 31 == 0 {
        return v;
    }
    let of = ((v & sign(size) != 0) as u32 ^ f.cf() as u32) != 0;
    let mut r = v as u64 | ((f.cf() as u64) << bits);
    for _ in 0..n {
        let low = r & 1;
        r = (r >> 1) | (low << bits);
    }
    let res = (r as u32) & mask(size);
    f.put(CF, (r >> bits) & 1 != 0);
    f.put(OF, of);
    res
}
/// SHLD: shifts `dst` left, filling from `src`.
pub(crate) fn shld(f: &mut Flags, size: u8, dst: u32, src: u32, count: u8) -> u32 {
    let n = (count & 31) as u32;
    let bits = size as u32 * 8;
    let dst = dst & mask(size);
    if n == 0 {
        return dst;
    }
    let wide = ((dst as u64) << bits) | (src & mask(size)) as u64;
    let r = ((wide << n) >> bits) as u32 & mask(size);
    f.szp(size, r);
    f.put(CF, n <= bits && (dst as u64 >> (bits - n)) & 1 != 0);
    f.put(OF, (r ^ dst) & sign(size) != 0);
    f.bits &= !AF;
    r
}
/// SHRD: shifts `dst` right, filling from `src`.
pub(crate) fn shrd(f: &mut Flags, size: u8, dst: u32, src: u32, count: u8) -> u32 {
    let n = (count & 31) as u32;
    let bits = size as u32 * 8;
    let dst = dst & mask(size);
    if n == 0 {
        return dst;
    }
    let wide = ((src as u64 & mask(size) as u64) << bits) | dst as u64;
    let r = (wide >> n) as u32 & mask(size);
    f.szp(size, r);
    f.put(CF, (wide >> (n - 1)) & 1 != 0);
    f.put(OF, (r ^ dst) & sign(size) != 0);
    f.bits &= !AF;
    r
}
/// MUL: unsigned; returns the low and high halves.
pub(crate) fn mul(f: &mut Flags, size: u8, a: u32, b: u32) -> (u32, u32) {
    let p = (a & mask(size)) as u64 * (b & mask(size)) as u64;
    let bits = size as u32 * 8;
    let lo = p as u32 & mask(size);
    let hi = (p >> bits) as u32 & mask(size);
    f.szp(size, lo);
    f.put(CF, hi != 0);
    f.put(OF, hi != 0);
    (lo, hi)
}
/// IMUL: signed; CF=OF=1 when the high half is not the sign extension of the low half.
pub(crate) fn imul(f: &mut Flags, size: u8, a: u32, b: u32) -> (u32, u32) {
    let p = sext(size, a) * sext(size, b);
    let bits = size as u32 * 8;
    let lo = p as u32 & mask(size);
    let hi = (p >> bits) as u32 & mask(size);
    f.szp(size, lo);
    let fits = sext(size, lo) == p;
    f.put(CF, !fits);
    f.put(OF, !fits);
    (lo, hi)
}
/// DIV: unsigned; #DE on a zero divisor or a quotient that does not fit.
pub(crate) fn div(size: u8, hi: u32, lo: u32, divisor: u32) -> Result<(u32, u32), Exception> {
    let bits = size as u32 * 8;
    let d = (divisor & mask(size)) as u64;
    if d == 0 {
        return Err(Exception::DivideError);
    }
    let n = (((hi & mask(size)) as u64) << bits) | (lo & mask(size)) as u64;
    let q = n / d;
    if q > mask(size) as u64 {
        return Err(Exception::DivideError);
    }
    Ok((q as u32, (n % d) as u32))
}
/// IDIV: signed; #DE on a zero divisor or a quotient that does not fit.
pub(crate) fn idiv(size: u8, hi: u32, lo: u32, divisor: u32) -> Result<(u32, u32), Exception> {
    let bits = size as u32 * 8;
    let d = sext(size, divisor);
    if d == 0 {
        return Err(Exception::DivideError);
    }
    let n = ((((hi & mask(size)) as u64) << bits) | (lo & mask(size)) as u64) as i64;
    let n = (n << (64 - 2 * bits)) >> (64 - 2 * bits);
    let q = n.wrapping_div(d);
    let r = n.wrapping_rem(d);
    let lim = 1i64 << (bits - 1);
    if q >= lim || q < -lim {
        return Err(Exception::DivideError);
    }
    Ok((q as u32 & mask(size), r as u32 & mask(size)))
}
/// DAA.
pub(crate) fn daa(f: &mut Flags, al: u8) -> u8 {
    let (old_al, old_cf) = (al, f.cf());
    let mut al = al;
    let mut cf = false;
    if al & 0xf > 9 || f.af() {
        let (v, c) = al.overflowing_add(6);
        al = v;
        cf = old_cf || c;
        f.put(AF, true);
    } else {
        f.put(AF, false);
    }
    if old_al > 0x99 || old_cf {
        al = al.wrapping_add(0x60);
        cf = true;
    }
    f.szp(1, al as u32);
    f.put(CF, cf);
    f.put(OF, false);
    al
}
/// DAS.
pub(crate) fn das(f: &mut Flags, al: u8) -> u8 {
    let (old_al, old_cf) = (al, f.cf());
    let mut al = al;
    let mut cf = false;
    if al & 0xf > 9 || f.af() {
        let (v, c) = al.overflowing_sub(6);
        al = v;
        cf = old_cf || c;
        f.put(AF, true);
    } else {
        f.put(AF, false);
    }
    if old_al > 0x99 || old_cf {
        al = al.wrapping_sub(0x60);
        cf = true;
    }
    f.szp(1, al as u32);
    f.put(CF, cf);
    f.put(OF, false);
    al
}
/// AAA.
pub(crate) fn aaa(f: &mut Flags, ax: u16) -> u16 {
    let mut ax = ax;
    let adj = (ax & 0xf) > 9 || f.af();
    if adj {
        ax = ax.wrapping_add(0x106);
    }
    f.put(AF, adj);
    f.put(CF, adj);
    f.szp(1, ax as u32 & 0xf);
    ax & 0xff0f
}
/// AAS.
pub(crate) fn aas(f: &mut Flags, ax: u16) -> u16 {
    let mut ax = ax;
    let adj = (ax & 0xf) > 9 || f.af();
    if adj {
        ax = ax.wrapping_sub(6);
        ax = (ax & 0xff) | ((ax >> 8).wrapping_sub(1) << 8);
    }
    f.put(AF, adj);
    f.put(CF, adj);
    f.szp(1, ax as u32 & 0xf);
    ax & 0xff0f
}
/// AAM with an immediate base; #DE when the base is zero.
pub(crate) fn aam(f: &mut Flags, al: u8, base: u8) -> Result<u16, Exception> {
    if base == 0 {
        return Err(Exception::DivideError);
    }
    let ah = al / base;
    let al = al % base;
    f.szp(1, al as u32);
    f.bits &= !(CF | OF | AF);
    Ok(((ah as u16) << 8) | al as u16)
}
/// AAD with an immediate base.
pub(crate) fn aad(f: &mut Flags, ax: u16, base: u8) -> u16 {
    let al = ((ax & 0xff) as u8).wrapping_add(((ax >> 8) as u8).wrapping_mul(base));
    f.szp(1, al as u32);
    f.bits &= !(CF | OF | AF);
    al as u16
}
/// BSF: index of the lowest set bit; `None` (ZF=1) when the source is zero.
pub(crate) fn bsf(f: &mut Flags, size: u8, v: u32) -> Option<u32> {
    let v = v & mask(size);
    f.put(ZF, v == 0);
    (v != 0).then(|| v.trailing_zeros())
}
/// BSR: index of the highest set bit; `None` (ZF=1) when the source is zero.
pub(crate) fn bsr(f: &mut Flags, size: u8, v: u32) -> Option<u32> {
    let v = v & mask(size);
    f.put(ZF, v == 0);
    (v != 0).then(|| 31 - v.leading_zeros())
}
