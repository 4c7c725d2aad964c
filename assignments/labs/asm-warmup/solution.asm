; reference solution: asm-warmup (vmlab lab 1)
;
; Six routines behind a table of their addresses at the load address.

        org 0x10000
        bits 32

table:  dd strlen, reverse, adler32, itoa, puts, gcd

; strlen: ESI = NUL-terminated string -> EAX = its length
strlen:
        xor eax, eax
.loop:  cmp byte [esi + eax], 0
        je .done
        inc eax
        jmp .loop
.done:  ret

; reverse: ESI = NUL-terminated string, reversed in place
reverse:
        call strlen
        lea edi, [esi + eax - 1]
.loop:  cmp esi, edi
        jae .done
        mov al, [esi]
        mov dl, [edi]
        mov [esi], dl
        mov [edi], al
        inc esi
        dec edi
        jmp .loop
.done:  ret

; adler32: ESI = buffer, ECX = length -> EAX = Adler-32 checksum
adler32:
        push ebx
        mov eax, 1
        xor ebx, ebx
.loop:  test ecx, ecx
        jz .done
        movzx edx, byte [esi]
        add eax, edx
        cmp eax, 65521
        jb .a_ok
        sub eax, 65521
.a_ok:  add ebx, eax
        cmp ebx, 65521
        jb .b_ok
        sub ebx, 65521
.b_ok:  inc esi
        dec ecx
        jmp .loop
.done:  shl ebx, 16
        or eax, ebx
        pop ebx
        ret

; itoa: EAX = unsigned value, EDI = buffer -> decimal digits and a NUL; EAX = digit count
itoa:
        push ebx
        mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
        mov eax, ecx
.out:   pop edx
        add dl, '0'
        mov [edi], dl
        inc edi
        loop .out
        mov byte [edi], 0
        pop ebx
        ret

; puts: ESI = NUL-terminated string, written to COM1 -> EAX = bytes written
puts:
        xor ecx, ecx
        mov dx, 0x3f8
.next:  mov al, [esi + ecx]
        test al, al
        jz .done
        out dx, al
        inc ecx
        jmp .next
.done:  mov eax, ecx
        ret

; gcd: EAX, ECX = unsigned numbers -> EAX = their greatest common divisor
gcd:
.loop:  test ecx, ecx
        jz .done
        xor edx, edx
        div ecx
        mov eax, ecx
        mov ecx, edx
        jmp .loop
.done:  ret
