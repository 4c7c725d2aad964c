; vmlab Multiboot test kernel: an ELF32 executable written out by hand (nasm -f bin),
; loaded at 1 MiB by a Multiboot loader (vmlab's, or QEMU's -kernel).
;
; It checks the entry state the Multiboot specification promises (EAX magic, flat
; segments, paging off, BSS zeroed), prints "multiboot: mem_upper=XXXXXXXX cmdline=..."
; on COM1, and writes 0 to the debug-exit port 0xF4 (or 1..n for the failed check).
;
; Build: nasm -f bin -o multiboot.elf multiboot.asm
; Run:   qemu-system-i386 -nographic -kernel multiboot.elf -append "hello" \
;            -device isa-debug-exit,iobase=0xf4,iosize=1

%define BASE 0x100000
%define COM1 0x3F8
%define BSS_SIZE 0x2000

        bits 32
        org BASE
elf_header:
        db 0x7F, "ELF", 1, 1, 1, 0      ; ELFCLASS32, little-endian, version 1
        dd 0, 0
        dw 2                            ; ET_EXEC
        dw 3                            ; EM_386
        dd 1                            ; EV_CURRENT
        dd start                        ; e_entry
        dd program_header - elf_header  ; e_phoff
        dd 0                            ; e_shoff
        dd 0                            ; e_flags
        dw 52                           ; e_ehsize
        dw 32                           ; e_phentsize
        dw 1                            ; e_phnum
        dw 40, 0, 0                     ; e_shentsize, e_shnum, e_shstrndx
program_header:
        dd 1                            ; PT_LOAD
        dd 0                            ; p_offset
        dd BASE                         ; p_vaddr
        dd BASE                         ; p_paddr
        dd file_end - elf_header        ; p_filesz
        dd file_end - elf_header + BSS_SIZE ; p_memsz
        dd 7                            ; p_flags
        dd 0x1000                       ; p_align

        align 4
multiboot_header:
        dd 0x1BADB002
        dd 0x00000003                   ; page-align modules, memory information
        dd -(0x1BADB002 + 0x00000003)

start:
        mov ecx, 1
        cmp eax, 0x2BADB002
        jne fail
        inc ecx                         ; 2: paging off, protection on
        mov eax, cr0
        and eax, 0x80000001
        cmp eax, 1
        jne fail
        inc ecx                         ; 3: interrupts off
        pushfd
        pop eax
        test eax, 0x200
        jnz fail
        inc ecx                         ; 4: flat data segment
        mov eax, [BASE]
        cmp eax, 0x464C457F
        jne fail
        inc ecx                         ; 5: BSS zeroed
        mov edi, file_end
        mov edx, BSS_SIZE / 4
bss_check:
        cmp dword [edi], 0
        jne fail
        add edi, 4
        dec edx
        jnz bss_check
        inc ecx                         ; 6: memory information present
        test dword [ebx], 1
        jz fail
        mov esi, msg_mem
        call puts
        mov eax, [ebx + 8]
        call print_hex
        mov esi, msg_cmdline
        call puts
        test dword [ebx], 4
        jz no_cmdline
        mov esi, [ebx + 16]
        call puts
no_cmdline:
        mov al, 10
        call putc
        xor eax, eax
        out 0xF4, al
halt:   cli
        hlt
        jmp halt

fail:   mov eax, ecx
        out 0xF4, al
        jmp halt

putc:   push edx
        push eax
        mov dx, COM1 + 5
putc_wait:
        in al, dx
        test al, 0x20
        jz putc_wait
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

puts:   mov al, [esi]
        test al, al
        jz puts_done
        call putc
        inc esi
        jmp puts
puts_done:
        ret

print_hex:
        push ebx
        mov ebx, eax
        mov ecx, 8
print_hex_loop:
        rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        mov al, [hexdigits + eax]
        call putc
        loop print_hex_loop
        pop ebx
        ret

hexdigits:   db "0123456789abcdef"
msg_mem:     db "multiboot: mem_upper=", 0
msg_cmdline: db " cmdline=", 0
file_end:
