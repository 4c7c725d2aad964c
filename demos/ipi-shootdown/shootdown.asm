; A TLB shootdown: two CPUs share page tables and have both cached the
; translation of DATA. CPU 0 moves DATA to another frame and flushes its own
; TLB entry with INVLPG; CPU 1's entry is stale until CPU 0 sends it an IPI
; (vector 0x50) whose handler runs INVLPG on CPU 1.
bits 32
org 0x10000

AP_PAGE     equ 0x12000         ; SIPI vector 0x12
PD          equ 0x80000
PT          equ 0x81000         ; linear 4 MiB..8 MiB
DATA        equ 0x400000
OLD_FRAME   equ 0x100000
NEW_FRAME   equ 0x101000
SHOOT_VEC   equ 0x50

start:
    mov esp, 0x90000
    call load_flat
    mov dword [OLD_FRAME], 'old'
    mov dword [NEW_FRAME], 'new'
    mov dword [PD], 0x083               ; 0..4 MiB: one large page, identity
    mov dword [PD + 4], PT + 3          ; 4..8 MiB: a page table
    mov dword [PD + 0x3fb * 4], 0xfec00093 ; the APIC pages, identity, uncached
    mov dword [PT], OLD_FRAME + 3       ; DATA -> the old frame
    mov eax, shootdown_isr
    mov ecx, SHOOT_VEC
    call set_gate
    call paging_on
    mov eax, [DATA]                     ; CPU 0 caches DATA's translation
    mov dword [APIC_SVR], 0x1ff
    mov ebx, 1
    mov eax, ICR_INIT
    call send_ipi
    mov eax, ICR_SIPI | (AP_PAGE >> 12)
    call send_ipi
wait_ready:
    pause
    cmp dword [ap_ready], 0
    je wait_ready
both_cached:                            ; both TLBs hold DATA -> the old frame
    mov dword [PT], NEW_FRAME + 3       ; move DATA to the new frame
    invlpg [DATA]                       ; flushes CPU 0's TLB only
local_flushed:
    mov ebx, 1
    mov eax, ICR_FIXED | SHOOT_VEC
    call send_ipi                       ; ask CPU 1 to flush its entry
ipi_sent:
    pause
    cmp dword [ap_ack], 0
    je ipi_sent
acked:
    mov esi, msg_before
    call puts
    mov esi, ap_before
    call puts
    mov esi, msg_after
    call puts
    mov esi, ap_after
    call puts
    mov esi, msg_nl
    call puts
    cli
done:
    hlt
    jmp done

; paging_on: CR3 = PD, CR4.PSE, CR0.PG (clobbers EAX)
paging_on:
    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ret

; CPU 1's handler for the shootdown IPI
shootdown_isr:
    invlpg [DATA]
ap_flushed:                             ; CPU 1's entry is gone
    mov eax, [DATA]                     ; a page walk: the new frame
    mov [ap_after], eax
    mov dword [APIC_EOI], 0
    mov dword [ap_ack], 1
    iret

%include "apic.inc"
%include "pc.inc"

msg_before: db "CPU 1 read ", 0
msg_after:  db " before the shootdown and ", 0
msg_nl:     db " after it", 10, 0
ap_ready:   dd 0
ap_ack:     dd 0
ap_before:  dd 0, 0
ap_after:   dd 0, 0

; CPU 1 starts here in real mode (CS = 0x1200, IP = 0)
times AP_PAGE - 0x10000 - ($ - $$) db 0
AP_ENTER_FLAT
    mov esp, 0x8f000
    lidt [demo_idt_desc]
    call paging_on                      ; the same page tables as CPU 0
    mov dword [APIC_SVR], 0x1ff
    mov eax, [DATA]                     ; CPU 1 caches DATA's translation
    mov [ap_before], eax
    mov dword [ap_ready], 1
ap_idle:
    sti
    hlt
    jmp ap_idle
