; reference solution: paravirt (vmlab lab 5)
;
; Looks for vmlab's VMM through the hypervisor CPUID leaf; under it, interrupt
; masking and console output are hypercalls (VMCALL, EAX = number). On bare
; hardware the same operations use CLI/STI and the UART, never PUSHF/POPF.

        org 0x7c00
        bits 16

; Real mode, like a boot sector: switch to 32-bit protected mode. (Under the
; trap-and-emulate VMM, this MOV to CR0 is where the kernel is deprivileged.)
boot:   cli
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        o32 lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:pm_entry

        bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x90000

%define COM1       0x3F8
%define IDT        0x20000
%define WAIT       20000            ; polling rounds for a timer tick (about 8 ticks' worth)

%define HC_CONSOLE_WRITE 1          ; EBX = buffer, ECX = length
%define HC_IRQ_DISABLE   2          ; EAX = previous interrupt flag (0/1)
%define HC_IRQ_RESTORE   3          ; EBX = interrupt flag to set (0/1)

start:
        cld
        mov dword [ticks], 0
        mov dword [pv], 0
        mov dword [iflag], 0
        mov eax, 0x40000000
        cpuid
        cmp ebx, 'vmla'
        jne .native
        cmp ecx, 'bvml'
        jne .native
        cmp edx, 'abvm'
        jne .native
        mov dword [pv], 1
.native:
        mov esi, msg_start
        call puts

        ; IDT: the timer on vector 0x20, other IRQs acknowledged, the rest unexpected
        xor ecx, ecx
.fill:  mov eax, unexpected
        cmp ecx, 0x20
        jb .set
        cmp ecx, 0x30
        jae .set
        mov eax, irq_other
        cmp ecx, 0x20
        jne .set
        mov eax, timer_isr
.set:   mov [IDT + ecx*8], ax
        mov word [IDT + ecx*8 + 2], 0x08
        mov word [IDT + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov [IDT + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .fill
        lidt [idt_desc]

        ; 8259 PICs: vectors 0x20 and 0x28, only IRQ0 unmasked
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
        ; 8254 PIT channel 0: rate generator at 10 kHz
        mov al, 0x34
        out 0x43, al
        mov al, 119 & 0xFF
        out 0x40, al
        mov al, 119 >> 8
        out 0x40, al

        mov eax, 1
        call irq_restore                ; interrupts on
        call wait_tick
        mov esi, msg_ticking
        jnc .t1
        mov esi, msg_dead
.t1:    call puts

        call irq_save                   ; a critical section: interrupts off
        push eax
        call wait_tick
        mov esi, msg_masked
        jc .t2
        mov esi, msg_leak
.t2:    call puts
        pop eax
        call irq_restore                ; and back as they were (on)

        call wait_tick
        mov esi, msg_restored
        jnc .t3
        mov esi, msg_lost
.t3:    call puts

        mov esi, msg_end
        call puts
halt:   cli
        hlt
        jmp halt

; irq_save: EAX = the interrupt flag (0/1); interrupts off
irq_save:
        cmp dword [pv], 0
        je .native
        mov eax, HC_IRQ_DISABLE
        vmcall
        ret
.native:
        mov eax, [iflag]                ; tracked in software: no PUSHF
        mov dword [iflag], 0
        cli
        ret

; irq_restore: EAX = the interrupt flag to set (0/1)
irq_restore:
        cmp dword [pv], 0
        je .native
        push ebx
        mov ebx, eax
        mov eax, HC_IRQ_RESTORE
        vmcall
        pop ebx
        ret
.native:
        mov [iflag], eax
        test eax, eax
        jz .off
        sti
        ret
.off:   cli
        ret

; puts: ESI = NUL-terminated string, by hypercall or to the UART
puts:   push eax
        push ebx
        push ecx
        push edx
        push esi
        cmp dword [pv], 0
        je .uart
        mov ebx, esi
        xor ecx, ecx
.len:   cmp byte [esi + ecx], 0
        je .call
        inc ecx
        jmp .len
.call:  mov eax, HC_CONSOLE_WRITE
        vmcall
        jmp .end
.uart:  mov al, [esi]
        test al, al
        jz .end
        mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        inc esi
        jmp .uart
.end:   pop esi
        pop edx
        pop ecx
        pop ebx
        pop eax
        ret

; wait_tick: CF clear when a timer tick arrives within WAIT rounds
wait_tick:
        mov dword [ticks], 0
        mov ecx, WAIT
.w:     cmp dword [ticks], 0
        jne .got
        dec ecx
        jnz .w
        stc
        ret
.got:   clc
        ret

timer_isr:
        push eax
        inc dword [ticks]
        mov al, 0x20
        out 0x20, al
        pop eax
        iret

irq_other:
        push eax
        mov al, 0x20
        out 0x20, al
        pop eax
        iret

unexpected:
        mov esi, msg_unexpected
        call puts
        jmp halt

msg_start:      db "pv: timer on IRQ0", 10, 0
msg_ticking:    db "pv: interrupts on, the timer ticks", 10, 0
msg_dead:       db "pv: interrupts on, but the timer does not tick", 10, 0
msg_masked:     db "pv: interrupts saved and masked, the timer is silent", 10, 0
msg_leak:       db "pv: interrupts masked, yet the timer ticked", 10, 0
msg_restored:   db "pv: interrupts restored, the timer ticks again", 10, 0
msg_lost:       db "pv: interrupts restored, but the timer is silent", 10, 0
msg_end:        db "pv: done", 10, 0
msg_unexpected: db "pv: unexpected exception", 10, 0

idt_desc:       dw 256 * 8 - 1
                dd IDT
ticks:          dd 0
pv:             dd 0
iflag:          dd 0

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 code, flat
            dq 0x00CF92000000FFFF       ; 0x10 data, flat
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
