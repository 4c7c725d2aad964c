; vmlab teaching kernel: a 64 KiB ROM started at the reset vector F000:FFF0.
;
; Real mode -> 32-bit protected mode -> GDT (ring 0 and ring 3 segments, a TSS),
; IDT (exceptions, PIT timer on IRQ0 remapped to vector 0x20, system call 0x80),
; one page directory per process (the kernel's 4 MiB identity-mapped supervisor
; only, the process's own user page table above it), two ring-3 processes that
; print through `int 0x80` on COM1, timer-driven round-robin context switches
; that load CR3 and TSS.ESP0, demand-zero pages filled by the #PF handler (with
; INVLPG), and a deterministic ending: when every process has exited the
; kernel prints a summary and writes 0 to the debug-exit port 0xF4, then cli; hlt.
;
; Console lines are handed out in turns (A, B, A, B, ...): a process that calls
; write out of turn has its `int 0x80` rewound and yields the CPU. So the serial
; output does not depend on where the timer interrupts fall, and is the same on
; real hardware, bare, and under every VMM mode.
;
; At boot, before paging, the device layer (kdrivers.inc) enumerates PCI bus 0, one
; line per function, and binds the drivers the device guests share to what it finds:
; ATA PIO and virtio-blk read sector 0 (its first bytes and dword sum printed),
; virtio-net resolves 10.0.0.1 by ARP. Without PCI devices nothing is printed.
;
; System calls (int 0x80): eax=1 write(ebx=buffer, ecx=length <= 128); eax=2 exit.
;
; Build: nasm -f bin -I ../include/ -o kernel.rom kernel.asm
; Run:   qemu-system-i386 -nographic -bios kernel.rom -serial stdio \
;          -device isa-debug-exit,iobase=0xf4,iosize=1 -monitor none

%define ROM        0xF0000          ; where the ROM's first byte is in the first MiB
%define COM1       0x3F8
%define LINES      3                ; lines each process prints
%define SPIN       30000            ; busy-loop iterations between two lines

; physical memory map (all below 4 MiB, identity mapped for the kernel)
%define GDT_BASE   0x1000
%define IDT_BASE   0x2000
%define TSS_BASE   0x3000
%define KDATA      0x4000           ; kernel variables
%define BOOT_STACK 0x8000
%define KSTACK0    0x9000           ; kernel stack tops, one per process
%define KSTACK1    0xA000
%define PD0        0x10000          ; page directory of process 0
%define PD1        0x11000          ; page directory of process 1
%define PT_KERNEL  0x12000          ; shared: 0-4 MiB identity, supervisor only
%define PT_USER0   0x13000          ; process 0: 4-8 MiB
%define PT_USER1   0x14000          ; process 1: 4-8 MiB
%define CODE0      0x20000          ; frame holding process 0's copy of the user program
%define CODE1      0x21000
%define POOL       0x200000         ; demand-zero frames come from here
%define KDRV_AT    0xB000           ; the device layer's RAM copy (up to PD0); its rings 0x30000-0x37FFF

; user virtual memory map (page directory entry 1)
%define USER_CODE  0x400000
%define USER_DATA  0x600000         ; demand-zero
%define USER_STACK 0x800000         ; top; the page below it is demand-zero
%define USER_LO    0x400000
%define USER_HI    0x800000

; kernel variables
%define current    KDATA + 0x00     ; running process (0 or 1)
%define turn       KDATA + 0x04     ; whose line is next
%define next_free  KDATA + 0x08     ; next demand-zero frame
%define pfaults    KDATA + 0x0C     ; demand-zero faults served
%define lines      KDATA + 0x10     ; lines written
%define ticks      KDATA + 0x14     ; timer interrupts (not printed: depends on timing)
%define pcb_esp    KDATA + 0x20     ; saved kernel ESP, 2 dwords
%define pcb_cr3    KDATA + 0x28     ; page directory, 2 dwords
%define pcb_kstk   KDATA + 0x30     ; kernel stack top, 2 dwords
%define pcb_upt    KDATA + 0x38     ; user page table, 2 dwords
%define pcb_state  KDATA + 0x40     ; 1 = runnable, 0 = exited, 2 dwords
%define pcb_name   KDATA + 0x48     ; name: the process's letter, 4 bytes zero-padded, 2 dwords

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
boot_gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 0x08 ring-0 code, flat
        dq 0x00CF92000000FFFF       ; 0x10 ring-0 data, flat
        dq 0x00CFFA000000FFFF       ; 0x18 ring-3 code, flat
        dq 0x00CFF2000000FFFF       ; 0x20 ring-3 data, flat
        dw 0x0067, TSS_BASE         ; 0x28 32-bit TSS, available
        db 0x00, 0x89, 0x00, 0x00
boot_gdt_end:
boot_gdt_desc:
        dw boot_gdt_end - boot_gdt - 1
        dd ROM + boot_gdt
gdt_desc:
        dw boot_gdt_end - boot_gdt - 1
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

        ; zero the kernel's low memory (tables, variables, stacks, page tables)
        mov edi, GDT_BASE
        mov ecx, (CODE1 + 0x1000 - GDT_BASE) / 4
        xor eax, eax
        rep stosd

        ; COM1: 8N1, FIFOs on
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov dx, COM1 + 2
        mov al, 0x07
        out dx, al
        mov esi, ROM + msg_banner
        call puts

        ; The device layer (kdrivers.inc): its bytes to their linear address, then the
        ; PCI bus enumerated and each device found bound to its driver.
        mov esi, ROM + KDRV_AT
        mov edi, KDRV_AT
        mov ecx, kdrv_end - KDRV_AT
        rep movsb
        call kdrv_boot

        ; GDT in RAM (LTR marks the TSS busy there)
        mov esi, ROM + boot_gdt
        mov edi, GDT_BASE
        mov ecx, boot_gdt_end - boot_gdt
        rep movsb
        lgdt [ROM + gdt_desc]
        jmp SEL_KCODE:(ROM + .reload_cs)
.reload_cs:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov ss, ax

        ; TSS: the ring-0 stack for entries from ring 3
        mov dword [TSS_BASE + 4], KSTACK0
        mov dword [TSS_BASE + 8], SEL_KDATA
        mov word [TSS_BASE + 102], 104      ; I/O bitmap offset past the limit: no bitmap
        mov ax, SEL_TSS
        ltr ax

        ; IDT: every vector to `unexpected`, then the ones we handle
        xor ecx, ecx
.idt_fill:
        mov eax, ROM + unexpected
        mov bl, 0x8E
        call set_gate
        inc ecx
        cmp ecx, 256
        jb .idt_fill
        mov ecx, 13
        mov eax, ROM + gp_isr
        mov bl, 0x8E
        call set_gate
        mov ecx, 14
        mov eax, ROM + pf_isr
        mov bl, 0x8E
        call set_gate
        mov ecx, 0x20
        mov eax, ROM + timer_isr
        mov bl, 0x8E
        call set_gate
        mov ecx, 0x27
        mov eax, ROM + spurious_isr
        mov bl, 0x8E
        call set_gate
        mov ecx, 0x80
        mov eax, ROM + syscall_isr
        mov bl, 0xEE                        ; DPL 3: callable from user mode
        call set_gate
        lidt [ROM + idt_desc]

        ; A PC with a local APIC (QEMU's) passes the 8259's INTR on only when
        ; LINT0 is in ExtINT mode, as a BIOS sets it; on vmlab's machine, which
        ; has no local APIC, these two writes go to unmapped memory and are dropped.
        mov dword [0xFEE000F0], 0x1FF       ; spurious-vector register: APIC on
        mov dword [0xFEE00350], 0x700       ; LVT LINT0: ExtINT
        ; 8259 PICs: vectors 0x20-0x2F, only IRQ0 unmasked
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

        ; 8254 PIT channel 0, mode 2, divisor 1193 (about 1 ms)
        mov al, 0x34
        out 0x43, al
        mov al, 1193 & 0xFF
        out 0x40, al
        mov al, 1193 >> 8
        out 0x40, al

        ; kernel page table: 0-4 MiB identity, present + writable, supervisor only
        mov edi, PT_KERNEL
        mov eax, 0x003
        mov ecx, 1024
.ptk:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz .ptk

        mov dword [next_free], POOL

        ; process 0 and process 1
        xor ebx, ebx
        mov eax, 'A'
        call make_process
        mov ebx, 1
        mov eax, 'B'
        call make_process

        mov esi, ROM + msg_paging
        call puts
        mov eax, PD0
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000                  ; PG | WP
        mov cr0, eax

        ; enter process 0 as if returning from a context switch
        mov dword [current], 0
        mov dword [turn], 0
        mov esp, [pcb_esp]
        ret                                 ; to isr_tail, which IRETs to ring 3

; set_gate: ECX = vector, EAX = handler (linear), BL = type/attributes
set_gate:
        mov [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], SEL_KCODE
        mov byte [IDT_BASE + ecx*8 + 4], 0
        mov [IDT_BASE + ecx*8 + 5], bl
        shr eax, 16
        mov [IDT_BASE + ecx*8 + 6], ax
        ret

; make_process: EBX = index (0 or 1), EAX = the process's letter (its initial EAX)
make_process:
        push eax
        ; page directory: PDE 0 shared kernel table, PDE 1 the process's user table
        mov edi, PD0
        mov esi, PT_USER0
        mov edx, CODE0
        mov ecx, KSTACK0
        test ebx, ebx
        jz .p0
        mov edi, PD1
        mov esi, PT_USER1
        mov edx, CODE1
        mov ecx, KSTACK1
.p0:    mov [pcb_cr3 + ebx*4], edi
        mov [pcb_upt + ebx*4], esi
        mov [pcb_kstk + ebx*4], ecx
        mov dword [pcb_state + ebx*4], 1
        mov [pcb_name + ebx*4], eax                  ; EAX = the letter
        mov dword [edi], PT_KERNEL | 0x003          ; supervisor only
        mov eax, esi
        or eax, 0x007                                ; user page table: P | W | U
        mov [edi + 4], eax
        ; the user program: copied to the process's code frame, mapped read-only at USER_CODE
        mov eax, edx
        or eax, 0x005                                ; P | U, read-only
        mov [esi], eax
        push ecx
        push esi
        mov esi, ROM + user_start
        mov edi, edx
        mov ecx, user_end - user_start
        rep movsb
        pop esi
        pop ecx
        ; initial kernel stack: an IRET frame to ring 3, the saved registers, and
        ; the return address into isr_tail, as a context switch leaves it
        pop eax
        mov edi, ecx
        mov dword [edi - 4], SEL_UDATA               ; SS
        mov dword [edi - 8], USER_STACK              ; ESP
        mov dword [edi - 12], 0x202                  ; EFLAGS: IF
        mov dword [edi - 16], SEL_UCODE              ; CS
        mov dword [edi - 20], USER_CODE              ; EIP
        mov [edi - 24], eax                          ; EAX = letter
        mov dword [edi - 28], 0                      ; ECX
        mov dword [edi - 32], 0                      ; EDX
        mov dword [edi - 36], 0                      ; EBX
        mov dword [edi - 40], 0                      ; ESP (ignored by POPAD)
        mov dword [edi - 44], 0                      ; EBP
        mov dword [edi - 48], 0                      ; ESI
        mov dword [edi - 52], 0                      ; EDI
        mov dword [edi - 56], SEL_UDATA              ; DS
        mov dword [edi - 60], SEL_UDATA              ; ES
        mov dword [edi - 64], ROM + isr_tail
        lea eax, [edi - 64]
        mov [pcb_esp + ebx*4], eax
        ret

; switch_to: EAX = the process to run. Saves this kernel stack, loads the
; other's, its page directory (CR3) and its ring-0 stack (TSS.ESP0).
switch_to:
        mov ebx, [current]
        mov [pcb_esp + ebx*4], esp
        mov [current], eax
        mov esp, [pcb_esp + eax*4]
        mov ecx, [pcb_cr3 + eax*4]
        mov cr3, ecx
cr3_loaded:                                 ; the other process's address space is live
        mov ecx, [pcb_kstk + eax*4]
        mov [TSS_BASE + 4], ecx
        ret

; Stack layout in every handler after `pushad; push ds; push es`:
%define F_EDI   8
%define F_ESI   12
%define F_EBX   24
%define F_EDX   28
%define F_ECX   32
%define F_EAX   36
%define F_EIP   40                  ; (F_ERR for handlers with an error code)

timer_isr:
        pushad
        push ds
        push es
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov al, 0x20                        ; EOI
        out 0x20, al
        inc dword [ticks]
        mov eax, [current]
        xor eax, 1
        cmp dword [pcb_state + eax*4], 1
        jne isr_tail
        call switch_to
isr_tail:
        pop es
        pop ds
        popad
        iret

spurious_isr:
        iret

syscall_isr:
        pushad
        push ds
        push es
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov eax, [esp + F_EAX]
        cmp eax, 1
        je .write
        cmp eax, 2
        je .exit
        mov dword [esp + F_EAX], -1
        jmp isr_tail
.write:
        mov ebx, [current]
        cmp ebx, [turn]
        je .mine
        sub dword [esp + F_EIP], 2          ; not our turn: run `int 0x80` again later
        mov eax, ebx
        xor eax, 1
        call switch_to
        jmp isr_tail
.mine:
        mov esi, [esp + F_EBX]
        mov ecx, [esp + F_ECX]
        cmp ecx, 128
        jbe .len_ok
        mov ecx, 128
.len_ok:
        jecxz .written
.wloop: mov al, [esi]                       ; a fault here is a kernel bug: the #PF handler says so
        call putc
        inc esi
        dec ecx
        jnz .wloop
.written:
        inc dword [lines]
        mov dword [esp + F_EAX], 0
        mov eax, ebx
        xor eax, 1
        cmp dword [pcb_state + eax*4], 1
        jne isr_tail
        mov [turn], eax
        jmp isr_tail
.exit:
        mov ebx, [current]
        mov dword [pcb_state + ebx*4], 0
        mov eax, ebx
        xor eax, 1
        mov [turn], eax
        cmp dword [pcb_state + eax*4], 1
        jne all_done
        call switch_to                      ; never comes back: this process is gone
        jmp isr_tail

all_done:
        mov esi, ROM + msg_done1
        call puts
        mov eax, [lines]
        call putdec
        mov esi, ROM + msg_done2
        call puts
        mov eax, [pfaults]
        call putdec
        mov esi, ROM + msg_done3
        call puts
        mov dx, 0xF4
        xor al, al
        out dx, al
halt:   cli
        hlt
        jmp halt

; #PF: a not-present fault in the user range gets a fresh zeroed frame
pf_isr:
        pushad
        push ds
        push es
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov eax, cr2
        mov edx, [esp + F_EIP]              ; the error code
        test edx, 1
        jnz pf_bad
        cmp eax, USER_LO
        jb pf_bad
        cmp eax, USER_HI
        jae pf_bad
        mov edi, [next_free]
        add dword [next_free], 0x1000
        mov ebx, edi
        push eax
        mov ecx, 1024
        xor eax, eax
        rep stosd
        pop eax
        mov ecx, [current]
        mov esi, [pcb_upt + ecx*4]
        mov ecx, eax
        shr ecx, 12
        and ecx, 0x3FF
        or ebx, 0x007                       ; P | W | U
        mov [esi + ecx*4], ebx
pte_stored:                                 ; the process's page table maps the new frame
        invlpg [eax]
pte_flushed:                                ; and no stale translation of it is left
        inc dword [pfaults]
        pop es
        pop ds
        popad
        add esp, 4                          ; the error code
        iret
pf_bad:
        push edx
        push eax
        mov esi, ROM + msg_pf
        call puts
        pop eax
        mov ecx, 8
        call puthex
        mov esi, ROM + msg_err
        call puts
        pop eax
        call puthex
        mov al, 10
        call putc
        jmp panic

gp_isr:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov esi, ROM + msg_gp
        call puts
        mov eax, [esp]
        mov ecx, 8
        call puthex
        mov esi, ROM + msg_at
        call puts
        mov eax, [esp + 4]
        call puthex
        mov al, 10
        call putc
        jmp panic

unexpected:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov esi, ROM + msg_unexpected
        call puts
panic:
        mov dx, 0xF4
        mov al, 1
        out dx, al
        jmp halt

; putc: AL to COM1 (waits for the transmitter); keeps every register
putc:   push eax
        push edx
        mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        pop edx
        pop eax
        ret

; puts: ESI = zero-terminated string (linear)
puts:   push eax
.next:  mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp .next
.end:   pop eax
        ret

; putdec: EAX as an unsigned decimal number
putdec: push ebx
        push ecx
        push edx
        mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
.out:   pop eax
        add al, '0'
        call putc
        dec ecx
        jnz .out
        pop edx
        pop ecx
        pop ebx
        ret

msg_banner:     db "vmlab teaching kernel", 10, 0
msg_paging:     db "kernel: paging on, starting 2 processes", 10, 0
msg_done1:      db "kernel: all processes exited; ", 0
msg_done2:      db " lines written, ", 0
msg_done3:      db " demand-zero page faults", 10, 0
msg_pf:         db "kernel panic: page fault at ", 0
msg_err:        db " error ", 0
msg_gp:         db "kernel panic: #GP error ", 0
msg_at:         db " at ", 0
msg_unexpected: db "kernel panic: unexpected interrupt or exception", 10, 0

; The user program, position-dependent at USER_CODE; EAX = the process's letter.
; Its data page and its stack page are demand-zero.
        align 16
user_start:
        mov [USER_DATA], eax                ; first touch: demand-zero fault
        mov dword [USER_DATA + 4], 0        ; line number
.line:
        mov esi, USER_CODE + (u_msg - user_start)
        mov edi, USER_DATA + 0x100
        mov ecx, u_msg_end - u_msg
        rep movsb
        mov al, [USER_DATA]
        mov [USER_DATA + 0x100 + 8], al
        mov al, [USER_DATA + 4]
        add al, '1'
        mov [USER_DATA + 0x100 + 15], al
        mov eax, 1
        mov ebx, USER_DATA + 0x100
        mov ecx, u_msg_end - u_msg
        int 0x80
        mov ecx, SPIN                       ; compute a while: the timer preempts us
.spin:  push ecx                            ; first push: demand-zero stack fault
        pop ecx
        dec ecx
        jnz .spin
        inc dword [USER_DATA + 4]
        cmp dword [USER_DATA + 4], LINES
        jb .line
        mov eax, 2
        int 0x80
.never: jmp .never
u_msg:  db "process ? line ? from ring 3", 10
u_msg_end:
user_end:

; The device layer: assembled here and copied to the same linear address at boot (its
; variables and strings live in that copy; puthex is pci.inc's, ECX digits).
        times KDRV_AT - ($ - rom_start) db 0
%include "kdrivers.inc"
kdrv_end:

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
