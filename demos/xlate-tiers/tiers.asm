; One hot loop for the three tiers: arithmetic whose flags are mostly overwritten
; before anything reads them, then its result on COM1.
bits 32
org 0x10000

start:
    mov esp, 0x90000
%include "int3.inc"
hot_loop:
    mov ecx, 20000
    xor eax, eax
    mov ebx, 1
loop_body:
    add eax, ebx            ; ADD's flags: overwritten by XOR's
    xor eax, 0x5a5a         ; overwritten by ADD's
    add ebx, 3              ; overwritten by SUB's
    sub eax, ebx            ; its CF survives DEC (DEC keeps CF)
    dec ecx                 ; ZF read by JNZ
    jnz loop_body
loop_done:
    int3                    ; the loop is over
print:
    mov esi, message
    call puts
    cli
    hlt

%include "pc.inc"

align 4096
message: db "hot loop done", 10, 0
