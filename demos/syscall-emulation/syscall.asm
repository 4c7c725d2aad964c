; System-call emulation as vmlab's process VM does it: a program at ring 3 asks the
; kernel for write(1, msg, len) with int 0x80; the CPU enters the kernel's handler at
; ring 0 through the IDT gate, on the stack the TSS names; the handler does the work
; (here: the bytes go to the serial port) and IRET returns to the program with EAX.
bits 32
org 0x10000

COM1 equ 0x3f8
SYS_EXIT equ 1
SYS_WRITE equ 4

start:
    mov esp, 0x90000
    lgdt [gdtr]
    mov eax, tss                        ; the TSS's base into its descriptor
    mov [gdt + 0x28 + 2], ax
    shr eax, 16
    mov [gdt + 0x28 + 4], al
    mov [gdt + 0x28 + 7], ah
    mov ax, 0x28
    ltr ax
    mov eax, syscall_entry              ; gate 0x80: an interrupt gate ring 3 may use
    mov [idt + 0x80 * 8], ax
    mov word [idt + 0x80 * 8 + 2], 0x08
    mov word [idt + 0x80 * 8 + 4], 0xee00
    shr eax, 16
    mov [idt + 0x80 * 8 + 6], ax
    lidt [idtr]
kernel_ready:
    push dword 0x23                     ; the program's SS
    push dword 0x80000                  ; its ESP
    push dword 0x002                    ; EFLAGS, interrupts off
    push dword 0x1b                     ; its CS: ring 3
    push dword user_start
enter_user:
    iret

user_start:
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    mov eax, SYS_WRITE
    mov ebx, 1
    mov ecx, msg
    mov edx, msg_len
user_int:
    int 0x80
after_syscall:
    mov ebx, eax                        ; write's result: the bytes written
    mov eax, SYS_EXIT
    int 0x80
    jmp $

syscall_entry:                          ; ring 0, on the kernel stack
    cmp eax, SYS_WRITE
    jne sys_exit
    push edx
    mov esi, ecx
    mov ecx, edx
    mov dx, COM1
copy:
    lodsb
    out dx, al
    loop copy
    pop eax                             ; the result: every byte written
syscall_return:
    iret

sys_exit:
    hlt
    jmp sys_exit

msg:     db "hello through int 0x80", 10
msg_len  equ $ - msg

align 8
gdt:    dq 0
        dw 0xffff, 0
        db 0, 0x9a, 0xcf, 0             ; 0x08 kernel code
        dw 0xffff, 0
        db 0, 0x92, 0xcf, 0             ; 0x10 kernel data
        dw 0xffff, 0
        db 0, 0xfa, 0xcf, 0             ; 0x18 user code (DPL 3)
        dw 0xffff, 0
        db 0, 0xf2, 0xcf, 0             ; 0x20 user data (DPL 3)
        dw 0x67, 0
        db 0, 0x89, 0, 0                ; 0x28 the TSS
gdtr:   dw $ - gdt - 1
        dd gdt
idtr:   dw 0x81 * 8 - 1
        dd idt
tss:    dd 0
        dd 0x88000                      ; ESP0: the kernel stack
        dd 0x10                         ; SS0
        times 22 dd 0
        dw 0, 0x68                      ; no I/O bitmap
idt:    times 0x81 dq 0
