; Trap-heavy benchmark guest for the VMM ratios: a 64 KiB ROM for the reset vector.
;
; A small kernel runs PROCS ring-3 processes, each in its own address space (its own
; page directory, its own stack frame). Each process makes CALLS system calls
; (int 0x80) with WORK iterations of computation between two of them, then exits.
; The PIT interrupts every PIT_DIV ticks and the kernel switches to the next
; process (CR3 and TSS.ESP0 loads). So every run has the same steady mix of software
; interrupts, IRETs, timer interrupts, PIC I/O and address-space switches, and its
; length grows with PROCS * CALLS * WORK.
;
; The result does not depend on where the timer falls: each process sums the call
; numbers the kernel returns to it (its own count), and the kernel prints the total
; of calls and the sum of the processes' sums on COM1, then writes 0 to the
; debug-exit port 0xF4 (and 1 on an unexpected interrupt or exception).
;
; Assemble: nasm -f bin -D PROCS=4 -D CALLS=N -D WORK=N -D PIT_DIV=N -o vmm.rom vmm.asm
%ifndef PROCS
%define PROCS 4                    ; 1 to 16
%endif
%ifndef CALLS
%define CALLS 1000
%endif
%ifndef WORK
%define WORK 20
%endif
%ifndef PIT_DIV
%define PIT_DIV 1193               ; about 1 ms
%endif

%define ROM        0xF0000
%define COM1       0x3F8
%define GDT_BASE   0x1000
%define IDT_BASE   0x2000
%define TSS_BASE   0x3000
%define KDATA      0x4000
%define BOOT_STACK 0x8000
%define KSTACKS    0x10000         ; process p's kernel stack top: KSTACKS + (p+1)*4K
%define PT_KERNEL  0x30000         ; 0-4 MiB identity, supervisor only
%define PDS        0x40000         ; process p's page directory at PDS + p*4K
%define UPTS       0x50000         ; its user page table at UPTS + p*4K
%define UCODE      0x60000         ; the user program (one frame, shared, read-only)
%define USTACKS    0x70000         ; process p's stack frame at USTACKS + p*4K
%define USER_CODE  0x400000
%define USER_STACK 0x402000        ; top of the stack page at 0x401000

; kernel variables
%define current    KDATA + 0x00
%define calls      KDATA + 0x04    ; all system calls served
%define total      KDATA + 0x08    ; sum of the processes' sums
%define pcb_esp    KDATA + 0x40    ; saved kernel ESP, PROCS dwords
%define pcb_calls  KDATA + 0x80    ; calls made, PROCS dwords
%define pcb_state  KDATA + 0xC0    ; 1 = runnable, 0 = exited, PROCS dwords

%define SEL_KCODE  0x08
%define SEL_KDATA  0x10
%define SEL_UCODE  0x1B
%define SEL_UDATA  0x23
%define SEL_TSS    0x28

        bits 16
        org 0
rom_start:
real_entry:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, BOOT_STACK
        o32 lgdt [cs:boot_gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword SEL_KCODE:(ROM + pm_entry)

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF              ; 0x08 kernel code
        dq 0x00CF92000000FFFF              ; 0x10 kernel data
        dq 0x00CFFA000000FFFF              ; 0x18 user code
        dq 0x00CFF2000000FFFF              ; 0x20 user data
        dw 103, TSS_BASE, 0x8900, 0        ; 0x28 TSS
gdt_end:
boot_gdt_desc:
        dw gdt_end - gdt - 1
        dd ROM + gdt
gdt_desc:
        dw gdt_end - gdt - 1
        dd GDT_BASE
idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE

        bits 32
pm_entry:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, BOOT_STACK
        ; zero the tables, variables, stacks and frames
        mov edi, GDT_BASE
        mov ecx, (USTACKS + 16 * 0x1000 - GDT_BASE) / 4
        xor eax, eax
        rep stosd
        ; the GDT in RAM (LTR marks the TSS busy there), the TSS
        mov esi, ROM + gdt
        mov edi, GDT_BASE
        mov ecx, gdt_end - gdt
        rep movsb
        lgdt [ROM + gdt_desc]
        mov dword [TSS_BASE + 8], SEL_KDATA
        mov word [TSS_BASE + 102], 104
        mov ax, SEL_TSS
        ltr ax
        ; IDT: every vector to `unexpected`, the timer and the system call
        xor ecx, ecx
.idt:   mov eax, ROM + unexpected
        mov bl, 0x8E
        call set_gate
        inc ecx
        cmp ecx, 256
        jb .idt
        mov ecx, 0x20
        mov eax, ROM + timer_isr
        call set_gate
        mov ecx, 0x80
        mov eax, ROM + syscall_isr
        mov bl, 0xEE                       ; DPL 3
        call set_gate
        lidt [ROM + idt_desc]
        ; COM1 8N1 with FIFOs; PICs at 0x20/0x28 with only IRQ0; PIT channel 0 mode 2
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov dx, COM1 + 2
        mov al, 0x07
        out dx, al
        mov al, 0x11
        out 0x20, al
        out 0xA0, al
        mov al, 0x20
        out 0x21, al
        mov al, 0x28
        out 0xA1, al
        mov al, 0x04
        out 0x21, al
        mov al, 0x02
        out 0xA1, al
        mov al, 0x01
        out 0x21, al
        out 0xA1, al
        mov al, 0xFE
        out 0x21, al
        mov al, 0xFF
        out 0xA1, al
        mov al, 0x34
        out 0x43, al
        mov al, PIT_DIV & 0xFF
        out 0x40, al
        mov al, PIT_DIV >> 8
        out 0x40, al
        ; the kernel's identity map and the user program's frame
        mov edi, PT_KERNEL
        mov eax, 0x003
        mov ecx, 1024
.ptk:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz .ptk
        mov esi, ROM + user_start
        mov edi, UCODE
        mov ecx, user_end - user_start
        rep movsb
        ; the processes
        xor ebx, ebx
.proc:  call make_process
        inc ebx
        cmp ebx, PROCS
        jb .proc
        ; paging on in process 0's address space; enter it as a switch leaves it
        mov eax, PDS
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000                 ; PG | WP
        mov cr0, eax
        xor eax, eax
        mov [current], eax
        mov dword [TSS_BASE + 4], KSTACKS + 0x1000
        mov esp, [pcb_esp]
        ret                                ; to isr_tail, which IRETs to ring 3

; set_gate: ECX = vector, EAX = handler, BL = type and attributes
set_gate:
        mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], SEL_KCODE
        mov byte [IDT_BASE + ecx*8 + 4], 0
        mov [IDT_BASE + ecx*8 + 5], bl
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        ret

; make_process: EBX = index. Page directory, user page table, and a kernel stack
; holding what a context switch leaves: the IRET frame to ring 3, the saved
; registers (EAX = the index) and the return address into isr_tail.
make_process:
        mov edi, ebx
        shl edi, 12
        lea esi, [edi + UPTS]
        lea edx, [edi + USTACKS + 0x007]   ; the stack frame: P | W | U
        add edi, PDS
        mov dword [edi], PT_KERNEL | 0x003
        lea eax, [esi + 0x007]
        mov [edi + 4], eax
        mov dword [esi], UCODE | 0x005     ; the program: P | U, read-only
        mov [esi + 4], edx
        mov dword [pcb_state + ebx*4], 1
        lea edi, [ebx + 1]
        shl edi, 12
        add edi, KSTACKS
        mov dword [edi - 4], SEL_UDATA     ; SS
        mov dword [edi - 8], USER_STACK    ; ESP
        mov dword [edi - 12], 0x202        ; EFLAGS: IF
        mov dword [edi - 16], SEL_UCODE    ; CS
        mov dword [edi - 20], USER_CODE    ; EIP
        mov [edi - 24], ebx                ; EAX (EDI..ECX are zero)
        mov dword [edi - 56], SEL_UDATA    ; DS
        mov dword [edi - 60], SEL_UDATA    ; ES
        mov dword [edi - 64], ROM + isr_tail
        lea eax, [edi - 64]
        mov [pcb_esp + ebx*4], eax
        ret

; switch_next: to the next runnable process after the current one (round robin);
; stays when there is none. Saves this kernel stack, loads the other's, its page
; directory and its ring-0 stack. Returns on the new process's stack.
switch_next:
        mov ebx, [current]
        mov eax, ebx
.next:  inc eax
        cmp eax, PROCS
        jb .in
        xor eax, eax
.in:    cmp dword [pcb_state + eax*4], 1
        je .found
        cmp eax, ebx
        jne .next
        ret
.found: cmp eax, ebx
        je .same
        mov [pcb_esp + ebx*4], esp
        mov [current], eax
        mov esp, [pcb_esp + eax*4]
        mov ecx, eax
        shl ecx, 12
        add ecx, PDS
        mov cr3, ecx
        lea ecx, [eax + 1]
        shl ecx, 12
        add ecx, KSTACKS
        mov [TSS_BASE + 4], ecx
.same:  ret

; Stack layout in a handler after `pushad; push ds; push es`:
%define F_EBX   24
%define F_EAX   36

; The entry of the timer and system-call handlers: save the registers, kernel data.
%macro kernel_entry 0
        pushad
        push ds
        push es
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
%endmacro

timer_isr:
        kernel_entry
        mov al, 0x20                       ; EOI
        out 0x20, al
        call switch_next
isr_tail:
        pop es
        pop ds
        popad
        iret

; int 0x80: EAX = 1: count a call, return its number in this process;
; EAX = 2: exit with EBX = the process's sum.
syscall_isr:
        kernel_entry
        mov ebx, [current]
        cmp dword [esp + F_EAX], 1
        jne .exit
        inc dword [calls]
        inc dword [pcb_calls + ebx*4]
        mov eax, [pcb_calls + ebx*4]
        mov [esp + F_EAX], eax
        jmp isr_tail
.exit:
        mov eax, [esp + F_EBX]
        add [total], eax
        mov dword [pcb_state + ebx*4], 0
        call switch_next
        mov ebx, [current]
        cmp dword [pcb_state + ebx*4], 1
        je isr_tail
        ; every process has exited
        mov esi, ROM + msg_calls
        call puts
        mov eax, [calls]
        call puthex
        mov esi, ROM + msg_sum
        call puts
        mov eax, [total]
        call puthex
        mov al, 10
        call putc
        xor al, al
        jmp exit

unexpected:
        mov ax, SEL_KDATA
        mov ds, ax
        mov esi, ROM + msg_unexpected
        call puts
        mov al, 1
exit:   mov dx, 0xF4
        out dx, al
halt:   cli
        hlt
        jmp halt

; putc: AL to COM1 (waits for the transmitter); keeps all but EAX, EDX
putc:   mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

; puts: ESI = zero-terminated string
puts:   mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp puts
.end:   ret

; puthex: EAX as 8 hex digits
puthex: mov ebx, eax
        mov ecx, 8
.digit: rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        mov al, [ROM + hexdigits + eax]
        call putc
        dec ecx
        jnz .digit
        ret

hexdigits:      db "0123456789abcdef"
msg_calls:      db "vmm bench: calls ", 0
msg_sum:        db " sum ", 0
msg_unexpected: db "vmm bench: unexpected interrupt or exception", 10, 0

; The user program at USER_CODE: WORK iterations, a system call, CALLS times; the
; sum of the returned call numbers goes to the exit call.
        align 16
user_start:
        mov ebp, CALLS
        xor edi, edi                       ; the sum
        mov esi, eax                       ; the index
.call:  mov ecx, WORK
.work:  imul edx, ecx, 31
        add edx, esi
        push edx
        pop edx
        dec ecx
        jnz .work
        mov eax, 1
        int 0x80
        add edi, eax
        dec ebp
        jnz .call
        mov eax, 2
        mov ebx, edi
        int 0x80
.never: jmp .never
user_end:

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
