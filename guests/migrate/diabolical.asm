; Migration workload "diabolical": never halts; writes one dword to each of
; 512 pages (2 MiB at 1 MiB) over and over, about a page every 6 instructions:
; gigabytes a second of dirty pages, far above any modeled link. Pre-copy
; cannot converge; post-copy completes.
bits 32
org 0x10000
%include "workload.inc"

work:
    xor eax, eax
.next:
    mov ebx, eax
    and ebx, 0x1ff
    shl ebx, 12
    mov [ebx + 0x100000], eax
    inc eax
    jmp .next

on_tick:
    ret

%include "pc.inc"
