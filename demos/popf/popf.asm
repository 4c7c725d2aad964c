; POPF, the Popek-Goldberg failure: sensitive, yet it does not trap at ring 1.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
    cli                     ; IF = 0
    pushf
    pop eax                 ; EAX = EFLAGS with IF clear
    or eax, 0x200           ; ask for IF = 1 ...
    push eax
popf_here:
    popf                    ; ... bare: IF becomes 1; at ring 1 with IOPL 0 IF silently stays
after_popf:
    pushf
    pop ebx
    mov esi, if_lost
    test ebx, 0x200
    jz report
    mov esi, if_set
report:
    mov dx, COM1
next_char:
    lodsb
    test al, al
    jz done
    out dx, al
    jmp next_char
done:
    cli
    hlt
    jmp done               ; a halted CPU stays halted

if_set:  db "IF = 1: POPF did what the kernel asked", 10, 0
if_lost: db "IF = 0: POPF was ignored and nothing trapped", 10, 0
