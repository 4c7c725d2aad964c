; Lab 4 — red pill. Print "verdict: bare" or "verdict: vmm" (and a newline) on
; COM1, then halt. Right now it always says bare: find a tell.

        org 0x10000
        bits 32

%define COM1     0x3f8

start:
        xor ebx, ebx                    ; count the tells of a VMM here

        ; your checks: sensitive but unprivileged instructions
        ; (SGDT, SIDT, SMSW, STR, PUSHF, MOV from CS, LAR, ...)

        mov esi, msg_bare
        test ebx, ebx
        jz .say
        mov esi, msg_vmm
.say:   mov dx, COM1
.next:  lodsb
        test al, al
        jz .done
        out dx, al
        jmp .next
.done:  cli
        hlt

msg_bare:   db "verdict: bare", 10, 0
msg_vmm:    db "verdict: vmm", 10, 0
