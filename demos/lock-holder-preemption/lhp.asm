; Lock-holder preemption: four CPUs take one spinlock ROUNDS times each. The
; lock is an XCHG; a CPU that finds it held waits in a PAUSE loop. Inside the
; critical section a CPU works CRIT iterations and counts the round; outside it
; works OUTSIDE iterations. CPU 0 waits for the others and prints the rounds
; counted and the rounds expected.
;
; On four physical CPUs the lock is held briefly and nobody waits long. When a
; host time-slices the four vCPUs on one physical CPU, a vCPU descheduled while
; it holds the lock leaves the others spinning for whole slices.
bits 32
org 0x10000

AP_PAGE     equ 0x12000         ; SIPI vector 0x12
NCPU        equ 4
ROUNDS      equ 100
CRIT        equ 20
OUTSIDE     equ 200

start:
    mov esp, 0x90000
    call load_flat
    mov dword [APIC_SVR], 0x1ff
    mov dword [APIC_ICRHI], 0
    mov dword [APIC_ICRLO], 0x000c4500          ; INIT, all but self
    mov dword [APIC_ICRLO], 0x000c4600 | (AP_PAGE >> 12) ; SIPI, all but self
cpu_main:                               ; every CPU, in flat protected mode
    mov ebx, [APIC_ID]
    shr ebx, 24                         ; EBX = this CPU's APIC ID
    lock inc dword [arrived]
wait_all:
    cmp dword [arrived], NCPU
    jb wait_all
all_up:                                 ; all four CPUs have arrived
    mov edi, ROUNDS
round:
    call lock_acquire
holding:                                ; this CPU holds the lock
    mov ecx, CRIT
.crit:
    add dword [work], ecx
    loop .crit
    inc dword [rounds]                  ; guarded by the lock
    mov dword [spinlock], 0                 ; release
    mov ecx, OUTSIDE
.outside:
    add dword [mine + ebx * 4], ecx
    loop .outside
    dec edi
    jnz round
    lock inc dword [finished]
    test ebx, ebx
    jnz park
wait_finished:
    cmp dword [finished], NCPU
    jb wait_finished
    mov esi, msg_rounds
    mov eax, [rounds]
    call print_line
    mov esi, msg_expected
    mov eax, NCPU * ROUNDS
    call print_line
done:
    cli
    hlt
park:
    cli
    hlt
    jmp park

; lock_acquire: takes the lock, waiting in a PAUSE loop while it is held
; (clobbers EAX)
lock_acquire:
    mov eax, 1
    xchg eax, [spinlock]
    test eax, eax
    jz got_lock
spin:
    pause
    cmp dword [spinlock], 0
    jne spin
    jmp lock_acquire
got_lock:
    ret

; print_line: the string at ESI, EAX in decimal, a newline
print_line:
    push eax
    call puts
    pop eax
    call putdec
    mov al, 10
    jmp putc

%include "apic.inc"
%include "pc.inc"
%include "console.inc"

msg_rounds:   db "rounds ", 0
msg_expected: db "expected ", 0
align 4
spinlock: dd 0
arrived:  dd 0
finished: dd 0
rounds:   dd 0
work:     dd 0
mine:     times NCPU dd 0

; the other CPUs start here in real mode (CS = 0x1200, IP = 0)
times AP_PAGE - 0x10000 - ($ - $$) db 0
AP_ENTER_FLAT
    mov ebx, [APIC_ID]
    shr ebx, 24
    mov esp, ebx
    shl esp, 12
    neg esp
    add esp, 0x90000                    ; CPU n's stack ends at 0x90000 - n * 4 KiB
    mov dword [APIC_SVR], 0x1ff
    jmp cpu_main
