; Migration workload "idle": halts between timer ticks and writes nothing but
; its tick counter and stack. Pre-copy converges at once.
bits 32
org 0x10000
%include "workload.inc"

work equ halt_work

on_tick:
    ret

%include "pc.inc"
