//! The x87 as a guest sees it: the register stack, tags and TOP, constants checked
//! against the host's own x87, compares into EFLAGS and the condition codes, FXAM,
//! the environment and state images, the masked responses, and #NM and #MF.
#![allow(unsafe_code)]

use emulator_core::x87::{sw, F80};
use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

const BASE: u32 = 0x10000;
/// Where the guests below keep their data.
const DATA: u32 = 0x20000;

/// Assembles `body` (32-bit code ending in `hlt`), runs it, and returns the machine.
fn run(body: &str) -> Machine {
    let src = format!("bits 32\norg {BASE:#x}\n{body}\nhlt\n");
    let out = vmlab_asm::assemble("x87.asm", &src, &vmlab_asm::Options::default())
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(BASE, &out.bytes, FlatEntry::Protected32)
        .unwrap();
    assert_eq!(m.run(100_000), StopReason::Halted, "{src}");
    m
}

fn bytes<const N: usize>(m: &Machine, at: u32) -> [u8; N] {
    let mut b = [0u8; N];
    m.peek_phys(at, &mut b);
    b
}

fn f64_at(m: &Machine, at: u32) -> f64 {
    f64::from_le_bytes(bytes(m, at))
}

#[test]
fn arithmetic_on_the_stack_stores_doubles_and_integers() {
    let m = run(&format!(
        "fninit
         fld1
         fldpi
         faddp st1, st0        ; 1 + pi
         fld qword [{DATA:#x} + 64]
         fmulp st1, st0        ; (1 + pi) * 2.5
         fst qword [{DATA:#x}]
         fsqrt
         fstp qword [{DATA:#x} + 8]
         fild dword [{DATA:#x} + 72]
         fchs
         fistp dword [{DATA:#x} + 16]
         hlt
         times {DATA:#x} + 64 - ($ - $$) - {BASE:#x} db 0
         dq 0x4004000000000000 ; 2.5
         dd 1234"
    ));
    let v = (1.0 + std::f64::consts::PI) * 2.5;
    assert_eq!(f64_at(&m, DATA), v);
    assert_eq!(f64_at(&m, DATA + 8), v.sqrt());
    assert_eq!(i32::from_le_bytes(bytes(&m, DATA + 16)), -1234);
    let f = &m.cpu().fpu;
    assert_eq!(f.top(), 0, "every push popped");
    assert_eq!(f.tw, 0xffff, "every register empty again");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn constants_round_as_the_host_x87_does_in_every_mode() {
    use core::arch::asm;
    let loads = [
        "fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2", "fld1", "fldz",
    ];
    for rc in 0..4u16 {
        let cw = 0x037f | rc << 10;
        let guest: String = loads
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{l}\nfstp tword [{:#x}]\n", DATA + 16 * i as u32))
            .collect();
        let m = run(&format!("fninit\nfldcw [cw]\n{guest}hlt\ncw: dw {cw:#x}"));
        for (i, l) in loads.iter().enumerate() {
            let mut host = [0u8; 10];
            unsafe {
                macro_rules! load {
                    ($ins:literal) => {
                        asm!("fninit", "fldcw word ptr [{cw}]", $ins, "fstp tbyte ptr [{o}]",
                            cw = in(reg) &cw, o = in(reg) host.as_mut_ptr())
                    };
                }
                match i {
                    0 => load!("fldpi"),
                    1 => load!("fldl2e"),
                    2 => load!("fldl2t"),
                    3 => load!("fldlg2"),
                    4 => load!("fldln2"),
                    5 => load!("fld1"),
                    _ => load!("fldz"),
                }
            }
            let ours: [u8; 10] = bytes(&m, DATA + 16 * i as u32);
            assert_eq!(
                F80::from_bytes(ours),
                F80::from_bytes(host),
                "{l} with RC {rc}"
            );
        }
    }
}

#[test]
fn fcomi_sets_eflags_and_fcom_the_condition_codes() {
    let m = run("fninit
         fld1
         fldz
         fcomi st0, st1      ; 0 < 1: CF
         setc byte [0x20000]
         setz byte [0x20001]
         fcom st0, st1
         fnstsw ax
         mov [0x20002], ax
         fxch st0, st1
         fucomip st0, st1    ; 1 > 0: nothing, pops
         setc byte [0x20004]
         setz byte [0x20005]");
    let b: [u8; 6] = bytes(&m, DATA);
    assert_eq!((b[0], b[1]), (1, 0), "fcomi 0 vs 1: CF set, ZF clear");
    let sw = u16::from_le_bytes([b[2], b[3]]);
    assert_eq!(
        sw & (sw::C0 | sw::C2 | sw::C3),
        sw::C0,
        "fcom: less sets C0 only"
    );
    assert_eq!((b[4], b[5]), (0, 0), "fucomip 1 vs 0: greater");
    assert_eq!(m.cpu().fpu.top(), 7, "one register left after the pop");
}

#[test]
fn fxam_classifies_every_kind_of_value() {
    // For each value: load it, FXAM, store the status word, free it.
    let values = [
        ("fldz", 0b100),
        ("fld1", 0b010),
        ("fld tword [inf]", 0b011),
        ("fld tword [nan]", 0b001),
        ("fld tword [den]", 0b110),
    ];
    let mut body = String::from("fninit\n");
    for (i, (load, _)) in values.iter().enumerate() {
        body += &format!(
            "{load}\nfxam\nfnstsw ax\nmov [{:#x}], ax\nffree st0\nfincstp\n",
            DATA + 2 * i as u32
        );
    }
    body += "fxam\nfnstsw ax\nmov [0x20010], ax\nhlt\n";
    body += "inf: dq 0x8000000000000000\ndw 0x7fff\nnan: dq 0xc000000000000001\ndw 0x7fff\nden: dq 1\ndw 0\n";
    let m = run(&body);
    let code = |sw: u16| ((sw >> 14) & 1) << 2 | ((sw >> 10) & 1) << 1 | ((sw >> 8) & 1);
    for (i, (load, want)) in values.iter().enumerate() {
        let sw = u16::from_le_bytes(bytes(&m, DATA + 2 * i as u32));
        assert_eq!(code(sw), *want, "fxam after {load}");
    }
    let sw = u16::from_le_bytes(bytes(&m, DATA + 0x10));
    assert_eq!(code(sw), 0b101, "fxam of an empty register");
}

#[test]
fn a_ninth_push_gives_the_indefinite_with_a_stack_fault() {
    let m =
        run("fninit\n%rep 9\nfld1\n%endrep\nfnstsw ax\nmov [0x20000], ax\nfstp tword [0x20010]");
    let sw = u16::from_le_bytes(bytes(&m, DATA));
    assert_eq!(sw & 0x41, 0x41, "IE and SF");
    assert_ne!(sw & sw::C1, 0, "C1 set: overflow");
    assert_eq!(F80::from_bytes(bytes(&m, DATA + 0x10)), F80::INDEFINITE);
}

#[test]
fn fnsave_and_frstor_round_trip_the_whole_state() {
    let m = run("fninit
         fldpi
         fld1
         fldcw [cw]
         db 0xdd, 0x35        ; fnsave [0x20000]
         dd 0x20000
         fld1                 ; after FNSAVE the FPU is initialised
         fstp st0
         db 0xdd, 0x25        ; frstor [0x20000]
         dd 0x20000
         fstp tword [0x20100]
         fstp tword [0x20110]
         fnstcw [0x20120]
         hlt
         cw: dw 0x0c7f");
    let img: [u8; 28] = bytes(&m, DATA);
    assert_eq!(
        u16::from_le_bytes([img[0], img[1]]),
        0x0c7f,
        "control word saved"
    );
    assert_eq!(
        (u16::from_le_bytes([img[4], img[5]]) >> 11) & 7,
        6,
        "TOP 6 saved"
    );
    assert_eq!(F80::from_bytes(bytes(&m, DATA + 0x100)), F80::ONE);
    assert_eq!(
        F80::from_bytes(bytes(&m, DATA + 0x110)).exp,
        0x4000,
        "pi restored"
    );
    assert_eq!(u16::from_le_bytes(bytes(&m, DATA + 0x120)), 0x0c7f);
}

#[test]
fn fxsave_and_fxrstor_round_trip_and_need_alignment() {
    let m = run("fninit
         fldpi
         fxsave [0x20000]
         fninit
         fxrstor [0x20000]
         fstp qword [0x20300]");
    assert_eq!(f64_at(&m, DATA + 0x300), std::f64::consts::PI);
    let img: [u8; 40] = bytes(&m, DATA);
    assert_eq!(img[4], 0x80, "abridged tag: R7 in use");
    // A misaligned area is #GP(0): with no IDT the machine shuts down.
    let src = "bits 32\norg 0x10000\nfxsave [0x20001]\nhlt\n";
    let out = vmlab_asm::assemble("x.asm", src, &vmlab_asm::Options::default()).unwrap();
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(BASE, &out.bytes, FlatEntry::Protected32)
        .unwrap();
    assert_eq!(m.run(1000), StopReason::TripleFault);
}

#[test]
fn an_unmasked_zero_divide_is_mf_on_the_next_instruction_with_cr0_ne() {
    // IDT vector 16 → a handler that records it and halts.
    let m = run("lidt [idtr]
         mov eax, cr0
         or eax, 0x20          ; NE
         mov cr0, eax
         fninit
         fldcw [cw]           ; ZE unmasked
         fld1
         fldz
         fdivp st1, st0       ; 1/0: ZE pending, ST unchanged
         mov byte [0x20000], 1
         fld1                 ; #MF here
         mov byte [0x20001], 1
         hlt
       mf:
         fnstsw ax
         mov [0x20002], ax
         hlt
       cw: dw 0x037b
       idtr: dw 16*8+7
             dd idt
       align 8
       idt: times 16 dq 0
             dw mf & 0xffff, 8, 0x8e00, mf >> 16");
    let b: [u8; 4] = bytes(&m, DATA);
    assert_eq!(b[0], 1, "the dividing instruction completes");
    assert_eq!(b[1], 0, "the next x87 instruction raises #MF");
    let sw = u16::from_le_bytes([b[2], b[3]]);
    assert_ne!(sw & 0x04, 0, "ZE");
    assert_ne!(sw & sw::ES, 0, "ES");
}

#[test]
fn cr0_em_and_ts_make_x87_instructions_nm() {
    for (bits, what) in [(0x4u32, "EM"), (0x8, "TS")] {
        let m = run(&format!(
            "lidt [idtr]
             mov eax, cr0
             or eax, {bits:#x}
             mov cr0, eax
             fld1
             mov byte [0x20000], 1
             hlt
           nm:
             mov byte [0x20001], 7
             hlt
           idtr: dw 8*8-1
                 dd idt
           align 8
           idt: times 7 dq 0
                 dw nm & 0xffff, 8, 0x8e00, nm >> 16"
        ));
        let b: [u8; 2] = bytes(&m, DATA);
        assert_eq!(b, [0, 7], "CR0.{what}: #NM");
    }
}

#[test]
fn cpuid_reports_the_fpu() {
    let m = run("mov eax, 1\ncpuid\nmov [0x20000], edx");
    let edx = u32::from_le_bytes(bytes(&m, DATA));
    assert_eq!(edx & 1, 1, "FPU");
    assert_ne!(edx & (1 << 24), 0, "FXSR");
}
