; Code discovery: a warm-up loop, then a main loop that calls three small functions,
; each of which calls a fourth. Each hot entry becomes a region; exits between regions
; whose targets are known chain.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
%include "int3.inc"
warm_up:
    mov ecx, 100
warm_loop:
    add eax, ecx
    dec ecx
    jnz warm_loop
    int3                    ; one loop translated
calls:
    mov esi, 200
round:
    call scale
    call mix
    call fold
    dec esi
    jnz round
    int3                    ; the functions translated and chained
    mov dx, COM1
    mov al, 'C'
    out dx, al
    mov al, 10
    out dx, al
    cli
    hlt

scale:
    shl eax, 1
    call clip
    ret
mix:
    xor eax, 0x1234
    call clip
    ret
fold:
    add eax, esi
    call clip
    ret
clip:
    and eax, 0xffff
    ret
