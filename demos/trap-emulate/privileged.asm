; Trap-and-emulate: each privileged instruction of a deprivileged guest kernel exits to the VMM.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
    cli                     ; privileged at ring 1 (IOPL 0): #GP, VM exit, emulated
after_cli:
    mov eax, cr0            ; reading CR0 exits too
after_cr0_read:
    mov ebx, eax
    mov cr0, eax            ; so does writing it
after_cr0_write:
    mov dx, COM1
    mov al, 'V'
    out dx, al              ; I/O: exit, the VMM emulates the UART
after_out:
    mov al, 'M'
    out dx, al
    mov al, 10
    out dx, al
    sti                     ; privileged: exit
    cli
done:
    hlt                     ; the VMM sees HLT with interrupts off: the guest is done
    jmp done
