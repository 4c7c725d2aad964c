; Lab 1 — assembly warm-up. Fill in the routines below.
;
; The grader loads this program at 0x10000 in 32-bit protected mode (flat
; segments, paging off) and calls the routines through the table of addresses
; right at the start: keep the table first and in this order.

        org 0x10000
        bits 32

table:  dd strlen, reverse, adler32, itoa, puts, gcd

; strlen: ESI = NUL-terminated string -> EAX = its length
strlen:
        xor eax, eax            ; your code here
        ret

; reverse: ESI = NUL-terminated string, reversed in place
reverse:
        ret                     ; your code here

; adler32: ESI = buffer, ECX = length -> EAX = Adler-32 checksum
adler32:
        mov eax, 1              ; your code here
        ret

; itoa: EAX = unsigned value, EDI = buffer -> decimal digits and a NUL; EAX = digit count
itoa:
        xor eax, eax            ; your code here
        ret

; puts: ESI = NUL-terminated string, written to COM1 -> EAX = bytes written
; (done for you, as an example of a loop and of OUT)
puts:
        xor ecx, ecx
        mov dx, 0x3f8           ; COM1's transmit register
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
        xor eax, eax            ; your code here
        ret
