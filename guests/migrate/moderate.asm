; Migration workload "moderate": at each timer tick writes 4 pages of a
; 256-page buffer at 1 MiB, in turn (about 4000 pages, 16 MB, a second: below
; the link's rate), and halts in between. Pre-copy's rounds shrink and converge.
bits 32
org 0x10000
%include "workload.inc"

work equ halt_work

on_tick:
    mov eax, [ticks]
    shl eax, 2
    mov ecx, 4
.page:
    mov ebx, eax
    and ebx, 0xff
    shl ebx, 12
    mov [ebx + 0x100000], eax
    inc eax
    loop .page
    ret

%include "pc.inc"
