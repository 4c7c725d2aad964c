//! Decimal adjustment: DAA, DAS, AAA, AAS, AAM, AAD.

use super::arith::add;
use super::flags::{parity, Flags};
use crate::error::Exception;
use crate::state::flags::{AF, CF, PF, SF, ZF};

/// SF ZF PF of the byte `al` in their EFLAGS positions.
#[inline(always)]
fn szp(al: u8) -> u32 {
    let v = al as u32;
    ((v >> 7) * SF) | (((v == 0) as u32) * ZF) | (parity(v) * PF)
}

/// CF and AF in their EFLAGS positions.
#[inline(always)]
fn ca(cf: bool, af: bool) -> u32 {
    (cf as u32 * CF) | (af as u32 * AF)
}

/// DAA: decimal adjust AL after addition. CF AF SF ZF PF as in the SDM; OF = 0.
#[inline]
pub fn daa(f: &mut Flags, al: u8) -> u8 {
    let (old_al, old_cf) = (al, f.cf());
    let mut al = al;
    let af = (al & 0x0f) > 9 || f.af();
    if af {
        al = al.wrapping_add(6);
    }
    let cf = old_al > 0x99 || old_cf;
    if cf {
        al = al.wrapping_add(0x60);
    }
    f.set_status(szp(al) | ca(cf, af));
    al
}

/// DAS: decimal adjust AL after subtraction. CF AF SF ZF PF as in the SDM; OF = 0.
#[inline]
pub fn das(f: &mut Flags, al: u8) -> u8 {
    let (old_al, old_cf) = (al, f.cf());
    let mut al = al;
    let mut cf = false;
    let af = (al & 0x0f) > 9 || f.af();
    if af {
        cf = old_cf || al < 6;
        al = al.wrapping_sub(6);
    }
    if old_al > 0x99 || old_cf {
        al = al.wrapping_sub(0x60);
        cf = true;
    }
    f.set_status(szp(al) | ca(cf, af));
    al
}

/// AAA: ASCII adjust AX after addition (AX + 106h when adjusting, then AL &= 0Fh).
/// CF = AF = adjusted; SF ZF PF from the final AL (so SF = 0); OF = 0.
#[inline]
pub fn aaa(f: &mut Flags, ax: u16) -> u16 {
    let adjust = (ax & 0x0f) > 9 || f.af();
    let ax = if adjust { ax.wrapping_add(0x106) } else { ax };
    let ax = ax & 0xff0f;
    f.set_status(szp(ax as u8) | ca(adjust, adjust));
    ax
}

/// AAS: ASCII adjust AX after subtraction (AX - 6 and AH - 1 when adjusting, then
/// AL &= 0Fh). CF = AF = adjusted; SF ZF PF from the final AL; OF = 0.
#[inline]
pub fn aas(f: &mut Flags, ax: u16) -> u16 {
    let adjust = (ax & 0x0f) > 9 || f.af();
    let ax = if adjust {
        ax.wrapping_sub(6).wrapping_sub(0x100)
    } else {
        ax
    };
    let ax = ax & 0xff0f;
    f.set_status(szp(ax as u8) | ca(adjust, adjust));
    ax
}

/// AAM: AH = AL / base, AL = AL % base; #DE when `base` is 0. SF ZF PF from AL;
/// OF = AF = CF = 0.
#[inline]
pub fn aam(f: &mut Flags, al: u8, base: u8) -> Result<u16, Exception> {
    if base == 0 {
        return Err(Exception::DivideError);
    }
    let (ah, al) = (al / base, al % base);
    f.set_status(szp(al));
    Ok(((ah as u16) << 8) | al as u16)
}

/// AAD: AL = AL + AH × base (mod 256), AH = 0. SF ZF PF from AL; OF AF CF as for the
/// byte addition AL + (AH × base).
#[inline]
pub fn aad(f: &mut Flags, ax: u16, base: u8) -> u16 {
    let (al, ah) = (ax as u8, (ax >> 8) as u8);
    let product = ah.wrapping_mul(base);
    add(f, 1, al as u32, product as u32) as u16
}
