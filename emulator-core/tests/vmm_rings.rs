//! Ring compression as IA-32 has it: the CPL is CS.RPL. Under trap-and-emulate the
//! deprivileged kernel's CS and SS carry the ring it runs at, `mov ax, cs` and
//! `push cs` reveal it (and are reported), and the selectors it reads that way
//! still work when it hands them back (RETF, a far jump, segment loads).

mod common;

use emulator_core::vmm::Vmm;
use emulator_core::{ExecMode, GuestPaging, GuestRing, Machine, MachineConfig, SegReg, StopReason};

/// A kernel started in protected mode at ring 0: it stores what it reads from CS
/// and SS, returns to itself through `push cs; push x; retf`, reloads DS and SS
/// from the SS it read, jumps far through a pointer holding the CS it read, and
/// stores a mark after each step.
const GUEST: &str = "
        bits 32
        org 0x10000
        xor eax, eax
        mov ax, cs
        mov [0x9000], eax
        xor eax, eax
        mov ax, ss
        mov [0x9004], eax
        push cs
        pop eax
        mov [0x9008], eax
        push cs
        push back
        retf
back:   mov dword [0x9010], 1
        xor eax, eax
        mov ax, ss
        mov ds, ax
        push ss
        pop ss
        mov dword [0x9014], 2
        mov ax, cs
        mov [farptr + 4], ax
        jmp far [farptr]
        nop
there:  mov dword [0x9018], 3
        mov dx, 0xF4
        xor al, al
        out dx, al
        hlt
farptr: dd there
        dw 0
";

fn run(mode: ExecMode) -> (Machine, [u32; 6]) {
    let image = vmlab_asm::assemble("rings.asm", GUEST, &vmlab_asm::Options::default())
        .expect("the guest assembles")
        .bytes;
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &image,
    );
    assert_eq!(m.run(100_000), StopReason::DebugExit(0), "{mode:?}");
    let mut out = [0u32; 6];
    for (i, at) in [0x9000, 0x9004, 0x9008, 0x9010, 0x9014, 0x9018]
        .into_iter()
        .enumerate()
    {
        let mut b = [0u8; 4];
        m.peek_phys(at, &mut b);
        out[i] = u32::from_le_bytes(b);
    }
    (m, out)
}

fn vmm(m: &Machine) -> &Vmm {
    m.vmm().expect("a VMM")
}

#[test]
fn bare_kernel_reads_rpl_zero_and_trap_emulate_leaks_the_ring_it_runs_at() {
    let (bare_m, bare) = run(ExecMode::Bare);
    assert_eq!(bare[0] & 3, 0, "CS at ring 0: {bare:x?}");
    assert_eq!(bare[1] & 3, 0, "SS at ring 0: {bare:x?}");
    assert_eq!(bare[2], bare[0], "PUSH CS pushes CS");
    assert_eq!(&bare[3..], &[1, 2, 3], "every step ran bare");
    assert_eq!(bare_m.cpu().cpl, 0);
    for ring in [GuestRing::Ring1, GuestRing::Ring2, GuestRing::Ring3] {
        let mode = ExecMode::TrapEmulate { guest_ring: ring };
        let (m, te) = run(mode);
        let r = ring.number() as u32;
        assert_eq!(te[0], bare[0] | r, "mov ax, cs at ring {r}: {te:x?}");
        assert_eq!(te[1], bare[1] | r, "mov ax, ss at ring {r}: {te:x?}");
        assert_eq!(te[2], bare[2] | r, "push cs at ring {r}: {te:x?}");
        assert_eq!(
            &te[3..],
            &[1, 2, 3],
            "RETF, the segment loads and the far jump with the read selectors work at ring {r}"
        );
        let cpu = m.cpu();
        assert_eq!(cpu.cpl as u32, r);
        assert_eq!(
            cpu.sreg(SegReg::Cs).selector & 3,
            cpu.cpl as u16,
            "CPL = CS.RPL"
        );
        assert_eq!(cpu.sreg(SegReg::Ss).selector & 3, cpu.cpl as u16);
        let leaks: Vec<_> = vmm(&m)
            .reports()
            .iter()
            .filter(|x| x.differs && (x.saw.starts_with("cs") || x.saw.starts_with("ss")))
            .collect();
        assert!(
            leaks.len() == 7,
            "mov from CS (twice) and SS (twice), push cs (twice) and push ss are reported at ring {r}: {:?}",
            vmm(&m).reports()
        );
    }
    for paging in [GuestPaging::Nested, GuestPaging::Shadow] {
        let mode = ExecMode::HwAssist { paging };
        assert_eq!(run(mode).1, bare, "{mode:?} runs the kernel at ring 0");
    }
}
