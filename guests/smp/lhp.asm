; lhp.asm: a lock-holder-preemption workload.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). Every CPU the MP table lists
; comes up and then ROUNDS times takes one spinlock (XCHG, then a PAUSE loop
; while it is held), works CRIT iterations inside the critical section, adds 1
; to a shared counter, releases the lock and works OUTSIDE iterations. CPU 0
; waits for the others and prints "rounds N" and "expected N"; every CPU halts.
;
; Under a VMM whose host time-slices the vCPUs, a vCPU descheduled inside the
; critical section leaves the others in their PAUSE loops for whole slices:
; the machine's `spin_instructions` counter measures that time, pause-loop
; exiting and co-scheduling cut it.

%ifndef ROUNDS
%define ROUNDS 300
%endif
%ifndef CRIT
%define CRIT 20
%endif
%ifndef OUTSIDE
%define OUTSIDE 200
%endif

[bits 32]
org 0x8000

start:
    call boot_cpus
    jmp cpu_main

ap_main:
cpu_main:
    call cpu_stack              ; EBX = this CPU's APIC ID
    call say_up
    mov edi, ROUNDS
.round:
    call lock_acquire
    mov ecx, CRIT
.crit:
    add dword [work], ecx       ; inside the critical section
    loop .crit
    inc dword [rounds]          ; guarded by the lock
    call lock_release
    mov ecx, OUTSIDE
.outside:
    add dword [mine + ebx * 4], ecx
    loop .outside
    dec edi
    jnz .round
    call join_cpus
    mov esi, msg_rounds
    mov eax, [rounds]
    call print_line
    mov esi, msg_expected
    mov eax, [ncpu]
    imul eax, eax, ROUNDS
    call print_line
    call lock_release
    jmp park_cpu

%include "smp.inc"
%include "pc.inc"

msg_rounds:   db "rounds ", 0
msg_expected: db "expected ", 0

align 4
rounds: dd 0
work:   dd 0
mine:   times 16 dd 0

TRAMPOLINE_CODE
