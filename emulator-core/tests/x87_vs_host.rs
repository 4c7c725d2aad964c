//! Differential test of the x87's soft 80-bit arithmetic against the host's own x87:
//! each operation runs as the real instruction (inline assembly, every exception
//! masked) on edge values and pseudo-random operands, under every precision and
//! rounding control, and the result's bits, the exception flags and C1 must match.
#![cfg(target_arch = "x86_64")]
#![allow(unsafe_code)]

use core::arch::asm;
use emulator_core::x87::{Ctx, Rounded, F80};

#[allow(dead_code)] // this test uses only the generator
mod common;
use common::Rng;

impl Rng {
    /// An operand: mostly normal numbers near 1, with edge cases mixed in.
    fn f80(&mut self) -> F80 {
        let r = self.next();
        let m = self.next();
        let sign = r & 1 != 0;
        match (r >> 1) % 16 {
            0 => F80::new(sign, 0, 0),
            1 => F80::new(sign, 0x7fff, 1 << 63),
            2 => F80::new(sign, 0x7fff, (1 << 63) | (1 << 62) | (m >> 3)), // QNaN
            3 => F80::new(sign, 0x7fff, (1 << 63) | ((m >> 3) | 1)),       // SNaN
            4 => F80::new(sign, 0, m >> 1),                                // denormal
            5 => F80::new(sign, 1 + (r >> 8) as u16 % 64, m | 1 << 63),    // tiny
            6 => F80::new(sign, 0x7ffe - (r >> 8) as u16 % 64, m | 1 << 63), // huge
            7 => F80::new(sign, 0x3fff, (1 << 63) | (m & 0xffff)),         // near 1
            8 => F80::new(sign, 0x3fff + (r >> 8) as u16 % 3, u64::MAX - (m & 0xff)),
            _ => F80::new(sign, 0x3fff - 32 + (r >> 8) as u16 % 64, m | 1 << 63),
        }
    }
}

/// Random cases per operation and control word: `VMLAB_X87_CASES` (3000 by default).
fn cases() -> usize {
    std::env::var("VMLAB_X87_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Every precision × rounding control, all exceptions masked.
fn control_words() -> Vec<u16> {
    let mut v = Vec::new();
    for pc in [0u16, 2, 3] {
        for rc in 0..4u16 {
            v.push(0x3f | pc << 8 | rc << 10);
        }
    }
    v
}

/// Result bits, exception flags (IE…PE) and C1 on the host.
unsafe fn host_binary(op: u8, a: F80, b: F80, cw: u16) -> ([u8; 10], u16) {
    let (ab, bb) = (a.to_bytes(), b.to_bytes());
    let mut out = [0u8; 10];
    let sw: u16;
    macro_rules! run {
        ($ins:literal) => {
            asm!(
                "fninit",
                "fldcw word ptr [{cw}]",
                "fld tbyte ptr [{b}]",
                "fld tbyte ptr [{a}]",
                $ins,
                "fnstsw ax",
                "fstp tbyte ptr [{out}]",
                "fstp st(0)",
                cw = in(reg) &cw,
                a = in(reg) ab.as_ptr(),
                b = in(reg) bb.as_ptr(),
                out = in(reg) out.as_mut_ptr(),
                out("ax") sw,
            )
        };
    }
    match op {
        0 => run!("fadd st(0), st(1)"),
        1 => run!("fsub st(0), st(1)"),
        2 => run!("fmul st(0), st(1)"),
        3 => run!("fdiv st(0), st(1)"),
        4 => run!("fsqrt"),
        5 => run!("frndint"),
        _ => run!("fprem"),
    }
    (out, sw)
}

fn ours(op: u8, a: F80, b: F80, cw: u16) -> (Rounded<F80>, u8) {
    let ctx = Ctx::from_cw(cw);
    let r = match op {
        0 => a.add(b, ctx),
        1 => a.sub(b, ctx),
        2 => a.mul(b, ctx),
        3 => a.div(b, ctx),
        4 => a.sqrt(ctx),
        5 => a.round_int(ctx.round),
        _ => {
            let (r, q, _) = a.rem(b, false);
            return (r, q);
        }
    };
    (r, 0)
}

const NAMES: [&str; 7] = ["fadd", "fsub", "fmul", "fdiv", "fsqrt", "frndint", "fprem"];

fn check(op: u8, a: F80, b: F80, cw: u16) {
    let (host, sw) = unsafe { host_binary(op, a, b, cw) };
    let (r, q) = ours(op, a, b, cw);
    let host_v = F80::from_bytes(host);
    let name = NAMES[op as usize];
    let same_value = host_v == r.value;
    let host_flags = sw & 0x3f;
    assert!(
        same_value,
        "{name} {a:?} {b:?} cw={cw:#06x}: host {host_v:?}, vmlab {:?}",
        r.value
    );
    assert_eq!(
        r.flags & 0x3f,
        host_flags,
        "{name} {a:?} {b:?} cw={cw:#06x}: flags (result {host_v:?})"
    );
    if op == 6 {
        // FPREM's quotient bits: C0 = q2, C3 = q1, C1 = q0.
        let host_q = ((sw >> 8) & 1) << 2 | ((sw >> 14) & 1) << 1 | ((sw >> 9) & 1);
        assert_eq!(q as u16, host_q, "fprem {a:?} {b:?}: quotient bits");
    } else {
        let c1 = sw & (1 << 9) != 0;
        assert_eq!(
            r.up && r.flags & 0x20 != 0,
            c1,
            "{name} {a:?} {b:?} cw={cw:#06x}: C1"
        );
    }
}

#[test]
fn arithmetic_matches_the_host_x87() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for cw in control_words() {
        for op in 0..6u8 {
            for _ in 0..cases() {
                let (a, b) = (rng.f80(), rng.f80());
                check(op, a, b, cw);
            }
        }
    }
}

#[test]
fn partial_remainder_matches_the_host_x87_within_64_exponent_steps() {
    let mut rng = Rng(7);
    for _ in 0..cases() * 7 {
        let (a, b) = (rng.f80(), rng.f80());
        let near = |v: F80| v.exp > 0 && v.exp < 0x7fff && v.mant >> 63 == 1;
        if near(a) && near(b) && (a.exp as i32 - b.exp as i32) < 64 {
            check(6, a, b, 0x37f);
        }
    }
}

unsafe fn host_store(a: F80, cw: u16) -> (u64, u16, u32, u16, i64, u16) {
    let ab = a.to_bytes();
    let (mut d, mut f, mut i): (u64, u32, i64) = (0, 0, 0);
    let (sd, sf, si): (u16, u16, u16);
    asm!(
        "fninit", "fldcw word ptr [{cw}]", "fld tbyte ptr [{a}]", "fstp qword ptr [{d}]", "fnstsw ax",
        cw = in(reg) &cw, a = in(reg) ab.as_ptr(), d = in(reg) &mut d, out("ax") sd,
    );
    asm!(
        "fninit", "fldcw word ptr [{cw}]", "fld tbyte ptr [{a}]", "fstp dword ptr [{f}]", "fnstsw ax",
        cw = in(reg) &cw, a = in(reg) ab.as_ptr(), f = in(reg) &mut f, out("ax") sf,
    );
    asm!(
        "fninit", "fldcw word ptr [{cw}]", "fld tbyte ptr [{a}]", "fistp qword ptr [{i}]", "fnstsw ax",
        cw = in(reg) &cw, a = in(reg) ab.as_ptr(), i = in(reg) &mut i, out("ax") si,
    );
    (d, sd, f, sf, i, si)
}

#[test]
fn stores_to_double_single_and_integer_match_the_host_x87() {
    let mut rng = Rng(42);
    for cw in control_words() {
        let ctx = Ctx::from_cw(cw);
        for _ in 0..cases() {
            let a = rng.f80();
            let (d, sd, f, sf, i, si) = unsafe { host_store(a, cw) };
            let od = a.to_f64(ctx);
            assert_eq!(
                (od.value, od.flags & 0x3f),
                (d, sd & 0x3f),
                "fstp m64 {a:?} cw={cw:#06x}"
            );
            let of = a.to_f32(ctx);
            assert_eq!(
                (of.value, of.flags & 0x3f),
                (f, sf & 0x3f),
                "fstp m32 {a:?} cw={cw:#06x}"
            );
            let oi = a.to_int(64, ctx.round);
            assert_eq!(
                (oi.value, oi.flags & 0x3f),
                (i, si & 0x3f),
                "fistp m64 {a:?} cw={cw:#06x}"
            );
        }
    }
}

#[test]
fn loads_of_doubles_and_singles_match_the_host_x87() {
    let mut rng = Rng(99);
    for _ in 0..cases() * 7 {
        let bits = rng.next();
        let (mut out_d, mut out_f) = ([0u8; 10], [0u8; 10]);
        let f = bits as u32;
        let (sd, sf): (u16, u16);
        unsafe {
            asm!("fninit", "fld qword ptr [{v}]", "fnstsw ax", "fstp tbyte ptr [{o}]",
                v = in(reg) &bits, o = in(reg) out_d.as_mut_ptr(), out("ax") sd);
            asm!("fninit", "fld dword ptr [{v}]", "fnstsw ax", "fstp tbyte ptr [{o}]",
                v = in(reg) &f, o = in(reg) out_f.as_mut_ptr(), out("ax") sf);
        }
        let od = F80::from_f64(f64::from_bits(bits));
        assert_eq!(
            (od.value.to_bytes(), od.flags),
            (out_d, sd & 0x3f),
            "fld m64 {bits:#x}"
        );
        let of = F80::from_f32(f32::from_bits(f));
        assert_eq!(
            (of.value.to_bytes(), of.flags),
            (out_f, sf & 0x3f),
            "fld m32 {f:#x}"
        );
    }
}
