; reference solution: interrupts (vmlab lab 3)
;
; EBX = linear address to write (4..8 MiB, not mapped), ECX = value to write there,
; ESI = NUL-terminated message for the user program to print with the system call.

        org 0x10000
        bits 32

%define IDT         0x20000
%define PAGE_DIR    0x100000
%define PAGE_TABLE1 0x101000            ; maps 4..8 MiB, on demand
%define KSTACK      0x88000             ; ring-0 stack for traps from ring 3
%define USTACK      0x70000
%define COM1        0x3f8

start:
        mov [target], ebx
        mov [value], ecx
        mov [message], esi
        cld

        ; GDT: fill in the TSS descriptor's base, load, reload the segments
        mov eax, tss
        mov [gdt_tss + 2], ax
        shr eax, 16
        mov [gdt_tss + 4], al
        mov [gdt_tss + 7], ah
        lgdt [gdt_desc]
        jmp 0x08:.cs_ok
.cs_ok: mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov dword [tss + 4], KSTACK     ; ESP0
        mov dword [tss + 8], 0x10       ; SS0
        mov ax, 0x28
        ltr ax

        ; IDT: #GP, #PF and the system call gate (DPL 3)
        mov edi, IDT
        xor eax, eax
        mov ecx, 512
        rep stosd
        mov ecx, 13
        mov eax, gp_handler
        mov dx, 0x8e00
        call set_gate
        mov ecx, 14
        mov eax, pf_handler
        call set_gate
        mov ecx, 0x80
        mov eax, syscall
        mov dx, 0xee00
        call set_gate
        lidt [idt_desc]

        ; paging: 0..4 MiB one 4 MiB user page, 4..8 MiB a table with nothing present
        mov edi, PAGE_DIR
        xor eax, eax
        mov ecx, 2048
        rep stosd
        mov dword [PAGE_DIR], 0x00000087            ; P | R/W | U/S | PS
        mov dword [PAGE_DIR + 4], PAGE_TABLE1 | 7
        mov eax, cr4
        or eax, 0x10                                 ; PSE
        mov cr4, eax
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000
        mov cr0, eax

        ; the write that faults, then read it back
        mov ebx, [target]
        mov eax, [value]
        mov [ebx], eax
        mov esi, msg_back
        call puts
        mov eax, [ebx]
        call puthex
        mov al, 10
        call putc

        ; to ring 3
        mov esi, [message]
        push 0x23
        push USTACK
        push 0x002
        push 0x1b
        push user
        iret

user:   mov ax, 0x23
        mov ds, ax
        mov es, ax
        mov eax, 1
        int 0x80
        cli                             ; privileged at CPL 3: #GP(0)
        jmp user

; set_gate: ECX = vector, EAX = handler, DX = type and DPL (0x8e00, 0xee00)
set_gate:
        mov [IDT + ecx*8], ax
        mov word [IDT + ecx*8 + 2], 0x08
        mov [IDT + ecx*8 + 4], dx
        shr eax, 16
        mov [IDT + ecx*8 + 6], ax
        ret

pf_handler:
        pusha
        mov esi, msg_pf
        call puts
        mov eax, cr2
        call puthex
        mov esi, msg_err
        call puts
        mov eax, [esp + 32]
        call puthex
        mov al, 10
        call putc
        mov edi, [next_frame]
        add dword [next_frame], 0x1000
        mov edx, edi
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov eax, cr2
        shr eax, 12
        and eax, 0x3ff
        or edx, 7
        mov [PAGE_TABLE1 + eax*4], edx
        popa
        add esp, 4
        iret

gp_handler:
        mov esi, msg_gp
        call puts
        mov eax, [esp + 8]              ; the interrupted CS: its RPL is the old CPL
        and eax, 3
        add al, '0'
        call putc
        mov esi, msg_err
        call puts
        mov eax, [esp]
        call puthex
        mov al, 10
        call putc
.stop:  cli
        hlt
        jmp .stop

syscall:
        cmp eax, 1
        jne .done
        call puts
.done:  iret

putc:   push edx
        mov dx, COM1
        out dx, al
        pop edx
        ret

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
msg_pf:     db "page fault at ", 0
msg_err:    db ", error ", 0
msg_back:   db "read back ", 0
msg_gp:     db "general protection fault from ring ", 0

target:     dd 0
value:      dd 0
message:    dd 0
next_frame: dd 0x380000

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 kernel code
            dq 0x00CF92000000FFFF       ; 0x10 kernel data
            dq 0x00CFFA000000FFFF       ; 0x18 user code (DPL 3)
            dq 0x00CFF2000000FFFF       ; 0x20 user data (DPL 3)
gdt_tss:    dw 103, 0                   ; 0x28 32-bit TSS (base filled in at run time)
            db 0, 0x89, 0, 0
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
idt_desc:   dw 256 * 8 - 1
            dd IDT

        align 4
tss:        times 26 dd 0
            dw 0, 104                   ; no I/O permission bitmap
