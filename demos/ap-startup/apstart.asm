; AP start-up: the bootstrap processor wakes the application processor with
; INIT, a start-up IPI (SIPI) and a second SIPI, as the MP specification
; says. The AP starts in real mode at CS:IP = 0x1100:0000 (SIPI vector 0x11),
; loads the GDT, sets CR0.PE and far-jumps into flat 32-bit code, then tells
; the BSP it is up.
bits 32
org 0x10000

AP_PAGE     equ 0x11000         ; SIPI vector 0x11
AP_ID       equ 1

start:
    mov esp, 0x90000
    call load_flat
    mov dword [APIC_SVR], 0x1ff ; software-enable the APIC, spurious vector 0xFF
    mov ebx, AP_ID
send_init:
    mov eax, ICR_INIT
    call send_ipi
init_sent:
    mov eax, ICR_SIPI | (AP_PAGE >> 12)
    call send_ipi
sipi_sent:
    mov eax, ICR_SIPI | (AP_PAGE >> 12)
    call send_ipi               ; the second SIPI: ignored by a CPU already started
wait_ap:
    pause
    cmp dword [ap_started], 0
    je wait_ap
ap_seen:
    mov esi, msg_up
    call puts
    mov eax, [ap_started]
    add al, '0'
    mov dx, COM1
    out dx, al
    mov esi, msg_times
    call puts
    cli
done:
    hlt
    jmp done

%include "apic.inc"
%include "pc.inc"

msg_up:     db "AP 1 is up in protected mode, started ", 0
msg_times:  db " time(s)", 10, 0
ap_started: dd 0

; The AP's entry: real mode, CS = 0x1100, IP = 0, interrupts off.
times AP_PAGE - 0x10000 - ($ - $$) db 0
bits 16
ap_real:
    cli
    mov ax, 0x1000
    mov ds, ax                  ; DS:offset reaches the guest's data
    lgdt [demo_gdt_desc - 0x10000]
    mov eax, cr0
    or al, 1
ap_enter_pm:
    mov cr0, eax                ; protected mode, still in the 16-bit segment
    jmp dword 0x08:ap_flat      ; a far jump loads CS from the GDT
bits 32
ap_flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x8f000
    lock inc dword [ap_started]
ap_halt:
    hlt
    jmp ap_halt
