; vmlab flat protected-mode guest: loaded with FlatEntry::Protected32 at 0x10000
; (flat ring-0 segments from the loader, paging off), as a boot loader or a
; Multiboot kernel starts, never in real mode. It builds its own IDT, takes a
; software interrupt through it, enables paging with one 4 MiB identity page
; (CR4.PSE), takes a page fault on an unmapped address and maps it in the
; handler, and prints each step on COM1. Under trap-and-emulate the VMM takes
; over at its first instruction.
;
; Build: nasm -f bin -o flatpm.bin flatpm.asm

%define COM1      0x3F8
%define IDT_BASE  0x20000
%define PD_BASE   0x21000
%define PT_HIGH   0x22000
%define FRAME     0x30000
%define HIGH      0x40000000       ; not mapped until the #PF handler maps it

        bits 32
        org 0x10000
start:
        cld
        lgdt [gdt_desc]                     ; its own GDT, inside the 4 MiB it maps
        jmp 0x08:.cs_loaded
.cs_loaded:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts

        ; IDT: vector 0x30 (software), 14 (#PF), everything else panics
        xor ecx, ecx
.fill:  mov eax, unexpected
        cmp ecx, 0x30
        jne .not30
        mov eax, int30
.not30: cmp ecx, 14
        jne .set
        mov eax, pf_handler
.set:   mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], 0x08
        mov word [IDT_BASE + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .fill
        lidt [idt_desc]
        int 0x30

        ; paging: PDE 0 = 4 MiB identity page, PDE 256 (HIGH) = a page table, empty
        mov edi, PD_BASE
        mov ecx, 2048
        xor eax, eax
        rep stosd                           ; page directory and the high page table
        mov dword [PD_BASE], 0x83           ; P | RW | PS
        mov dword [PD_BASE + (HIGH >> 22) * 4], PT_HIGH | 3
        mov eax, cr4
        or eax, 0x10                        ; PSE
        mov cr4, eax
        mov eax, PD_BASE
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov esi, msg_paging
        call puts

        mov dword [HIGH + 0x123], 0x2A2A2A2A    ; page fault, mapped by the handler
        mov eax, [FRAME + 0x123]
        cmp eax, 0x2A2A2A2A
        jne fail
        mov esi, msg_mapped
        call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
        cli
        hlt

fail:   mov esi, msg_fail
        call puts
        mov dx, 0xF4
        mov al, 1
        out dx, al
        cli
        hlt

int30:  push esi
        mov esi, msg_int
        call puts
        pop esi
        iret

pf_handler:
        push eax
        mov eax, cr2
        cmp eax, HIGH
        jb unexpected
        cmp eax, HIGH + 0x1000
        jae unexpected
        mov dword [PT_HIGH], FRAME | 3
        invlpg [HIGH]
        mov esi, msg_pf
        call puts
        pop eax
        add esp, 4
        iret

unexpected:
        mov esi, msg_unexpected
        call puts
        mov dx, 0xF4
        mov al, 1
        out dx, al
        cli
        hlt

puts:   push eax
        push edx
.next:  mov al, [esi]
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
        jmp .next
.end:   pop edx
        pop eax
        ret

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF               ; 0x08 ring-0 code, flat
        dq 0x00CF92000000FFFF               ; 0x10 ring-0 data, flat
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt
idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE
msg_hello:      db "flatpm: started in protected mode", 10, 0
msg_int:        db "flatpm: int 0x30 through the IDT", 10, 0
msg_paging:     db "flatpm: paging on with a 4 MiB page", 10, 0
msg_pf:         db "flatpm: page fault at 0x40000123 mapped", 10, 0
msg_mapped:     db "flatpm: the write went to the mapped frame", 10, 0
msg_fail:       db "flatpm: FAILED", 10, 0
msg_unexpected: db "flatpm: unexpected exception", 10, 0
