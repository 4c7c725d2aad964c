; Interrupt virtualization: the kernel's IF is virtual, a timer interrupt waits
; in the PIC while it is clear, and is injected once STI opens the window.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
    ; IDT entry 0x20 (IRQ 0 after the PIC remap) -> timer, a 32-bit interrupt gate
    mov eax, timer
    mov [idt + 0x20 * 8], ax
    shr eax, 16
    mov [idt + 0x20 * 8 + 6], ax
    mov ax, cs
    and ax, 0xfffc
    mov [idt + 0x20 * 8 + 2], ax
    mov word [idt + 0x20 * 8 + 4], 0x8e00
    lidt [idtr]
    ; 8259 PICs: vectors 0x20-0x2F, only IRQ 0 unmasked
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
devices_ready:
    sti                     ; the kernel enables interrupts ...
virtual_if_on:
    cli                     ; ... and disables them again
virtual_if_off:
    ; 8254 PIT channel 0, mode 0: one interrupt after 100 input clocks
    ; (about 8400 instructions of the 100 MHz virtual CPU)
    mov al, 0x30
    out 0x43, al
    mov al, 100
    out 0x40, al
    xor al, al
    out 0x40, al
    mov ecx, 10000          ; busy for about 20 000 instructions, IF clear
busy:
    dec ecx
    jnz busy
window_closed:
    cmp dword [ticks], 0    ; no tick yet: the interrupt is still pending
    sti                     ; the window opens after the next instruction
window_open:
    nop
after_tick:
    mov esi, message
    cmp dword [ticks], 1
    je print
    mov esi, lost
print:
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
    jmp done                ; a halted CPU stays halted

timer:
    inc dword [ticks]
    push eax
    mov al, 0x20
    out 0x20, al            ; EOI to the PIC
    pop eax
timer_return:
    iret

message: db "one tick, delivered after STI", 10, 0
lost:    db "the tick went missing", 10, 0

align 4
ticks: dd 0
align 8
idt:  times 0x21 dq 0
idtr: dw 0x21 * 8 - 1
      dd idt
