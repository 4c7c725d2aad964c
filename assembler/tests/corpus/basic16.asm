; Basic 16-bit forms: moves, arithmetic, jumps, data.
        bits 16
        org 0x7c00
start:  cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        mov si, msg
.next:  lodsb
        test al, al
        jz .done
        mov ah, 0x0e
        int 0x10
        jmp .next
.done:  hlt
        jmp .done
msg:    db "hello", 13, 10, 0
        times 510 - ($ - $$) db 0
        dw 0xaa55
