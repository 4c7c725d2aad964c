; smp.asm: brings up every CPU the MP table lists and has them count.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). CPU 0 finds the MP table, starts
; the other CPUs with INIT-SIPI-SIPI (they begin in real mode at the trampoline
; at 0x9000 and switch to protected mode), and each CPU prints "cpu N up" through
; a spinlock. Then every CPU adds 1 to two shared counters ITER times: one with
; LOCK XADD, one with a read-modify-write split across three instructions
; (mov eax,[c] / inc eax / mov [c],eax), which loses increments when another CPU
; runs between them. CPU 0 prints both totals and the exact one; every CPU halts.

%ifndef ITER
%define ITER 1000
%endif

[bits 32]
org 0x8000

start:
    call boot_cpus
    jmp cpu_main

; every CPU, in flat protected mode: its own stack, then the common work
ap_main:
cpu_main:
    call cpu_stack              ; EBX = this CPU's APIC ID
    call say_up
    lock inc dword [up]
    test ebx, ebx
    jnz .wait_go
.wait_up:                       ; CPU 0: every CPU up, then go
    pause
    mov eax, [up]
    cmp eax, [ncpu]
    jb .wait_up
    mov dword [go], 1
    jmp .count
.wait_go:
    pause
    cmp dword [go], 0
    je .wait_go
.count:
    mov ecx, ITER
.again:
    mov eax, 1
    lock xadd [locked], eax
    mov eax, [unlocked]         ; not atomic: another CPU may run in between
    inc eax
    mov [unlocked], eax
    dec ecx
    jnz .again
    call join_cpus
    mov esi, msg_locked
    mov eax, [locked]
    call print_line
    mov esi, msg_unlocked
    mov eax, [unlocked]
    call print_line
    mov esi, msg_expected
    mov eax, [ncpu]
    imul eax, eax, ITER
    call print_line
    call lock_release
    jmp park_cpu

%include "smp.inc"
%include "pc.inc"

msg_locked:   db "locked ", 0
msg_unlocked: db "unlocked ", 0
msg_expected: db "expected ", 0

align 4
up:           dd 0
go:           dd 0
locked:       dd 0
unlocked:     dd 0

TRAMPOLINE_CODE
