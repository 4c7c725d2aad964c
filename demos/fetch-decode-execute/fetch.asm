; Fetch, decode, execute: a few instructions and a loop, printed to COM1.
bits 32
org 0x10000

COM1 equ 0x3f8

start:
    mov esp, 0x90000
arith:
    mov eax, 5              ; EAX = 5
    mov ebx, 7              ; EBX = 7
    add eax, ebx            ; EAX = 12: ZF, SF, CF, OF follow the result
zero:
    sub eax, 12             ; EAX = 0: ZF becomes 1
loop_init:
    mov ecx, 3
again:
    dec ecx                 ; the loop body
    jnz again               ; taken twice, then falls through
print:
    mov dx, COM1
    mov esi, message
next_char:
    lodsb                   ; AL = [ESI], ESI += 1
    test al, al
    jz done
    out dx, al              ; one byte to the serial port
    jmp next_char
done:
    cli
    hlt
    jmp done               ; a halted CPU stays halted

message: db "fetch, decode, execute: done", 10, 0
