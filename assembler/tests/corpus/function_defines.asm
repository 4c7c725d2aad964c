; Function-like single-line macros (%define NAME(args)), %ifdef and %undef on them.
%define SEL(i) ((i) << 3)
%define ADDR(seg, off) (((seg) << 4) + (off))
%define PAIR(x,y) x, y
%define NOARGS() 42
%define CALLSEL(n) SEL(n) + 1
        bits 32
        mov ax, SEL(2)
        dd ADDR(0xF000, 0xFFF0), SEL(1+1)
        db PAIR(1, 2), NOARGS()
        mov eax, CALLSEL(3)
        jmp SEL(1):start
start:  nop
%ifdef SEL
        db 9
%endif
%undef SEL
%ifndef SEL
        db 8
%endif
