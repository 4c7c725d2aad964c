; The same work for a process, a container and a unikernel: a static i386 Linux
; program with its own ELF header that maps 16 KiB, fills it in four rounds of
; arithmetic, printing after each round, and prints a checksum. What it prints does
; not depend on where it runs, so the three ways can be compared on cost alone.
        bits 32
        org 0x08048000

ehdr:   db 0x7f, "ELF", 1, 1, 1, 0          ; 32-bit, little-endian, version 1
        times 8 db 0
        dw 2                                ; ET_EXEC
        dw 3                                ; EM_386
        dd 1                                ; version
        dd start                            ; entry
        dd phdr - $$                        ; program headers
        dd 0                                ; section headers: none
        dd 0                                ; flags
        dw ehdr_size                        ; header size
        dw 32                               ; program header size
        dw 1                                ; one program header
        dw 0, 0, 0
ehdr_size equ $ - ehdr

phdr:   dd 1                                ; PT_LOAD
        dd 0                                ; from file offset 0
        dd $$                               ; to this address
        dd $$
        dd file_size                        ; bytes in the file
        dd file_size + 0x1000               ; and a page of zeroed data
        dd 7                                ; read, write, execute
        dd 0x1000

SYS_EXIT_GROUP  equ 252
SYS_WRITE       equ 4
SYS_MMAP2       equ 192
WORDS           equ 4096                    ; 16 KiB of 32-bit words
ROUNDS          equ 4

start:  cld
        mov eax, SYS_MMAP2                  ; 16 KiB, read and write, private, anonymous
        xor ebx, ebx
        mov ecx, WORDS * 4
        mov edx, 3
        mov esi, 0x22
        mov edi, -1
        xor ebp, ebp
        int 0x80
        mov [buf], eax
        mov dword [seed], 2463534242
        mov dword [round], 0
next_round:
        mov edi, [buf]
        mov ecx, WORDS
.fill:  mov eax, [seed]                     ; xorshift32
        mov edx, eax
        shl edx, 13
        xor eax, edx
        mov edx, eax
        shr edx, 17
        xor eax, edx
        mov edx, eax
        shl edx, 5
        xor eax, edx
        mov [seed], eax
        add eax, [edi]
        stosd
        loop .fill
        inc dword [round]
        mov edi, line
        mov esi, s_round
        call cat
        mov eax, [round]
        call num
        mov esi, s_done
        call cat
        call newline
        cmp dword [round], ROUNDS
        jb next_round

        mov esi, [buf]                      ; the checksum: the sum of every word
        mov ecx, WORDS
        xor ebx, ebx
.sum:   lodsd
        add ebx, eax
        loop .sum
        mov edi, line
        mov esi, s_sum
        call cat
        mov eax, ebx
        call num
        call newline
        mov eax, SYS_EXIT_GROUP
        xor ebx, ebx
        int 0x80

; Appends the zero-terminated string at ESI to the line at EDI.
cat:    lodsb
        test al, al
        jz .end
        stosb
        jmp cat
.end:   ret

; Appends EAX in decimal to the line at EDI.
num:    push ebx
        push ecx
        push edx
        mov ebx, 10
        xor ecx, ecx
.digit: xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .digit
.out:   pop eax
        add al, '0'
        stosb
        loop .out
        pop edx
        pop ecx
        pop ebx
        ret

; Ends the line with a newline and writes it to standard output.
newline:
        mov al, 10
        stosb
        mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, line
        mov edx, edi
        sub edx, line
        int 0x80
        ret

s_round:    db "round ", 0
s_done:     db " done", 0
s_sum:      db "checksum ", 0
file_size   equ $ - $$

bss     equ $$ + file_size                  ; the zeroed page after the file
buf     equ bss
seed    equ bss + 4
round   equ bss + 8
line    equ bss + 64
