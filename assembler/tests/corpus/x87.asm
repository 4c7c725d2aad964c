; x87 instructions in every operand form NASM accepts, the short forms included.
bits 32
        fninit
        finit
        fld1
        fldz
        fldpi
        fldl2e
        fldl2t
        fldlg2
        fldln2
        fld dword [ebx]
        fld qword [ebx + 8]
        fld tword [ebx + esi*4 + 16]
        fld st3
        fild word [eax]
        fild dword [eax]
        fild qword [eax]
        fbld [ecx]
        fbld tword [ecx]
        fst dword [edx]
        fst qword [edx]
        fst st2
        fstp dword [edx]
        fstp qword [edx]
        fstp tword [edx]
        fstp st1
        fist word [edi]
        fist dword [edi]
        fistp word [edi]
        fistp dword [edi]
        fistp qword [edi]
        fbstp [esi]
        fxch
        fxch st4
        fxch st0, st5
        fadd dword [ebx]
        fadd qword [ebx]
        fadd st2
        fadd st0, st3
        fadd st3, st0
        faddp
        faddp st2
        faddp st2, st0
        fiadd word [ebx]
        fiadd dword [ebx]
        fsub dword [ebx]
        fsub st1
        fsub st1, st0
        fsubp
        fsubp st3
        fsubr qword [ebx]
        fsubr st2
        fsubrp
        fsubrp st1
        fisub dword [ebx]
        fisubr word [ebx]
        fmul qword [ebx]
        fmul st5
        fmulp
        fmulp st6, st0
        fimul dword [ebx]
        fdiv dword [ebx]
        fdiv st1
        fdiv st1, st0
        fdivp
        fdivp st2
        fdivr qword [ebx]
        fdivrp
        fdivrp st2
        fidiv word [ebx]
        fidivr dword [ebx]
        fcom
        fcom st2
        fcom dword [ebx]
        fcom qword [ebx]
        fcomp
        fcomp st3
        fcomp qword [ebx]
        fcompp
        ficom word [ebx]
        ficomp dword [ebx]
        fucom
        fucom st1
        fucomp st2
        fucompp
        fcomi st1
        fcomi st0, st2
        fcomip st3
        fucomi st1
        fucomip st0, st1
        ftst
        fxam
        fchs
        fabs
        fsqrt
        fscale
        fxtract
        fprem
        fprem1
        frndint
        fsin
        fcos
        fsincos
        fptan
        fpatan
        f2xm1
        fyl2x
        fyl2xp1
        fcmovb st1
        fcmove st0, st2
        fcmovbe st3
        fcmovu st4
        fcmovnb st5
        fcmovne st6
        fcmovnbe st7
        fcmovnu st1
        ffree st2
        fincstp
        fdecstp
        fnop
        fnclex
        fclex
        fnstcw [ebx]
        fstcw word [ebx]
        fldcw [ebx]
        fnstsw ax
        fstsw ax
        fnstsw [ebx]
        fnstenv [ebx]
        fstenv [ebx]
        fldenv [ebx]
        fnsave [ebx]
        fsave [ebx]
        frstor [ebx]
        o16 fnsave [ebx]
        o16 fnstenv [ebx]
        fxsave [ebx]
        fxrstor [ebx]
        fwait
        wait
bits 16
        fnsave [bx]
        fnstenv [bx]
        frstor [si]
        fldenv [di]
        o32 fnsave [bx]
        fld qword [bx + si]
        faddp
        fcom
