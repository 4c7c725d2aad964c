//! Trap-and-emulate with the guest kernel at ring 3: the VMM tracks the virtual
//! CPL itself and keeps a kernel-mode and a user-mode shadow root, so every guest
//! prints what it prints bare, and the guest's user mode still cannot touch its
//! kernel's supervisor pages.

mod common;

use emulator_core::vmm::{ExitReason, Vmm};
use emulator_core::{ExecMode, FlatEntry, GuestRing, Machine, MachineConfig, StopReason};

const BARE: ExecMode = ExecMode::Bare;
const RING1: ExecMode = ExecMode::TRAP_EMULATE;
const RING3: ExecMode = ExecMode::TrapEmulate {
    guest_ring: GuestRing::Ring3,
};

fn assemble(path: &str) -> Vec<u8> {
    common::assemble(&format!("guests/{path}.asm"), &[])
}

fn machine(mode: ExecMode) -> Machine {
    Machine::new(MachineConfig {
        mode,
        ..MachineConfig::default()
    })
    .expect("machine")
}

fn run(image: &[u8], mode: ExecMode) -> (Machine, String) {
    let mut m = machine(mode);
    m.load_rom(image).expect("ROM loads");
    let stop = m.run(60_000_000);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(
        stop,
        StopReason::DebugExit(0),
        "{mode:?} did not finish; serial so far:\n{out}"
    );
    (m, out)
}

fn vmm(m: &Machine) -> &Vmm {
    m.vmm().expect("a VMM in this mode")
}

#[test]
fn teaching_kernel_prints_the_same_at_ring_three_with_two_shadow_roots() {
    let image = assemble("kernel/kernel");
    let (bare_m, bare) = run(&image, BARE);
    let (r1, _) = run(&image, RING1);
    let (m, out) = run(&image, RING3);
    assert_eq!(out, bare);
    assert_eq!(
        m.icount(),
        bare_m.icount(),
        "an emulated instruction retires as one"
    );
    assert_eq!(m.cpu().cpl, 3);
    let v = vmm(&m);
    let shadow = v.stats().shadow.expect("shadow statistics");
    assert!(
        shadow.root_switches >= 12,
        "each of the 6 lines is a system call there and back: {shadow:?}"
    );
    // at ring 1 the kernel's IRETs to its user mode run natively; at ring 3 they exit
    assert!(
        v.exits.count(ExitReason::Iret) > vmm(&r1).exits.count(ExitReason::Iret),
        "{:?} vs {:?}",
        v.exits.by_reason,
        vmm(&r1).exits.by_reason
    );
    assert!(v.exits.cycles > vmm(&r1).exits.cycles);
    let r1_shadow = vmm(&r1).stats().shadow.expect("shadow statistics");
    assert_eq!(r1_shadow.root_switches, 0, "one root at ring 1");
}

#[test]
fn cpu_test_rom_and_the_vmm_guests_match_ring_one() {
    // ring 3 must behave as ring 1 does: bare output, or the same documented
    // Popek–Goldberg differences (POPF, SIDT, SMSW, CS.RPL)
    for path in [
        "cputest/cputest",
        "vmm/privtour",
        "vmm/popf",
        "vmm/redpill",
        "vmm/paravirt",
    ] {
        let image = assemble(path);
        let (m1, ring1) = run(&image, RING1);
        let (m3, ring3) = run(&image, RING3);
        // the red pill reads its CS, whose RPL is the ring the kernel runs at
        let ring1 = ring1
            .replace("cs 00000009, rpl 00000001", "cs 0000000b, rpl 00000003")
            .replace("str 00000019", "str 0000001b");
        assert_eq!(ring3, ring1, "{path}");
        assert_eq!(m3.icount(), m1.icount(), "{path}");
    }
    let (_, bare) = run(&assemble("cputest/cputest"), BARE);
    assert!(bare.contains("cputest: all stages passed"), "{bare}");
    let (_, bare) = run(&assemble("vmm/paravirt"), BARE);
    let (_, ring3) = run(&assemble("vmm/paravirt"), RING3);
    assert_eq!(ring3, bare);
}

#[test]
fn flat_protected_mode_and_multiboot_guests_run_at_ring_three() {
    let image = assemble("vmm/flatpm");
    let mut outs = Vec::new();
    for mode in [BARE, RING3] {
        let mut m = machine(mode);
        m.load_flat(0x10000, &image, FlatEntry::Protected32)
            .expect("loads");
        m.run(10_000_000);
        outs.push(String::from_utf8_lossy(&m.serial_output()).into_owned());
    }
    assert!(outs[0].contains("flatpm: the write went"), "{}", outs[0]);
    assert_eq!(outs[1], outs[0]);

    let elf = assemble("cputest/multiboot");
    let mut outs = Vec::new();
    for mode in [BARE, RING3] {
        let mut m = machine(mode);
        m.load_multiboot(&elf, "hello").expect("loads");
        assert_eq!(m.run(10_000_000), StopReason::DebugExit(0), "{mode:?}");
        outs.push(String::from_utf8_lossy(&m.serial_output()).into_owned());
    }
    assert!(outs[0].contains("cmdline=hello"), "{}", outs[0]);
    assert_eq!(outs[1], outs[0]);
}

/// A flat protected-mode guest: its kernel writes a supervisor-only page, drops to
/// ring 3 by IRET, and its user code executes CLI (the #GP handler checks it came
/// from ring 3 and returns past it) and reads that page; the page fault handler
/// checks the error code (present, read, user), CR2 and the interrupted ring.
const SUPERVISOR_PAGE_GUEST: &str = r#"
%define COM1     0x3F8
%define IDT_BASE 0x20000
%define PD_BASE  0x21000
%define PT0      0x22000
%define TSS_BASE 0x23000
%define SECRET   0x50000
        bits 32
        org 0x10000
start:  cld
        lgdt [gdt_desc]
        jmp 0x08:.cs
.cs:    mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x9F000
        xor ecx, ecx
.fill:  mov eax, unexpected
        cmp ecx, 14
        jne .not14
        mov eax, pf_handler
.not14: cmp ecx, 13
        jne .set
        mov eax, gp_handler
.set:   mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], 0x08
        mov word [IDT_BASE + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .fill
        lidt [idt_desc]
        mov dword [TSS_BASE + 4], 0x9F000
        mov dword [TSS_BASE + 8], 0x10
        mov eax, TSS_BASE
        mov [gdt + 0x28 + 2], ax
        shr eax, 16
        mov [gdt + 0x28 + 4], al
        mov ax, 0x28
        ltr ax
        ; 4 KiB identity pages over the first 4 MiB, user and writable,
        ; except SECRET: supervisor-only
        mov edi, PT0
        mov eax, 7
        mov ecx, 1024
.map:   stosd
        add eax, 0x1000
        loop .map
        mov dword [PT0 + (SECRET >> 12) * 4], SECRET | 3
        mov edi, PD_BASE
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [PD_BASE], PT0 | 7
        mov eax, PD_BASE
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000                  ; PG | WP
        mov cr0, eax
        mov dword [SECRET], 0x5EC2E7
        cmp dword [SECRET], 0x5EC2E7
        jne fail
        mov esi, msg_kernel
        call puts
        push 0x23
        push 0x80000
        pushfd
        push 0x1B
        push user
        iret
user:   mov ax, 0x23
        mov ds, ax
        mov es, ax
        cli                                 ; privileged: the guest's own #GP
        mov eax, [SECRET]                   ; a user read of a supervisor page
        jmp user

gp_handler:
        cmp dword [esp], 0                  ; #GP(0)
        jne fail
        cmp dword [esp + 8], 0x1B           ; taken in user mode
        jne fail
        mov esi, msg_gp
        call puts
        add esp, 4
        inc dword [esp]                     ; past the CLI, back to user mode
        iret

pf_handler:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        cmp dword [esp], 5                  ; P | U/S, a read
        jne fail
        cmp dword [esp + 8], 0x1B           ; taken in user mode
        jne fail
        mov eax, cr2
        cmp eax, SECRET
        jne fail
        mov esi, msg_pf
        call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
        cli
        hlt

unexpected:
fail:   mov esi, msg_fail
        call puts
        mov dx, 0xF4
        mov al, 1
        out dx, al
        cli
        hlt

puts:   mov al, [esi]
        test al, al
        jz .end
        mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        inc esi
        jmp puts
.end:   ret

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF               ; 0x08 kernel code
        dq 0x00CF92000000FFFF               ; 0x10 kernel data
        dq 0x00CFFA000000FFFF               ; 0x18 user code
        dq 0x00CFF2000000FFFF               ; 0x20 user data
        dq 0x0000890000000067               ; 0x28 TSS (base filled in)
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt
idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE
msg_kernel: db "kernel wrote its supervisor page", 10, 0
msg_gp:     db "user cli: #GP(0) from ring 3", 10, 0
msg_pf:     db "user read of the supervisor page: #PF error 5 at CR2", 10, 0
msg_fail:   db "FAILED", 10, 0
"#;

#[test]
fn user_mode_cli_and_a_user_read_of_a_supervisor_page_are_injected_to_the_guest() {
    let image = vmlab_asm::assemble("supervisor.asm", SUPERVISOR_PAGE_GUEST, &Default::default())
        .expect("assembles")
        .bytes;
    let expected = "kernel wrote its supervisor page
user cli: #GP(0) from ring 3
user read of the supervisor page: #PF error 5 at CR2
";
    for mode in [BARE, RING1, RING3] {
        let mut m = machine(mode);
        m.load_flat(0x10000, &image, FlatEntry::Protected32)
            .expect("loads");
        let stop = m.run(1_000_000);
        let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
        assert_eq!(out, expected, "{mode:?}");
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}");
        if mode == RING3 {
            let v = vmm(&m);
            assert_eq!(v.exits.count(ExitReason::PageFault), 1);
            assert_eq!(v.exits.count(ExitReason::InterruptFlag), 0, "not emulated");
            assert_eq!(v.exits.count(ExitReason::Exception), 1, "the #GP, injected");
            let shadow = v.stats().shadow.expect("shadow statistics");
            assert_eq!(shadow.true_faults, 1, "{shadow:?}");
            // kernel → user by IRET, back by #GP, out by IRET, back by #PF
            assert_eq!(
                shadow.root_switches, 5,
                "the first at deprivileging: {shadow:?}"
            );
            assert_eq!(v.vcpu.cr2, 0x50000);
        }
    }
}

#[test]
fn snapshot_at_ring_three_keeps_the_virtual_cpl_and_continues_exactly() {
    let image = assemble("kernel/kernel");
    let mut m = machine(RING3);
    m.load_rom(&image).expect("ROM loads");
    // stop somewhere in the guest's user mode, where only the VMM knows the CPL
    let mut steps = 0;
    loop {
        assert_eq!(m.run(1_000), StopReason::BudgetExhausted);
        steps += 1;
        assert!(steps < 5_000, "never reached the guest's user mode");
        if vmm(&m).vcpu.deprivileged && vmm(&m).guest_cpl(m.cpu()) == 3 {
            break;
        }
    }
    assert_eq!(m.cpu().cpl, 3);
    let snap = m.snapshot();
    assert_eq!(m.run(60_000_000), StopReason::DebugExit(0));
    let mut again = machine(RING3);
    again.restore(&snap).expect("restore");
    assert_eq!(vmm(&again).guest_cpl(again.cpu()), 3);
    assert_eq!(again.run(60_000_000), StopReason::DebugExit(0));
    assert_eq!(again.serial_output(), m.serial_output());
    assert_eq!(vmm(&again).exits.total, vmm(&m).exits.total);
    assert_eq!(
        vmm(&again).stats().shadow.map(|s| s.root_switches),
        vmm(&m).stats().shadow.map(|s| s.root_switches)
    );
}

/// A flat protected-mode guest whose kernel IRETs to user mode with a stack
/// selector of the wrong RPL: the IRET faults (#GP with the selector) and does not
/// retire, whether the hardware or the VMM executes it.
const BAD_IRET_GUEST: &str = r#"
%define IDT_BASE 0x20000
        bits 32
        org 0x10000
start:  lgdt [gdt_desc]
        jmp 0x08:.cs
.cs:    mov ax, 0x10
        mov ds, ax
        mov ss, ax
        mov esp, 0x9F000
        xor ecx, ecx
.fill:  mov eax, handler
        mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], 0x08
        mov word [IDT_BASE + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 32
        jb .fill
        lidt [idt_desc]
        push 0x20                           ; user data with RPL 0: not a ring-3 stack
        push 0x80000
        pushfd
        push 0x1B
        push user
        iret
user:   jmp user
handler:
        mov al, 0x47                        ; 'G' when it is #GP(0x20) from the IRET
        cmp dword [esp], 0x20
        jne .out
        cmp dword [esp + 4], user - 1       ; the one-byte IRET
        jne .out
        mov al, 0x21
.out:   mov dx, 0x3F8
        out dx, al
        mov dx, 0xF4
        xor al, al
        out dx, al
        hlt
        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF
        dq 0x00CF92000000FFFF
        dq 0x00CFFA000000FFFF
        dq 0x00CFF2000000FFFF
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt
idt_desc:
        dw 32 * 8 - 1
        dd IDT_BASE
"#;

#[test]
fn a_faulting_kernel_iret_raises_its_fault_and_does_not_retire() {
    let image = vmlab_asm::assemble("badiret.asm", BAD_IRET_GUEST, &Default::default())
        .expect("assembles")
        .bytes;
    let mut icounts = Vec::new();
    for mode in [BARE, RING1, RING3] {
        let mut m = machine(mode);
        m.load_flat(0x10000, &image, FlatEntry::Protected32)
            .expect("loads");
        assert_eq!(m.run(100_000), StopReason::DebugExit(0), "{mode:?}");
        assert_eq!(m.serial_output(), b"!", "{mode:?}: #GP(0x20) at the IRET");
        icounts.push(m.icount());
    }
    assert!(icounts.windows(2).all(|w| w[0] == w[1]), "{icounts:?}");
}
