; Self-modifying code: a hot loop that calls a function is translated, then the guest
; rewrites the immediate of the function's MOV. The write to the translated page
; drops the regions translated from it when they are next entered; the loop then
; runs the new code.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
%include "int3.inc"
    mov dx, COM1
    call fifty_calls
    out dx, al              ; 'A': the code as written
    int3                    ; the loop and the function are translated
rewrite:
    mov byte [patched + 1], 'B'
    call fifty_calls
    out dx, al              ; 'B': the rewritten code ran
    mov al, 10
    out dx, al
    int3                    ; the regions were dropped and translated again
    cli
    hlt

fifty_calls:
    mov esi, 50
call_loop:
    call patched
    dec esi
    jnz call_loop
    ret

patched:
    mov eax, 'A'
    ret
