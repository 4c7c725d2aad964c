; vmlab paravirtual guest: hypercalls instead of sensitive instructions.
;
; The guest looks for vmlab's VMM the way paravirtual kernels do, through the
; hypervisor CPUID leaf 0x40000000 (signature "vmlabvmlabvm" in EBX, ECX, EDX).
; When the VMM is there, interrupt masking, console output and shutdown go
; through VMCALL hypercalls (EAX = number; documented in the core's
; `vmm::hypercall`); on bare hardware the same operations use the native
; instructions. Either way the serial output is byte for byte the same, and
; under trap-and-emulate the POPF problem never arises.
;
; Build: nasm -f bin -o paravirt.rom paravirt.asm

%define ROM        0xF0000
%define COM1       0x3F8
%define IDT_BASE   0x2000
%define STACK_TOP  0x8000
%define ticks      0x4000
%define pv         0x4004           ; 1 when the hypercall interface is present
%define WAIT       1000000

%define HC_CONSOLE_WRITE 1          ; EBX = buffer (linear), ECX = length
%define HC_IRQ_DISABLE   2          ; returns the previous interrupt flag (0/1) in EAX
%define HC_IRQ_RESTORE   3          ; EBX = interrupt flag to set (0/1)
%define HC_SHUTDOWN      4          ; EBX = exit status

        bits 16
        org 0
rom_start:
real_entry:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, STACK_TOP
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(ROM + pm_entry)

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF       ; 0x08 ring-0 code, flat
        dq 0x00CF92000000FFFF       ; 0x10 ring-0 data, flat
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd ROM + gdt
idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE

        bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP

        ; is vmlab's VMM underneath?
        mov dword [pv], 0
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
        cmp dword [pv], 0
        jne .uart_done
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
.uart_done:
        mov esi, ROM + msg_start
        call puts

        xor ecx, ecx
.fill:  mov eax, ROM + unexpected
        cmp ecx, 0x20
        jb .set
        cmp ecx, 0x30
        jae .set
        mov eax, ROM + irq_other
        cmp ecx, 0x20
        jne .set
        mov eax, ROM + timer_isr
.set:   mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], 0x08
        mov word [IDT_BASE + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .fill
        lidt [ROM + idt_desc]

        ; A PC with a local APIC (QEMU's) passes the 8259's INTR on only when
        ; LINT0 is in ExtINT mode, as a BIOS sets it; on vmlab's machine, which
        ; has no local APIC, these two writes go to unmapped memory and are dropped.
        mov dword [0xFEE000F0], 0x1FF
        mov dword [0xFEE00350], 0x700
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
        mov al, 1193 & 0xFF
        out 0x40, al
        mov al, 1193 >> 8
        out 0x40, al

        mov eax, 1
        call irq_restore                    ; interrupts on
        call wait_tick
        mov esi, ROM + msg_ticking
        jnc .t1
        mov esi, ROM + msg_dead
.t1:    call puts

        call irq_save                       ; the critical section
        push eax
        call wait_tick
        mov esi, ROM + msg_masked
        jc .t2
        mov esi, ROM + msg_leak
.t2:    call puts
        pop eax
        call irq_restore

        call wait_tick
        mov esi, ROM + msg_restored
        jnc .t3
        mov esi, ROM + msg_lost
.t3:    call puts

        mov esi, ROM + msg_end
        call puts
        cmp dword [pv], 0
        je .bare_exit
        mov eax, HC_SHUTDOWN
        xor ebx, ebx
        vmcall
.bare_exit:
        mov dx, 0xF4
        xor al, al
        out dx, al
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
        pushf
        pop eax
        shr eax, 9
        and eax, 1
        cli
        ret

; irq_restore: EAX = the interrupt flag to set (0/1)
irq_restore:
        cmp dword [pv], 0
        je .native
        mov ebx, eax
        mov eax, HC_IRQ_RESTORE
        vmcall
        ret
.native:
        test eax, eax
        jz .off
        sti
        ret
.off:   cli
        ret

; wait_tick: CF clear when a timer tick arrives within WAIT iterations
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
        mov esi, ROM + msg_unexpected
        call puts
        mov dx, 0xF4
        mov al, 1
        out dx, al
        jmp halt

; puts: ESI = zero-terminated string, through the hypercall or the UART
puts:   push eax
        push ebx
        push ecx
        push edx
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
.end:   pop edx
        pop ecx
        pop ebx
        pop eax
        ret

msg_start:      db "paravirt: timer on IRQ0", 10, 0
msg_ticking:    db "paravirt: interrupts on, the timer ticks", 10, 0
msg_dead:       db "paravirt: interrupts on, but the timer does not tick", 10, 0
msg_masked:     db "paravirt: interrupts saved and masked, the timer is silent", 10, 0
msg_leak:       db "paravirt: interrupts masked, yet the timer ticked", 10, 0
msg_restored:   db "paravirt: interrupts restored, the timer ticks again", 10, 0
msg_lost:       db "paravirt: interrupts restored, but the timer is silent", 10, 0
msg_end:        db "paravirt: done", 10, 0
msg_unexpected: db "paravirt: unexpected exception", 10, 0

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
