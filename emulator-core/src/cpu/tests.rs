//! Per-instruction tests (bytes → state → assert, flags included) and table-driven
//! state tests, on flat 32-bit protected mode and on real mode.

use alloc::vec::Vec;

use crate::cpu::{EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP};
use crate::error::Exception;
use crate::events::EventKind;
use crate::machine::{FlatEntry, Machine};
use crate::state::flags::{AF, CF, IF, OF, PF, SF, STATUS, ZF};
use crate::{MachineConfig, StopReason};

const BASE: u32 = 0x1000;
const HLT: u8 = 0xf4;

fn machine() -> Machine {
    Machine::new(MachineConfig {
        ram_mib: 2,
        ..MachineConfig::default()
    })
    .unwrap()
}

/// Runs `code` (followed by HLT) in flat 32-bit ring 0 from registers `init`.
fn run32(code: &[u8], init: &[(usize, u32)], eflags: u32) -> Machine {
    let mut m = machine();
    let mut img = code.to_vec();
    img.push(HLT);
    m.load_flat(BASE, &img, FlatEntry::Protected32).unwrap();
    for &(r, v) in init {
        m.cpu_mut().gpr[r] = v;
    }
    m.cpu_mut().eflags |= eflags;
    assert_eq!(m.run(100_000), StopReason::Halted);
    m
}

/// Runs `code` (followed by HLT) in real mode at 0:7C00.
fn run16(m: &mut Machine, code: &[u8], init: &[(usize, u32)]) -> StopReason {
    let mut img = code.to_vec();
    img.push(HLT);
    m.load_flat(0x7c00, &img, FlatEntry::Real16).unwrap();
    for &(r, v) in init {
        m.cpu_mut().gpr[r] = v;
    }
    m.run(100_000)
}

struct Case {
    name: &'static str,
    code: &'static [u8],
    init: &'static [(usize, u32)],
    eflags: u32,
    expect: &'static [(usize, u32)],
    /// Status flags that must be set, and the ones that must be clear.
    set: u32,
    clear: u32,
}

const CASES: &[Case] = &[
    Case {
        name: "16-bit add keeps the upper half",
        code: &[0x66, 0x01, 0xd8],
        init: &[(EAX, 0x1234_ffff), (EBX, 1)],
        eflags: 0,
        expect: &[(EAX, 0x1234_0000)],
        set: CF | ZF | PF | AF,
        clear: SF | OF,
    },
    Case {
        name: "cbw",
        code: &[0x66, 0x98],
        init: &[(EAX, 0xaaaa_0080)],
        eflags: 0,
        expect: &[(EAX, 0xaaaa_ff80)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "cwd",
        code: &[0x66, 0x99],
        init: &[(EAX, 0x8000), (EDX, 0x5555_0000)],
        eflags: 0,
        expect: &[(EDX, 0x5555_ffff)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "xchg ah, al",
        code: &[0x86, 0xc4],
        init: &[(EAX, 0x1234)],
        eflags: 0,
        expect: &[(EAX, 0x3412)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "div byte",
        code: &[0xf6, 0xf3],
        init: &[(EAX, 0x0107), (EBX, 2)],
        eflags: 0,
        expect: &[(EAX, 0x0183)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "16-bit shld",
        code: &[0x66, 0x0f, 0xa4, 0xd8, 0x04],
        init: &[(EAX, 0x1234), (EBX, 0xabcd)],
        eflags: 0,
        expect: &[(EAX, 0x234a)],
        set: CF,
        clear: 0,
    },
    Case {
        name: "movzx word",
        code: &[0x0f, 0xb7, 0xc3],
        init: &[(EAX, 0xffff_ffff), (EBX, 0x1_8000)],
        eflags: 0,
        expect: &[(EAX, 0x8000)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "movsx word",
        code: &[0x0f, 0xbf, 0xc3],
        init: &[(EBX, 0x8000)],
        eflags: 0,
        expect: &[(EAX, 0xffff_8000)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "16-bit loop uses cx",
        code: &[0x66, 0xb9, 3, 0, 0x67, 0xe2, 0xfd],
        init: &[(ECX, 0xffff_0000)],
        eflags: 0,
        expect: &[(ECX, 0xffff_0000)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "add wraps to zero",
        code: &[0x01, 0xd8],
        init: &[(EAX, 0xffff_ffff), (EBX, 1)],
        eflags: 0,
        expect: &[(EAX, 0)],
        set: CF | ZF | PF | AF,
        clear: SF | OF,
    },
    Case {
        name: "add signed overflow",
        code: &[0x01, 0xd8],
        init: &[(EAX, 0x7fff_ffff), (EBX, 1)],
        eflags: 0,
        expect: &[(EAX, 0x8000_0000)],
        set: OF | SF | AF | PF,
        clear: CF | ZF,
    },
    Case {
        name: "sub borrows",
        code: &[0x29, 0xd8],
        init: &[(EAX, 0), (EBX, 1)],
        eflags: 0,
        expect: &[(EAX, 0xffff_ffff)],
        set: CF | SF | AF | PF,
        clear: ZF | OF,
    },
    Case {
        name: "adc adds the carry",
        code: &[0x11, 0xd8],
        init: &[(EAX, 1), (EBX, 1)],
        eflags: CF,
        expect: &[(EAX, 3)],
        set: PF,
        clear: CF | ZF,
    },
    Case {
        name: "sbb subtracts the carry",
        code: &[0x19, 0xd8],
        init: &[(EAX, 5), (EBX, 1)],
        eflags: CF,
        expect: &[(EAX, 3)],
        set: PF,
        clear: CF | ZF | SF,
    },
    Case {
        name: "inc keeps CF",
        code: &[0x40],
        init: &[(EAX, 0xffff_ffff)],
        eflags: CF,
        expect: &[(EAX, 0)],
        set: CF | ZF,
        clear: OF | SF,
    },
    Case {
        name: "dec to negative",
        code: &[0x48],
        init: &[(EAX, 0)],
        eflags: 0,
        expect: &[(EAX, 0xffff_ffff)],
        set: SF,
        clear: ZF | CF,
    },
    Case {
        name: "neg sets CF",
        code: &[0xf7, 0xd8],
        init: &[(EAX, 5)],
        eflags: 0,
        expect: &[(EAX, 0xffff_fffb)],
        set: CF | SF,
        clear: ZF,
    },
    Case {
        name: "imul three operands",
        code: &[0x6b, 0xc3, 0x0a],
        init: &[(EBX, 7)],
        eflags: 0,
        expect: &[(EAX, 70)],
        set: 0,
        clear: CF | OF,
    },
    Case {
        name: "imul overflows",
        code: &[0x0f, 0xaf, 0xc3],
        init: &[(EAX, 0x4000_0000), (EBX, 4)],
        eflags: 0,
        expect: &[(EAX, 0)],
        set: CF | OF,
        clear: 0,
    },
    Case {
        name: "mul into edx:eax",
        code: &[0xf7, 0xe3],
        init: &[(EAX, 0x8000_0000), (EBX, 4)],
        eflags: 0,
        expect: &[(EAX, 0), (EDX, 2)],
        set: CF | OF,
        clear: 0,
    },
    Case {
        name: "mul byte into ax",
        code: &[0xf6, 0xe3],
        init: &[(EAX, 0x12340010), (EBX, 0x20)],
        eflags: 0,
        expect: &[(EAX, 0x1234_0200)],
        set: CF | OF,
        clear: 0,
    },
    Case {
        name: "div",
        code: &[0xf7, 0xf3],
        init: &[(EAX, 100), (EDX, 0), (EBX, 7)],
        eflags: 0,
        expect: &[(EAX, 14), (EDX, 2)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "idiv negative",
        code: &[0xf7, 0xfb],
        init: &[(EAX, 0xffff_ff9c), (EDX, 0xffff_ffff), (EBX, 7)],
        eflags: 0,
        expect: &[(EAX, 0xffff_fff2), (EDX, 0xffff_fffe)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "shl by 4",
        code: &[0xc1, 0xe0, 0x04],
        init: &[(EAX, 0x1000_0001)],
        eflags: 0,
        expect: &[(EAX, 0x10)],
        set: CF,
        clear: ZF | SF,
    },
    Case {
        name: "sar by 1",
        code: &[0xd1, 0xf8],
        init: &[(EAX, 0x8000_0001)],
        eflags: 0,
        expect: &[(EAX, 0xc000_0000)],
        set: CF | SF,
        clear: OF | ZF,
    },
    Case {
        name: "shr by cl",
        code: &[0xd3, 0xe8],
        init: &[(EAX, 0x8000_0000), (ECX, 31)],
        eflags: 0,
        expect: &[(EAX, 1)],
        set: 0,
        clear: CF | ZF | SF,
    },
    Case {
        name: "rol by 8",
        code: &[0xc1, 0xc0, 0x08],
        init: &[(EAX, 0x1234_5678)],
        eflags: 0,
        expect: &[(EAX, 0x3456_7812)],
        set: 0,
        clear: CF,
    },
    Case {
        name: "rcr through carry",
        code: &[0xd1, 0xd8],
        init: &[(EAX, 2)],
        eflags: CF,
        expect: &[(EAX, 0x8000_0001)],
        set: OF,
        clear: CF,
    },
    Case {
        name: "shld",
        code: &[0x0f, 0xa4, 0xd8, 0x08],
        init: &[(EAX, 0x1122_3344), (EBX, 0xaabb_ccdd)],
        eflags: 0,
        expect: &[(EAX, 0x2233_44aa)],
        set: CF,
        clear: ZF,
    },
    Case {
        name: "shrd",
        code: &[0x0f, 0xac, 0xd8, 0x08],
        init: &[(EAX, 0x1122_3344), (EBX, 0xaabb_ccdd)],
        eflags: 0,
        expect: &[(EAX, 0xdd11_2233)],
        set: SF,
        clear: CF | ZF,
    },
    Case {
        name: "bsf",
        code: &[0x0f, 0xbc, 0xc3],
        init: &[(EBX, 0x100)],
        eflags: 0,
        expect: &[(EAX, 8)],
        set: 0,
        clear: ZF,
    },
    Case {
        name: "bsf of zero leaves the destination",
        code: &[0x0f, 0xbc, 0xc3],
        init: &[(EAX, 77), (EBX, 0)],
        eflags: 0,
        expect: &[(EAX, 77)],
        set: ZF,
        clear: 0,
    },
    Case {
        name: "bsr",
        code: &[0x0f, 0xbd, 0xc3],
        init: &[(EBX, 0x8100)],
        eflags: 0,
        expect: &[(EAX, 15)],
        set: 0,
        clear: ZF,
    },
    Case {
        name: "bswap",
        code: &[0x0f, 0xc8],
        init: &[(EAX, 0x1122_3344)],
        eflags: 0,
        expect: &[(EAX, 0x4433_2211)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "bt immediate",
        code: &[0x0f, 0xba, 0xe0, 0x03],
        init: &[(EAX, 8)],
        eflags: 0,
        expect: &[(EAX, 8)],
        set: CF,
        clear: 0,
    },
    Case {
        name: "btc register",
        code: &[0x0f, 0xbb, 0xd8],
        init: &[(EAX, 0xf0), (EBX, 36)],
        eflags: 0,
        expect: &[(EAX, 0xe0)],
        set: CF,
        clear: 0,
    },
    Case {
        name: "xadd",
        code: &[0x0f, 0xc1, 0xd8],
        init: &[(EAX, 1), (EBX, 2)],
        eflags: 0,
        expect: &[(EAX, 3), (EBX, 1)],
        set: PF,
        clear: ZF,
    },
    Case {
        name: "cmpxchg equal",
        code: &[0x0f, 0xb1, 0xcb],
        init: &[(EAX, 5), (EBX, 5), (ECX, 9)],
        eflags: 0,
        expect: &[(EBX, 9), (EAX, 5)],
        set: ZF,
        clear: 0,
    },
    Case {
        name: "cmpxchg different",
        code: &[0x0f, 0xb1, 0xcb],
        init: &[(EAX, 4), (EBX, 5), (ECX, 9)],
        eflags: 0,
        expect: &[(EBX, 5), (EAX, 5)],
        set: CF,
        clear: ZF,
    },
    Case {
        name: "movsx byte",
        code: &[0x0f, 0xbe, 0xc3],
        init: &[(EBX, 0x80)],
        eflags: 0,
        expect: &[(EAX, 0xffff_ff80)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "movzx byte",
        code: &[0x0f, 0xb6, 0xc3],
        init: &[(EAX, 0xffff_ffff), (EBX, 0x180)],
        eflags: 0,
        expect: &[(EAX, 0x80)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "cdq",
        code: &[0x99],
        init: &[(EAX, 0x8000_0000)],
        eflags: 0,
        expect: &[(EDX, 0xffff_ffff)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "cwde",
        code: &[0x98],
        init: &[(EAX, 0x8000)],
        eflags: 0,
        expect: &[(EAX, 0xffff_8000)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "setc",
        code: &[0x0f, 0x92, 0xc0],
        init: &[(EAX, 0x1234_5600)],
        eflags: CF,
        expect: &[(EAX, 0x1234_5601)],
        set: CF,
        clear: 0,
    },
    Case {
        name: "cmovz taken",
        code: &[0x0f, 0x44, 0xc3],
        init: &[(EAX, 1), (EBX, 2)],
        eflags: ZF,
        expect: &[(EAX, 2)],
        set: ZF,
        clear: 0,
    },
    Case {
        name: "cmovnz not taken",
        code: &[0x0f, 0x45, 0xc3],
        init: &[(EAX, 1), (EBX, 2)],
        eflags: ZF,
        expect: &[(EAX, 1)],
        set: ZF,
        clear: 0,
    },
    Case {
        name: "lahf",
        code: &[0x9f],
        init: &[(EAX, 0)],
        eflags: CF | ZF,
        expect: &[(EAX, 0x4300)],
        set: CF | ZF,
        clear: 0,
    },
    Case {
        name: "sahf",
        code: &[0x9e],
        init: &[(EAX, 0xd500)],
        eflags: 0,
        expect: &[],
        set: CF | PF | AF | ZF | SF,
        clear: OF,
    },
    Case {
        name: "daa",
        code: &[0x27],
        init: &[(EAX, 0x1a)],
        eflags: 0,
        expect: &[(EAX, 0x20)],
        set: AF,
        clear: CF,
    },
    Case {
        name: "aam",
        code: &[0xd4, 0x0a],
        init: &[(EAX, 123)],
        eflags: 0,
        expect: &[(EAX, 0x0c03)],
        set: 0,
        clear: ZF,
    },
    Case {
        name: "aad",
        code: &[0xd5, 0x0a],
        init: &[(EAX, 0x0c03)],
        eflags: 0,
        expect: &[(EAX, 123)],
        set: 0,
        clear: ZF,
    },
    Case {
        name: "cpuid vendor",
        code: &[0x0f, 0xa2],
        init: &[(EAX, 0)],
        eflags: 0,
        expect: &[
            (EAX, 1),
            (EBX, 0x756e_6547),
            (EDX, 0x5665_6e69),
            (ECX, 0x6261_6c6d),
        ],
        set: 0,
        clear: 0,
    },
    Case {
        name: "loop counts down",
        code: &[0xb9, 5, 0, 0, 0, 0x31, 0xc0, 0x40, 0xe2, 0xfd],
        init: &[],
        eflags: 0,
        expect: &[(EAX, 5), (ECX, 0)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "jecxz skips",
        code: &[0x31, 0xc9, 0xe3, 0x01, 0x40],
        init: &[(EAX, 0)],
        eflags: 0,
        expect: &[(EAX, 0)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "pusha popa round trip",
        code: &[0x60, 0x31, 0xc0, 0x31, 0xdb, 0x61],
        init: &[(EAX, 11), (EBX, 22), (ESI, 33)],
        eflags: 0,
        expect: &[(EAX, 11), (EBX, 22), (ESI, 33)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "call and ret",
        code: &[0xe8, 0x01, 0, 0, 0, HLT, 0xb8, 7, 0, 0, 0, 0xc3],
        init: &[],
        eflags: 0,
        expect: &[(EAX, 7)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "xchg registers",
        code: &[0x87, 0xd8],
        init: &[(EAX, 1), (EBX, 2)],
        eflags: 0,
        expect: &[(EAX, 2), (EBX, 1)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "lea with scale",
        code: &[0x8d, 0x44, 0x9e, 0x10],
        init: &[(ESI, 0x100), (EBX, 3)],
        eflags: 0,
        expect: &[(EAX, 0x11c)],
        set: 0,
        clear: 0,
    },
    Case {
        name: "test clears CF and OF",
        code: &[0x85, 0xc0],
        init: &[(EAX, 0x8000_0000)],
        eflags: CF | OF,
        expect: &[],
        set: SF | PF,
        clear: CF | OF | ZF,
    },
];

#[test]
fn table_of_state_cases() {
    let mut failures = Vec::new();
    for c in CASES {
        let m = run32(c.code, c.init, c.eflags);
        let s = m.cpu();
        for &(r, v) in c.expect {
            if s.gpr[r] != v {
                failures.push(alloc::format!(
                    "{}: reg {} = {:#x}, want {:#x}",
                    c.name,
                    r,
                    s.gpr[r],
                    v
                ));
            }
        }
        let st = s.eflags & STATUS;
        if st & c.set != c.set || st & c.clear != 0 {
            failures.push(alloc::format!(
                "{}: flags {:#x}, want set {:#x} clear {:#x}",
                c.name,
                st,
                c.set,
                c.clear
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn enter_and_leave_restore_the_frame() {
    // enter 8, 1 ; mov eax, esp ; leave
    let m = run32(&[0xc8, 8, 0, 1, 0x89, 0xe0, 0xc9], &[(EBP, 0x5555)], 0);
    let s = m.cpu();
    let esp0 = s.gpr[ESP];
    assert_eq!(s.gpr[EBP], 0x5555);
    // ebp pushed (4), frame pointer pushed for level 1 (4), 8 bytes of locals.
    assert_eq!(s.gpr[EAX], esp0 - 16);
}

#[test]
fn rep_movsb_and_rep_stosd() {
    let mut m = machine();
    let code = [
        0xfc, // cld
        0xf3, 0xa4, // rep movsb
        0xbf, 0x00, 0x30, 0, 0, // mov edi, 0x3000
        0xb9, 0x03, 0, 0, 0, // mov ecx, 3
        0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
        0xf3, 0xab, // rep stosd
        HLT,
    ];
    m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    m.write_phys(0x2000, b"hello, world").unwrap();
    {
        let c = m.cpu_mut();
        c.gpr[ESI] = 0x2000;
        c.gpr[EDI] = 0x2100;
        c.gpr[ECX] = 12;
    }
    assert_eq!(m.run(1000), StopReason::Halted);
    let mut buf = [0u8; 12];
    m.peek_phys(0x2100, &mut buf);
    assert_eq!(&buf, b"hello, world");
    let mut words = [0u8; 16];
    m.peek_phys(0x3000, &mut words);
    assert_eq!(&words[..12], &[0x78, 0x56, 0x34, 0x12].repeat(3)[..]);
    assert_eq!(&words[12..], &[0, 0, 0, 0]);
    assert_eq!(m.cpu().gpr[ECX], 0);
    assert_eq!(m.cpu().gpr[EDI], 0x300c);
    assert_eq!(m.cpu().gpr[ESI], 0x200c);
}

#[test]
fn overlapping_rep_movsb_replicates_a_pattern() {
    let mut m = machine();
    m.load_flat(BASE, &[0xf3, 0xa4, HLT], FlatEntry::Protected32)
        .unwrap();
    m.write_phys(0x2000, b"ab").unwrap();
    {
        let c = m.cpu_mut();
        c.gpr[ESI] = 0x2000;
        c.gpr[EDI] = 0x2002;
        c.gpr[ECX] = 6;
    }
    assert_eq!(m.run(1000), StopReason::Halted);
    let mut buf = [0u8; 8];
    m.peek_phys(0x2000, &mut buf);
    assert_eq!(&buf, b"abababab");
}

#[test]
fn repne_scasb_finds_the_terminator() {
    let mut m = machine();
    // xor eax, eax ; mov ecx, -1 ; repne scasb ; not ecx ; dec ecx
    let code = [
        0x31, 0xc0, 0xb9, 0xff, 0xff, 0xff, 0xff, 0xf2, 0xae, 0xf7, 0xd1, 0x49, HLT,
    ];
    m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    m.write_phys(0x2000, b"vmlab\0").unwrap();
    m.cpu_mut().gpr[EDI] = 0x2000;
    assert_eq!(m.run(1000), StopReason::Halted);
    assert_eq!(m.cpu().gpr[ECX], 5);
}

#[test]
fn real_mode_16_bit_addressing() {
    let mut m = machine();
    m.write_phys(0x514, &[0x34, 0x12]).unwrap();
    // mov ax, [bx+si+4]
    let stop = run16(&mut m, &[0x8b, 0x40, 0x04], &[(EBX, 0x500), (ESI, 0x10)]);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().gpr[EAX] & 0xffff, 0x1234);
}

#[test]
fn real_mode_divide_error_goes_through_the_ivt() {
    let mut m = machine();
    // IVT[0] = 0000:7D00; handler: mov bx, 0x55 ; hlt
    m.write_phys(0, &[0x00, 0x7d, 0x00, 0x00]).unwrap();
    m.write_phys(0x7d00, &[0xbb, 0x55, 0x00, HLT]).unwrap();
    // xor cx, cx ; div cx
    let stop = run16(&mut m, &[0x31, 0xc9, 0xf7, 0xf1], &[]);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX] & 0xffff, 0x55);
    // The pushed IP is the faulting DIV (a fault, not a trap).
    let sp = m.cpu().gpr[ESP] & 0xffff;
    let mut ip = [0u8; 2];
    m.peek_phys(sp, &mut ip);
    assert_eq!(u16::from_le_bytes(ip), 0x7c02);
    assert!(m
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Exception(Exception::DivideError)));
    assert_eq!(m.counters().exceptions[0], 1);
}

#[test]
fn real_mode_int_and_iret() {
    let mut m = machine();
    // IVT[0x21] = 0000:7D00; handler: mov ax, 0x4242 ; iret
    m.write_phys(0x21 * 4, &[0x00, 0x7d, 0x00, 0x00]).unwrap();
    m.write_phys(0x7d00, &[0xb8, 0x42, 0x42, 0xcf]).unwrap();
    // sti ; int 0x21 ; mov bx, ax
    let stop = run16(&mut m, &[0xfb, 0xcd, 0x21, 0x89, 0xc3], &[]);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX] & 0xffff, 0x4242);
    assert_eq!(m.cpu().gpr[ESP] & 0xffff, 0x7c00);
    assert_ne!(m.cpu().eflags & IF, 0, "IRET restored IF");
}

#[test]
fn self_modifying_code_is_seen() {
    let mut m = machine();
    // 0: c6 05 0c 10 00 00 42   mov byte [0x100c], 0x42   ; patch offset 12 to INC EDX
    // 7: b9 03 00 00 00         mov ecx, 3
    // 12: 40                    inc eax
    // 13: f4                    hlt
    let code = [
        0xc6, 0x05, 0x0c, 0x10, 0x00, 0x00, 0x42, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x40, HLT,
    ];
    m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    // Warm the decode cache with the unpatched instruction first.
    m.cpu_mut().eip = BASE + 12;
    assert_eq!(m.run(10), StopReason::Halted);
    assert_eq!(m.cpu().gpr[EAX], 1);
    m.cpu_mut().eip = BASE;
    m.cpu_mut().halted = false;
    m.cpu_mut().gpr[EDX] = 0;
    assert_eq!(m.run(10), StopReason::Halted);
    assert_eq!(m.cpu().gpr[EAX], 1, "the old INC EAX did not run again");
    assert_eq!(m.cpu().gpr[EDX], 1, "the patched INC EDX ran");
    assert!(m.counters().decode_invalidations >= 1);
}

#[test]
fn lock_on_a_register_is_invalid() {
    let mut m = machine();
    // lock add eax, ebx (no IDT: #UD -> #GP -> #DF -> triple fault)
    m.load_flat(BASE, &[0xf0, 0x01, 0xd8, HLT], FlatEntry::Protected32)
        .unwrap();
    m.cpu_mut().idtr.limit = 0;
    assert_eq!(m.run(100), StopReason::TripleFault);
    let kinds: Vec<_> = m.events().iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds[0], EventKind::Exception(Exception::InvalidOpcode));
    assert!(kinds.contains(&EventKind::Exception(Exception::DoubleFault)));
    assert_eq!(*kinds.last().unwrap(), EventKind::TripleFault);
}

#[test]
fn breakpoints_stop_before_the_instruction_and_resume() {
    let mut m = machine();
    m.load_flat(BASE, &[0x40, 0x40, 0x40, HLT], FlatEntry::Protected32)
        .unwrap();
    m.add_breakpoint(BASE + 1);
    assert_eq!(m.run(100), StopReason::Breakpoint(BASE + 1));
    assert_eq!(m.cpu().gpr[EAX], 1);
    assert_eq!(m.run(100), StopReason::Halted);
    assert_eq!(m.cpu().gpr[EAX], 3);
    assert_eq!(m.breakpoints().collect::<Vec<_>>(), [BASE + 1]);
}

#[test]
fn step_executes_one_instruction() {
    let mut m = machine();
    m.load_flat(BASE, &[0x40, 0x40, HLT], FlatEntry::Protected32)
        .unwrap();
    assert_eq!(m.step(), StopReason::Stepped);
    assert_eq!(m.cpu().gpr[EAX], 1);
    assert_eq!(m.cpu().eip, BASE + 1);
    assert_eq!(m.icount(), 1);
}

#[test]
fn budget_bounds_an_endless_loop() {
    let mut m = machine();
    m.load_flat(BASE, &[0xeb, 0xfe], FlatEntry::Protected32)
        .unwrap();
    assert_eq!(m.run(1000), StopReason::BudgetExhausted);
    assert_eq!(m.icount(), 1000);
}

#[test]
fn paging_sets_accessed_and_dirty_and_probe_has_no_side_effects() {
    let mut m = machine();
    // Page directory at 0x10000, one table at 0x11000 identity-mapping the first 4 MiB.
    let mut pt = Vec::new();
    for i in 0..1024u32 {
        pt.extend_from_slice(&((i << 12) | 0x3).to_le_bytes());
    }
    m.write_phys(0x11000, &pt).unwrap();
    m.write_phys(0x10000, &(0x11000u32 | 0x3).to_le_bytes())
        .unwrap();
    // mov eax, 0x10000 ; mov cr3, eax ; mov eax, cr0 ; or eax, 0x80000000 ; mov cr0, eax
    // mov dword [0x5000], 1 ; hlt
    let code = [
        0xb8, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00,
        0x80, 0x0f, 0x22, 0xc0, 0xc7, 0x05, 0x00, 0x50, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, HLT,
    ];
    m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    assert_eq!(m.run(100), StopReason::Halted);
    let w = m.translate(0x5000);
    let pte = w.pte.unwrap();
    assert!(pte.accessed && pte.dirty);
    assert_eq!(w.physical, Some(0x5000));
    let untouched = m.translate(0x6000).pte.unwrap();
    assert!(!untouched.accessed, "a probe walk sets no accessed bit");
    let mut b = [0u8; 4];
    m.peek_linear(0x6000, &mut b).unwrap();
    assert!(!m.translate(0x6000).pte.unwrap().accessed);
    assert!(m
        .tlb_entries()
        .iter()
        .any(|e| e.linear_page == 0x5000 && e.dirty));
    assert!(!m.tlb_entries().iter().any(|e| e.linear_page == 0x6000));
    assert_eq!(m.page_table(0).len(), 1024);
}

#[test]
fn snapshot_restore_continues_bit_exactly() {
    let mut m = machine();
    // A loop mixing memory, flags and arithmetic.
    // L: imul eax, eax, 1103515245 ; add eax, 12345 ; mov [ebx], eax ; add ebx, 4 ; and ebx, 0xfff ; or ebx, 0x2000 ; jmp L
    let code = [
        0x69, 0xc0, 0x6d, 0x4e, 0xc6, 0x41, 0x05, 0x39, 0x30, 0x00, 0x00, 0x89, 0x03, 0x83, 0xc3,
        0x04, 0x81, 0xe3, 0xff, 0x0f, 0x00, 0x00, 0x81, 0xcb, 0x00, 0x20, 0x00, 0x00, 0xeb, 0xe2,
    ];
    m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    m.cpu_mut().gpr[EBX] = 0x2000;
    m.run(5_000);
    let snap = m.snapshot();
    m.run(7_000);
    let after = m.snapshot();
    m.restore(&snap).unwrap();
    assert_eq!(m.cpu(), snap.cpu());
    m.run(7_000);
    assert_eq!(m.snapshot(), after);
}

#[test]
fn fpu_detection_finds_the_fpu() {
    // mov ax, 0x5a5a ; fninit ; fnstsw ax: a present FPU answers a status word of 0.
    let m = run32(&[0x66, 0xb8, 0x5a, 0x5a, 0xdb, 0xe3, 0xdf, 0xe0], &[], 0);
    assert_eq!(m.cpu().gpr[EAX] & 0xffff, 0);
}

#[test]
fn fpu_instruction_with_cr0_em_raises_nm() {
    let mut m = machine();
    // IVT[7] = 0000:7D00; handler: mov bx, 0x77 ; hlt
    m.write_phys(7 * 4, &[0x00, 0x7d, 0x00, 0x00]).unwrap();
    m.write_phys(0x7d00, &[0xbb, 0x77, 0x00, HLT]).unwrap();
    // mov eax, cr0 ; or al, 4 ; mov cr0, eax ; fninit
    let stop = run16(
        &mut m,
        &[0x0f, 0x20, 0xc0, 0x0c, 0x04, 0x0f, 0x22, 0xc0, 0xdb, 0xe3],
        &[],
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX] & 0xffff, 0x77);
    assert_eq!(m.counters().exceptions[7], 1);
}

#[test]
fn undefined_opcode_raises_ud() {
    let mut m = machine();
    m.write_phys(6 * 4, &[0x00, 0x7d, 0x00, 0x00]).unwrap();
    m.write_phys(0x7d00, &[0xbb, 0x66, 0x00, HLT]).unwrap();
    // ud2
    let stop = run16(&mut m, &[0x0f, 0x0b], &[]);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().gpr[EBX] & 0xffff, 0x66);
}

#[test]
fn debug_output_stays_small() {
    let m = machine();
    let text = alloc::format!("{m:?} {:?}", m.snapshot());
    assert!(text.len() < 20_000, "{} bytes", text.len());
}
