; The anatomy of a VT-x exit: each instruction below exits to the VMM when its
; exit control is on, and runs natively in non-root mode when it is off.
bits 32
org 0x10000

PD equ 0x80000              ; one page directory entry: a 4 MiB identity page

start:
    mov esp, 0x90000
    mov eax, cr4
    or eax, 0x10            ; CR4.PSE: 4 MiB pages
    mov cr4, eax            ; CR0/CR4-write exiting
after_cr4:
    mov dword [PD], 0x83    ; present, writable, 4 MiB
    mov eax, PD
    mov cr3, eax            ; CR3-load exiting
after_cr3:
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax            ; CR0/CR4-write exiting
paging_on:
    invlpg [0x20000]        ; INVLPG exiting
after_invlpg:
    mov esi, message
    call puts               ; one OUT per byte: I/O exiting
printed:
    xor eax, eax
    cpuid                   ; CPUID exits whatever the controls say
after_cpuid:
    cli
done:
    hlt                     ; HLT exiting
    jmp done

%include "pc.inc"

message: db "VT-x", 10, 0
