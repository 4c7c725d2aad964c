; A high org with forward jumps at the edge of the short range (labels use org in pass 1).
        bits 32
        org 0x100000
start:  jne fail
        times 124 nop
        jz fail
fail:   jmp start
        dd start, fail, $$
