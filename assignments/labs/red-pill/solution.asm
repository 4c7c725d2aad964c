; reference solution: red-pill (vmlab lab 4)
;
; Four tells, each a sensitive but unprivileged instruction that a trap-and-emulate
; VMM cannot intercept: the RPL of CS, SGDT and SIDT after loading our own tables,
; and SMSW against CR0 read with a (privileged, so emulated) MOV.

        org 0x7c00
        bits 16

; Real mode, like a boot sector: switch to 32-bit protected mode. (Under the
; trap-and-emulate VMM, this MOV to CR0 is where the kernel is deprivileged.)
boot:   cli
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        o32 lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:pm_entry

        bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x90000

%define COM1     0x3f8
%define IDT_BASE 0x20000

start:
        xor ebx, ebx                    ; tells seen

        mov ax, cs                      ; a real ring-0 kernel sees RPL 0
        test al, 3
        jz .cs_ok
        inc ebx
.cs_ok:
        sgdt [buf]
        cmp dword [buf + 2], gdt
        je .gdt_ok
        inc ebx
.gdt_ok:
        lidt [idt_desc]
        sidt [buf]
        cmp dword [buf + 2], IDT_BASE
        je .idt_ok
        inc ebx
.idt_ok:
        smsw ax
        mov ecx, cr0
        cmp ax, cx
        je .msw_ok
        inc ebx
.msw_ok:
        mov esi, msg_bare
        test ebx, ebx
        jz .say
        mov esi, msg_vmm
.say:   mov dx, COM1
.next:  lodsb
        test al, al
        jz .done
        out dx, al
        jmp .next
.done:  cli
        hlt

msg_bare:   db "verdict: bare", 10, 0
msg_vmm:    db "verdict: vmm", 10, 0

idt_desc:   dw 256 * 8 - 1
            dd IDT_BASE
buf:        times 8 db 0

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 code, flat
            dq 0x00CF92000000FFFF       ; 0x10 data, flat
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
