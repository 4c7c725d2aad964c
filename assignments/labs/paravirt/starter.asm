; Lab 5 — paravirtualization. This kernel is right on bare hardware and wrong
; under the trap-and-emulate VMM (try both modes in the browser lab). Make it
; detect vmlab's VMM and use hypercalls there (see the statement), so that its
; output is the same everywhere and the VMM reports no sensitive instruction.

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
start:
        cld
        mov dword [ticks], 0
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
        pushf
        pop eax
        shr eax, 9
        and eax, 1
        cli
        ret

; irq_restore: EAX = the interrupt flag to set (0/1)
irq_restore:
        pushf
        pop ecx
        and ecx, ~0x200
        shl eax, 9
        or ecx, eax
        push ecx
        popf
        ret

; puts: ESI = NUL-terminated string, to the UART
puts:   push eax
        push edx
        push esi
.next:  mov al, [esi]
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
        jmp .next
.end:   pop esi
        pop edx
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

        align 8
gdt:        dq 0
            dq 0x00CF9A000000FFFF       ; 0x08 code, flat
            dq 0x00CF92000000FFFF       ; 0x10 data, flat
gdt_end:
gdt_desc:   dw gdt_end - gdt - 1
            dd gdt
