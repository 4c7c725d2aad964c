; tsc_sync.asm: a TSC synchronization check, as Linux's check_tsc_warp.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). Every CPU the MP table lists
; comes up and LOOPS times takes a spinlock, reads the last time stamp any CPU
; wrote, reads its own (RDTSC), writes that one and releases the lock. Time
; only goes forward, so no CPU may read a value below the last one written: when
; one does, the difference is a warp. CPU 0 waits for the others and prints
;   tsc checks N        (RDTSC readings compared, all CPUs)
;   tsc warps N         (readings below the last one written)
;   max warp N          (the largest difference, in ticks)
; and then "TSC synchronized" or "TSC unsynchronized, warp N"; every CPU halts.
;
; On the bare machine, and under a VMM that keeps the vCPUs' TSC offsets equal,
; the check passes. Under a VMM that stops a vCPU's TSC while the host runs
; another vCPU in its time slice, the counters drift apart and it fails.

%ifndef LOOPS
%define LOOPS 400
%endif

[bits 32]
org 0x8000

start:
    call boot_cpus
    jmp cpu_main

ap_main:
cpu_main:
    call cpu_stack              ; EBX = this CPU's APIC ID
    mov edi, LOOPS
.check:
    call sync_acquire
    mov esi, [last_lo]          ; EBP:ESI = the last time stamp written
    mov ebp, [last_hi]
    rdtsc                       ; EDX:EAX = this CPU's
    mov [last_lo], eax
    mov [last_hi], edx
    lock inc dword [checks]
    call sync_release
    sub esi, eax                ; EBP:ESI = last - now
    sbb ebp, edx
    jc .next                    ; last < now: time went forward
    mov eax, esi
    or eax, ebp
    jz .next                    ; the same tick
    test ebp, ebp
    jz .small
    mov esi, 0xffffffff         ; more than 32 bits: the largest warp we print
.small:
    call note_warp
.next:
    dec edi
    jnz .check
    call join_cpus              ; CPU 0 goes on, holding the console lock
    mov esi, msg_checks
    mov eax, [checks]
    call print_line
    mov esi, msg_warps
    mov eax, [warps]
    call print_line
    mov esi, msg_max
    mov eax, [max_warp]
    call print_line
    cmp dword [warps], 0
    jne .unsync
    mov esi, msg_sync
    call puts
    jmp .done
.unsync:
    mov esi, msg_unsync
    mov eax, [max_warp]
    call print_line
.done:
    call lock_release
    jmp park_cpu

; note_warp: counts a warp of ESI ticks and keeps the largest (clobbers EAX)
note_warp:
    call sync_acquire
    inc dword [warps]
    cmp esi, [max_warp]
    jbe .kept
    mov [max_warp], esi
.kept:
    call sync_release
    ret

; sync_acquire / sync_release: the check's spinlock (clobbers EAX)
sync_acquire:
    mov eax, 1
    xchg eax, [sync_lock]
    test eax, eax
    jz .got
.wait:
    pause
    cmp dword [sync_lock], 0
    jne .wait
    jmp sync_acquire
.got:
    ret

sync_release:
    mov dword [sync_lock], 0
    ret

%include "smp.inc"
%include "pc.inc"

msg_checks:  db "tsc checks ", 0
msg_warps:   db "tsc warps ", 0
msg_max:     db "max warp ", 0
msg_sync:    db "TSC synchronized", 10, 0
msg_unsync:  db "TSC unsynchronized, warp ", 0

align 4
sync_lock: dd 0
last_lo:   dd 0
last_hi:   dd 0
checks:    dd 0
warps:     dd 0
max_warp:  dd 0

TRAMPOLINE_CODE
