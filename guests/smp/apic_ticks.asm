; apic_ticks.asm: every CPU counts its own local APIC timer's ticks over the same
; stretch of its own work.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). Every CPU the MP table lists
; comes up, runs its APIC timer in periodic mode (PERIOD bus clocks, divide by 1,
; vector 0x40) while it spins ITERS times round a short loop, then masks the
; timer. CPU 0 waits for the others and prints "cpu N ticks K span S" for each
; CPU, S the time stamp counter the CPU read from arming its timer to masking it,
; and "total ticks T"; every CPU halts.
;
; A CPU gets about S / PERIOD ticks: its timer and its TSC count the same time.
; On the bare machine, and under a VMM whose vCPUs' timers count the machine's
; clock, that includes the time the host ran the other vCPUs. When the host
; time-slices the vCPUs and a preempted vCPU's timer and TSC stand still (the
; `drift` TSC policy), its ticks arrive late and it counts only those of its own
; time: fewer ticks for the same work.

%ifndef PERIOD
%define PERIOD 8000
%endif
%ifndef ITERS
%define ITERS 100000
%endif

[bits 32]
org 0x8000

start:
    call boot_cpus
    jmp cpu_main

ap_main:
cpu_main:
    call cpu_stack              ; EBX = this CPU's APIC ID
    lidt [idt_desc]
    mov dword [LAPIC_SVR], 0x141        ; enabled, spurious vector 0x41
    mov dword [LAPIC_DIV], 0xb          ; divide by 1
    mov dword [LAPIC_TIMER], 0x20040    ; periodic, vector 0x40
    mov dword [LAPIC_INIT], PERIOD
    rdtsc
    mov [span + ebx * 4], eax
    sti
    mov ecx, ITERS
.work:
    dec ecx
    jnz .work
    cli
    rdtsc
    sub eax, [span + ebx * 4]
    mov [span + ebx * 4], eax
    mov dword [LAPIC_TIMER], 0x10040    ; masked
    call join_cpus              ; CPU 0 goes on, holding the console lock
    xor edi, edi
.line:
    cmp edi, [ncpu]
    jae .total
    mov esi, msg_cpu
    call puts
    mov eax, edi
    call print_dec
    mov esi, msg_ticks
    call puts
    mov eax, [ticks + edi * 4]
    add [total], eax
    call print_dec
    mov esi, msg_span
    mov eax, [span + edi * 4]
    call print_line
    inc edi
    jmp .line
.total:
    mov esi, msg_total
    mov eax, [total]
    call print_line
    call lock_release
    jmp park_cpu

timer_isr:
    push eax
    mov eax, [LAPIC_ID]
    shr eax, 24
    inc dword [ticks + eax * 4]
    mov dword [LAPIC_EOI], 0
    pop eax
    iret

spurious_isr:
    iret

%include "smp.inc"
%include "pc.inc"

msg_ticks: db " ticks ", 0
msg_span:  db " span ", 0
msg_total: db "total ticks ", 0

align 4
idt_desc:
    dw idt_end - idt - 1
    dd idt
; the IDT: vector 0x40 the timer, 0x41 the spurious vector (the code is below
; 64 KiB, so each gate's upper offset is 0)
idt:
    times 0x40 dq 0
    dw timer_isr, 0x08, 0x8e00, 0
    dw spurious_isr, 0x08, 0x8e00, 0
idt_end:
total:     dd 0
ticks:     times 16 dd 0
span:      times 16 dd 0

TRAMPOLINE_CODE
