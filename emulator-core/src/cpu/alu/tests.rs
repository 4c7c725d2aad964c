//! Known-value tests of the ALU: edge cases of every operation and flag.

use super::*;
use crate::error::Exception;
use crate::state::flags::{AF, CF, OF, PF, SF, STATUS, ZF};

/// A flags record with exactly `bits` set.
fn fl(bits: u32) -> Flags {
    Flags::from_eflags(bits)
}

#[test]
fn add_signed_overflow_and_carries_per_size() {
    let mut f = fl(0);
    assert_eq!(add(&mut f, 1, 0x7f, 1), 0x80);
    assert_eq!(f.status(), OF | SF | AF);
    assert_eq!(add(&mut f, 1, 0xff, 1), 0);
    assert_eq!(f.status(), CF | ZF | AF | PF);
    assert_eq!(add(&mut f, 2, 0xffff, 1), 0);
    assert_eq!(f.status(), CF | ZF | AF | PF);
    assert_eq!(add(&mut f, 2, 0x7fff, 1), 0x8000);
    assert_eq!(f.status(), OF | SF | AF | PF);
    assert_eq!(add(&mut f, 4, 0xffff_ffff, 1), 0);
    assert_eq!(f.status(), CF | ZF | AF | PF);
    assert_eq!(add(&mut f, 4, 0x8000_0000, 0x8000_0000), 0);
    assert_eq!(f.status(), CF | ZF | PF | OF);
    assert_eq!(add(&mut f, 4, 1, 2), 3);
    assert_eq!(f.status(), PF);
}

#[test]
fn sub_and_cmp_borrows() {
    let mut f = fl(0);
    assert_eq!(sub(&mut f, 1, 0x80, 1), 0x7f);
    assert_eq!(f.status(), OF | AF);
    assert_eq!(sub(&mut f, 1, 0, 1), 0xff);
    assert_eq!(f.status(), CF | AF | SF | PF);
    cmp(&mut f, 4, 5, 5);
    assert_eq!(f.status(), ZF | PF);
    cmp(&mut f, 2, 3, 0x8000);
    assert!(f.cf() && f.of() && f.sf());
    assert!(f.cond(0x2) && !f.cond(0xc) && !f.cond(0x7));
}

#[test]
fn adc_and_sbb_use_the_carry_in() {
    let mut f = fl(CF);
    assert_eq!(adc(&mut f, 1, 0xff, 0xff), 0xff);
    assert!(f.cf() && f.af() && f.sf() && !f.of());
    let mut f = fl(CF);
    assert_eq!(adc(&mut f, 1, 0x7f, 0), 0x80);
    assert!(f.of() && !f.cf());
    let mut f = fl(CF);
    assert_eq!(sbb(&mut f, 4, 0, 0xffff_ffff), 0);
    assert!(f.cf() && f.zf() && f.af());
    let mut f = fl(CF);
    assert_eq!(sbb(&mut f, 1, 0x80, 0), 0x7f);
    assert!(f.of() && !f.cf() && f.af());
    let mut f = fl(0);
    assert_eq!(sbb(&mut f, 2, 5, 5), 0);
    assert!(f.zf() && !f.cf());
}

#[test]
fn inc_dec_preserve_cf_and_neg_sets_it() {
    let mut f = fl(CF);
    assert_eq!(inc(&mut f, 1, 0xff), 0);
    assert_eq!(f.status(), CF | ZF | AF | PF);
    let mut f = fl(0);
    assert_eq!(inc(&mut f, 1, 0xff), 0);
    assert_eq!(f.status(), ZF | AF | PF);
    assert_eq!(dec(&mut f, 2, 0x8000), 0x7fff);
    assert_eq!(f.status(), OF | AF | PF);
    let mut f = fl(CF);
    assert_eq!(dec(&mut f, 4, 0), 0xffff_ffff);
    assert!(f.cf() && f.sf() && f.af() && !f.of());
    assert_eq!(neg(&mut f, 1, 0), 0);
    assert_eq!(f.status(), ZF | PF);
    assert_eq!(neg(&mut f, 1, 0x80), 0x80);
    assert_eq!(f.status(), CF | OF | SF);
    assert_eq!(neg(&mut f, 4, 1), 0xffff_ffff);
    assert_eq!(f.status(), CF | SF | AF | PF);
}

#[test]
fn logic_clears_cf_of_af() {
    let mut f = fl(STATUS);
    assert_eq!(and(&mut f, 1, 0xf0, 0x3c), 0x30);
    assert_eq!(f.status(), PF);
    assert_eq!(or(&mut f, 2, 0x8000, 1), 0x8001);
    assert_eq!(f.status(), SF);
    assert_eq!(xor(&mut f, 4, 0x1234, 0x1234), 0);
    assert_eq!(f.status(), ZF | PF);
    test(&mut f, 4, 0x8000_0000, 0xffff_ffff);
    assert_eq!(f.status(), SF | PF);
}

#[test]
fn set_calls_materialise_one_flag_and_keep_the_rest_lazy() {
    let mut f = fl(0);
    add(&mut f, 1, 0x7f, 1);
    f.set_cf(true);
    assert_eq!(f.status(), CF | OF | SF | AF);
    f.set_of(false);
    f.set_zf(true);
    f.set_pf(true);
    f.set_af(false);
    f.set_sf(false);
    assert_eq!(f.status(), CF | ZF | PF);
    f.set_status(0xffff_ffff);
    assert_eq!(f.status(), STATUS);
    assert_eq!(Flags::from_eflags(0x0000_0ed7).status(), 0x8d5);
}

#[test]
fn equality_compares_materialised_flags_and_serde_roundtrips() {
    let mut lazy = fl(0);
    sub(&mut lazy, 1, 0, 1);
    let eager = fl(CF | AF | SF | PF);
    assert_eq!(lazy, eager);
    let json = serde_json::to_string(&lazy).unwrap();
    assert_eq!(json, "149");
    let back: Flags = serde_json::from_str(&json).unwrap();
    assert_eq!(back, lazy);
    assert_ne!(back, fl(CF));
}

#[test]
fn every_condition_code() {
    // (flags, the 8 even conditions O B E BE S P L LE that hold)
    let cases: [(u32, [bool; 8]); 5] = [
        (0, [false, false, false, false, false, false, false, false]),
        (OF, [true, false, false, false, false, false, true, true]),
        (
            CF | ZF,
            [false, true, true, true, false, false, false, true],
        ),
        (
            SF | OF,
            [true, false, false, false, true, false, false, false],
        ),
        (
            SF | PF,
            [false, false, false, false, true, true, true, true],
        ),
    ];
    for (bits, holds) in cases {
        let f = fl(bits);
        for (i, &h) in holds.iter().enumerate() {
            let cc = (i as u8) << 1;
            assert_eq!(f.cond(cc), h, "cc {cc:#x} flags {bits:#x}");
            assert_eq!(f.cond(cc | 1), !h, "cc {:#x} flags {bits:#x}", cc | 1);
        }
    }
}

#[test]
fn shifts_by_0_1_width_and_31() {
    let mut f = fl(STATUS);
    assert_eq!(shl(&mut f, 1, 0x81, 0), 0x81);
    assert_eq!(f.status(), STATUS, "count 0 leaves flags");
    assert_eq!(shl(&mut f, 1, 0x81, 32), 0x81, "count masked to 0");
    assert_eq!(f.status(), STATUS);
    assert_eq!(shl(&mut f, 1, 0xc0, 1), 0x80);
    assert_eq!(f.status(), CF | SF);
    assert_eq!(shl(&mut f, 1, 0x40, 1), 0x80);
    assert_eq!(f.status(), OF | SF);
    assert_eq!(shl(&mut f, 1, 0x01, 8), 0);
    assert_eq!(f.status(), CF | ZF | PF | OF);
    assert_eq!(shl(&mut f, 4, 1, 31), 0x8000_0000);
    assert!(f.sf() && !f.cf());
    assert_eq!(shr(&mut f, 1, 0x81, 1), 0x40);
    assert_eq!(f.status(), CF | OF);
    assert_eq!(shr(&mut f, 2, 0x8000, 16), 0);
    assert!(f.cf() && f.zf());
    assert_eq!(shr(&mut f, 4, 0xffff_ffff, 31), 1);
    assert!(f.cf() && !f.zf());
    assert_eq!(sar(&mut f, 1, 0x81, 1), 0xc0);
    assert_eq!(f.status(), CF | SF | PF);
    assert_eq!(sar(&mut f, 1, 0x80, 31), 0xff);
    assert!(f.cf() && f.sf() && !f.of());
    assert_eq!(sar(&mut f, 4, 0x7fff_ffff, 31), 0);
    assert!(f.cf() && f.zf());
}

#[test]
fn rotates_only_touch_cf_and_of() {
    let mut f = fl(ZF | SF | AF | PF);
    assert_eq!(rol(&mut f, 1, 0x81, 1), 0x03);
    assert_eq!(f.status(), ZF | SF | AF | PF | CF | OF);
    assert_eq!(rol(&mut f, 1, 0x81, 8), 0x81);
    assert!(f.cf());
    assert_eq!(rol(&mut f, 2, 0x8001, 17), 0x0003);
    assert_eq!(ror(&mut f, 1, 0x01, 1), 0x80);
    assert!(f.cf() && f.of());
    assert_eq!(ror(&mut f, 4, 0x1234_5678, 8), 0x7812_3456);
    assert!(!f.cf());
    assert!(f.zf() && f.sf() && f.af() && f.pf());
    let mut f = fl(0);
    assert_eq!(ror(&mut f, 1, 0x02, 0), 0x02);
    assert_eq!(f.status(), 0);
}

#[test]
fn rcl_and_rcr_rotate_through_cf_modulo_width_plus_one() {
    let mut f = fl(CF);
    assert_eq!(rcl(&mut f, 1, 0x80, 1), 0x01);
    assert!(f.cf() && f.of());
    let mut f = fl(CF);
    assert_eq!(rcl(&mut f, 1, 0x55, 9), 0x55, "9 = one full turn of 9 bits");
    assert!(f.cf());
    let mut f = fl(0);
    assert_eq!(rcl(&mut f, 1, 0x55, 10), 0xaa);
    assert!(!f.cf());
    let mut f = fl(CF);
    assert_eq!(
        rcl(&mut f, 2, 0x1234, 17),
        0x1234,
        "17 = one full turn of 17 bits"
    );
    assert!(f.cf());
    let mut f = fl(CF);
    assert_eq!(rcl(&mut f, 2, 0x8000, 18), 0x0001, "18 mod 17 = 1");
    assert!(f.cf());
    let mut f = fl(CF);
    assert_eq!(rcl(&mut f, 4, 0x8000_0000, 31), 0x6000_0000);
    assert!(!f.cf());
    let mut f = fl(CF);
    assert_eq!(rcr(&mut f, 1, 0x01, 1), 0x80);
    assert!(f.cf() && f.of());
    let mut f = fl(0);
    assert_eq!(rcr(&mut f, 1, 0x01, 9), 0x01);
    assert!(!f.cf());
    let mut f = fl(CF);
    assert_eq!(rcr(&mut f, 4, 0x0000_0001, 2), 0xc000_0000);
    assert!(!f.cf());
}

#[test]
fn double_shifts() {
    let mut f = fl(0);
    assert_eq!(shld(&mut f, 4, 0x8000_0001, 0xf000_0000, 4), 0x0000_001f);
    assert!(!f.cf());
    assert_eq!(shld(&mut f, 2, 0x8001, 0xc000, 1), 0x0003);
    assert!(f.cf() && f.of());
    assert_eq!(shrd(&mut f, 4, 0x0000_0003, 0x0000_0001, 1), 0x8000_0001);
    assert!(f.cf() && f.of() && f.sf());
    assert_eq!(shrd(&mut f, 2, 0x1234, 0xabcd, 16), 0xabcd);
    assert!(!f.cf());
    assert_eq!(
        shld(&mut f, 2, 0x1234, 0xabcd, 20),
        0xbcd1,
        "48-bit dst:src:dst"
    );
    let mut f = fl(STATUS);
    assert_eq!(shrd(&mut f, 4, 5, 6, 0), 5);
    assert_eq!(f.status(), STATUS);
}

#[test]
fn multiplication() {
    let mut f = fl(0);
    assert_eq!(mul(&mut f, 1, 0xff, 0xff), (0x01, 0xfe));
    assert!(f.cf() && f.of());
    assert_eq!(mul(&mut f, 2, 0x100, 0xff), (0xff00, 0));
    assert!(!f.cf() && !f.of());
    assert_eq!(mul(&mut f, 4, 0xffff_ffff, 0xffff_ffff), (1, 0xffff_fffe));
    assert_eq!(imul(&mut f, 1, 0xff, 0xff), (1, 0));
    assert!(!f.cf());
    assert_eq!(imul(&mut f, 1, 0x80, 0xff), (0x80, 0));
    assert!(f.cf() && f.of(), "128 does not fit in a signed byte");
    assert_eq!(imul(&mut f, 4, 0x8000_0000, 0xffff_ffff), (0x8000_0000, 0));
    assert!(f.cf());
    assert_eq!(imul_trunc(&mut f, 2, 0xffff, 0x8000), 0x8000);
    assert!(f.cf() && f.of());
    assert_eq!(imul_trunc(&mut f, 4, 0xffff_fffe, 3), 0xffff_fffa);
    assert!(!f.cf() && f.sf());
}

#[test]
fn division_and_divide_errors() {
    assert_eq!(div(1, 0x01, 0x00, 0x10), Ok((0x10, 0)));
    assert_eq!(div(1, 0x01, 0x00, 0x01), Err(Exception::DivideError));
    assert_eq!(div(2, 0, 7, 0), Err(Exception::DivideError));
    assert_eq!(
        div(4, 0xffff_fffe, 0xffff_ffff, 0xffff_ffff),
        Ok((0xffff_ffff, 0xffff_fffe))
    );
    assert_eq!(
        div(4, 0xffff_ffff, 0, 0xffff_ffff),
        Err(Exception::DivideError)
    );
    // -7 / 2 = -3 remainder -1
    assert_eq!(idiv(2, 0xffff, 0xfff9, 2), Ok((0xfffd, 0xffff)));
    assert_eq!(idiv(1, 0xff, 0x80, 1), Ok((0x80, 0)), "-128 fits");
    assert_eq!(
        idiv(1, 0x00, 0x80, 1),
        Err(Exception::DivideError),
        "+128 does not"
    );
    assert_eq!(
        idiv(4, 0x8000_0000, 0, 0xffff_ffff),
        Err(Exception::DivideError)
    );
    assert_eq!(
        idiv(4, 0xffff_ffff, 0x8000_0000, 0xffff_ffff),
        Err(Exception::DivideError)
    );
    assert_eq!(idiv(4, 0, 5, 0), Err(Exception::DivideError));
}

#[test]
fn bcd_adjustments() {
    // 0x19 + 0x28 = 0x41 with AF: DAA gives 0x47.
    let mut f = fl(0);
    let sum = add(&mut f, 1, 0x19, 0x28);
    assert_eq!(daa(&mut f, sum as u8), 0x47);
    assert!(!f.cf() && f.af());
    // 0x99 + 0x01 = 0x9a: DAA gives 0x00 with CF.
    let sum = add(&mut f, 1, 0x99, 0x01);
    assert_eq!(daa(&mut f, sum as u8), 0x00);
    assert!(f.cf() && f.zf() && f.pf());
    // 0x10 - 0x01 = 0x0f with AF: DAS gives 0x09.
    let diff = sub(&mut f, 1, 0x10, 0x01);
    assert_eq!(das(&mut f, diff as u8), 0x09);
    assert!(!f.cf() && f.af());
    // 0x00 - 0x01 = 0xff with CF and AF: DAS gives 0x99 with CF.
    let diff = sub(&mut f, 1, 0x00, 0x01);
    assert_eq!(das(&mut f, diff as u8), 0x99);
    assert!(f.cf() && f.sf());
    // AAA: '9' + '5' = 0x6e: AX 0x006e -> 0x0104.
    let mut f = fl(0);
    assert_eq!(aaa(&mut f, 0x006e), 0x0104);
    assert!(f.cf() && f.af());
    assert_eq!(
        aaa(&mut f, 0x0203),
        0x0309,
        "AF is set from the previous AAA"
    );
    let mut f = fl(0);
    assert_eq!(aaa(&mut f, 0x0203), 0x0203);
    assert!(!f.cf() && !f.af());
    // AAS: 0x0102 - 0x05 = AX 0x01fd -> 0x0007.
    let mut f = fl(AF);
    assert_eq!(aas(&mut f, 0x01fd), 0x0007);
    assert!(f.cf() && f.af());
    let mut f = fl(0);
    assert_eq!(aam(&mut f, 63, 10), Ok(0x0603));
    assert!(!f.zf() && f.pf());
    assert_eq!(aam(&mut f, 63, 0), Err(Exception::DivideError));
    assert_eq!(aam(&mut f, 0, 10), Ok(0));
    assert!(f.zf());
    assert_eq!(aad(&mut f, 0x0603, 10), 63);
    assert!(!f.zf() && !f.cf());
    assert_eq!(aad(&mut f, 0xff01, 16), 0xf1);
    assert!(f.sf());
}

#[test]
fn bcd_every_input_matches_the_decimal_meaning() {
    // For every pair of packed-BCD bytes, ADD + DAA and SUB + DAS give the decimal
    // sum and difference (mod 100) with CF as the decimal carry/borrow.
    let dec = |v: u32| (v >> 4) * 10 + (v & 0xf);
    for x in (0..100u32).map(|d| ((d / 10) << 4) | (d % 10)) {
        for y in (0..100u32).map(|d| ((d / 10) << 4) | (d % 10)) {
            let mut f = fl(0);
            let sum = add(&mut f, 1, x, y);
            let adj = daa(&mut f, sum as u8) as u32;
            let total = dec(x) + dec(y);
            assert_eq!(
                (dec(adj), f.cf()),
                (total % 100, total >= 100),
                "{x:x}+{y:x}"
            );
            let diff = sub(&mut f, 1, x, y);
            let adj = das(&mut f, diff as u8) as u32;
            let want = (dec(x) + 100 - dec(y)) % 100;
            assert_eq!((dec(adj), f.cf()), (want, dec(x) < dec(y)), "{x:x}-{y:x}");
        }
    }
}

#[test]
fn bit_scans_and_tests() {
    let mut f = fl(0);
    assert_eq!(bsf(&mut f, 4, 0x0001_0000), Some(16));
    assert!(!f.zf());
    assert_eq!(bsr(&mut f, 2, 0x0001_8000), Some(15));
    assert_eq!(
        bsf(&mut f, 2, 0x0001_0000),
        None,
        "source masked to 16 bits"
    );
    assert!(f.zf());
    assert_eq!(bsr(&mut f, 4, 1), Some(0));
    assert!(!f.zf(), "index 0 is not a zero source");
    let mut f = fl(ZF);
    bt(&mut f, 0x8000_0000, 63);
    assert!(f.cf() && f.zf());
    assert_eq!(bts(&mut f, 0, 33), 2);
    assert!(!f.cf());
    assert_eq!(btr(&mut f, 0xff, 7), 0x7f);
    assert!(f.cf());
    assert_eq!(btc(&mut f, 0xff, 8), 0x1ff);
    assert!(!f.cf());
}

#[test]
fn flags_stay_small() {
    assert!(core::mem::size_of::<Flags>() <= 20);
}

#[test]
fn size_helpers() {
    assert_eq!((mask(1), mask(2), mask(4)), (0xff, 0xffff, 0xffff_ffff));
    assert_eq!((sign(1), sign(2), sign(4)), (0x80, 0x8000, 0x8000_0000));
}

#[test]
fn sizes_other_than_1_2_4_behave_as_4_without_panicking() {
    let values = [0u32, 1, 0x7f, 0x80, 0xffff, 0x8000_0000, 0xffff_ffff];
    for size in [0u8, 3, 8, 255] {
        for &a in &values {
            for &b in &values {
                let (mut f, mut g) = (fl(CF | AF), fl(CF | AF));
                assert_eq!(add(&mut f, size, a, b), add(&mut g, 4, a, b));
                assert_eq!(sbb(&mut f, size, a, b), sbb(&mut g, 4, a, b));
                assert_eq!(imul(&mut f, size, a, b), imul(&mut g, 4, a, b));
                assert_eq!(mul(&mut f, size, a, b), mul(&mut g, 4, a, b));
                assert_eq!(div(size, a, b, a | 1), div(4, a, b, a | 1));
                assert_eq!(idiv(size, a, b, b), idiv(4, a, b, b));
                assert_eq!(bsr(&mut f, size, a), bsr(&mut g, 4, a));
                for count in [0u8, 1, 31, 32, 33, 255] {
                    assert_eq!(rcl(&mut f, size, a, count), rcl(&mut g, 4, a, count));
                    assert_eq!(rcr(&mut f, size, a, count), rcr(&mut g, 4, a, count));
                    assert_eq!(sar(&mut f, size, a, count), sar(&mut g, 4, a, count));
                    assert_eq!(shr(&mut f, size, a, count), shr(&mut g, 4, a, count));
                    assert_eq!(ror(&mut f, size, a, count), ror(&mut g, 4, a, count));
                    assert_eq!(
                        shld(&mut f, size, a, b, count),
                        shld(&mut g, 4, a, b, count)
                    );
                    assert_eq!(
                        shrd(&mut f, size, a, b, count),
                        shrd(&mut g, 4, a, b, count)
                    );
                }
                assert_eq!(f, g);
            }
        }
    }
}
