//! Differential test of the ALU against the host CPU: every operation runs as the real
//! x86 instruction (inline assembly, flags set with POPF and read with PUSHF) on edge
//! values and pseudo-random operands, and the result and every flag the Intel SDM
//! defines for that instruction must match. Flags the SDM leaves undefined are masked
//! out, since vmlab's choices for them (documented on the `alu` module) need not match
//! this host's vendor.
//!
//! The BCD instructions do not exist in 64-bit mode; they run in a 32-bit compatibility
//! code segment entered with a far return (Linux's user `CS` 0x23). Set
//! `VMLAB_NO_COMPAT32=1` to skip that part on a kernel without 32-bit support. That part
//! uses Linux's mmap flags and segment selectors and is built on Linux only.
#![cfg(target_arch = "x86_64")]
#![allow(unsafe_code)]

use core::arch::asm;
use emulator_core::alu::{self, Flags};
use emulator_core::state::flags::{AF, CF, OF, PF, SF, STATUS, ZF};
use emulator_core::Exception;

/// EFLAGS bits always set on the way in: reserved bit 1 and IF (user mode keeps it).
const BASE_EFLAGS: u64 = 0x202;

#[allow(dead_code)] // this test uses only the generator
mod common;
use common::Rng;

impl Rng {
    /// A value with a mix of magnitudes: small, around a power of two, or uniform.
    fn operand(&mut self) -> u32 {
        let r = self.next();
        let v = (r >> 32) as u32;
        match r & 7 {
            0 => v & 0xf,
            1 => (1u32 << (v & 31))
                .wrapping_add((v >> 5) & 3)
                .wrapping_sub(2),
            2 => v & 0xff,
            3 => v | 0x8000_0000,
            _ => v,
        }
    }
    /// Random status flags.
    fn flags(&mut self) -> u32 {
        self.next() as u32 & STATUS
    }
}

const EDGES: [u32; 26] = [
    0,
    1,
    2,
    0x09,
    0x0a,
    0x0f,
    0x10,
    0x7e,
    0x7f,
    0x80,
    0x81,
    0x99,
    0xfe,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0x8001,
    0xfffe,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_fffe,
    0xffff_ffff,
];

fn mask(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

fn flag_names(bits: u32) -> String {
    let names = [
        (CF, "CF"),
        (PF, "PF"),
        (AF, "AF"),
        (ZF, "ZF"),
        (SF, "SF"),
        (OF, "OF"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|&(_, n)| n)
        .collect();
    set.join("|")
}

/// Fails with a full description when results differ or a defined flag differs.
#[allow(clippy::too_many_arguments)]
fn check(
    what: &str,
    size: u8,
    inputs: &[u32],
    flags_in: u32,
    defined: u32,
    ours: (u32, u32),
    host: (u32, u32),
) {
    let flag_diff = (ours.1 ^ host.1) & defined;
    assert!(
        ours.0 == host.0 && flag_diff == 0,
        "{what} size {size} inputs {inputs:x?} flags in [{}]: vmlab {:#x} [{}], host {:#x} [{}], differing defined flags [{}]",
        flag_names(flags_in),
        ours.0,
        flag_names(ours.1),
        host.0,
        flag_names(host.1),
        flag_names(flag_diff),
    );
}

/// The lazily evaluated accessors and conditions agree with the materialised flags.
fn assert_consistent(what: &str, f: &Flags) {
    let st = f.status();
    let got = [f.cf(), f.pf(), f.af(), f.zf(), f.sf(), f.of()];
    let want = [CF, PF, AF, ZF, SF, OF].map(|b| st & b != 0);
    assert_eq!(
        got,
        want,
        "{what}: accessors disagree with status [{}]",
        flag_names(st)
    );
    let materialised = Flags::from_eflags(st);
    for cc in 0..16 {
        assert_eq!(
            f.cond(cc),
            materialised.cond(cc),
            "{what}: cond {cc:#x} lazy vs materialised"
        );
    }
}

/// Operand pairs for one size: every pair of edge values, then `random` random pairs.
fn pairs(rng: &mut Rng, size: u8, random: usize) -> Vec<(u32, u32)> {
    let m = mask(size);
    let mut v: Vec<(u32, u32)> = EDGES
        .iter()
        .flat_map(|&a| EDGES.iter().map(move |&b| (a & m, b & m)))
        .collect();
    v.extend((0..random).map(|_| (rng.operand() & m, rng.operand() & m)));
    v
}

// ---------------------------------------------------------------------------------
// Host instruction runners. Each returns (result, status flags after).

/// `insn dst, src` on registers of `size` bytes.
macro_rules! host_binary {
    ($insn:literal, $size:expr, $a:expr, $b:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let r: u32 = match $size {
            1 => {
                let mut x = $a as u8;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x}, {y}"), "pushfq", "pop {f}",
                        x = inout(reg_byte) x, y = in(reg_byte) $b as u8, f = inout(reg) fl);
                }
                x as u32
            }
            2 => {
                let mut x = $a as u16;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:x}, {y:x}"), "pushfq", "pop {f}",
                        x = inout(reg) x, y = in(reg) $b as u16, f = inout(reg) fl);
                }
                x as u32
            }
            _ => {
                let mut x = $a as u32;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:e}, {y:e}"), "pushfq", "pop {f}",
                        x = inout(reg) x, y = in(reg) $b as u32, f = inout(reg) fl);
                }
                x
            }
        };
        (r, fl as u32 & STATUS)
    }};
}

/// `insn dst, src` on registers of 2 or 4 bytes (instructions without a byte form).
macro_rules! host_binary_wide {
    ($insn:literal, $size:expr, $a:expr, $b:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let r: u32 = if $size == 2 {
            let mut x = $a as u16;
            // SAFETY: the asm reads and writes only its declared operands and EFLAGS, and
            // pops what it pushes.
            unsafe {
                asm!("push {f}", "popfq", concat!($insn, " {x:x}, {y:x}"), "pushfq", "pop {f}",
                    x = inout(reg) x, y = in(reg) $b as u16, f = inout(reg) fl);
            }
            x as u32
        } else {
            let mut x = $a as u32;
            // SAFETY: the asm reads and writes only its declared operands and EFLAGS, and
            // pops what it pushes.
            unsafe {
                asm!("push {f}", "popfq", concat!($insn, " {x:e}, {y:e}"), "pushfq", "pop {f}",
                    x = inout(reg) x, y = in(reg) $b as u32, f = inout(reg) fl);
            }
            x
        };
        (r, fl as u32 & STATUS)
    }};
}

/// `insn dst` on a register of `size` bytes.
macro_rules! host_unary {
    ($insn:literal, $size:expr, $a:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let r: u32 = match $size {
            1 => {
                let mut x = $a as u8;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x}"), "pushfq", "pop {f}",
                        x = inout(reg_byte) x, f = inout(reg) fl);
                }
                x as u32
            }
            2 => {
                let mut x = $a as u16;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:x}"), "pushfq", "pop {f}",
                        x = inout(reg) x, f = inout(reg) fl);
                }
                x as u32
            }
            _ => {
                let mut x = $a as u32;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:e}"), "pushfq", "pop {f}",
                        x = inout(reg) x, f = inout(reg) fl);
                }
                x
            }
        };
        (r, fl as u32 & STATUS)
    }};
}

/// `insn dst, cl` on a register of `size` bytes.
macro_rules! host_shift {
    ($insn:literal, $size:expr, $a:expr, $count:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let r: u32 = match $size {
            1 => {
                let mut x = $a as u8;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x}, cl"), "pushfq", "pop {f}",
                        x = inout(reg_byte) x, in("cl") $count, f = inout(reg) fl);
                }
                x as u32
            }
            2 => {
                let mut x = $a as u16;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:x}, cl"), "pushfq", "pop {f}",
                        x = inout(reg) x, in("cl") $count, f = inout(reg) fl);
                }
                x as u32
            }
            _ => {
                let mut x = $a as u32;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {x:e}, cl"), "pushfq", "pop {f}",
                        x = inout(reg) x, in("cl") $count, f = inout(reg) fl);
                }
                x
            }
        };
        (r, fl as u32 & STATUS)
    }};
}

/// `insn dst, src, cl` (SHLD/SHRD) on registers of 2 or 4 bytes.
macro_rules! host_double_shift {
    ($insn:literal, $size:expr, $a:expr, $b:expr, $count:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let r: u32 = if $size == 2 {
            let mut x = $a as u16;
            // SAFETY: the asm reads and writes only its declared operands and EFLAGS, and
            // pops what it pushes.
            unsafe {
                asm!("push {f}", "popfq", concat!($insn, " {x:x}, {y:x}, cl"), "pushfq", "pop {f}",
                    x = inout(reg) x, y = in(reg) $b as u16, in("cl") $count, f = inout(reg) fl);
            }
            x as u32
        } else {
            let mut x = $a as u32;
            // SAFETY: the asm reads and writes only its declared operands and EFLAGS, and
            // pops what it pushes.
            unsafe {
                asm!("push {f}", "popfq", concat!($insn, " {x:e}, {y:e}, cl"), "pushfq", "pop {f}",
                    x = inout(reg) x, y = in(reg) $b as u32, in("cl") $count, f = inout(reg) fl);
            }
            x
        };
        (r, fl as u32 & STATUS)
    }};
}

/// One-operand MUL/IMUL: ((low, high), flags).
macro_rules! host_widening_mul {
    ($insn:literal, $size:expr, $a:expr, $b:expr, $flags:expr) => {{
        let mut fl: u64 = ($flags & STATUS) as u64 | BASE_EFLAGS;
        let (lo, hi): (u32, u32) = match $size {
            1 => {
                let mut ax = $a as u16 & 0xff;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {y}"), "pushfq", "pop {f}",
                        inout("ax") ax, y = in(reg_byte) $b as u8, f = inout(reg) fl);
                }
                (ax as u32 & 0xff, (ax >> 8) as u32)
            }
            2 => {
                let mut ax = $a as u16;
                let dx: u16;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {y:x}"), "pushfq", "pop {f}",
                        inout("ax") ax, out("dx") dx, y = in(reg) $b as u16, f = inout(reg) fl);
                }
                (ax as u32, dx as u32)
            }
            _ => {
                let mut eax = $a as u32;
                let edx: u32;
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!("push {f}", "popfq", concat!($insn, " {y:e}"), "pushfq", "pop {f}",
                        inout("eax") eax, out("edx") edx, y = in(reg) $b as u32, f = inout(reg) fl);
                }
                (eax, edx)
            }
        };
        ((lo, hi), fl as u32 & STATUS)
    }};
}

/// DIV/IDIV (only called with operands that do not fault): (quotient, remainder).
macro_rules! host_divide {
    ($insn:literal, $size:expr, $hi:expr, $lo:expr, $d:expr) => {{
        match $size {
            1 => {
                let mut ax = (($hi as u16 & 0xff) << 8) | ($lo as u16 & 0xff);
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!(concat!($insn, " {y}"), inout("ax") ax, y = in(reg_byte) $d as u8);
                }
                (ax as u32 & 0xff, (ax >> 8) as u32)
            }
            2 => {
                let (mut ax, mut dx) = ($lo as u16, $hi as u16);
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!(concat!($insn, " {y:x}"), inout("ax") ax, inout("dx") dx, y = in(reg) $d as u16);
                }
                (ax as u32, dx as u32)
            }
            _ => {
                let (mut eax, mut edx) = ($lo as u32, $hi as u32);
                // SAFETY: the asm reads and writes only its declared operands and EFLAGS,
                // and pops what it pushes.
                unsafe {
                    asm!(concat!($insn, " {y:e}"), inout("eax") eax, inout("edx") edx, y = in(reg) $d as u32);
                }
                (eax, edx)
            }
        }
    }};
}

// ---------------------------------------------------------------------------------
// The tests.

type BinaryOp = fn(&mut Flags, u8, u32, u32) -> u32;

#[test]
fn binary_arithmetic_and_logic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let all = STATUS;
    let logic = STATUS & !AF;
    let mut cases = 0usize;
    for size in [1u8, 2, 4] {
        for (a, b) in pairs(&mut rng, size, 2500) {
            for fl in [0, STATUS, rng.flags()] {
                let ops: [(&str, BinaryOp, u32); 7] = [
                    ("add", alu::add, all),
                    ("adc", alu::adc, all),
                    ("sub", alu::sub, all),
                    ("sbb", alu::sbb, all),
                    ("and", alu::and, logic),
                    ("or", alu::or, logic),
                    ("xor", alu::xor, logic),
                ];
                for (name, op, defined) in ops {
                    let mut f = Flags::from_eflags(fl);
                    let r = op(&mut f, size, a, b);
                    let host = match name {
                        "add" => host_binary!("add", size, a, b, fl),
                        "adc" => host_binary!("adc", size, a, b, fl),
                        "sub" => host_binary!("sub", size, a, b, fl),
                        "sbb" => host_binary!("sbb", size, a, b, fl),
                        "and" => host_binary!("and", size, a, b, fl),
                        "or" => host_binary!("or", size, a, b, fl),
                        _ => host_binary!("xor", size, a, b, fl),
                    };
                    check(name, size, &[a, b], fl, defined, (r, f.status()), host);
                    assert_consistent(name, &f);
                    cases += 1;
                }
                let mut f = Flags::from_eflags(fl);
                alu::cmp(&mut f, size, a, b);
                let host = host_binary!("cmp", size, a, b, fl);
                check("cmp", size, &[a, b], fl, all, (a, f.status()), host);
                let mut f = Flags::from_eflags(fl);
                alu::test(&mut f, size, a, b);
                let host = host_binary!("test", size, a, b, fl);
                check("test", size, &[a, b], fl, logic, (a, f.status()), host);
                cases += 2;
            }
        }
    }
    assert!(cases > 100_000, "{cases} cases");
}

#[test]
fn unary_inc_dec_neg() {
    let mut rng = Rng(0x0bad_cafe_f00d_1234);
    for size in [1u8, 2, 4] {
        let m = mask(size);
        let values: Vec<u32> = EDGES
            .iter()
            .copied()
            .chain((0..3000).map(|_| rng.operand()))
            .map(|v| v & m)
            .collect();
        for a in values {
            for fl in [0, STATUS, rng.flags()] {
                let mut f = Flags::from_eflags(fl);
                let r = alu::inc(&mut f, size, a);
                check(
                    "inc",
                    size,
                    &[a],
                    fl,
                    STATUS,
                    (r, f.status()),
                    host_unary!("inc", size, a, fl),
                );
                assert_consistent("inc", &f);
                let mut f = Flags::from_eflags(fl);
                let r = alu::dec(&mut f, size, a);
                check(
                    "dec",
                    size,
                    &[a],
                    fl,
                    STATUS,
                    (r, f.status()),
                    host_unary!("dec", size, a, fl),
                );
                assert_consistent("dec", &f);
                let mut f = Flags::from_eflags(fl);
                let r = alu::neg(&mut f, size, a);
                check(
                    "neg",
                    size,
                    &[a],
                    fl,
                    STATUS,
                    (r, f.status()),
                    host_unary!("neg", size, a, fl),
                );
                assert_consistent("neg", &f);
            }
        }
    }
}

type ShiftOp = fn(&mut Flags, u8, u32, u8) -> u32;

/// The flags the SDM defines after a shift or rotate by the raw `count`.
fn shift_defined(name: &str, size: u8, count: u8) -> u32 {
    let c = count & 31;
    let width = size as u32 * 8;
    if c == 0 {
        return STATUS; // nothing changes
    }
    let of = if c == 1 { OF } else { 0 };
    match name {
        // SZP from the result, CF the last bit out (undefined for SHL/SHR once the
        // count reaches the width), AF undefined.
        "shl" | "shr" => {
            let cf = if (c as u32) < width { CF } else { 0 };
            cf | of | SF | ZF | PF
        }
        "sar" => CF | of | SF | ZF | PF,
        // Rotates: CF defined, OF for count 1, SF ZF AF PF unaffected.
        _ => CF | of | SF | ZF | AF | PF,
    }
}

#[test]
fn shifts_and_rotates() {
    let mut rng = Rng(0x5eed_0000_0000_0001);
    let ops: [(&str, ShiftOp); 7] = [
        ("shl", alu::shl),
        ("shr", alu::shr),
        ("sar", alu::sar),
        ("rol", alu::rol),
        ("ror", alu::ror),
        ("rcl", alu::rcl),
        ("rcr", alu::rcr),
    ];
    let mut cases = 0usize;
    for size in [1u8, 2, 4] {
        let m = mask(size);
        let mut inputs: Vec<(u32, u8)> = Vec::new();
        for &v in &EDGES {
            for count in (0u8..=40).chain([63, 64, 65, 200, 255]) {
                inputs.push((v & m, count));
            }
        }
        inputs.extend((0..6000).map(|_| (rng.operand() & m, rng.next() as u8)));
        for (v, count) in inputs {
            for fl in [0, STATUS, rng.flags()] {
                for (name, op) in ops {
                    let mut f = Flags::from_eflags(fl);
                    let r = op(&mut f, size, v, count);
                    let host = match name {
                        "shl" => host_shift!("shl", size, v, count, fl),
                        "shr" => host_shift!("shr", size, v, count, fl),
                        "sar" => host_shift!("sar", size, v, count, fl),
                        "rol" => host_shift!("rol", size, v, count, fl),
                        "ror" => host_shift!("ror", size, v, count, fl),
                        "rcl" => host_shift!("rcl", size, v, count, fl),
                        _ => host_shift!("rcr", size, v, count, fl),
                    };
                    let defined = shift_defined(name, size, count);
                    check(
                        name,
                        size,
                        &[v, count as u32],
                        fl,
                        defined,
                        (r, f.status()),
                        host,
                    );
                    assert_consistent(name, &f);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 100_000, "{cases} cases");
}

#[test]
fn double_precision_shifts() {
    let mut rng = Rng(0xd0b1_e5f1_f7a0_0001);
    for size in [2u8, 4] {
        let m = mask(size);
        let width = size * 8;
        let mut inputs: Vec<(u32, u32, u8)> = Vec::new();
        for &a in &EDGES {
            for &b in &[0u32, 1, 0x8000_0001, 0xffff_ffff, 0x1234_5678] {
                for count in (0u8..=33).chain([64, 255]) {
                    inputs.push((a & m, b & m, count));
                }
            }
        }
        inputs.extend((0..8000).map(|_| (rng.operand() & m, rng.operand() & m, rng.next() as u8)));
        for (a, b, count) in inputs {
            let c = count & 31;
            if c > width {
                continue; // result and flags undefined (16-bit count above 16)
            }
            let defined = match c {
                0 => STATUS,
                1 => CF | OF | SF | ZF | PF,
                _ => CF | SF | ZF | PF,
            };
            for fl in [0, STATUS, rng.flags()] {
                let mut f = Flags::from_eflags(fl);
                let r = alu::shld(&mut f, size, a, b, count);
                let host = host_double_shift!("shld", size, a, b, count, fl);
                check(
                    "shld",
                    size,
                    &[a, b, count as u32],
                    fl,
                    defined,
                    (r, f.status()),
                    host,
                );
                let mut f = Flags::from_eflags(fl);
                let r = alu::shrd(&mut f, size, a, b, count);
                let host = host_double_shift!("shrd", size, a, b, count, fl);
                check(
                    "shrd",
                    size,
                    &[a, b, count as u32],
                    fl,
                    defined,
                    (r, f.status()),
                    host,
                );
            }
        }
    }
}

#[test]
fn multiplication() {
    let mut rng = Rng(0x3141_5926_5358_9793);
    // SF ZF AF PF are undefined after every multiplication.
    let defined = CF | OF;
    for size in [1u8, 2, 4] {
        for (a, b) in pairs(&mut rng, size, 5000) {
            let fl = rng.flags();
            let mut f = Flags::from_eflags(fl);
            let (lo, hi) = alu::mul(&mut f, size, a, b);
            let ((hlo, hhi), hfl) = host_widening_mul!("mul", size, a, b, fl);
            check(
                "mul lo",
                size,
                &[a, b],
                fl,
                defined,
                (lo, f.status()),
                (hlo, hfl),
            );
            check("mul hi", size, &[a, b], fl, 0, (hi, 0), (hhi, 0));
            let mut f = Flags::from_eflags(fl);
            let (lo, hi) = alu::imul(&mut f, size, a, b);
            let ((hlo, hhi), hfl) = host_widening_mul!("imul", size, a, b, fl);
            check(
                "imul lo",
                size,
                &[a, b],
                fl,
                defined,
                (lo, f.status()),
                (hlo, hfl),
            );
            check("imul hi", size, &[a, b], fl, 0, (hi, 0), (hhi, 0));
            let mut f = Flags::from_eflags(fl);
            let r = alu::imul_trunc(&mut f, size, a, b);
            if size == 1 {
                // No 8-bit two-operand form: compare with the widening one.
                check(
                    "imul_trunc",
                    size,
                    &[a, b],
                    fl,
                    defined,
                    (r, f.status()),
                    (hlo, hfl),
                );
            } else {
                let host = host_binary_wide!("imul", size, a, b, fl);
                check(
                    "imul_trunc",
                    size,
                    &[a, b],
                    fl,
                    defined,
                    (r, f.status()),
                    host,
                );
            }
        }
    }
}

/// Whether DIV/IDIV must raise #DE, from 128-bit arithmetic.
fn divide_faults(signed: bool, size: u8, hi: u32, lo: u32, d: u32) -> bool {
    let bits = size as u32 * 8;
    let m = mask(size) as u128;
    let raw = ((hi as u128 & m) << bits) | (lo as u128 & m);
    let d = d as u128 & m;
    if d == 0 {
        return true;
    }
    if !signed {
        return raw / d > m;
    }
    let sext = |v: u128, bits: u32| ((v << (128 - bits)) as i128) >> (128 - bits);
    let q = sext(raw, 2 * bits) / sext(d, bits);
    let limit = 1i128 << (bits - 1);
    q < -limit || q >= limit
}

#[test]
fn division() {
    let mut rng = Rng(0x2718_2818_2845_9045);
    let mut faults = 0usize;
    let mut ok = 0usize;
    for size in [1u8, 2, 4] {
        let m = mask(size);
        let mut inputs: Vec<(u32, u32, u32)> = Vec::new();
        for &hi in &[
            0u32,
            1,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0xffff,
            0x7fff_ffff,
            0xffff_ffff,
        ] {
            for (lo, d) in pairs(&mut rng, size, 0) {
                inputs.push((hi & m, lo, d));
            }
        }
        for _ in 0..20_000 {
            // A small high half (often no overflow) or its sign extension.
            let lo = rng.operand() & m;
            let hi = match rng.next() % 4 {
                0 => 0,
                1 => m,
                2 => rng.operand() & m & 0xf,
                _ => rng.operand() & m,
            };
            inputs.push((hi, lo, rng.operand() & m));
        }
        for (hi, lo, d) in inputs {
            for signed in [false, true] {
                let name = if signed { "idiv" } else { "div" };
                let ours = if signed {
                    alu::idiv(size, hi, lo, d)
                } else {
                    alu::div(size, hi, lo, d)
                };
                if divide_faults(signed, size, hi, lo, d) {
                    assert_eq!(
                        ours,
                        Err(Exception::DivideError),
                        "{name} size {size} {hi:#x}:{lo:#x} / {d:#x}"
                    );
                    faults += 1;
                    continue;
                }
                let host = if signed {
                    host_divide!("idiv", size, hi, lo, d)
                } else {
                    host_divide!("div", size, hi, lo, d)
                };
                assert_eq!(
                    ours,
                    Ok(host),
                    "{name} size {size} {hi:#x}:{lo:#x} / {d:#x}"
                );
                ok += 1;
            }
        }
    }
    assert!(
        faults > 1000 && ok > 50_000,
        "{faults} faults, {ok} quotients"
    );
}

#[test]
fn bit_scans_and_bit_tests() {
    let mut rng = Rng(0x1357_9bdf_2468_ace0);
    for size in [2u8, 4] {
        let m = mask(size);
        let values: Vec<u32> = EDGES
            .iter()
            .copied()
            .chain((0..5000).map(|_| rng.operand()))
            .chain((0..32).map(|i| 1 << i))
            .map(|v| v & m)
            .collect();
        for v in values {
            let fl = rng.flags();
            for reverse in [false, true] {
                let mut f = Flags::from_eflags(fl);
                let ours = if reverse {
                    alu::bsr(&mut f, size, v)
                } else {
                    alu::bsf(&mut f, size, v)
                };
                // The destination starts as a sentinel and is left unchanged for 0.
                let sentinel = 0x5a5a_5a5a & m;
                let host = if reverse {
                    host_binary_wide!("bsr", size, sentinel, v, fl)
                } else {
                    host_binary_wide!("bsf", size, sentinel, v, fl)
                };
                let name = if reverse { "bsr" } else { "bsf" };
                let r = ours.unwrap_or(sentinel);
                check(name, size, &[v], fl, ZF, (r, f.status()), host);
            }
        }
    }
    for _ in 0..20_000 {
        let (v, bit, fl) = (rng.operand(), rng.next() as u32, rng.flags());
        let inputs = [v, bit];
        // CF is the tested bit; ZF is unaffected; OF SF AF PF undefined.
        let defined = CF | ZF;
        let mut f = Flags::from_eflags(fl);
        alu::bt(&mut f, v, bit);
        check(
            "bt",
            4,
            &inputs,
            fl,
            defined,
            (v, f.status()),
            host_binary!("bt", 4, v, bit, fl),
        );
        let mut f = Flags::from_eflags(fl);
        let r = alu::bts(&mut f, v, bit);
        check(
            "bts",
            4,
            &inputs,
            fl,
            defined,
            (r, f.status()),
            host_binary!("bts", 4, v, bit, fl),
        );
        let mut f = Flags::from_eflags(fl);
        let r = alu::btr(&mut f, v, bit);
        check(
            "btr",
            4,
            &inputs,
            fl,
            defined,
            (r, f.status()),
            host_binary!("btr", 4, v, bit, fl),
        );
        let mut f = Flags::from_eflags(fl);
        let r = alu::btc(&mut f, v, bit);
        check(
            "btc",
            4,
            &inputs,
            fl,
            defined,
            (r, f.status()),
            host_binary!("btc", 4, v, bit, fl),
        );
    }
}

#[test]
fn condition_codes_match_the_host() {
    // SETcc on the host for every combination of the five flags the conditions read.
    for combo in 0u32..32 {
        let fl = [CF, PF, ZF, SF, OF]
            .iter()
            .enumerate()
            .filter(|(i, _)| combo & (1 << i) != 0)
            .fold(0, |acc, (_, &b)| acc | b);
        let f = Flags::from_eflags(fl);
        let mut host = [0u8; 16];
        let flags_in = fl as u64 | BASE_EFLAGS;
        // SAFETY: the SETcc stores write bytes 0 to 15 through `p`, which points to the
        // 16-byte `host`.
        unsafe {
            asm!(
                "push {f}", "popfq",
                "seto byte ptr [{p}]", "setno byte ptr [{p} + 1]",
                "setb byte ptr [{p} + 2]", "setae byte ptr [{p} + 3]",
                "sete byte ptr [{p} + 4]", "setne byte ptr [{p} + 5]",
                "setbe byte ptr [{p} + 6]", "seta byte ptr [{p} + 7]",
                "sets byte ptr [{p} + 8]", "setns byte ptr [{p} + 9]",
                "setp byte ptr [{p} + 10]", "setnp byte ptr [{p} + 11]",
                "setl byte ptr [{p} + 12]", "setge byte ptr [{p} + 13]",
                "setle byte ptr [{p} + 14]", "setg byte ptr [{p} + 15]",
                f = in(reg) flags_in, p = in(reg) host.as_mut_ptr(),
            );
        }
        for cc in 0u8..16 {
            assert_eq!(
                f.cond(cc),
                host[cc as usize] != 0,
                "cc {cc:#x} flags [{}]",
                flag_names(fl)
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Chains: flags that one operation leaves lazy are read and partly kept by the next.

/// The operations a chain is built from.
#[derive(Clone, Copy, Debug)]
enum ChainOp {
    Add,
    Adc,
    Sub,
    Sbb,
    Cmp,
    And,
    Test,
    Xor,
    Inc,
    Dec,
    Neg,
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
    Rcl,
    Rcr,
    Bts,
    Imul,
}

const CHAIN_OPS: [ChainOp; 20] = {
    use ChainOp::*;
    [
        Add, Adc, Sub, Sbb, Cmp, And, Test, Xor, Inc, Dec, Neg, Shl, Shr, Sar, Rol, Ror, Rcl, Rcr,
        Bts, Imul,
    ]
};

impl ChainOp {
    /// vmlab's result (the first operand for flags-only operations).
    fn ours(self, f: &mut Flags, size: u8, a: u32, b: u32) -> u32 {
        use ChainOp::*;
        let c = b as u8;
        match self {
            Add => alu::add(f, size, a, b),
            Adc => alu::adc(f, size, a, b),
            Sub => alu::sub(f, size, a, b),
            Sbb => alu::sbb(f, size, a, b),
            Cmp => {
                alu::cmp(f, size, a, b);
                a
            }
            And => alu::and(f, size, a, b),
            Test => {
                alu::test(f, size, a, b);
                a
            }
            Xor => alu::xor(f, size, a, b),
            Inc => alu::inc(f, size, a),
            Dec => alu::dec(f, size, a),
            Neg => alu::neg(f, size, a),
            Shl => alu::shl(f, size, a, c),
            Shr => alu::shr(f, size, a, c),
            Sar => alu::sar(f, size, a, c),
            Rol => alu::rol(f, size, a, c),
            Ror => alu::ror(f, size, a, c),
            Rcl => alu::rcl(f, size, a, c),
            Rcr => alu::rcr(f, size, a, c),
            Bts => alu::bts(f, a, b),
            Imul => alu::imul_trunc(f, size, a, b),
        }
    }

    /// The host's result and flags.
    fn host(self, size: u8, a: u32, b: u32, fl: u32) -> (u32, u32) {
        use ChainOp::*;
        let c = b as u8;
        match self {
            Add => host_binary!("add", size, a, b, fl),
            Adc => host_binary!("adc", size, a, b, fl),
            Sub => host_binary!("sub", size, a, b, fl),
            Sbb => host_binary!("sbb", size, a, b, fl),
            Cmp => host_binary!("cmp", size, a, b, fl),
            And => host_binary!("and", size, a, b, fl),
            Test => host_binary!("test", size, a, b, fl),
            Xor => host_binary!("xor", size, a, b, fl),
            Inc => host_unary!("inc", size, a, fl),
            Dec => host_unary!("dec", size, a, fl),
            Neg => host_unary!("neg", size, a, fl),
            Shl => host_shift!("shl", size, a, c, fl),
            Shr => host_shift!("shr", size, a, c, fl),
            Sar => host_shift!("sar", size, a, c, fl),
            Rol => host_shift!("rol", size, a, c, fl),
            Ror => host_shift!("ror", size, a, c, fl),
            Rcl => host_shift!("rcl", size, a, c, fl),
            Rcr => host_shift!("rcr", size, a, c, fl),
            Bts => host_binary!("bts", 4, a, b, fl),
            Imul => host_binary_wide!("imul", size, a, b, fl),
        }
    }

    /// Operand size: BTS is used at 32 bits, IMUL has no byte form here.
    fn size(self, size: u8) -> u8 {
        match self {
            ChainOp::Bts => 4,
            ChainOp::Imul if size == 1 => 2,
            _ => size,
        }
    }

    /// The flags defined after the operation, given those defined before it: the ones
    /// it sets as the SDM defines, plus the ones it leaves unchanged that were defined.
    fn defined_after(self, size: u8, b: u32, before: u32) -> u32 {
        use ChainOp::*;
        let c = b & 31;
        let keep = |kept: u32| kept & before;
        match self {
            Add | Adc | Sub | Sbb | Cmp | Neg => STATUS,
            And | Test | Xor => STATUS & !AF,
            Inc | Dec => (STATUS & !CF) | keep(CF),
            Imul => CF | OF,
            Bts => CF | keep(ZF),
            _ if c == 0 => before,
            Shl | Shr => {
                let cf = if c < size as u32 * 8 { CF } else { 0 };
                cf | if c == 1 { OF } else { 0 } | SF | ZF | PF
            }
            Sar => CF | if c == 1 { OF } else { 0 } | SF | ZF | PF,
            Rol | Ror | Rcl | Rcr => CF | if c == 1 { OF } else { 0 } | keep(SF | ZF | AF | PF),
        }
    }
}

#[test]
fn chains_of_lazy_operations() {
    // Each operation starts from the flags the previous one left (lazy in vmlab); the
    // host runs it from the same flags materialised, so every flag the operation
    // defines or leaves unchanged must agree.
    let mut rng = Rng(0xc4a1_4ed0_0000_0001);
    let mut compared = 0usize;
    for _ in 0..40_000 {
        let mut ours = Flags::from_eflags(rng.flags());
        let mut value = rng.operand();
        let mut trail = Vec::new();
        for _ in 0..2 + rng.next() % 4 {
            let op = CHAIN_OPS[(rng.next() % CHAIN_OPS.len() as u64) as usize];
            let size = op.size([1u8, 2, 4][(rng.next() % 3) as usize]);
            let a = if rng.next() & 1 == 0 {
                value
            } else {
                rng.operand()
            } & mask(size);
            let b = match op {
                ChainOp::Shl
                | ChainOp::Shr
                | ChainOp::Sar
                | ChainOp::Rol
                | ChainOp::Ror
                | ChainOp::Rcl
                | ChainOp::Rcr => rng.next() as u32 % 34,
                _ => rng.operand() & mask(size),
            };
            trail.push(format!("{op:?}/{size} {a:#x}, {b:#x}"));
            let before = ours.status();
            let r = op.ours(&mut ours, size, a, b);
            let host = op.host(size, a, b, before);
            let what = trail.join("; ");
            let defined = op.defined_after(size, b, STATUS);
            check(
                &what,
                size,
                &[a, b],
                before,
                defined,
                (r, ours.status()),
                host,
            );
            assert_consistent(&what, &ours);
            value = r;
            compared += 1;
        }
    }
    assert!(compared > 100_000, "{compared} operations compared");
}

// ---------------------------------------------------------------------------------
// BCD instructions, which only exist outside 64-bit mode.

#[cfg(target_os = "linux")]
mod compat32 {
    //! Runs one BCD instruction in a 32-bit compatibility-mode code segment.
    //!
    //! Two pages below 4 GiB hold, per instruction, a 32-bit slot
    //! `push ecx; popfd; <insn>; pushfd; pop ecx; push 0x33; push stub; retf`, a 64-bit
    //! stub that reloads the saved RSP and jumps back, the saved RSP and return address,
    //! and a stack. [`Compat32::run`] saves RSP, switches to that stack and far-returns
    //! to the slot with CS = 0x23 (Linux's 32-bit user code segment).

    use core::arch::asm;
    use core::ffi::c_void;

    extern "C" {
        fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: i32,
            flags: i32,
            fd: i32,
            off: i64,
        ) -> *mut c_void;
        fn munmap(addr: *mut c_void, len: usize) -> i32;
    }

    const PROT_RWX: i32 = 7;
    const MAP_PRIVATE_ANON_32BIT: i32 = 0x02 | 0x20 | 0x40;
    const LEN: usize = 0x2000;
    const STUB64: usize = 0x100;
    const SAVE: usize = 0x200;
    const USER_CS64: u8 = 0x33;

    /// The BCD instructions, by slot.
    #[derive(Clone, Copy, Debug)]
    pub enum Op {
        Daa = 0,
        Das = 1,
        Aaa = 2,
        Aas = 3,
        Aam = 4,
        Aad = 5,
    }

    /// The mapped code pages.
    #[derive(Debug)]
    pub struct Compat32 {
        page: *mut u8,
    }

    impl Compat32 {
        /// Maps and fills the pages; `None` when the mapping fails.
        pub fn new() -> Option<Compat32> {
            // SAFETY: a new anonymous private mapping aliases no Rust memory; failure is
            // checked below.
            let p = unsafe {
                mmap(
                    core::ptr::null_mut(),
                    LEN,
                    PROT_RWX,
                    MAP_PRIVATE_ANON_32BIT,
                    -1,
                    0,
                )
            };
            if p as isize == -1 || p.is_null() {
                return None;
            }
            let page = p as *mut u8;
            let base = page as usize;
            assert!(base + LEN <= 1 << 32, "mapping above 4 GiB");
            let mut code = [0x90u8; 0x200];
            let opcodes: [&[u8]; 6] = [
                &[0x27, 0x90],
                &[0x2f, 0x90],
                &[0x37, 0x90],
                &[0x3f, 0x90],
                &[0xd4, 10],
                &[0xd5, 10],
            ];
            for (slot, op) in opcodes.iter().enumerate() {
                let mut s = vec![0x51, 0x9d]; // push ecx; popfd
                s.extend_from_slice(op);
                s.extend_from_slice(&[0x9c, 0x59, 0x6a, USER_CS64, 0x68]); // pushfd; pop ecx; push 0x33; push imm32
                s.extend_from_slice(&((base + STUB64) as u32).to_le_bytes());
                s.push(0xcb); // retf
                code[slot * 16..slot * 16 + s.len()].copy_from_slice(&s);
            }
            // mov rsp, [rip + SAVE - (STUB64 + 7)]; jmp [rip + SAVE + 8 - (STUB64 + 13)]
            let mut stub = vec![0x48, 0x8b, 0x25];
            stub.extend_from_slice(&((SAVE - (STUB64 + 7)) as u32).to_le_bytes());
            stub.extend_from_slice(&[0xff, 0x25]);
            stub.extend_from_slice(&((SAVE + 8 - (STUB64 + 13)) as u32).to_le_bytes());
            code[STUB64..STUB64 + stub.len()].copy_from_slice(&stub);
            // SAFETY: `page` is a fresh writable mapping of LEN bytes and `code` is
            // shorter than LEN.
            unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), page, code.len()) };
            Some(Compat32 { page })
        }

        /// Runs `op` (with immediate `base` for AAM/AAD) on EAX = `ax` and status
        /// flags `flags`; returns (AX, status flags after).
        pub fn run(&mut self, op: Op, base: u8, ax: u16, flags: u32) -> (u16, u32) {
            let slot = op as usize * 16;
            if matches!(op, Op::Aam | Op::Aad) {
                // SAFETY: byte slot + 3 (the AAM/AAD immediate) lies inside the mapping
                // `page` owns.
                unsafe { self.page.add(slot + 3).write_volatile(base) };
            }
            let mut eax = ax as u32;
            let mut ecx = (flags & super::STATUS) | super::BASE_EFLAGS as u32;
            let page = self.page as u64;
            // SAFETY: the slot at `target`, written by `new`, runs one BCD instruction on
            // EAX and ECX in 32-bit mode and far-returns to the stub, which restores RSP
            // from `save` and jumps to `2:`; every register it may change is declared.
            unsafe {
                asm!(
                    "lea {t}, [rip + 2f]",
                    "mov [{save} + 8], {t}",
                    "mov [{save}], rsp",
                    "mov rsp, {stack}",
                    "push 0x23", // USER_CS32
                    "push {target}",
                    ".byte 0x48, 0xcb", // retfq
                    "2:",
                    save = in(reg) page + SAVE as u64,
                    stack = in(reg) page + LEN as u64,
                    target = in(reg) page + slot as u64,
                    t = out(reg) _,
                    inout("eax") eax,
                    inout("ecx") ecx,
                    lateout("rdx") _, lateout("rsi") _, lateout("rdi") _,
                    lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
                    lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
                );
            }
            (eax as u16, ecx & super::STATUS)
        }
    }

    impl Drop for Compat32 {
        fn drop(&mut self) {
            // SAFETY: `page` is the LEN-byte mapping from `new`, and nothing uses it after
            // drop.
            unsafe { munmap(self.page as *mut c_void, LEN) };
        }
    }
}

#[cfg(target_os = "linux")]
fn compat32() -> Option<compat32::Compat32> {
    if std::env::var_os("VMLAB_NO_COMPAT32").is_some() {
        eprintln!("VMLAB_NO_COMPAT32 set: BCD instructions not compared with the host");
        return None;
    }
    Some(compat32::Compat32::new().expect("mmap of a page below 4 GiB failed"))
}

#[test]
#[cfg(target_os = "linux")]
fn bcd_adjustments() {
    use compat32::Op;
    let Some(mut host) = compat32() else { return };
    let mut rng = Rng(0xbcd0_bcd0_bcd0_bcd1);
    // DAA DAS: every AL with every CF/AF, other flags random. OF undefined.
    for al in 0u16..=255 {
        for cf_af in [0, CF, AF, CF | AF] {
            let fl = cf_af | (rng.flags() & !(CF | AF));
            let ax = al | ((rng.next() as u16) << 8);
            let defined = CF | AF | SF | ZF | PF;
            let mut f = Flags::from_eflags(fl);
            let r = (ax & 0xff00) | alu::daa(&mut f, al as u8) as u16;
            let h = host.run(Op::Daa, 0, ax, fl);
            check(
                "daa",
                1,
                &[ax as u32],
                fl,
                defined,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
            let mut f = Flags::from_eflags(fl);
            let r = (ax & 0xff00) | alu::das(&mut f, al as u8) as u16;
            let h = host.run(Op::Das, 0, ax, fl);
            check(
                "das",
                1,
                &[ax as u32],
                fl,
                defined,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
        }
    }
    // AAA AAS: every AX with AF clear and set. Only AF and CF are defined.
    for ax in 0u16..=0xffff {
        for af in [0, AF] {
            let fl = af | (rng.flags() & !AF);
            let mut f = Flags::from_eflags(fl);
            let r = alu::aaa(&mut f, ax);
            let h = host.run(Op::Aaa, 0, ax, fl);
            check(
                "aaa",
                2,
                &[ax as u32],
                fl,
                AF | CF,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
            let mut f = Flags::from_eflags(fl);
            let r = alu::aas(&mut f, ax);
            let h = host.run(Op::Aas, 0, ax, fl);
            check(
                "aas",
                2,
                &[ax as u32],
                fl,
                AF | CF,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
        }
    }
    // AAM: every AL with every non-zero base (base 0 is #DE). SF ZF PF defined.
    for base in 1u8..=255 {
        for al in 0u16..=255 {
            let fl = rng.flags();
            let ax = al | ((rng.next() as u16) << 8);
            let mut f = Flags::from_eflags(fl);
            let r = alu::aam(&mut f, al as u8, base).expect("non-zero base");
            let h = host.run(Op::Aam, base, ax, fl);
            check(
                "aam",
                1,
                &[ax as u32, base as u32],
                fl,
                SF | ZF | PF,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
        }
    }
    let mut f = Flags::from_eflags(0);
    assert_eq!(alu::aam(&mut f, 5, 0), Err(Exception::DivideError));
    // AAD: every AX with a few bases. SF ZF PF defined.
    for base in [10u8, 16, 0, 1, 7, 255] {
        for ax in 0u16..=0xffff {
            let fl = rng.flags();
            let mut f = Flags::from_eflags(fl);
            let r = alu::aad(&mut f, ax, base);
            let h = host.run(Op::Aad, base, ax, fl);
            check(
                "aad",
                1,
                &[ax as u32, base as u32],
                fl,
                SF | ZF | PF,
                (r as u32, f.status()),
                (h.0 as u32, h.1),
            );
        }
    }
}
