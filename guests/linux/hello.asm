; A complete static i386 Linux program in one file: its own ELF header, then code that
; talks to the kernel only through int 0x80. Runs under `vmlab run --linux` (and on
; Linux itself): vmlab asm hello.asm -o hello && vmlab run --linux hello --strace
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
SYS_UNAME       equ 122

start:  mov eax, SYS_WRITE
        mov ebx, 1                          ; stdout
        mov ecx, greeting
        mov edx, greeting_len
        int 0x80

        mov eax, SYS_UNAME                  ; fill the zeroed page with struct utsname
        mov ebx, uts
        int 0x80
        mov eax, SYS_WRITE                  ; print the host name (the second field)
        mov ebx, 1
        lea ecx, [uts + 65]
        mov edx, 0
.len:   cmp byte [ecx + edx], 0
        je .print
        inc edx
        jmp .len
.print: int 0x80
        mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, newline
        mov edx, 1
        int 0x80

        mov eax, SYS_EXIT_GROUP
        xor ebx, ebx
        int 0x80

greeting:     db "hello from vmlab's process VM, running on host "
greeting_len  equ $ - greeting
newline:      db 10
file_size     equ $ - $$
uts           equ $$ + file_size            ; in the zeroed page after the file
