; smc.asm: one CPU rewrites code another CPU is running.
;
; Load at 0x8000 as a flat 32-bit binary (pm32) on a machine with two CPUs. CPU 0
; starts CPU 1 and calls `probe` (which returns 1 in EAX) until it returns 2.
; CPU 1 patches probe's immediate to 2. CPU 0 sees the new instruction only if
; CPU 1's store dropped what CPU 0 had decoded from that page. CPU 0 prints
; "patched after N calls" and every CPU halts.

[bits 32]
org 0x8000

start:
    call flat_segments
    call cpu_stack
    call find_cpus
    call start_aps
    xor edi, edi
.again:
    inc edi
    call probe
    cmp eax, 2
    jne .again
    mov esi, msg_patched
    call puts
    mov eax, edi
    call print_dec
    mov esi, msg_calls
    call puts
park:
    cli
    hlt
    jmp park

probe:
    mov eax, 1
    ret

ap_main:
    mov ecx, 500                ; let CPU 0 run probe from its decode cache a while
.wait:
    pause
    loop .wait
    mov byte [probe + 1], 2     ; the immediate of `mov eax, 1`
    jmp park

%include "smp.inc"
%include "pc.inc"

msg_patched: db "patched after ", 0
msg_calls:   db " calls", 10, 0

TRAMPOLINE_CODE
