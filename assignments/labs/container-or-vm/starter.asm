; container-or-vm: print where this program runs: process, container or vm.
; vmlab asm starter.asm -o where && vmlab run --linux where --compare
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
SYS_GETPID      equ 20

start:
        ; TODO: tell a container (a PID namespace) and a VM (ring 0) from a process.
        mov ecx, msg_process
        mov edx, msg_process_len

print:  mov eax, SYS_WRITE
        mov ebx, 1                          ; stdout
        int 0x80
        mov eax, SYS_EXIT_GROUP
        xor ebx, ebx
        int 0x80

msg_process:    db "process", 10
msg_process_len equ $ - msg_process
msg_container:  db "container", 10
msg_container_len equ $ - msg_container
msg_vm:         db "vm", 10
msg_vm_len      equ $ - msg_vm

file_size equ $ - $$
