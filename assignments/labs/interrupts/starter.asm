; Lab 3 — interrupts and privilege.
;
; At entry: EBX = linear address to write (in 4..8 MiB, not mapped), ECX = the
; value to write there, ESI = a NUL-terminated message for your ring-3 program.
; See the statement for the exact output. Helpers and tables are given below.

        org 0x10000
        bits 32

%define IDT         0x20000
%define COM1        0x3f8

start:
        mov [target], ebx
        mov [value], ecx
        mov [message], esi
        cld

        ; 1. GDT: fill in the TSS descriptor's base, LGDT, reload CS and the data segments.
        ; 2. TSS: ESP0 and SS0 (the stack the CPU switches to on a trap from ring 3); LTR.
        ; 3. IDT at IDT: gates for #GP (13), #PF (14) and the system call (0x80, DPL 3); LIDT.
        ; 4. Paging: 0..4 MiB mapped (user-accessible, since your ring-3 code runs there),
        ;    4..8 MiB through a page table whose entries are not present yet; CR3, CR0.PG.
        ; 5. Write ECX's value to [EBX] (it faults: your #PF handler maps a page), read it
        ;    back and print "read back XXXXXXXX".
        ; 6. IRET to ring 3 at `user` with a user stack.

        hlt

user:   mov ax, 0x23
        mov ds, ax
        mov es, ax
        ; the system call (EAX = 1, ESI = message), then a privileged instruction
        jmp user

; set_gate: ECX = vector, EAX = handler, DX = type and DPL (0x8e00: interrupt gate, DPL 0)
set_gate:
        mov [IDT + ecx*8], ax
        mov word [IDT + ecx*8 + 2], 0x08
        mov [IDT + ecx*8 + 4], dx
        shr eax, 16
        mov [IDT + ecx*8 + 6], ax
        ret

; putc: AL to COM1
putc:   push edx
        mov dx, COM1
        out dx, al
        pop edx
        ret

; puts: ESI = NUL-terminated string
puts:   push eax
        push esi
.next:  mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp .next
.end:   pop esi
        pop eax
        ret

; puthex: EAX as 8 lowercase hex digits
puthex: push ebx
        push ecx
        mov ebx, eax
        mov ecx, 8
.digit: rol ebx, 4
        mov eax, ebx
        and eax, 0xf
        mov al, [hexdigits + eax]
        call putc
        dec ecx
        jnz .digit
        pop ecx
        pop ebx
        ret

hexdigits:  db "0123456789abcdef"
target:     dd 0
value:      dd 0
message:    dd 0

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 kernel code
            dq 0x00CF92000000FFFF       ; 0x10 kernel data
            dq 0x00CFFA000000FFFF       ; 0x18 user code (DPL 3)
            dq 0x00CFF2000000FFFF       ; 0x20 user data (DPL 3)
gdt_tss:    dw 103, 0                   ; 0x28 32-bit TSS (fill in the base)
            db 0, 0x89, 0, 0
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
idt_desc:   dw 256 * 8 - 1
            dd IDT

        align 4
tss:        times 26 dd 0
            dw 0, 104                   ; no I/O permission bitmap
