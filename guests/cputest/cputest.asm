; vmlab CPU test ROM: a 64 KiB ROM started from the reset vector F000:FFF0.
;
; Walks real mode -> 32-bit protected mode -> segmentation checks -> paging ->
; ring 3 (IRET through the TSS stack switch, system calls through an interrupt
; gate) -> exceptions raised from ring 3 and ring 0 (#DE #UD #GP #PF #SS #NP #BP
; #OF #BR #DF, with error codes, CR2 and the handler's entry state) -> arithmetic
; and flag spot checks -> timer interrupts through the 8259 PIC and HLT -> the
; UART's THR-empty interrupt and its modem-control loopback.
;
; Each stage writes its number to POST port 0x80 and prints a line on COM1.
; On success the ROM prints "cputest: all stages passed" and writes 0 to the
; debug-exit port 0xF4; on failure it prints the stage, the check number, the
; value found and the value wanted, and writes the stage number to 0xF4.
;
; Build: nasm -f bin -o cputest.bin cputest.asm
; Run on QEMU:
;   qemu-system-i386 -nographic -bios cputest.bin \
;       -device isa-debug-exit,iobase=0xf4,iosize=1
;   (exit status 1 = passed, (stage << 1) | 1 = failed in that stage)
; QEMU's TCG does not check data segment limits, segment writability or the use
; of a null data segment; assemble with -DNO_SEGMENT_LIMIT_CHECKS to leave those
; checks out when running there. Bochs (see bochsrc here, CPU model p3_katmai)
; runs the full ROM, limit checks included.
;
; #TS is not exercised: every simple way to raise it (a bad SS0 or a short TSS on
; a stack switch) also breaks the delivery of #TS itself and of #DF, unless their
; gates are task gates, and this ROM does not use task switches.
;
; Needs 8 MiB of RAM. Written in the plain NASM subset (no macros), so the
; project's own assembler builds it byte for byte as NASM does.

%define COM1        0x3F8
%define POST        0x80
%define DEBUG_EXIT  0xF4
%define NONE        0xFFFFFFFF

; Memory layout (physical = linear: paging is an identity map except where noted)
%define VARS        0x500
%define IDT_BASE    0x1000
%define GDT_BASE    0x2000
%define TSS_BASE    0x3000
%define ESP0        0x6000          ; ring-0 stack for interrupts from ring 3
%define KSTACK      0x7F00          ; ring-0 stack
%define USTACK      0x9000          ; ring-3 stack
%define PD_BASE     0x10000         ; page directory
%define PT_BASE     0x11000         ; page table for 0-4 MiB
%define SMALL_BASE  0x20000         ; base of the 4 KiB data segment 0x30
%define SSTK_BASE   0x30000         ; base of the 4 KiB stack segment 0x40
%define PG_ABSENT   0x300000        ; not-present page
%define PG_SUPER    0x301000        ; supervisor-only page
%define PG_RDONLY   0x302000        ; user read-only page
%define PG_REMAP    0x303000        ; remapped to 0x304000 in the INVLPG check
%define PG_TARGET   0x304000
%define PG_AD       0x305000        ; accessed/dirty check page

; Variables shared by the tests and the exception handler
%define EXP_VEC     0x500           ; vector the next exception must have, or NONE
%define EXP_RESUME  0x504           ; EIP the handler returns to
%define GOT_VEC     0x508
%define GOT_ERR     0x50C
%define GOT_EIP     0x510
%define GOT_CS      0x514
%define GOT_EFL     0x518
%define GOT_ESP3    0x51C
%define GOT_SS3     0x520
%define GOT_FRAME   0x524           ; address of the saved EIP in the handler's frame
%define GOT_CR2     0x528
%define GOT_HSS     0x52C           ; SS inside the handler
%define GOT_HCS     0x530           ; CS inside the handler
%define GOT_HEFL    0x534           ; EFLAGS inside the handler
%define STAGE       0x538
%define CHECKNO     0x53C
%define GOT_VAL     0x540
%define WANT_VAL    0x544
%define KSAVE_ESP   0x548
%define SAVED_ESP   0x54C
%define SYS_ESP     0x550
%define TICKS       0x554
%define RM_FLAG     0x558
%define UART_IRQS   0x55C
%define UART_IIR    0x560
%define UART_RX     0x564
%define SCRATCH     0x600

; Selectors
%define SEL_CODE0   0x08            ; ring-0 code, base 0xF0000 (this ROM), limit 64 KiB
%define SEL_DATA0   0x10            ; ring-0 data, flat
%define SEL_CODE3   0x1B            ; ring-3 code, base 0xF0000
%define SEL_DATA3   0x23            ; ring-3 data, flat
%define SEL_TSS     0x28
%define SEL_SMALL   0x30            ; data, base 0x20000, limit 0xFFF
%define SEL_ABSENT  0x38            ; writable data, not present
%define SEL_SSTK    0x40            ; stack, base 0x30000, limit 0xFFF
%define SEL_RDONLY  0x48            ; read-only data, flat

; ring0_sel: AX = the selector in %1 with its RPL cleared. In this kernel's
; ring-0 code the RPL is 0 on a real machine; a VMM that runs the kernel
; deprivileged shows its own ring there (ring compression, CPL = CS.RPL), which
; the checks of the selector's index are not about.
%macro ring0_sel 1
        mov ax, %1
        and al, 0xFC
%endmacro

        bits 16
        org 0
rom_start:

; ---------------------------------------------------------------- stage 1
real_entry:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, KSTACK
        mov al, 1
        out POST, al
        mov dword [STAGE], 1
        mov dword [CHECKNO], 0
        ; COM1: 115200 8N1, FIFOs on, interrupts off
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x80
        out dx, al
        mov dx, COM1
        mov al, 1
        out dx, al
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al
        mov dx, COM1 + 2
        mov al, 0x07
        out dx, al
        mov dx, COM1 + 4
        mov al, 0x03
        out dx, al
        mov si, msg_banner
        call puts16
        mov si, msg_s1
        call puts16
        ; segment:offset arithmetic: 1000:0010 and 1001:0000 are the same byte
        mov ax, 0x1000
        mov ds, ax
        mov word [0x10], 0xA55A
        mov ax, 0x1001
        mov ds, ax
        cmp word [0], 0xA55A
        jne fail16
        xor ax, ax
        mov ds, ax
        ; 16-bit flags
        mov ax, 0xFFFF
        add ax, 1
        jnz fail16
        jnc fail16
        ; an interrupt through the real-mode IVT
        mov word [0x40 * 4], rm_int40
        mov word [0x40 * 4 + 2], cs
        mov word [RM_FLAG], 0
        int 0x40
        cmp word [RM_FLAG], 0x4040
        jne fail16
        ; copy the GDT to RAM (the CPU writes accessed and busy bits into it)
        mov ax, cs
        mov ds, ax
        mov si, gdt
        mov di, GDT_BASE
        mov cx, gdt_end - gdt
        rep movsb
        xor ax, ax
        mov ds, ax
        ; ------------------------------------------------ stage 2
        mov al, 2
        out POST, al
        mov dword [STAGE], 2
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword SEL_CODE0:pm_entry

rm_int40:
        mov word [RM_FLAG], 0x4040
        iret

fail16:
        mov si, msg_fail16
        call puts16
        mov al, 1
        out DEBUG_EXIT, al
fail16_halt:
        hlt
        jmp fail16_halt

puts16:
        mov al, [cs:si]
        test al, al
        jz puts16_done
        call putc16
        inc si
        jmp puts16
puts16_done:
        ret

putc16:
        push dx
        push ax
        mov dx, COM1 + 5
putc16_wait:
        in al, dx
        test al, 0x20
        jz putc16_wait
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret

; ---------------------------------------------------------------- stage 2
        bits 32
pm_entry:
        mov ax, SEL_DATA0
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, KSTACK
        mov esi, msg_s2
        call puts
        ; CR0.PE is set and CS is the ring-0 code selector
        mov eax, cr0
        and eax, 1
        mov ebx, 1
        call chk_eax
        xor eax, eax
        ring0_sel cs
        mov ebx, SEL_CODE0
        call chk_eax
        ; the IDT: vectors 0-31 to the exception stubs, the rest not present
        mov edi, IDT_BASE
        mov ecx, 512
        xor eax, eax
        rep stosd
        xor ecx, ecx
idt_fill:
        mov eax, [cs:stub_table + ecx*4]
        mov edx, 0x8E00                 ; present, DPL 0, 32-bit interrupt gate
        call set_gate
        inc ecx
        cmp ecx, 32
        jb idt_fill
        mov ecx, 3                      ; #BP through a trap gate (keeps IF)
        mov eax, stub3
        mov edx, 0x8F00
        call set_gate
        mov ecx, 0x80                   ; system calls: DPL 3 interrupt gate
        mov eax, syscall_entry
        mov edx, 0xEE00
        call set_gate
        mov ecx, 0x81                   ; DPL 0 gate: ring 3 may not use it
        mov eax, syscall_entry
        mov edx, 0x8E00
        call set_gate
        mov ecx, 0x82                   ; gate present bit clear
        mov eax, syscall_entry
        mov edx, 0x0E00
        call set_gate
        mov ecx, 0x20                   ; IRQ 0 (PIT)
        mov eax, irq0_handler
        mov edx, 0x8E00
        call set_gate
        lidt [cs:idt_desc]
        mov dword [EXP_VEC], NONE
        ; the PICs: IRQ 0-7 at 0x20, IRQ 8-15 at 0x28, everything masked
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
        mov al, 0xFF
        out 0x21, al
        out 0xA1, al
        in al, 0x21
        movzx eax, al
        mov ebx, 0xFF
        call chk_eax
        ; With a local APIC (CPUID.1:EDX bit 9), PIC interrupts reach the CPU only
        ; through LINT0: set up virtual-wire mode as a BIOS does (SVR enabled,
        ; LINT0 = ExtINT). A CPU without an APIC takes INTR from the PIC directly.
        mov eax, 1
        cpuid
        test edx, 0x200
        jz no_apic
        mov dword [0xFEE000F0], 0x1FF
        mov dword [0xFEE00350], 0x700
no_apic:
        ; a first exception through the new IDT
        mov dword [EXP_VEC], 6
        mov dword [EXP_RESUME], r_ud0
f_ud0:  ud2
r_ud0:  mov ecx, 6
        xor eax, eax
        mov ebx, f_ud0
        call check_exc

; ---------------------------------------------------------------- stage 3
        mov al, 3
        out POST, al
        mov dword [STAGE], 3
        mov esi, msg_s3
        call puts
        ; a selector beyond the GDT limit: #GP(selector without RPL)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_gp1
        mov ax, 0x1FB
f_gp1:  mov ds, ax
r_gp1:  mov ecx, 13
        mov eax, 0x1F8
        mov ebx, f_gp1
        call check_exc
        ; a not-present data segment: #NP(selector)
        mov dword [EXP_VEC], 11
        mov dword [EXP_RESUME], r_np1
        mov ax, SEL_ABSENT
f_np1:  mov es, ax
r_np1:  mov ecx, 11
        mov eax, SEL_ABSENT
        mov ebx, f_np1
        call check_exc
        ; a not-present stack segment: #SS(selector)
        mov dword [EXP_VEC], 12
        mov dword [EXP_RESUME], r_ss1
        mov ax, SEL_ABSENT
f_ss1:  mov ss, ax
r_ss1:  mov ecx, 12
        mov eax, SEL_ABSENT
        mov ebx, f_ss1
        call check_exc
        ; a read-only segment in SS: #GP(selector)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_gp2
        mov ax, SEL_RDONLY
f_gp2:  mov ss, ax
r_gp2:  mov ecx, 13
        mov eax, SEL_RDONLY
        mov ebx, f_gp2
        call check_exc
        ; the null selector in SS: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_gp3
        xor eax, eax
f_gp3:  mov ss, ax
r_gp3:  mov ecx, 13
        xor eax, eax
        mov ebx, f_gp3
        call check_exc
        ; the segment base applies: SEL_SMALL:0x10 is linear 0x20010
        mov ax, SEL_SMALL
        mov es, ax
        mov dword [es:0x10], 0x5A5A1234
        mov eax, [SMALL_BASE + 0x10]
        mov ebx, 0x5A5A1234
        call chk_eax
        mov eax, [es:0xFFC]             ; the last dword inside the limit
        ; reading the code segment through CS is allowed (readable code)
        mov eax, [cs:stub_table]
        mov ebx, stub0
        call chk_eax
%ifndef NO_SEGMENT_LIMIT_CHECKS
        ; a dword that crosses the limit: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_lim1
f_lim1: mov eax, [es:0xFFD]
r_lim1: mov ecx, 13
        xor eax, eax
        mov ebx, f_lim1
        call check_exc
        ; a byte just past the limit: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_lim2
f_lim2: mov byte [es:0x1000], 1
r_lim2: mov ecx, 13
        xor eax, eax
        mov ebx, f_lim2
        call check_exc
        ; writing through a read-only data segment: #GP(0)
        mov ax, SEL_RDONLY
        mov es, ax
        mov eax, [es:SCRATCH]
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_ro1
f_ro1:  mov [es:SCRATCH], eax
r_ro1:  mov ecx, 13
        xor eax, eax
        mov ebx, f_ro1
        call check_exc
        ; writing through CS: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_cs1
f_cs1:  mov [cs:SCRATCH], eax
r_cs1:  mov ecx, 13
        xor eax, eax
        mov ebx, f_cs1
        call check_exc
        ; using a null data segment: #GP(0)
        xor eax, eax
        mov es, ax
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], r_null1
f_null1: mov eax, [es:SCRATCH]
r_null1: mov ecx, 13
        xor eax, eax
        mov ebx, f_null1
        call check_exc
        ; a stack access past the SS limit: #SS(0), delivered on that stack
        mov [KSAVE_ESP], esp
        mov ax, SEL_SSTK
        mov ss, ax
        mov esp, 0xF00
        mov dword [EXP_VEC], 12
        mov dword [EXP_RESUME], r_ss2
f_ss2:  mov eax, [esp + 0x2000]
r_ss2:  mov ax, SEL_DATA0
        mov ss, ax
        mov esp, [KSAVE_ESP]
        mov ecx, 12
        xor eax, eax
        mov ebx, f_ss2
        call check_exc
        mov eax, [GOT_HSS]
        mov ebx, SEL_SSTK
        call chk_eax
        mov eax, [GOT_FRAME]
        mov ebx, 0xF00 - 12
        call chk_eax
%endif
        mov ax, SEL_DATA0
        mov es, ax

; ---------------------------------------------------------------- stage 4
        mov al, 4
        out POST, al
        mov dword [STAGE], 4
        mov esi, msg_s4
        call puts
        ; page directory: PDE 0 -> page table, PDE 1 = 4 MiB page at 4 MiB,
        ; PDE 2 = the same 4 MiB page again (an alias at linear 8 MiB)
        mov edi, PD_BASE
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PD_BASE], PT_BASE | 7
        mov dword [PD_BASE + 4], 0x400000 | 0x83
        mov dword [PD_BASE + 8], 0x400000 | 0x83
        ; page table: identity map of 0-4 MiB, user read/write
        mov edi, PT_BASE
        mov eax, 7
        mov ecx, 1024
pt_fill:
        stosd
        add eax, 0x1000
        loop pt_fill
        mov dword [PT_BASE + (PG_ABSENT >> 12) * 4], 0
        mov dword [PT_BASE + (PG_SUPER >> 12) * 4], PG_SUPER | 3
        mov dword [PT_BASE + (PG_RDONLY >> 12) * 4], PG_RDONLY | 5
        ; patterns for the INVLPG check, written before paging
        mov dword [PG_REMAP], 0x11111111
        mov dword [PG_TARGET], 0x22222222
        mov eax, PD_BASE
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10                    ; PSE
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp paging_on
paging_on:
        mov eax, cr0
        shr eax, 31
        mov ebx, 1
        call chk_eax
        ; the 4 MiB alias: write at 8 MiB + 0x100, read at 4 MiB + 0x100
        mov dword [0x800100], 0xC0FFEE42
        mov eax, [0x400100]
        mov ebx, 0xC0FFEE42
        call chk_eax
        ; accessed and dirty bits of the 4 MiB PDEs
        mov eax, [PD_BASE + 8]
        and eax, 0x60
        mov ebx, 0x60
        call chk_eax
        mov eax, [PD_BASE + 4]
        and eax, 0x60
        mov ebx, 0x20
        call chk_eax
        ; accessed and dirty bits of a 4 KiB PTE: a read sets A, a write sets D
        mov eax, [PG_AD]
        mov eax, [PT_BASE + (PG_AD >> 12) * 4]
        and eax, 0x60
        mov ebx, 0x20
        call chk_eax
        mov dword [PG_AD], 1
        mov eax, [PT_BASE + (PG_AD >> 12) * 4]
        and eax, 0x60
        mov ebx, 0x60
        call chk_eax
        ; INVLPG: remap a page and see the new mapping
        mov eax, [PG_REMAP]
        mov ebx, 0x11111111
        call chk_eax
        mov dword [PT_BASE + (PG_REMAP >> 12) * 4], PG_TARGET | 7
        invlpg [PG_REMAP]
        mov eax, [PG_REMAP]
        mov ebx, 0x22222222
        call chk_eax
        mov dword [PT_BASE + (PG_REMAP >> 12) * 4], PG_REMAP | 7
        invlpg [PG_REMAP]
        mov eax, [PG_REMAP]
        mov ebx, 0x11111111
        call chk_eax
        ; reading a not-present page: #PF, error code 0, CR2 = the address
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], r_pf1
f_pf1:  mov eax, [PG_ABSENT + 0x123]
r_pf1:  mov ecx, 14
        xor eax, eax
        mov ebx, f_pf1
        call check_exc
        mov eax, [GOT_CR2]
        mov ebx, PG_ABSENT + 0x123
        call chk_eax
        ; writing it: error code 2 (W)
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], r_pf2
f_pf2:  mov dword [PG_ABSENT + 0x456], 1
r_pf2:  mov ecx, 14
        mov eax, 2
        mov ebx, f_pf2
        call check_exc
        mov eax, [GOT_CR2]
        mov ebx, PG_ABSENT + 0x456
        call chk_eax
        ; ring 0 may write a read-only page while CR0.WP is clear ...
        mov dword [PG_RDONLY], 0x600D
        ; ... but not once it is set: error code 3 (P, W)
        mov eax, cr0
        or eax, 0x10000
        mov cr0, eax
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], r_pf3
f_pf3:  mov dword [PG_RDONLY + 8], 2
r_pf3:  mov eax, cr0
        and eax, 0xFFFEFFFF
        mov cr0, eax
        mov ecx, 14
        mov eax, 3
        mov ebx, f_pf3
        call check_exc
        mov eax, [GOT_CR2]
        mov ebx, PG_RDONLY + 8
        call chk_eax
        mov eax, [PG_RDONLY]
        mov ebx, 0x600D
        call chk_eax

; ---------------------------------------------------------------- stage 5
        mov al, 5
        out POST, al
        mov dword [STAGE], 5
        mov esi, msg_s5
        call puts
        ; the TSS: ring-0 stack for interrupts from ring 3, no I/O bitmap
        mov edi, TSS_BASE
        mov ecx, 26
        xor eax, eax
        rep stosd
        mov dword [TSS_BASE + 4], ESP0
        mov dword [TSS_BASE + 8], SEL_DATA0
        mov word [TSS_BASE + 102], 104
        mov ax, SEL_TSS
        ltr ax
        ; LTR marks the descriptor busy
        movzx eax, byte [GDT_BASE + SEL_TSS + 5]
        mov ebx, 0x8B
        call chk_eax
        ; STR reads the TSS selector (its RPL is the ring a VMM runs the kernel at)
        str ax
        movzx eax, ax
        and eax, ~3
        mov ebx, SEL_TSS
        call chk_eax
        ; IRET to ring 3 with interrupts enabled (every PIC input is masked)
        mov [KSAVE_ESP], esp
        push dword SEL_DATA3
        push dword USTACK
        push dword 0x202
        push dword SEL_CODE3
        push dword user_entry
        iretd

; ---------------------------------------------------------------- ring 3
user_entry:
        ; IRET to an outer ring nulls data segment registers of higher privilege
        xor edx, edx
        mov dx, ds
        mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        mov eax, edx
        xor ebx, ebx
        call chk_eax
        xor eax, eax
        mov ax, cs
        mov ebx, SEL_CODE3
        call chk_eax
        xor eax, eax
        mov ax, ss
        mov ebx, SEL_DATA3
        call chk_eax
        mov eax, esp
        mov ebx, USTACK
        call chk_eax
        ; a system call through the DPL 3 interrupt gate, and IRET back
        mov eax, 1
        mov esi, msg_ring3
        mov edi, 0x12345678
        int 0x80
        mov eax, edi
        mov ebx, 0x12345678
        call chk_eax

        ; ------------------------------------------------ stage 6
        mov eax, 3
        mov ebx, 6
        int 0x80                        ; set the stage (POST port is privileged)
        mov eax, 1
        mov esi, msg_s6
        int 0x80
        ; CLI with IOPL 0: #GP(0) and a full ring-3 -> ring-0 frame
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], u_r1
        mov [SAVED_ESP], esp
u_f1:   cli
u_r1:   mov ecx, 13
        xor eax, eax
        mov ebx, u_f1
        call check_exc
        mov eax, [GOT_FRAME]
        mov ebx, ESP0 - 20
        call chk_eax
        mov eax, [GOT_HSS]
        mov ebx, SEL_DATA0
        call chk_eax
        mov eax, [GOT_HCS]
        mov ebx, SEL_CODE0
        call chk_eax
        mov eax, [GOT_CS]
        mov ebx, SEL_CODE3
        call chk_eax
        mov eax, [GOT_SS3]
        mov ebx, SEL_DATA3
        call chk_eax
        mov eax, [GOT_ESP3]
        mov ebx, [SAVED_ESP]
        call chk_eax
        mov eax, [GOT_EFL]              ; the interrupted code had IF set
        and eax, 0x200
        mov ebx, 0x200
        call chk_eax
        mov eax, [GOT_HEFL]             ; the interrupt gate cleared it
        and eax, 0x200
        xor ebx, ebx
        call chk_eax
        ; HLT: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], u_r2
u_f2:   hlt
u_r2:   mov ecx, 13
        xor eax, eax
        mov ebx, u_f2
        call check_exc
        ; INT through a DPL 0 gate: #GP(vector * 8 + 2)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], u_r3
u_f3:   int 0x81
u_r3:   mov ecx, 13
        mov eax, 0x81 * 8 + 2
        mov ebx, u_f3
        call check_exc
        ; IN with IOPL 0 and no I/O bitmap: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], u_r4
        mov dx, POST
u_f4:   in al, dx
u_r4:   mov ecx, 13
        xor eax, eax
        mov ebx, u_f4
        call check_exc
        ; MOV from CR0: #GP(0)
        mov dword [EXP_VEC], 13
        mov dword [EXP_RESUME], u_r5
u_f5:   mov eax, cr0
u_r5:   mov ecx, 13
        xor eax, eax
        mov ebx, u_f5
        call check_exc
        ; reading a supervisor page: #PF(P | U)
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], u_r6
u_f6:   mov eax, [PG_SUPER + 4]
u_r6:   mov ecx, 14
        mov eax, 5
        mov ebx, u_f6
        call check_exc
        mov eax, [GOT_CR2]
        mov ebx, PG_SUPER + 4
        call chk_eax
        ; writing a read-only user page: #PF(P | W | U)
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], u_r7
u_f7:   mov dword [PG_RDONLY + 0x10], 7
u_r7:   mov ecx, 14
        mov eax, 7
        mov ebx, u_f7
        call check_exc
        mov eax, [GOT_CR2]
        mov ebx, PG_RDONLY + 0x10
        call chk_eax
        ; reading a not-present page: #PF(U)
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], u_r8
u_f8:   mov eax, [PG_ABSENT + 0x20]
u_r8:   mov ecx, 14
        mov eax, 4
        mov ebx, u_f8
        call check_exc
        ; reading the 4 MiB supervisor page: #PF(P | U)
        mov dword [EXP_VEC], 14
        mov dword [EXP_RESUME], u_r9
u_f9:   mov eax, [0x400000]
u_r9:   mov ecx, 14
        mov eax, 5
        mov ebx, u_f9
        call check_exc
        ; back to ring 0 for good
        xor eax, eax
        int 0x80
        jmp fail_any                    ; not reached

; ---------------------------------------------------------------- stage 7
ring3_done:
        mov al, 7
        out POST, al
        mov dword [STAGE], 7
        mov esi, msg_s7
        call puts
        ; #DE: divide by zero (a fault: EIP of the DIV)
        mov dword [EXP_VEC], 0
        mov dword [EXP_RESUME], r_de1
        xor edx, edx
        mov eax, 1
        xor ecx, ecx
f_de1:  div ecx
r_de1:  mov ecx, 0
        xor eax, eax
        mov ebx, f_de1
        call check_exc
        ; #DE: quotient too large
        mov dword [EXP_VEC], 0
        mov dword [EXP_RESUME], r_de2
        mov edx, 1
        xor eax, eax
        mov ecx, 1
f_de2:  div ecx
r_de2:  mov ecx, 0
        xor eax, eax
        mov ebx, f_de2
        call check_exc
        ; #DE: IDIV of -2^31 by -1
        mov dword [EXP_VEC], 0
        mov dword [EXP_RESUME], r_de3
        mov eax, 0x80000000
        cdq
        mov ecx, -1
f_de3:  idiv ecx
r_de3:  mov ecx, 0
        xor eax, eax
        mov ebx, f_de3
        call check_exc
        ; #UD with IF set: the interrupt gate clears IF, the frame is 3 dwords
        mov dword [EXP_VEC], 6
        mov dword [EXP_RESUME], r_ud1
        mov [SAVED_ESP], esp
        sti
f_ud1:  ud2
r_ud1:  cli
        mov ecx, 6
        xor eax, eax
        mov ebx, f_ud1
        call check_exc
        mov eax, [GOT_FRAME]
        mov ebx, [SAVED_ESP]
        sub ebx, 12
        call chk_eax
        mov eax, [GOT_EFL]
        and eax, 0x200
        mov ebx, 0x200
        call chk_eax
        mov eax, [GOT_HEFL]
        and eax, 0x200
        xor ebx, ebx
        call chk_eax
        ; #BP (a trap: EIP after INT3) through a trap gate, which keeps IF
        mov dword [EXP_VEC], 3
        mov dword [EXP_RESUME], a_bp
        sti
        int3
a_bp:   cli
        mov ecx, 3
        xor eax, eax
        mov ebx, a_bp
        call check_exc
        mov eax, [GOT_HEFL]
        and eax, 0x200
        mov ebx, 0x200
        call chk_eax
        ; #OF from INTO with OF set (a trap)
        mov dword [EXP_VEC], 4
        mov dword [EXP_RESUME], a_of
        mov al, 0x7F
        add al, 1
        into
a_of:   mov ecx, 4
        xor eax, eax
        mov ebx, a_of
        call check_exc
        ; INTO with OF clear does nothing
        xor eax, eax
        into
        ; #BR from BOUND out of range (a fault); in range is fine
        mov eax, 3
        bound eax, [cs:bounds]
        mov dword [EXP_VEC], 5
        mov dword [EXP_RESUME], r_br
        mov eax, 10
f_br:   bound eax, [cs:bounds]
r_br:   mov ecx, 5
        xor eax, eax
        mov ebx, f_br
        call check_exc
        ; #NP from INT through a not-present gate: error code vector * 8 + 2
        mov dword [EXP_VEC], 11
        mov dword [EXP_RESUME], r_np2
f_np2:  int 0x82
r_np2:  mov ecx, 11
        mov eax, 0x82 * 8 + 2
        mov ebx, f_np2
        call check_exc
        ; #DF: a #GP whose gate is not present raises #NP during delivery
        and byte [IDT_BASE + 13 * 8 + 5], 0x7F
        mov dword [EXP_VEC], 8
        mov dword [EXP_RESUME], r_df
        mov ax, 0x1FB
        mov ds, ax
r_df:   or byte [IDT_BASE + 13 * 8 + 5], 0x80
        mov ecx, 8
        xor eax, eax
        mov ebx, NONE                   ; the saved EIP of #DF is undefined
        call check_exc

; ---------------------------------------------------------------- stage 8
        mov al, 8
        out POST, al
        mov dword [STAGE], 8
        mov esi, msg_s8
        call puts
        ; ADD overflow into the sign bit: PF AF SF OF
        mov eax, 0x7FFFFFFF
        add eax, 1
        pushfd
        mov ebx, 0x80000000
        call chk_eax
        pop eax
        and eax, 0x8D5
        mov ebx, 0x894
        call chk_eax
        ; SUB borrow: CF PF AF SF
        xor eax, eax
        sub eax, 1
        pushfd
        mov ebx, 0xFFFFFFFF
        call chk_eax
        pop eax
        and eax, 0x8D5
        mov ebx, 0x095
        call chk_eax
        ; AND: ZF and PF from the result, CF OF cleared
        stc
        mov eax, 0xF0
        and eax, 0x0F
        pushfd
        pop eax
        and eax, 0x8C5
        mov ebx, 0x044
        call chk_eax
        ; MUL: EDX:EAX and CF = OF = 1 when the high half is used
        mov eax, 0x80000000
        mov ecx, 2
        mul ecx
        pushfd
        mov ebx, 0
        call chk_eax
        mov eax, edx
        mov ebx, 1
        call chk_eax
        pop eax
        and eax, 0x801
        mov ebx, 0x801
        call chk_eax
        ; IMUL: -3 * 7, sign-extended into EDX, no overflow
        mov eax, -3
        mov ecx, 7
        imul ecx
        pushfd
        mov ebx, -21
        call chk_eax
        mov eax, edx
        mov ebx, -1
        call chk_eax
        pop eax
        and eax, 0x801
        xor ebx, ebx
        call chk_eax
        ; IMUL r, r/m, imm overflow
        mov ecx, 4
        imul eax, ecx, 0x40000000
        pushfd
        xor ebx, ebx
        call chk_eax
        pop eax
        and eax, 0x801
        mov ebx, 0x801
        call chk_eax
        ; DIV and IDIV: quotient and remainder signs
        xor edx, edx
        mov eax, 100
        mov ecx, 7
        div ecx
        mov ebx, 14
        call chk_eax
        mov eax, edx
        mov ebx, 2
        call chk_eax
        mov eax, -100
        cdq
        mov ecx, 7
        idiv ecx
        mov ebx, -14
        call chk_eax
        mov eax, edx
        mov ebx, -2
        call chk_eax
        ; shifts and rotates with CF and OF
        mov eax, 0x80000001
        shl eax, 1
        pushfd
        mov ebx, 2
        call chk_eax
        pop eax
        and eax, 0x801
        mov ebx, 0x801
        call chk_eax
        mov eax, 0x80000000
        sar eax, 4
        mov ebx, 0xF8000000
        call chk_eax
        mov eax, 3
        shr eax, 1
        pushfd
        mov ebx, 1
        call chk_eax
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        mov eax, 0x80000000
        rol eax, 1
        pushfd
        mov ebx, 1
        call chk_eax
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        xor eax, eax
        stc
        rcr eax, 1
        pushfd
        mov ebx, 0x80000000
        call chk_eax
        pop eax
        and eax, 1
        xor ebx, ebx
        call chk_eax
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        shld eax, edx, 8
        mov ebx, 0x3456789A
        call chk_eax
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        mov cl, 12
        shrd eax, edx, cl
        mov ebx, 0xEF012345
        call chk_eax
        ; ADC, SBB, INC keeps CF, NEG sets CF for non-zero
        stc
        mov eax, 1
        adc eax, 1
        mov ebx, 3
        call chk_eax
        stc
        mov eax, 5
        sbb eax, 1
        mov ebx, 3
        call chk_eax
        stc
        inc eax
        pushfd
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        mov eax, 5
        neg eax
        pushfd
        mov ebx, -5
        call chk_eax
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        ; BCD: DAA with and without carry, AAM, AAD
        mov eax, 0x15
        add al, 0x27
        daa
        pushfd
        and eax, 0xFF
        mov ebx, 0x42
        call chk_eax
        pop eax
        and eax, 1
        xor ebx, ebx
        call chk_eax
        mov eax, 0x99
        add al, 0x01
        daa
        pushfd
        and eax, 0xFF
        xor ebx, ebx
        call chk_eax
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        mov eax, 77
        aam
        and eax, 0xFFFF
        mov ebx, 0x0707
        call chk_eax
        mov eax, 0x0705
        aad
        and eax, 0xFFFF
        mov ebx, 75
        call chk_eax
        ; bit scans and bit tests
        mov edx, 0x00F00000
        bsf eax, edx
        mov ebx, 20
        call chk_eax
        bsr eax, edx
        mov ebx, 23
        call chk_eax
        xor edx, edx
        mov eax, 1
        bsf ecx, edx
        pushfd
        pop eax
        and eax, 0x40
        mov ebx, 0x40
        call chk_eax
        mov eax, 0x10
        bts eax, 0
        pushfd
        mov ebx, 0x11
        call chk_eax
        pop eax
        and eax, 1
        xor ebx, ebx
        call chk_eax
        mov eax, 0x10
        bt eax, 4
        pushfd
        pop eax
        and eax, 1
        mov ebx, 1
        call chk_eax
        ; XADD, CMPXCHG, BSWAP
        mov eax, 1
        mov ecx, 2
        xadd eax, ecx
        mov ebx, 3
        call chk_eax
        mov eax, ecx
        mov ebx, 1
        call chk_eax
        mov eax, 5
        mov ecx, 5
        mov edx, 9
        cmpxchg ecx, edx
        pushfd
        mov eax, ecx
        mov ebx, 9
        call chk_eax
        pop eax
        and eax, 0x40
        mov ebx, 0x40
        call chk_eax
        mov eax, 0x11223344
        bswap eax
        mov ebx, 0x44332211
        call chk_eax
        ; SETcc, CMOVcc, LOOP, MOVSX, MOVZX
        xor eax, eax
        mov ecx, 1
        cmp ecx, 2
        setl al
        mov ebx, 1
        call chk_eax
        mov eax, 7
        mov edx, 9
        cmp ecx, 2
        cmovl eax, edx
        mov ebx, 9
        call chk_eax
        xor eax, eax
        mov ecx, 5
sum_loop:
        add eax, ecx
        loop sum_loop
        mov ebx, 15
        call chk_eax
        mov dl, 0x80
        movsx eax, dl
        mov ebx, 0xFFFFFF80
        call chk_eax
        movzx eax, dl
        mov ebx, 0x80
        call chk_eax
        ; strings: REP MOVSB then REPE CMPSB, and STD walks down
        mov esi, 0xF0000 + msg_banner
        mov edi, SCRATCH
        mov ecx, 8
        cld
        rep movsb
        mov esi, 0xF0000 + msg_banner
        mov edi, SCRATCH
        mov ecx, 8
        repe cmpsb
        pushfd
        mov eax, ecx
        xor ebx, ebx
        call chk_eax
        pop eax
        and eax, 0x40
        mov ebx, 0x40
        call chk_eax
        mov esi, SCRATCH + 3
        std
        lodsb
        lodsb
        cld
        mov eax, esi
        mov ebx, SCRATCH + 1
        call chk_eax
        ; PUSHA/POPA order and ENTER/LEAVE
        mov eax, 0xA
        mov ecx, 0xC
        mov edx, 0xD
        mov ebx, 0xB
        mov ebp, 0xBB
        mov esi, 0x51
        mov edi, 0xD1
        pushad
        mov eax, [esp + 28]
        mov ebx, 0xA
        call chk_eax
        mov eax, [esp + 12]             ; the ESP before PUSHAD
        lea ebx, [esp + 32]
        call chk_eax
        popad
        mov eax, edi
        mov ebx, 0xD1
        call chk_eax
        mov edx, esp
        enter 16, 0
        lea eax, [ebp + 4]
        mov ebx, edx
        call chk_eax
        leave
        mov eax, esp
        mov ebx, edx
        call chk_eax
        ; EFLAGS.ID can be toggled: CPUID exists
        pushfd
        pop eax
        mov ecx, eax
        xor eax, 0x200000
        push eax
        popfd
        pushfd
        pop eax
        xor eax, ecx
        and eax, 0x200000
        mov ebx, 0x200000
        call chk_eax
        push ecx
        popfd

; ---------------------------------------------------------------- stage 9
        mov al, 9
        out POST, al
        mov dword [STAGE], 9
        mov esi, msg_s9
        call puts
        ; PIT channel 0, mode 2, ~1 kHz; unmask IRQ 0 only; wait in HLT
        mov dword [TICKS], 0
        mov al, 0x34
        out 0x43, al
        mov al, 1193 & 0xFF
        out 0x40, al
        mov al, 1193 >> 8
        out 0x40, al
        mov al, 0xFE
        out 0x21, al
        sti
        hlt
        cli
        cmp dword [TICKS], 1            ; at least one tick woke the HLT
        setae al
        movzx eax, al
        mov ebx, 1
        call chk_eax
        sti
        hlt
        hlt
        cli
        cmp dword [TICKS], 3
        setae al
        movzx eax, al
        mov ebx, 1
        call chk_eax
        mov al, 0xFF
        out 0x21, al
        ; nothing left in service on the master PIC
        mov al, 0x0B
        out 0x20, al
        in al, 0x20
        movzx eax, al
        xor ebx, ebx
        call chk_eax

; ---------------------------------------------------------------- stage 10
        mov al, 10
        out POST, al
        mov dword [STAGE], 10
        mov esi, msg_s10
        call puts
        mov ecx, 0x24                   ; IRQ 4 (COM1)
        mov eax, irq4_handler
        mov edx, 0x8E00
        call set_gate
        mov dword [UART_IRQS], 0
        mov dword [UART_IIR], 0
        mov dword [UART_RX], 0
        ; the THR-empty interrupt: OUT2 gates IRQ 4 on a PC; enabling the interrupt
        ; with THR empty raises it at once, and reading IIR clears it
        mov dx, COM1 + 4
        mov al, 0x0B                    ; OUT2 | RTS | DTR
        out dx, al
        mov al, 0xEF                    ; unmask IRQ 4 only (FIFOs on since stage 1)
        out 0x21, al
        mov dx, COM1 + 1
        mov al, 0x02                    ; ETBEI
        out dx, al
        sti
        hlt
        cli
        mov eax, [UART_IRQS]
        mov ebx, 1
        call chk_eax
        mov eax, [UART_IIR]
        mov ebx, 0xC2
        call chk_eax
        mov dx, COM1 + 2                ; nothing pending any more
        in al, dx
        movzx eax, al
        mov ebx, 0xC1
        call chk_eax
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        mov al, 0xFF
        out 0x21, al
        ; loopback: the modem control outputs come back as the modem status inputs
        mov dx, COM1 + 4
        mov al, 0x1B                    ; LOOP | OUT2 | RTS | DTR
        out dx, al
        mov dx, COM1 + 6
        in al, dx
        and eax, 0xF0
        mov ebx, 0xB0                   ; DCD (OUT2), DSR (DTR), CTS (RTS)
        call chk_eax
        mov dx, COM1 + 4                ; back to a plain console
        mov al, 0x03
        out dx, al

; ---------------------------------------------------------------- done
        mov al, 0x0B
        out POST, al
        mov esi, msg_pass
        call puts
        xor eax, eax
        out DEBUG_EXIT, al
pass_halt:
        cli
        hlt
        jmp pass_halt

; ---------------------------------------------------------------- helpers

; set_gate: ECX = vector, EAX = handler offset in SEL_CODE0, EDX = type word
set_gate:
        push eax
        push ebx
        mov ebx, eax
        and eax, 0xFFFF
        or eax, SEL_CODE0 << 16
        mov [IDT_BASE + ecx*8], eax
        and ebx, 0xFFFF0000
        or ebx, edx
        mov [IDT_BASE + ecx*8 + 4], ebx
        pop ebx
        pop eax
        ret

; chk_eax: the next check; fails unless EAX == EBX
chk_eax:
        inc dword [CHECKNO]
        cmp eax, ebx
        jne chk_failed
        ret
chk_failed:
        mov [GOT_VAL], eax
        mov [WANT_VAL], ebx
        jmp fail_any

; check_exc: the armed exception was taken with vector ECX, error code EAX and
; saved EIP EBX (NONE: not checked)
check_exc:
        push ebx
        push eax
        mov eax, [EXP_VEC]
        mov ebx, NONE
        call chk_eax
        mov eax, [GOT_VEC]
        mov ebx, ecx
        call chk_eax
        pop ebx
        mov eax, [GOT_ERR]
        call chk_eax
        pop ebx
        cmp ebx, NONE
        je check_exc_done
        mov eax, [GOT_EIP]
        call chk_eax
check_exc_done:
        ret

; fail_any: fail from ring 0 directly, from ring 3 through a system call
fail_any:
        mov ax, cs
        and al, 3
        cmp al, 3
        jne fail
        mov eax, 2
        int 0x80
fail:
        cli
        mov ax, SEL_DATA0
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, KSTACK
        mov esi, msg_fail
        call puts
        mov eax, [STAGE]
        call print_hex
        mov esi, msg_check
        call puts
        mov eax, [CHECKNO]
        call print_hex
        mov esi, msg_got
        call puts
        mov eax, [GOT_VAL]
        call print_hex
        mov esi, msg_want
        call puts
        mov eax, [WANT_VAL]
        call print_hex
        mov esi, msg_lastexc
        call puts
        mov eax, [GOT_VEC]
        call print_hex
        mov esi, msg_err
        call puts
        mov eax, [GOT_ERR]
        call print_hex
        mov esi, msg_eip
        call puts
        mov eax, [GOT_EIP]
        call print_hex
        mov al, 10
        call putc
        mov eax, [STAGE]
        out DEBUG_EXIT, al
fail_halt:
        hlt
        jmp fail_halt

; putc: AL to COM1
putc:
        push edx
        push eax
        mov dx, COM1 + 5
putc_wait:
        in al, dx
        test al, 0x20
        jz putc_wait
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

; puts: the NUL-terminated string at CS:ESI
puts:
        push eax
        push esi
puts_loop:
        mov al, [cs:esi]
        test al, al
        jz puts_done
        call putc
        inc esi
        jmp puts_loop
puts_done:
        pop esi
        pop eax
        ret

; print_hex: EAX as 8 hex digits
print_hex:
        push eax
        push ebx
        push ecx
        mov ebx, eax
        mov ecx, 8
print_hex_loop:
        rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        mov al, [cs:hexdigits + eax]
        call putc
        loop print_hex_loop
        pop ecx
        pop ebx
        pop eax
        ret

; ---------------------------------------------------------------- handlers

; Exception stubs: push a zero error code where the CPU pushes none, then the vector.
stub0:  push dword 0
        push dword 0
        jmp exc_common
stub1:  push dword 0
        push dword 1
        jmp exc_common
stub2:  push dword 0
        push dword 2
        jmp exc_common
stub3:  push dword 0
        push dword 3
        jmp exc_common
stub4:  push dword 0
        push dword 4
        jmp exc_common
stub5:  push dword 0
        push dword 5
        jmp exc_common
stub6:  push dword 0
        push dword 6
        jmp exc_common
stub7:  push dword 0
        push dword 7
        jmp exc_common
stub8:  push dword 8
        jmp exc_common
stub9:  push dword 0
        push dword 9
        jmp exc_common
stub10: push dword 10
        jmp exc_common
stub11: push dword 11
        jmp exc_common
stub12: push dword 12
        jmp exc_common
stub13: push dword 13
        jmp exc_common
stub14: push dword 14
        jmp exc_common
stub15: push dword 0
        push dword 15
        jmp exc_common
stub16: push dword 0
        push dword 16
        jmp exc_common
stub17: push dword 17
        jmp exc_common
stub18: push dword 0
        push dword 18
        jmp exc_common
stub19: push dword 0
        push dword 19
        jmp exc_common
stub20: push dword 0
        push dword 20
        jmp exc_common
stub21: push dword 0
        push dword 21
        jmp exc_common
stub22: push dword 0
        push dword 22
        jmp exc_common
stub23: push dword 0
        push dword 23
        jmp exc_common
stub24: push dword 0
        push dword 24
        jmp exc_common
stub25: push dword 0
        push dword 25
        jmp exc_common
stub26: push dword 0
        push dword 26
        jmp exc_common
stub27: push dword 0
        push dword 27
        jmp exc_common
stub28: push dword 0
        push dword 28
        jmp exc_common
stub29: push dword 0
        push dword 29
        jmp exc_common
stub30: push dword 0
        push dword 30
        jmp exc_common
stub31: push dword 0
        push dword 31
        jmp exc_common

; Records the frame, checks the vector against EXP_VEC and resumes at EXP_RESUME.
; Frame after the pushes below: [esp] EDI..EAX (PUSHAD), [esp+32] ES, [esp+36] DS,
; [esp+40] vector, [esp+44] error code, [esp+48] EIP, [esp+52] CS, [esp+56] EFLAGS,
; [esp+60] ESP and [esp+64] SS of ring 3.
exc_common:
        push ds
        push es
        pushad
        mov ax, SEL_DATA0
        mov ds, ax
        mov es, ax
        mov eax, [esp + 40]
        mov [GOT_VEC], eax
        mov eax, [esp + 44]
        mov [GOT_ERR], eax
        mov eax, [esp + 48]
        mov [GOT_EIP], eax
        mov eax, [esp + 52]
        mov [GOT_CS], eax
        mov eax, [esp + 56]
        mov [GOT_EFL], eax
        mov eax, [esp + 60]
        mov [GOT_ESP3], eax
        mov eax, [esp + 64]
        mov [GOT_SS3], eax
        lea eax, [esp + 48]
        mov [GOT_FRAME], eax
        mov eax, cr2
        mov [GOT_CR2], eax
        xor eax, eax
        ring0_sel ss
        mov [GOT_HSS], eax
        ring0_sel cs
        mov [GOT_HCS], eax
        pushfd
        pop eax
        mov [GOT_HEFL], eax
        mov eax, [GOT_VEC]
        cmp eax, [EXP_VEC]
        jne exc_unexpected
        mov dword [EXP_VEC], NONE
        mov eax, [EXP_RESUME]
        mov [esp + 48], eax
        popad
        pop es
        pop ds
        add esp, 8
        iretd
exc_unexpected:
        mov esi, msg_unexpected
        call puts
        mov eax, [GOT_VEC]
        mov [GOT_VAL], eax
        mov eax, [EXP_VEC]
        mov [WANT_VAL], eax
        jmp fail

; System calls (INT 0x80): EAX = 0 return to ring 0 for good, 1 print CS:ESI,
; 2 fail, 3 set the stage number to EBX.
syscall_entry:
        mov [ss:SYS_ESP], esp
        push ds
        push eax
        mov ax, SEL_DATA0
        mov ds, ax
        pop eax
        cmp eax, 1
        je sys_puts
        cmp eax, 2
        je fail
        cmp eax, 3
        je sys_stage
        test eax, eax
        je sys_exit
        pop ds
        iretd
sys_puts:
        call puts
        pop ds
        iretd
sys_stage:
        mov [STAGE], ebx
        mov eax, ebx
        out POST, al
        pop ds
        iretd
sys_exit:
        ; entry state of a ring 3 -> ring 0 interrupt through the TSS
        mov eax, [SYS_ESP]
        mov ebx, ESP0 - 20
        call chk_eax
        mov eax, [esp + 8]
        mov ebx, SEL_CODE3
        call chk_eax
        mov eax, [esp + 20]
        mov ebx, SEL_DATA3
        call chk_eax
        mov eax, [esp + 12]
        and eax, 0x200
        mov ebx, 0x200
        call chk_eax
        pushfd
        pop eax
        and eax, 0x200
        xor ebx, ebx
        call chk_eax
        xor eax, eax
        ring0_sel ss
        mov ebx, SEL_DATA0
        call chk_eax
        mov ax, SEL_DATA0
        mov es, ax
        mov esp, [KSAVE_ESP]
        jmp ring3_done

; IRQ 0: count and acknowledge
irq0_handler:
        push eax
        inc dword [ss:TICKS]
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd

; IRQ 4: record IIR, take a received byte, acknowledge
irq4_handler:
        push eax
        push edx
        mov dx, COM1 + 2
        in al, dx
        movzx eax, al
        mov [ss:UART_IIR], eax
        mov dx, COM1 + 5
        in al, dx
        test al, 1
        jz irq4_no_data
        mov dx, COM1
        in al, dx
        movzx eax, al
        mov [ss:UART_RX], eax
irq4_no_data:
        inc dword [ss:UART_IRQS]
        mov al, 0x20
        out 0x20, al
        pop edx
        pop eax
        iretd

; ---------------------------------------------------------------- data

stub_table:
        dd stub0, stub1, stub2, stub3, stub4, stub5, stub6, stub7
        dd stub8, stub9, stub10, stub11, stub12, stub13, stub14, stub15
        dd stub16, stub17, stub18, stub19, stub20, stub21, stub22, stub23
        dd stub24, stub25, stub26, stub27, stub28, stub29, stub30, stub31

bounds: dd 0, 5

gdt:    dq 0
        dq 0x00409A0F0000FFFF           ; 0x08 ring-0 code, base 0xF0000, 64 KiB
        dq 0x00CF92000000FFFF           ; 0x10 ring-0 data, flat
        dq 0x0040FA0F0000FFFF           ; 0x18 ring-3 code, base 0xF0000, 64 KiB
        dq 0x00CFF2000000FFFF           ; 0x20 ring-3 data, flat
        dq 0x0000890030000067           ; 0x28 32-bit TSS at 0x3000
        dq 0x0040920200000FFF           ; 0x30 data, base 0x20000, limit 0xFFF
        dq 0x00CF12000000FFFF           ; 0x38 data, not present
        dq 0x0040920300000FFF           ; 0x40 stack, base 0x30000, limit 0xFFF
        dq 0x00CF90000000FFFF           ; 0x48 read-only data, flat
gdt_end:

gdt_desc:
        dw gdt_end - gdt - 1
        dd GDT_BASE

idt_desc:
        dw 256 * 8 - 1
        dd IDT_BASE

hexdigits:      db "0123456789abcdef"
msg_banner:     db "vmlab cputest", 13, 10, 0
msg_s1:         db "stage 01: real mode", 13, 10, 0
msg_s2:         db "stage 02: protected mode, IDT, PIC", 13, 10, 0
msg_s3:         db "stage 03: segmentation", 13, 10, 0
msg_s4:         db "stage 04: paging", 13, 10, 0
msg_s5:         db "stage 05: ring 3", 13, 10, 0
msg_ring3:      db "  hello from ring 3", 13, 10, 0
msg_s6:         db "stage 06: exceptions from ring 3", 13, 10, 0
msg_s7:         db "stage 07: exceptions in ring 0", 13, 10, 0
msg_s8:         db "stage 08: arithmetic and flags", 13, 10, 0
msg_s9:         db "stage 09: timer interrupts", 13, 10, 0
msg_s10:        db "stage 10: serial port", 13, 10, 0
msg_pass:       db "cputest: all stages passed", 13, 10, 0
msg_fail16:     db "FAIL stage 01", 13, 10, 0
msg_fail:       db "FAIL stage ", 0
msg_check:      db " check ", 0
msg_got:        db " got ", 0
msg_want:       db " want ", 0
msg_lastexc:    db " last exception ", 0
msg_err:        db " err ", 0
msg_eip:        db " eip ", 0
msg_unexpected: db "unexpected exception", 13, 10, 0

        times 0xFFF0 - ($ - rom_start) db 0
reset_vector:
        bits 16
        jmp 0xF000:real_entry
        times 0x10000 - ($ - rom_start) db 0
