; Multi-line macros, %rep, %assign and %+ token pasting (ISR stubs and tables).
bits 32
%macro ISR_NOERR 1
isr%1:
    push dword 0
    push dword %1
    jmp isr_common
%endmacro
%macro ISR_ERR 1
isr%1:
    push dword %1
    jmp isr_common
%endmacro
%macro PUTS 1+
    jmp %%after
%%msg: db %1, 0
%%after:
    mov esi, %%msg
%endmacro
%assign i 0
%rep 8
ISR_NOERR i
%assign i i+1
%endrep
ISR_ERR 8
start: PUTS "hello", 13, 10
    PUTS 'x'
isr_common:
    pushad
    popad
    add esp, 8
    iret
%assign n 0
%rep 4
  %rep 2
    db n
  %endrep
  %assign n n+1
%endrep
%macro ZERO 0
    xor eax, eax
%endmacro
    ZERO
%macro TWO 2
    mov %1, %2
%endmacro
    TWO ebx, {[eax+4]}
idt:
%assign k 0
%rep 9
    dd isr %+ k
%assign k k+1
%endrep
