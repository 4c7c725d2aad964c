//! Bit scans and bit tests: BSF, BSR, BT, BTS, BTR, BTC.

use super::flags::{parity, size_mask, Flags};
use crate::state::flags::{PF, ZF};

/// Flags after a bit scan: ZF = (source == 0); PF from the index written (from 0 when
/// the source is 0); CF OF SF AF = 0 (the SDM leaves all but ZF undefined).
#[inline(always)]
fn scan_flags(f: &mut Flags, index: Option<u32>) {
    match index {
        Some(i) => f.set_status(parity(i) * PF),
        None => f.set_status(ZF | PF),
    }
}

/// BSF: the index of the lowest set bit of the `size`-byte `v`, or `None` (ZF = 1,
/// destination left unchanged) when `v` is 0.
#[inline]
pub fn bsf(f: &mut Flags, size: u8, v: u32) -> Option<u32> {
    let v = v & size_mask(size);
    let index = (v != 0).then(|| v.trailing_zeros());
    scan_flags(f, index);
    index
}

/// BSR: the index of the highest set bit of the `size`-byte `v`, or `None` (ZF = 1,
/// destination left unchanged) when `v` is 0.
#[inline]
pub fn bsr(f: &mut Flags, size: u8, v: u32) -> Option<u32> {
    let v = v & size_mask(size);
    let index = (v != 0).then(|| 31 - v.leading_zeros());
    scan_flags(f, index);
    index
}

/// BT: CF = bit `bit mod 32` of `value` (callers reduce `bit` modulo 16 for 16-bit
/// register operands). The other flags are left unchanged (OF SF AF PF are undefined
/// in the SDM, ZF is unaffected).
#[inline]
pub fn bt(f: &mut Flags, value: u32, bit: u32) {
    f.set_cf((value >> (bit & 31)) & 1 != 0);
}

/// BTS: as BT, and returns `value` with the bit set.
#[inline]
pub fn bts(f: &mut Flags, value: u32, bit: u32) -> u32 {
    bt(f, value, bit);
    value | (1 << (bit & 31))
}

/// BTR: as BT, and returns `value` with the bit cleared.
#[inline]
pub fn btr(f: &mut Flags, value: u32, bit: u32) -> u32 {
    bt(f, value, bit);
    value & !(1 << (bit & 31))
}

/// BTC: as BT, and returns `value` with the bit complemented.
#[inline]
pub fn btc(f: &mut Flags, value: u32, bit: u32) -> u32 {
    bt(f, value, bit);
    value ^ (1 << (bit & 31))
}
