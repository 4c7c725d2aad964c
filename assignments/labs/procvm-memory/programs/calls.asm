; brk, mmap2 and munmap straight through int 0x80, edge cases included: each check
; prints "ok N" or "bad N", and the exit status is the number of bad ones.
        bits 32
        org 0x08048000

ehdr:   db 0x7f, "ELF", 1, 1, 1, 0
        times 8 db 0
        dw 2, 3                             ; ET_EXEC, EM_386
        dd 1, start, phdr - $$, 0, 0
        dw ehdr_size, 32, 1, 0, 0, 0
ehdr_size equ $ - ehdr

phdr:   dd 1, 0, $$, $$, file_size, file_size + 4096, 7, 0x1000

SYS_EXIT_GROUP  equ 252
SYS_WRITE       equ 4
SYS_BRK         equ 45
SYS_MMAP2       equ 192
SYS_MUNMAP      equ 91
EINVAL          equ 22

; check N: compare EAX with EDX, print the verdict for check number N
%macro check 1
        mov bl, %1
        call verdict
%endmacro

%macro mmap2 4                              ; addr, len, prot, flags
        mov eax, SYS_MMAP2
        mov ebx, %1
        mov ecx, %2
        mov edx, %3
        mov esi, %4
        mov edi, -1
        xor ebp, ebp
        int 0x80
%endmacro

start:  mov eax, SYS_BRK                    ; brk(0): the current break
        xor ebx, ebx
        int 0x80
        mov [b0], eax
        lea ebx, [eax + 0x1800]             ; grow by a page and a half
        mov eax, SYS_BRK
        int 0x80
        mov edx, [b0]
        add edx, 0x1800
        check 1
        mov edi, [b0]
        mov byte [edi + 0x17ff], 1          ; the new heap is writable
        mov eax, SYS_BRK                    ; below the heap's start: the break stays
        mov ebx, [b0]
        sub ebx, 0x100000
        int 0x80
        mov edx, [b0]
        add edx, 0x1800
        check 2
        mov eax, SYS_BRK                    ; shrink back
        mov ebx, [b0]
        int 0x80
        mov edx, [b0]
        check 3

        mmap2 0, 0, 3, 0x22                 ; no bytes: EINVAL
        mov edx, -EINVAL
        check 4
        mmap2 0x40001001, 0x1000, 3, 0x32   ; MAP_FIXED at an odd address: EINVAL
        mov edx, -EINVAL
        check 5
        mmap2 0, 0x3000, 3, 0x22            ; three pages anywhere
        mov [a], eax
        and eax, 0xfff                      ; page aligned
        xor edx, edx
        check 6
        mov edi, [a]
        mov byte [edi + 0x2fff], 1          ; writable to the end
        mov eax, SYS_MUNMAP                 ; odd address: EINVAL
        lea ebx, [edi + 1]
        mov ecx, 0x1000
        int 0x80
        mov edx, -EINVAL
        check 7
        mov eax, SYS_MUNMAP                 ; no bytes: EINVAL
        mov ebx, [a]
        xor ecx, ecx
        int 0x80
        mov edx, -EINVAL
        check 8
        mov eax, SYS_MUNMAP                 ; the middle page
        mov ebx, [a]
        add ebx, 0x1000
        mov ecx, 0x1000
        int 0x80
        xor edx, edx
        check 9
        mov edi, [a]
        add edi, 0x1000
        mmap2 edi, 0x1000, 3, 0x32          ; MAP_FIXED into the hole
        mov edx, [a]
        add edx, 0x1000
        check 10
        mov edi, [a]
        movzx eax, byte [edi + 0x1000]      ; a fresh page reads zero
        xor edx, edx
        check 11
        movzx eax, byte [edi + 0x2fff]      ; the page after the hole kept its byte
        mov edx, 1
        check 12
        mov eax, SYS_MUNMAP                 ; all three
        mov ebx, [a]
        mov ecx, 0x3000
        int 0x80
        xor edx, edx
        check 13
        mmap2 0x40000000, 0x2000, 3, 0x32   ; MAP_FIXED where nothing is
        mov edx, 0x40000000
        check 14
        mov byte [0x40001fff], 2
        mmap2 0, 0x1000, 1, 0x22            ; read-only, anywhere
        mov [a], eax
        and eax, 0xfff
        xor edx, edx
        check 15

        mov eax, SYS_EXIT_GROUP
        movzx ebx, byte [bad]
        int 0x80

; prints "ok N" when EAX = EDX, else "bad N" (N = BL), counting the bad ones
verdict:
        push ebx
        cmp eax, edx
        je .ok
        inc byte [bad]
        mov ecx, bad_msg
        mov edx, 4
        jmp .say
.ok:    mov ecx, ok_msg
        mov edx, 3
.say:   mov eax, SYS_WRITE
        mov ebx, 1
        int 0x80
        pop ebx
        movzx eax, bl                       ; N in two digits
        mov cl, 10
        div cl
        add ax, 0x3030
        mov [num], ax
        mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, num
        mov edx, 3
        int 0x80
        ret

ok_msg:  db "ok "
bad_msg: db "bad "
num:     db "00", 10
bad:     db 0
b0:      dd 0
a:       dd 0

file_size equ $ - $$
