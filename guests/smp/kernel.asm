; kernel.asm: the teaching kernel on several CPUs.
;
; Load at 0x8000 as a flat 32-bit binary (pm32). CPU 0 builds the IDT and the
; page tables (the first 4 MiB identity mapped, supervisor; the local APIC page;
; one data page per process at DATA + p * 4 KiB), starts the other CPUs with
; INIT-SIPI-SIPI and waits until each is up with paging on. Then every CPU runs
; the scheduler: NPROC processes (ring-0 threads with their own stacks) wait in
; one run queue, a ring guarded by a spinlock; each CPU takes the next one,
; runs it until its local APIC timer (periodic, vector 0x40) or the process
; itself yields, and puts it back at the tail. A CPU that finds the queue empty
; halts; a CPU that puts a process in the queue wakes a halted one with a
; reschedule IPI (vector 0x41).
;
; A process prints LINES lines through the console spinlock, touching its data
; page (so each CPU it ran on may cache that translation), and at its end the
; kernel unmaps the page: it clears the PTE, invalidates it locally and sends a
; TLB-shootdown IPI (vector 0x42) to every other CPU, which invalidates the page
; too and acknowledges; the kernel waits for every acknowledgement. The last
; process to end prints the summary and writes 0 to the debug-exit port 0xF4.
;
; What it prints: "vmlab smp kernel" first; a "cpu N up" line per CPU (lines
; that start with "cpu" name a CPU, so their number follows the machine);
; "process P line K" for every P < NPROC and K from 1 to LINES, each process's
; lines in order but the processes' lines in any order among each other; last
; "kernel: all NPROC processes exited, L lines, U pages shot down". The set of
; lines depends only on the number of CPUs, never on the interleaving.

%ifndef NPROC
%define NPROC 6
%endif
%ifndef LINES
%define LINES 3
%endif
%ifndef SPIN
%define SPIN 400                ; loop iterations between two lines
%endif
%ifndef TICK
%define TICK 3000               ; APIC timer period (bus clocks, divide by 1)
%endif

IDT         equ 0x7000          ; 256 gates
PSTACKS     equ 0x60000         ; process p's stack ends at PSTACKS + (p + 1) * 4 KiB
PD          equ 0x100000        ; the one page directory
PT_KERNEL   equ 0x101000        ; 0-4 MiB identity, supervisor
PT_DATA     equ 0x102000        ; 4-8 MiB: the processes' data pages
PT_APIC     equ 0x103000        ; 0xFEC00000-0xFEFFFFFF: the local APIC page
FRAMES      equ 0x200000        ; process p's data frame: FRAMES + p * 4 KiB
DATA        equ 0x400000        ; process p's data page: DATA + p * 4 KiB
V_TIMER     equ 0x40
V_RESCHED   equ 0x41
V_SHOOT     equ 0x42
DEBUG_EXIT  equ 0xf4

[bits 32]
org 0x8000

start:
    jmp kmain

%include "smp.inc"
%include "pc.inc"

TRAMPOLINE_CODE

; ---------------------------------------------------------------- boot (CPU 0)
kmain:
    call flat_segments
    call cpu_stack
    mov esi, msg_banner
    call puts
    ; the IDT: every vector to `unexpected`, then the ones the kernel handles
    xor ecx, ecx
.fill:
    mov eax, unexpected
    call set_gate
    inc ecx
    cmp ecx, 256
    jb .fill
    mov eax, timer_isr
    mov ecx, V_TIMER
    call set_gate
    mov eax, resched_isr
    mov ecx, V_RESCHED
    call set_gate
    mov eax, shoot_isr
    mov ecx, V_SHOOT
    call set_gate
    mov eax, spurious_isr
    mov ecx, 0xff
    call set_gate
    ; the page tables
    mov edi, PD
    xor eax, eax
    mov ecx, 4 * 1024
    rep stosd                   ; PD and the three tables, zeroed
    mov dword [PD], PT_KERNEL | 3
    mov dword [PD + 4], PT_DATA | 3
    mov dword [PD + (LAPIC >> 22) * 4], PT_APIC | 3
    mov dword [PT_APIC + ((LAPIC >> 12) & 0x3ff) * 4], LAPIC | 0x13 ; P | W | PCD
    mov edi, PT_KERNEL
    mov eax, 3
.ident:
    stosd
    add eax, 0x1000
    cmp edi, PT_KERNEL + 0x1000
    jb .ident
    mov edi, PT_DATA
    mov eax, FRAMES | 3
    mov ecx, NPROC
.data:
    stosd
    add eax, 0x1000
    loop .data
    ; the processes, each in the run queue
    xor ebp, ebp
.proc:
    call make_process
    mov eax, ebp
    call enqueue
    inc ebp
    cmp ebp, NPROC
    jb .proc
    ; the other CPUs
    call find_cpus
    mov [ncpu], eax
    call start_aps
    jmp cpu_common

; ---------------------------------------------------------------- every CPU
ap_main:
cpu_common:
    call cpu_stack              ; EBX = this CPU's APIC ID
    lidt [idt_desc]
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000          ; PG | WP
    mov cr0, eax
    mov dword [LAPIC_SVR], 0x1ff
    mov dword [cur + ebx * 4], -1
    call say_up
    lock inc dword [up]
.all_up:                        ; the scheduler starts once every CPU is up
    pause
    mov eax, [up]
    cmp eax, [ncpu]
    jb .all_up
    mov dword [LAPIC_DIV], 0xb  ; divide by 1
    mov dword [LAPIC_TIMER], 0x20000 | V_TIMER ; periodic
    mov dword [LAPIC_INIT], TICK
    jmp schedule

; make_process: EBP = p. Its stack holds what switch_out leaves: a PUSHAD frame
; (EAX = p) under the return address, here proc_start.
make_process:
    mov edi, ebp
    inc edi
    shl edi, 12
    add edi, PSTACKS
    mov dword [edi - 4], proc_start
    sub edi, 36
    mov [pcb_esp + ebp * 4], edi
    push edi
    xor eax, eax
    mov ecx, 8
    rep stosd
    pop edi
    mov [edi + 28], ebp         ; the saved EAX
    ret

; set_gate: ECX = vector, EAX = handler; an interrupt gate, ring 0
set_gate:
    mov [IDT + ecx * 8], ax
    mov word [IDT + ecx * 8 + 2], 0x08
    mov word [IDT + ecx * 8 + 4], 0x8e00
    shr eax, 16
    mov [IDT + ecx * 8 + 6], ax
    ret

; this_cpu: EBX = the running CPU's APIC ID (clobbers nothing else)
this_cpu:
    mov ebx, [LAPIC_ID]
    shr ebx, 24
    ret

; ---------------------------------------------------------------- scheduler
; schedule: on this CPU's idle stack with interrupts off (EBX = its ID): the
; next process from the run queue, or halt until an interrupt and look again.
schedule:
    mov dword [cur + ebx * 4], -1
.again:
    call dequeue
    cmp eax, -1
    jne .run
    mov dword [idle + ebx * 4], 1
    sti
    hlt
    cli
    mov dword [idle + ebx * 4], 0
    jmp .again
.run:
    mov [cur + ebx * 4], eax
    mov esp, [pcb_esp + eax * 4]
    popad
    ret

; switch_out: called by the running process with interrupts off. Saves its
; registers on its stack, moves to this CPU's idle stack, queues the process
; again and schedules. The process goes on after its call when a CPU (any)
; picks it.
switch_out:
    pushad
    call this_cpu
    mov eax, [cur + ebx * 4]
    mov [pcb_esp + eax * 4], esp
    call idle_stack
    call enqueue
    jmp schedule

; idle_stack: ESP = this CPU's idle stack (EBX = its ID; clobbers EDX, ECX)
idle_stack:
    pop edx
    mov ecx, ebx
    shl ecx, 12
    mov esp, STACKS_TOP
    sub esp, ecx
    jmp edx

; enqueue: process EAX to the tail of the run queue; a halted CPU other than
; this one is woken with a reschedule IPI (clobbers ECX, EDX)
enqueue:
    call rq_lock
    mov ecx, [rq_tail]
    mov [rq + ecx * 4], eax
    inc ecx
    and ecx, 15
    mov [rq_tail], ecx
    call rq_unlock
    xor ecx, ecx
.find:
    cmp ecx, [ncpu]
    jae .none
    cmp dword [idle + ecx * 4], 0
    je .next
    cmp ecx, ebx
    je .next
    mov edx, ecx
    shl edx, 24
    mov [LAPIC_ICRHI], edx
    mov dword [LAPIC_ICRLO], 0x4000 | V_RESCHED ; fixed, physical
    ret
.next:
    inc ecx
    jmp .find
.none:
    ret

; dequeue: EAX = the process at the head of the run queue, -1 when it is empty
; (clobbers ECX)
dequeue:
    call rq_lock
    mov eax, -1
    mov ecx, [rq_head]
    cmp ecx, [rq_tail]
    je .empty
    mov eax, [rq + ecx * 4]
    inc ecx
    and ecx, 15
    mov [rq_head], ecx
.empty:
    call rq_unlock
    ret

; rq_lock / rq_unlock: the run-queue spinlock, taken with interrupts off
rq_lock:
    push eax
.try:
    mov eax, 1
    xchg eax, [rq_spin]
    test eax, eax
    jz .got
.wait:
    pause
    cmp dword [rq_spin], 0
    jne .wait
    jmp .try
.got:
    pop eax
    ret

rq_unlock:
    mov dword [rq_spin], 0
    ret

; ---------------------------------------------------------------- interrupts
timer_isr:
    pushad
    mov dword [LAPIC_EOI], 0
    call this_cpu
    cmp dword [cur + ebx * 4], -1
    je .out
    call switch_out             ; preempted: back in the queue
.out:
    popad
    iret

resched_isr:                    ; only wakes a halted CPU
    mov dword [LAPIC_EOI], 0
    iret

shoot_isr:                      ; the remote half of a TLB shootdown
    push eax
    mov eax, [shoot_addr]
    invlpg [eax]
    lock dec dword [shoot_acks]
    mov dword [LAPIC_EOI], 0
    pop eax
    iret

spurious_isr:
    iret

unexpected:
    mov esi, msg_unexpected
    call puts
    mov al, 1
    out DEBUG_EXIT, al
.halt:
    cli
    hlt
    jmp .halt

; ---------------------------------------------------------------- processes
; proc_start: a new process, EAX = its number, interrupts off
proc_start:
    sti
    mov ebp, eax
    mov edi, ebp
    shl edi, 12
    add edi, DATA               ; EDI = its data page
    mov dword [edi], 0          ; the line number
.line:
    inc dword [edi]
    call lock_acquire           ; the console
    mov esi, msg_process
    call puts
    mov eax, ebp
    call print_dec
    mov esi, msg_line
    mov eax, [edi]
    call print_line
    call lock_release
    lock inc dword [lines]
    mov ecx, SPIN
.spin:
    add dword [edi + 4], ecx    ; work on its data page; the timer may preempt
    loop .spin
    cli                         ; and give the CPU away: it may go on elsewhere
    call switch_out
    sti                         ; (not POPF: deprivileged, it would keep IF clear)
    cmp dword [edi], LINES
    jb .line
    ; the end: unmap the data page and shoot down every other CPU's copy
.shoot_lock:
    mov eax, 1
    xchg eax, [shoot_spin]
    test eax, eax
    jz .shoot
    pause
    jmp .shoot_lock
.shoot:
    mov dword [PT_DATA + ebp * 4], 0
    invlpg [edi]
    mov [shoot_addr], edi
    mov eax, [ncpu]
    dec eax
    mov [shoot_acks], eax
    jz .shot
    mov dword [LAPIC_ICRHI], 0
    mov dword [LAPIC_ICRLO], 0xc4000 | V_SHOOT ; fixed, all but self
.acks:
    pause
    cmp dword [shoot_acks], 0
    jne .acks
.shot:
    lock inc dword [shot]
    mov dword [shoot_spin], 0
    cli
    lock inc dword [exited]
    cmp dword [exited], NPROC
    je finale
    call this_cpu               ; this process is gone: its CPU schedules again
    call idle_stack
    jmp schedule

finale:
    call lock_acquire
    mov esi, msg_all
    call puts
    mov eax, NPROC
    call print_dec
    mov esi, msg_exited
    call puts
    mov eax, [lines]
    call print_dec
    mov esi, msg_lines
    call puts
    mov eax, [shot]
    call print_dec
    mov esi, msg_shot
    call puts
    call lock_release
    xor al, al
    out DEBUG_EXIT, al
.halt:
    cli
    hlt
    jmp .halt

msg_banner:     db "vmlab smp kernel", 10, 0
msg_process:    db "process ", 0
msg_line:       db " line ", 0
msg_all:        db "kernel: all ", 0
msg_exited:     db " processes exited, ", 0
msg_lines:      db " lines, ", 0
msg_shot:       db " pages shot down", 10, 0
msg_unexpected: db "kernel panic: unexpected interrupt or exception", 10, 0

align 4
idt_desc:
    dw 256 * 8 - 1
    dd IDT
up:         dd 0
lines:      dd 0
exited:     dd 0
shot:       dd 0
rq_spin:    dd 0
rq_head:    dd 0
rq_tail:    dd 0
shoot_spin: dd 0
shoot_addr: dd 0
shoot_acks: dd 0
rq:         times 16 dd 0
pcb_esp:    times 16 dd 0
cur:        times 16 dd 0
idle:       times 16 dd 0
