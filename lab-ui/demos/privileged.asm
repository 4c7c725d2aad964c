; Trap-and-emulate: each privileged instruction of a deprivileged guest kernel exits to the VMM.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
    cli                     ; privileged at ring 1 (IOPL 0): #GP, VM exit, emulated
    mov eax, cr0            ; reading CR0 exits too
    mov ebx, eax
    mov cr0, eax            ; so does writing it
    mov dx, COM1
    mov al, 'V'
    out dx, al              ; I/O: exit, the VMM emulates the UART
    mov al, 'M'
    out dx, al
    mov al, 10
    out dx, al
    sti                     ; privileged: exit
    cli
done:
    hlt                     ; the VMM sees HLT with interrupts off: the guest is done
    jmp done
