; The same 64 KiB (sectors 0 to 127) read from virtio-blk four times, as 16 requests
; of 4 KiB, each time with another way of telling the driver the requests are done:
;   1. one request per notify, an interrupt for each: the driver sleeps in HLT and the
;      device's used-ring interrupt (INTx through the PIC) wakes it;
;   2. all 16 on the available ring, one notify: the device serves the batch and
;      raises one interrupt for the 16 completions (coalescing);
;   3. the batch again with VIRTQ_AVAIL_F_NO_INTERRUPT: the driver polls the used ring,
;      the device suppresses its interrupt;
;   4. after a reset with VIRTIO_F_RING_EVENT_IDX negotiated: one request per notify,
;      but used_event asks for an interrupt only when the 16th completes.
; The interrupt handler reads the ISR (acknowledging the interrupt and lowering INTx)
; and counts. The guest reports the interrupts it took per phase and halts.

%define QSIZE     128
%define RING      0x30000          ; descriptor table; the queue's PFN is RING >> 12
%define AVAIL     (RING + 16 * QSIZE)
%define USED      (RING + 0x1000)
%define USED_EVENT (AVAIL + 4 + 2 * QSIZE)
%define REQ       0x40000          ; the include's single-request header (unused)
%define STAT      0x40010          ; and status byte (unused)
%define HDRS      0x40100          ; 16 request headers
%define STATS     0x40200          ; 16 status bytes
%define BUF       0x100000         ; request k reads into BUF + 4 KiB * k
%define REQS      16
%define T_IN      0
%define DESC_NEXT  1
%define DESC_WRITE 2
%define EVENT_IDX (1 << 29)

    bits 32
    org 0x10000
start:
    mov esp, 0x9F000
    cld
    mov esi, msg_hello
    call puts
    mov eax, 0x10011AF4                 ; virtio-blk, legacy I/O BAR 0
    call pci_find
    jc fail
    call pci_enable_io
    lea eax, [ebx + 0x10]
    call pci_read
    and eax, 0xFFFC
    mov [iobase], eax
    lea eax, [ebx + 0x3C]
    call pci_read                       ; the interrupt line firmware routed INTA# to
    and eax, 0x0F
    mov [line], eax
    ; IDT: the PIC puts IRQ n at vector 20h + n; a 32-bit interrupt gate there.
    lea edi, [idt + eax * 8 + IRQ0_VECTOR * 8]
    mov eax, on_irq
    mov [edi], ax
    shr eax, 16
    mov [edi + 6], ax
    mov ax, cs
    and ax, 0xfffc
    mov [edi + 2], ax
    mov word [edi + 4], 0x8e00
    lidt [idtr]
    call pic_init
    call unmask_line
    xor eax, eax                        ; no optional feature
    call virtio_blk_setup
    jc fail
ready:

    ; 1. One request per notify; the driver sleeps until the interrupt.
    xor esi, esi
.one:
    call post
    call virtio_blk_kick
    lea eax, [esi + 1]
    call wait_irqs
    inc esi
    cmp esi, REQS
    jb .one
    call check
    call report
one_per_kick_done:

    ; 2. The batch: 16 chains, one notify, one interrupt for all.
    call post_all
    call virtio_blk_kick
    mov eax, 1
    call wait_irqs
    call check
    call report
batched_done:

    ; 3. The batch with interrupts suppressed; the driver polls the used ring.
    mov word [AVAIL], 1                 ; VIRTQ_AVAIL_F_NO_INTERRUPT
    call post_all
    call virtio_blk_kick
    movzx eax, word [AVAIL + 2]
    cmp [USED + 2], ax                  ; the device served the batch at the notify
    jne fail
    call check
    call report
    mov word [AVAIL], 0
suppressed_done:

    ; 4. Event indexes: reset, negotiate VIRTIO_F_RING_EVENT_IDX, then one request per
    ; notify with used_event at the 16th: one interrupt for the 16.
    mov eax, EVENT_IDX
    call virtio_blk_setup
    jc fail
    mov edx, [iobase]
    add edx, 4
    in eax, dx
    test eax, EVENT_IDX
    jz fail                             ; the device did not take the feature
    mov word [USED_EVENT], REQS - 1     ; interrupt when used idx passes entry 15
    xor esi, esi
.ev:
    call post
    call virtio_blk_kick
    inc esi
    cmp esi, REQS
    jb .ev
    mov eax, 1
    call wait_irqs
    call check
    call report
event_idx_done:
    mov esi, msg_ok
    call puts
    cli
    hlt

; Request ESI: 4 KiB from sector 8 * ESI into BUF + 4 KiB * ESI.
post:
    push esi
    mov eax, T_IN
    mov edx, esi
    shl edx, 3
    mov edi, esi
    shl edi, 12
    add edi, BUF
    mov ecx, 0x1000
    call virtio_blk_post
    pop esi
    ret

; All 16 requests on the available ring.
post_all:
    xor esi, esi
.next:
    call post
    inc esi
    cmp esi, REQS
    jb .next
    ret

; Sleeps until the handler has counted EAX interrupts in this phase. STI takes effect
; after HLT starts, so an interrupt cannot slip in between the test and the sleep.
wait_irqs:
    mov ecx, 1000
.test:
    cli
    cmp [irqs], eax
    jae .done
    dec ecx
    jz fail
    sti
    hlt
    jmp .test
.done:
    ret

; Every status byte OK.
check:
    mov ecx, REQS
    call virtio_blk_all_ok
    jne fail
    ret

; "N interrupts" on the console, then the phase count starts again.
report:
    mov esi, msg_phase
    call puts
    mov eax, [irqs]
    mov ecx, 2
    call puthex
    mov esi, msg_irqs
    call puts
    mov dword [irqs], 0
    ret

; Unmasks the device's line (and the cascade when it is on the second PIC).
unmask_line:
    mov ecx, [line]
    cmp ecx, 8
    jb .master
    sub ecx, 8
    mov al, 0xff
    btr eax, ecx
    out PIC2_DATA, al
    mov al, 0xfb                        ; IRQ 2: the cascade
    out PIC1_DATA, al
    ret
.master:
    mov al, 0xff
    btr eax, ecx
    out PIC1_DATA, al
    ret

; The used-ring interrupt: read the ISR (this acknowledges it and lowers INTx), count,
; EOI to both PICs.
on_irq:
    push eax
    push edx
    mov edx, [iobase]
    add edx, 0x13
    in al, dx
    test al, 1
    jz .eoi
    inc dword [irqs]
.eoi:
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop edx
    pop eax
    iret

fail:
    mov esi, msg_fail
    call puts
    cli
    hlt

msg_hello: db "64 KiB four ways from virtio-blk", 10, 0
msg_phase: db "phase done: 0x", 0
msg_irqs:  db " interrupts", 10, 0
msg_ok:    db "virtio-blk interrupts OK", 10, 0
msg_fail:  db "virtio-blk FAILED", 10, 0

align 4
iobase: dd 0
line:   dd 0
irqs:   dd 0
idtr:   dw 0x30 * 8 - 1
        dd idt
align 8
idt:    times 0x30 dq 0

%include "virtio_blk.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"
