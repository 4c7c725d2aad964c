; Paging-heavy benchmark guest: a 64 KiB ROM for the x86 reset vector.
; NPROC address spaces, each its own page directory mapping NPAGES private pages at
; the same linear address 0x400000 to different frames; every pass switches CR3 to
; each address space in turn (a TLB flush) and touches each of its pages (TLB misses,
; page walks, accessed/dirty bits). Prints a checksum on COM1, then cli; hlt.
; Assemble: nasm -f bin -D ITER=N -o paging.rom paging.asm
%ifndef ITER
%define ITER 2000
%endif
%define NPROC   16
%define NPAGES  16
%define PT0     0x50000            ; identity map of the first 4 MiB (shared)
%define PD_BASE 0x60000            ; page directory of address space p at PD_BASE + p*4K
%define PT_BASE 0x80000            ; its page table for 0x400000 at PT_BASE + p*4K
%define FRAMES  0x100000           ; its frames at FRAMES + p*64K
%define COM1    0x3F8

        bits 16
        org 0
rom_start:
real_entry:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(0xF0000 + pm_entry)

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF      ; 0x08 code, flat
        dq 0x00CF92000000FFFF      ; 0x10 data, flat
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd 0xF0000 + gdt

        bits 32
        align 16
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, 0x9F000
        cld
        ; the shared identity map of 0..4 MiB
        mov edi, PT0
        mov eax, 3
        mov ecx, 1024
.pt0:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz .pt0
        ; one page directory and one page table per address space
        xor ebx, ebx
.space: mov edi, ebx
        shl edi, 12
        add edi, PD_BASE
        push edi
        mov ecx, 1024
        xor eax, eax
        rep stosd
        pop edi
        mov dword [edi], PT0 + 3
        mov eax, ebx
        shl eax, 12
        add eax, PT_BASE
        lea edx, [eax + 3]
        mov [edi + 4], edx
        mov edi, eax
        push edi
        mov ecx, 1024
        xor eax, eax
        rep stosd
        pop edi
        mov eax, ebx
        shl eax, 16
        add eax, FRAMES + 3
        mov ecx, NPAGES
.ptp:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz .ptp
        inc ebx
        cmp ebx, NPROC
        jb .space
        ; paging on, in address space 0
        mov eax, PD_BASE
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        xor esi, esi
        mov ebp, ITER
.pass:  mov edx, ebp
        and edx, 0x3FF
        shl edx, 2
        xor ebx, ebx
.switch:
        mov eax, ebx
        shl eax, 12
        add eax, PD_BASE
        mov cr3, eax
        mov edi, 0x400000
        mov ecx, NPAGES
.touch: mov eax, [edi + edx]
        add eax, ebx
        add eax, ecx
        mov [edi + edx], eax
        add esi, eax
        rol esi, 1
        add edi, 0x1000
        dec ecx
        jnz .touch
        inc ebx
        cmp ebx, NPROC
        jb .switch
        dec ebp
        jnz .pass
        ; program COM1 for 8N1 with FIFOs, print ESI as 8 hex digits and a newline
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov dx, COM1 + 2
        mov al, 0x07
        out dx, al
        mov ebx, esi
        mov ecx, 8
.hex:   rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        mov al, [0xF0000 + hexdigits + eax]
        call putc
        dec ecx
        jnz .hex
        mov al, 10
        call putc
done:
        cli
        hlt
        jmp done

putc:   mov ah, al                 ; wait for THR empty, then send AL
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

hexdigits: db "0123456789abcdef"

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
