; Fast-tier test guest: flag-setting instructions whose Jcc jumps over exactly one
; instruction, taken and not taken at random (an LCG drives the conditions). The
; skipped instruction is register-only (the tier runs it without a branch and puts
; its register and flags back when the Jcc is taken), a memory store (run on the
; ordinary path), or one that reads the flags (ADC, SBB). Flat 32-bit code at 0x1000.
        bits 32
        org 0x1000
        mov esi, 0x2468ace1     ; LCG state
        mov ecx, 500            ; rounds
        xor eax, eax
        xor ebx, ebx
        xor edx, edx
        xor edi, edi
        mov ebp, data
round:  imul esi, esi, 1103515245
        add esi, 12345
        mov eax, esi
        shr eax, 1              ; CF from bit 0
        jnc .a
        xor edx, 0xedb88320     ; skipped: ALU reg, imm
.a:     test esi, 0x100
        jz .b
        add ebx, esi            ; skipped: ALU reg, reg
.b:     cmp esi, 0x80000000
        jb .c
        inc edi                 ; skipped: INC (keeps CF)
.c:     adc ebx, 0              ; reads the CF the skip left behind
        bt esi, 9
        test esi, 0x200
        jnz .d
        mov eax, 0x1234         ; skipped: MOV reg, imm (no flags)
.d:     add ebx, eax
        sub eax, esi
        js .e
        lea edx, [edx+eax*4+7]  ; skipped: LEA
.e:     shl eax, 3
        jc .f
        neg edi                 ; skipped: NEG
.f:     and eax, esi
        jnz .g
        not edx                 ; skipped: NOT
.g:     dec ecx
        jz done                 ; forward, but over more than one instruction
        cmp esi, 0x40000000
        jae .h
        mov [ebp], esi          ; skipped: a store (not register-only)
.h:     test esi, 0x40
        jz .i
        sbb edx, ebx            ; skipped: SBB (reads CF)
.i:     cmp eax, edx
        jl .j
        rol ebx, 5              ; skipped: rotate (keeps SF ZF PF)
.j:     test esi, 0x8
        jnz .k
        imul edi, edx, 3        ; skipped: IMUL
.k:     cmp esi, 0x20000000
        jb .l
        add edx, esi            ; skipped: its flags are read next
.l:     sbb eax, eax            ; CF of the CMP or the ADD
        add ebx, eax
        test esi, 0x10000
        jz .m
        sub edi, edx            ; skipped: its flags are read next
.m:     setz al
        seto ah
        sets dl
        setp dh
        add ebx, eax
        jmp round
done:   add eax, [ebp]
        hlt
        align 4
data:   dd 0
