; vmlab red pill: detect a VMM through sensitive, unprivileged instructions.
;
; A ring-0 guest loads its own GDT, IDT and task register, then reads them back
; with SGDT, SIDT and STR, compares the machine-status word from SMSW with
; CR0 read by MOV (privileged, so a VMM answers it with the virtual value), and
; reads its own CS: the CPL is CS.RPL, so a ring-0 kernel reads RPL 0.
; On real hardware every read matches what was loaded. Under a trap-and-emulate
; VMM the unprivileged reads return the hardware's registers, which the VMM
; owns, and CS carries the ring the VMM runs the kernel at: the guest sees
; through it. Under hardware assistance the guest's
; own values are in the registers and the pill finds nothing.
;
; Build: nasm -f bin -o redpill.rom redpill.asm

%define ROM        0xF0000
%define COM1       0x3F8
%define GDT_BASE   0x1000
%define IDT_BASE   0x2000
%define TSS_BASE   0x3000
%define STACK_TOP  0x8000
%define BUF        0x5000
%define found      0x5100

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
        mov dword [found], 0

        mov esi, ROM + boot_gdt
        mov edi, GDT_BASE
        mov ecx, boot_gdt_end - boot_gdt
        rep movsb
        lgdt [ROM + gdt_desc]
        lidt [ROM + idt_desc]
        mov ax, 0x18
        ltr ax

        ; SGDT
check_sgdt:
        mov esi, ROM + msg_sgdt
        call puts
        sgdt [BUF]
        mov eax, [BUF + 2]
        call puthex
        mov esi, ROM + msg_loaded
        call puts
        mov eax, GDT_BASE
        call puthex
        cmp dword [BUF + 2], GDT_BASE
        call verdict

        ; SIDT
check_sidt:
        mov esi, ROM + msg_sidt
        call puts
        sidt [BUF]
        mov eax, [BUF + 2]
        call puthex
        mov esi, ROM + msg_loaded
        call puts
        mov eax, IDT_BASE
        call puthex
        cmp dword [BUF + 2], IDT_BASE
        call verdict

        ; STR
check_str:
        mov esi, ROM + msg_str
        call puts
        xor eax, eax
        str ax
        mov ebx, eax
        call puthex
        mov esi, ROM + msg_loaded
        call puts
        mov eax, 0x18
        call puthex
        cmp ebx, 0x18
        call verdict

        ; SMSW against MOV from CR0
check_smsw:
        mov esi, ROM + msg_smsw
        call puts
        xor eax, eax
        smsw ax
        mov ebx, eax
        call puthex
        mov esi, ROM + msg_cr0
        call puts
        mov eax, cr0
        and eax, 0xFFFF
        mov ecx, eax
        call puthex
        cmp ebx, ecx
        call verdict

        ; CS.RPL: the CPL is CS.RPL, so a kernel written for ring 0 reads RPL 0,
        ; unless a VMM runs it deprivileged (ring compression)
check_cs:
        mov esi, ROM + msg_cs
        call puts
        xor eax, eax
        mov ax, cs
        mov ebx, eax
        call puthex
        mov esi, ROM + msg_rpl
        call puts
        mov eax, ebx
        and eax, 3
        call puthex
        test ebx, 3
        call verdict

verdict_all:
        mov esi, ROM + msg_none
        cmp dword [found], 0
        je .say
        mov esi, ROM + msg_vmm
.say:   call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
halt:   cli
        hlt
        jmp halt

; verdict: ZF set = the value is what a real machine gives
verdict:
        mov esi, ROM + msg_same
        je .p
        inc dword [found]
        mov esi, ROM + msg_differs
.p:     jmp puts

putc:   mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

puts:   push eax
.next:  mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp .next
.end:   pop eax
        ret

puthex: push ebx
        push ecx
        mov ebx, eax
        mov ecx, 8
.digit: rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        mov al, [ROM + hexdigits + eax]
        call putc
        dec ecx
        jnz .digit
        pop ecx
        pop ebx
        ret

hexdigits:      db "0123456789abcdef"
msg_start:      db "redpill: reading back what this kernel loaded", 10, 0
msg_sgdt:       db "redpill: sgdt base ", 0
msg_sidt:       db "redpill: sidt base ", 0
msg_str:        db "redpill: str ", 0
msg_smsw:       db "redpill: smsw ", 0
msg_cs:         db "redpill: cs ", 0
msg_rpl:        db ", rpl ", 0
msg_loaded:     db ", loaded ", 0
msg_cr0:        db ", cr0 low word ", 0
msg_same:       db ": same", 10, 0
msg_differs:    db ": DIFFERS", 10, 0
msg_none:       db "redpill: verdict: no VMM detected", 10, 0
msg_vmm:        db "redpill: verdict: running under a VMM", 10, 0

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
