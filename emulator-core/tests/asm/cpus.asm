; Each CPU that runs this adds ITER to the shared dword at 0x3000 and counts the
; iterations in its own EBX, then compares to set ZF and halts.
        bits 32
        org 0x1000
%ifndef ITER
%define ITER 1000
%endif
start:
        mov ecx, ITER
.loop:
        inc dword [0x3000]
        inc ebx
        dec ecx
        jnz .loop
        cmp ebx, ITER
        hlt
