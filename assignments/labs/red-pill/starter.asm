; Lab 4 — red pill. Print "verdict: bare" or "verdict: vmm" (and a newline) on
; COM1, then halt. Right now it always says bare: find a tell.

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

start:
        xor ebx, ebx                    ; count the tells of a VMM here

        ; your checks: sensitive but unprivileged instructions
        ; (SGDT, SIDT, SMSW, STR, PUSHF, MOV from CS, LAR, ...)

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

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 code, flat
            dq 0x00CF92000000FFFF       ; 0x10 data, flat
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
