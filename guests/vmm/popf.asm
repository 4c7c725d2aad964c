; vmlab POPF guest: the Popek-Goldberg failure of x86, as a 64 KiB ROM.
;
; A ring-0 kernel with the PIT ticking on IRQ0 runs the classic critical
; section `pushf; cli; ...; popf` and then checks whether the timer still
; ticks. On real hardware (and bare, and under hardware assistance) POPF
; restores IF and the timer ticks. Under trap-and-emulate the kernel runs at
; ring 1: CLI traps and the VMM clears the virtual IF, but POPF is not
; privileged, it does not trap, and at CPL > IOPL the hardware silently leaves
; IF alone: the virtual IF stays clear and the timer never ticks again. PUSHF
; also shows the hardware's IF instead of the virtual one. Same program,
; different output: the VMM's Popek-Goldberg report says why.
;
; Build: nasm -f bin -o popf.rom popf.asm

%define ROM        0xF0000
%define COM1       0x3F8
%define IDT_BASE   0x2000
%define STACK_TOP  0x8000
%define ticks      0x4000
%define WAIT       1000000           ; spin iterations to wait for a tick (many ticks long)

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
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov esi, ROM + msg_start
        call puts

        ; IDT: vectors 0x20-0x2F go to the timer/spurious handlers, the rest panic
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
        mov dword [0xFEE000F0], 0x1FF       ; spurious-vector register: APIC on
        mov dword [0xFEE00350], 0x700       ; LVT LINT0: ExtINT
        ; PICs: vectors 0x20-0x2F, only IRQ0; PIT channel 0 every 1193 counts
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

        mov dword [ticks], 0
        sti
        call wait_tick
        mov esi, ROM + msg_ticking
        jnc .t1
        mov esi, ROM + msg_dead
.t1:    call puts

        ; the critical section, as kernels wrote it before hardware assistance
        pushf
        cli
        pushf                               ; what does the kernel see after CLI?
        pop eax
        mov esi, ROM + msg_if0
        test eax, 0x200
        jz .t2
        mov esi, ROM + msg_if1
.t2:    call puts
        popf                                ; restore IF = 1

        call wait_tick
        mov esi, ROM + msg_restored
        jnc .t3
        mov esi, ROM + msg_lost
.t3:    call puts

        mov esi, ROM + msg_end
        call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
halt:   cli
        hlt
        jmp halt

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

putc:   mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

puts:   push eax
        push edx
.next:  mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp .next
.end:   pop edx
        pop eax
        ret

msg_start:      db "popf: timer on IRQ0, interrupts enabled with sti", 10, 0
msg_ticking:    db "popf: the timer ticks", 10, 0
msg_dead:       db "popf: the timer does not tick at all", 10, 0
msg_if0:        db "popf: after pushf; cli, pushf shows IF=0", 10, 0
msg_if1:        db "popf: after pushf; cli, pushf shows IF=1 (the hardware's IF, not ours)", 10, 0
msg_restored:   db "popf: popf restored IF, the timer ticks again", 10, 0
msg_lost:       db "popf: after popf the timer is silent: popf did not restore IF", 10, 0
msg_end:        db "popf: done", 10, 0
msg_unexpected: db "popf: unexpected exception", 10, 0

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
