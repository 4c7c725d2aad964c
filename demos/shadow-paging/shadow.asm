; Shadow paging: hidden faults fill the shadow tables; a true fault goes to the guest's handler.
bits 32
org 0x10000

PD    equ 0x80000
PT0   equ 0x81000
COM1  equ 0x3f8
LAZY  equ 0x300000          ; a page the kernel maps only when touched

start:
    mov esp, 0x90000
    mov edi, PT0
    mov eax, 0x003
    mov ecx, 1024
fill:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop fill
    mov dword [PT0 + (LAZY >> 12) * 4], 0   ; leave LAZY not present
    mov dword [PD], PT0 + 3
    ; IDT entry 14 (#PF) -> pf_handler, a 32-bit interrupt gate
    mov eax, pf_handler
    mov [idt + 14 * 8], ax
    shr eax, 16
    mov [idt + 14 * 8 + 6], ax
    mov ax, cs
    mov [idt + 14 * 8 + 2], ax
    mov word [idt + 14 * 8 + 4], 0x8e00
    lidt [idtr]
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
paging_on:
    mov eax, [0x20000]      ; mapped by the guest: at most a hidden fault (shadow fill)
touch_lazy:
    mov dword [LAZY], 42    ; not mapped by the guest: a true #PF, delivered to pf_handler
after_fault:
    mov esi, message
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

pf_handler:                 ; demand-zero: map the faulting page and retry
    push eax
    mov eax, cr2
    shr eax, 12
    mov dword [PT0 + eax * 4], LAZY + 3
    mov eax, cr2
    invlpg [eax]
    pop eax
    add esp, 4              ; drop the error code
    iret

message: db "demand-zero page mapped", 10, 0

align 8
idt:  times 16 dq 0
idtr: dw 16 * 8 - 1
      dd idt
