; vmlab privileged-instruction tour: a 64 KiB ROM started at F000:FFF0.
;
; Enters 32-bit protected mode at ring 0 and executes each privileged
; instruction exactly once, printing its name first. On the bare machine each
; one simply runs; under the trap-and-emulate VMM each one faults on the
; deprivileged hardware and is emulated (one VM exit each); under the
; hardware-assisted VMM only those its exit controls select leave non-root mode.
; Ends with a summary, a write to the debug-exit port 0xF4 and cli; hlt.
;
; Build: nasm -f bin -o privtour.rom privtour.asm

%define ROM        0xF0000
%define COM1       0x3F8
%define GDT_BASE   0x1000
%define IDT_BASE   0x2000
%define TSS_BASE   0x3000
%define STACK_TOP  0x8000
%define SCRATCH    0x5000

        bits 16
        org 0
rom_start:
real_entry:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, STACK_TOP
        o32 lgdt [cs:boot_gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(ROM + pm_entry)

        align 8
boot_gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 0x08 ring-0 code, flat
        dq 0x00CF92000000FFFF       ; 0x10 ring-0 data, flat
        dw 0x0067, TSS_BASE         ; 0x18 32-bit TSS, available
        db 0x00, 0x89, 0x00, 0x00
boot_gdt_end:
boot_gdt_desc:
        dw boot_gdt_end - boot_gdt - 1
        dd ROM + boot_gdt
gdt_desc:
        dw boot_gdt_end - boot_gdt - 1
        dd GDT_BASE
idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE

        bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov esi, ROM + msg_start
        call puts
        ; the GDT goes to RAM first: LTR writes the busy bit into it
        mov esi, ROM + boot_gdt
        mov edi, GDT_BASE
        mov ecx, boot_gdt_end - boot_gdt
        rep movsb
        mov dword [TSS_BASE + 4], STACK_TOP
        mov dword [TSS_BASE + 8], 0x10

        mov esi, ROM + n_sti_cli
        call puts
        sti
        cli
        call ok

        mov esi, ROM + n_lgdt
        call puts
        lgdt [ROM + gdt_desc]
        call ok

        mov esi, ROM + n_lidt
        call puts
        lidt [ROM + idt_desc]
        call ok

        mov esi, ROM + n_lldt
        call puts
        xor eax, eax
        lldt ax
        call ok

        mov esi, ROM + n_ltr
        call puts
        mov ax, 0x18
        ltr ax
        call ok

        mov esi, ROM + n_rdcr0
        call puts
        mov eax, cr0
        mov ebx, eax
        call ok

        mov esi, ROM + n_wrcr0
        call puts
        mov cr0, ebx
        call ok

        mov esi, ROM + n_wrcr3
        call puts
        mov eax, 0x10000
        mov cr3, eax
        call ok

        mov esi, ROM + n_rdcr4
        call puts
        mov eax, cr4
        mov ebx, eax
        call ok

        mov esi, ROM + n_wrcr4
        call puts
        mov cr4, ebx
        call ok

        mov esi, ROM + n_invlpg
        call puts
        invlpg [SCRATCH]
        call ok

        mov esi, ROM + n_clts
        call puts
        clts
        call ok

        mov esi, ROM + n_lmsw
        call puts
        smsw ax
        lmsw ax
        call ok

        mov esi, ROM + n_wbinvd
        call puts
        wbinvd
        call ok

        mov esi, ROM + n_rddr7
        call puts
        mov eax, dr7
        call ok

        mov esi, ROM + n_in
        call puts
        in al, 0x80
        call ok

        mov esi, ROM + n_out
        call puts
        mov al, 0x42
        out 0x80, al
        call ok

        mov esi, ROM + n_hlt
        call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
halt:   cli
        hlt
        jmp halt

ok:     mov esi, ROM + msg_ok
        jmp puts

putc:   mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

puts:   mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp puts
.end:   ret

msg_start:      db "privtour: each privileged instruction once", 10, 0
msg_ok:         db " ok", 10, 0
n_sti_cli:      db "privtour: sti; cli", 0
n_lgdt:         db "privtour: lgdt", 0
n_lidt:         db "privtour: lidt", 0
n_lldt:         db "privtour: lldt", 0
n_ltr:          db "privtour: ltr", 0
n_rdcr0:        db "privtour: mov eax, cr0", 0
n_wrcr0:        db "privtour: mov cr0, eax", 0
n_wrcr3:        db "privtour: mov cr3, eax", 0
n_rdcr4:        db "privtour: mov eax, cr4", 0
n_wrcr4:        db "privtour: mov cr4, eax", 0
n_invlpg:       db "privtour: invlpg", 0
n_clts:         db "privtour: clts", 0
n_lmsw:         db "privtour: lmsw", 0
n_wbinvd:       db "privtour: wbinvd", 0
n_rddr7:        db "privtour: mov eax, dr7", 0
n_in:           db "privtour: in", 0
n_out:          db "privtour: out", 0
n_hlt:          db "privtour: done; cli; hlt", 10, 0

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
