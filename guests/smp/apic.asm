; apic.asm: the local APIC's periodic timer, then IPIs to every CPU.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). CPU 0 runs its APIC timer in
; periodic mode (PERIOD bus clocks, divide by 1) until TICKS interrupts have
; arrived and prints "ticks N" and "span S", S the time stamp counter between
; the first and the last tick. Next the PIT's IRQ 0 goes through the I/O APIC
; (input 2, vector 0x41, to CPU 0, the 8259 masked) until PIT_TICKS interrupts
; have arrived: "pit ticks N". Then it starts the other CPUs, sends PINGS fixed
; IPIs (vector 0x50) to each CPU by APIC ID, itself included, waiting for each to
; be handled, and prints "cpu N pings K" per CPU. A last IPI to all but itself
; lets the others halt.

%ifndef PERIOD
%define PERIOD 5000
%endif
%ifndef TICKS
%define TICKS 20
%endif
%ifndef PIT_TICKS
%define PIT_TICKS 10
%endif
%ifndef PINGS
%define PINGS 5
%endif

IDT         equ 0x7000      ; 256 gates
IOAPIC      equ 0xfec00000
IOWIN       equ IOAPIC + 0x10
PIT_DIV     equ 1193        ; about 1 ms

[bits 32]
org 0x8000

start:
    call flat_segments
    call cpu_stack
    mov eax, timer_isr
    mov ecx, 0x40
    call set_gate
    mov eax, ping_isr
    mov ecx, 0x50
    call set_gate
    mov eax, pit_isr
    mov ecx, 0x41
    call set_gate
    mov eax, wake_isr
    mov ecx, 0x51
    call set_gate
    mov eax, spurious_isr
    mov ecx, 0xff
    call set_gate
    lidt [idt_desc]
    call find_cpus
    mov [ncpu], eax
    mov dword [LAPIC_SVR], 0x1ff
    mov dword [LAPIC_DIV], 0xb          ; divide by 1
    mov dword [LAPIC_TIMER], 0x20040    ; periodic, vector 0x40
    mov dword [LAPIC_INIT], PERIOD
    sti
.tick:
    hlt
    cmp dword [ticks], TICKS
    jb .tick
    mov dword [LAPIC_TIMER], 0x10040    ; masked
    mov esi, msg_ticks
    mov eax, [ticks]
    call print_line
    mov esi, msg_span
    mov eax, [last_tsc]
    sub eax, [first_tsc]
    call print_line

    mov al, 0xff
    out PIC1_DATA, al                   ; the 8259 masked: the I/O APIC only
    mov dword [IOAPIC], 0x14            ; input 2, low half
    mov dword [IOWIN], 0x41             ; fixed, vector 0x41, edge
    mov dword [IOAPIC], 0x15            ; high half
    mov dword [IOWIN], 0                ; to APIC ID 0
    mov al, 0x34                        ; channel 0, mode 2, low then high byte
    out PIT_CMD, al
    mov al, PIT_DIV & 0xff
    out PIT_CH0, al
    mov al, PIT_DIV >> 8
    out PIT_CH0, al
.pit:
    hlt
    cmp dword [pit_ticks], PIT_TICKS
    jb .pit
    mov dword [IOAPIC], 0x14
    mov dword [IOWIN], 0x10041          ; masked
    mov esi, msg_pit
    mov eax, [pit_ticks]
    call print_line

    mov eax, [ncpu]
    call start_aps
.wait_up:
    pause
    mov eax, [up]
    inc eax
    cmp eax, [ncpu]
    jb .wait_up
    xor edi, edi                        ; the target's APIC ID
.target:
    cmp edi, [ncpu]
    jae .report
    mov esi, PINGS
.ping:
    mov eax, [pings + edi * 4]
    mov [before], eax
    mov eax, edi
    shl eax, 24
    mov [LAPIC_ICRHI], eax
    mov dword [LAPIC_ICRLO], 0x4050     ; fixed, vector 0x50, physical
.wait:
    pause
    mov eax, [pings + edi * 4]
    cmp eax, [before]
    je .wait
    dec esi
    jnz .ping
    inc edi
    jmp .target
.report:
    mov dword [finish], 1
    mov dword [LAPIC_ICRLO], 0x000c4051 ; vector 0x51, all but self
    xor edi, edi
.line:
    cmp edi, [ncpu]
    jae park
    mov esi, msg_cpu
    call puts
    mov eax, edi
    call print_dec
    mov esi, msg_pings
    mov eax, [pings + edi * 4]
    call print_line
    inc edi
    jmp .line
park:
    cli
    hlt
    jmp park

ap_main:
    call cpu_stack
    lidt [idt_desc]
    mov dword [LAPIC_SVR], 0x1ff
    lock inc dword [up]
.idle:
    sti
    hlt
    cmp dword [finish], 0
    je .idle
    jmp park

; set_gate: a 32-bit interrupt gate for vector ECX to EAX (clobbers EAX, EDI)
set_gate:
    lea edi, [IDT + ecx * 8]
    mov [edi], ax
    mov word [edi + 2], 0x08
    mov word [edi + 4], 0x8e00
    shr eax, 16
    mov [edi + 6], ax
    ret

timer_isr:
    push eax
    push edx
    inc dword [ticks]
    rdtsc
    cmp dword [ticks], 1
    jne .later
    mov [first_tsc], eax
.later:
    mov [last_tsc], eax
    mov dword [LAPIC_EOI], 0
    pop edx
    pop eax
    iret

pit_isr:
    inc dword [pit_ticks]
    mov dword [LAPIC_EOI], 0
    iret

ping_isr:
    push eax
    push ebx
    mov ebx, [LAPIC_ID]
    shr ebx, 24
    lock inc dword [pings + ebx * 4]
    mov dword [LAPIC_EOI], 0
    pop ebx
    pop eax
    iret

wake_isr:
    mov dword [LAPIC_EOI], 0
spurious_isr:
    iret

%include "smp.inc"
%include "pc.inc"

msg_ticks: db "ticks ", 0
msg_span:  db "span ", 0
msg_pings: db " pings ", 0
msg_pit:   db "pit ticks ", 0

align 4
idt_desc:
    dw 256 * 8 - 1
    dd IDT
up:        dd 0
finish:    dd 0
ticks:     dd 0
pit_ticks: dd 0
first_tsc: dd 0
last_tsc:  dd 0
before:    dd 0
pings:     times 16 dd 0

TRAMPOLINE_CODE
