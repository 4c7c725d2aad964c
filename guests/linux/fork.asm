; Two processes from one static i386 Linux program: fork, the child prints and exits
; with status 3, the parent waits for it (wait4) and prints the status it collected.
; vmlab asm fork.asm -o fork && vmlab run --linux fork --strace --json
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
        dd file_size + 4096                 ; bytes in memory (a page of zeroed data)
        dd 7                                ; read, write, execute
        dd 0x1000

SYS_EXIT_GROUP  equ 252
SYS_WRITE       equ 4
SYS_FORK        equ 2
SYS_WAIT4       equ 114

start:  mov eax, SYS_FORK
        int 0x80
        test eax, eax
        jz child

        mov eax, SYS_WAIT4                  ; wait4(-1, &status, 0, NULL)
        mov ebx, -1
        mov ecx, status
        xor edx, edx
        xor esi, esi
        int 0x80
        mov eax, [status]                   ; the exit status is bits 8-15
        shr eax, 8
        and eax, 0xff
        add al, '0'
        mov [digit], al
        mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, parent_msg
        mov edx, parent_len
        int 0x80
        mov eax, SYS_EXIT_GROUP
        xor ebx, ebx
        int 0x80

child:  mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, child_msg
        mov edx, child_len
        int 0x80
        mov eax, SYS_EXIT_GROUP
        mov ebx, 3
        int 0x80

child_msg:    db "child: running in a copy of the parent", 10
child_len     equ $ - child_msg
parent_msg:   db "parent: the child ended with status "
digit:        db "?", 10
parent_len    equ $ - parent_msg
file_size     equ $ - $$
status        equ $$ + file_size            ; in the zeroed page after the file
