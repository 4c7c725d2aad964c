; Interrupt delivery with and without posted interrupts: the local APIC's
; timer interrupts the guest TICKS times (periodic, vector 0x40); each
; handler counts the tick and writes EOI. The guest waits in a PAUSE loop,
; so nothing but the interrupts and the APIC accesses leaves it.
bits 32
org 0x10000

TICKS       equ 10
PERIOD      equ 5000            ; bus clocks between ticks (divide by 1)
TIMER_VEC   equ 0x40

start:
    mov esp, 0x90000
    call load_flat
    mov eax, timer_isr
    mov ecx, TIMER_VEC
    call set_gate
    mov dword [APIC_SVR], 0x1ff         ; software-enable, spurious vector 0xFF
    mov dword [APIC_TDIV], 0xb          ; divide by 1
    mov dword [APIC_TIMER], TIMER_PERIODIC | TIMER_VEC
    mov dword [APIC_TINIT], PERIOD      ; the timer starts
timer_on:
    sti
wait_first:
    pause
    cmp dword [ticks], 1
    jb wait_first
first_tick:
    pause
    cmp dword [ticks], TICKS
    jb first_tick
ticks_done:
    mov dword [APIC_TIMER], 0x10000 | TIMER_VEC ; mask the timer
    cli
    mov eax, [ticks]
    mov ecx, 10
    xor edx, edx
    div ecx
    mov esi, msg_ticks
    add al, '0'
    mov [esi], al
    add dl, '0'
    mov [esi + 1], dl
    call puts
done:
    hlt
    jmp done

timer_isr:
    inc dword [ticks]
    mov dword [APIC_EOI], 0             ; end of interrupt
    iret

%include "apic.inc"
%include "pc.inc"

ticks:      dd 0
msg_ticks:  db "?? timer interrupts, each handled", 10, 0
