; The red pill: a guest kernel written for ring 0 asks five unprivileged questions
; whose answers a trap-and-emulate VMM cannot fake, then prints them.
bits 32
org 0x10000

COM1 equ 0x3f8
BUF  equ 0x20000            ; SIDT at BUF, SGDT at BUF + 8
GDT  equ 0x21000            ; the kernel's GDT: null, code 08, data 10, TSS 18
TSS  equ 0x22000

start:
    mov esp, 0x90000
    mov esi, gdt
    mov edi, GDT
    mov ecx, gdt_end - gdt
    rep movsb
    lgdt [gdt_desc]
    mov ax, 0x18
    ltr ax                  ; TR = 0018, the kernel's own TSS
    sidt [BUF]              ; IDTR: the VMM's IDT under trap-and-emulate
after_sidt:
    sgdt [BUF + 8]          ; GDTR: the guest's own GDT (the VMM keeps it)
after_sgdt:
    smsw bx                 ; the low word of the hardware CR0
after_smsw:
    mov si, cs              ; CS: its RPL is the CPL, the ring the kernel really runs at
after_cs:
    str di                  ; TR: 0018 as loaded, RPL the ring the VMM runs the kernel at
after_str:
    mov dx, COM1
    mov al, 'I'
    out dx, al
    mov al, 'D'
    out dx, al
    mov al, 'T'
    out dx, al
    mov al, ' '
    out dx, al
    mov eax, [BUF + 2]      ; the IDT base
    call hex
    mov al, ' '
    out dx, al
    mov al, 'R'
    out dx, al
    mov al, 'P'
    out dx, al
    mov al, 'L'
    out dx, al
    mov al, ' '
    out dx, al
    mov ax, si
    and al, 3
    add al, '0'
    out dx, al              ; 0 on a real machine, 1 at ring 1
    mov al, 10
    out dx, al
printed:
    cli
done:
    hlt
    jmp done

gdt_desc:
    dw gdt_end - gdt - 1
    dd GDT
gdt:
    dq 0
    dq 0x00cf9a000000ffff   ; 08: flat code, DPL 0
    dq 0x00cf92000000ffff   ; 10: flat data, DPL 0
    dw 103, TSS & 0xffff    ; 18: 32-bit TSS at TSS, limit 103
    db (TSS >> 16) & 0xff, 0x89, 0, TSS >> 24
gdt_end:

hex:                        ; EAX as 8 hex digits on COM1 (DX = COM1)
    mov ecx, 8
.digit:
    rol eax, 4
    mov ebx, eax
    and bl, 0xf
    add bl, '0'
    cmp bl, '9'
    jbe .out
    add bl, 'a' - '0' - 10
.out:
    xchg eax, ebx
    out dx, al
    xchg eax, ebx
    loop .digit
    ret
