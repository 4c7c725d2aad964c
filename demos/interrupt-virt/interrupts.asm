; Interrupt virtualization: the kernel's IF is virtual, a timer interrupt waits
; in the PIC while it is clear, and is injected once STI opens the window.
bits 32
org 0x10000

start:
    mov esp, 0x90000
    ; IDT entry 0x20 (IRQ 0 after the PIC remap) -> timer, a 32-bit interrupt gate
    mov eax, timer
    mov [idt + IRQ0_VECTOR * 8], ax
    shr eax, 16
    mov [idt + IRQ0_VECTOR * 8 + 6], ax
    mov ax, cs
    and ax, 0xfffc
    mov [idt + IRQ0_VECTOR * 8 + 2], ax
    mov word [idt + IRQ0_VECTOR * 8 + 4], 0x8e00
    lidt [idtr]
    call pic_init           ; vectors 0x20-0x2F, only IRQ 0 unmasked
devices_ready:
    sti                     ; the kernel enables interrupts ...
virtual_if_on:
    cli                     ; ... and disables them again
virtual_if_off:
    ; 8254 PIT channel 0, mode 0: one interrupt after 100 input clocks
    ; (about 8400 instructions of the 100 MHz virtual CPU)
    mov al, 0x30
    out PIT_CMD, al
    mov al, 100
    out PIT_CH0, al
    xor al, al
    out PIT_CH0, al
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
    call puts
done:
    cli
    hlt
    jmp done                ; a halted CPU stays halted

timer:
    inc dword [ticks]
    push eax
    mov al, PIC_EOI
    out PIC1_CMD, al        ; EOI to the PIC
    pop eax
timer_return:
    iret

message: db "one tick, delivered after STI", 10, 0
lost:    db "the tick went missing", 10, 0

%include "pc.inc"

align 4
ticks: dd 0
align 8
idt:  times 0x21 dq 0
idtr: dw 0x21 * 8 - 1
      dd idt
