; A busy virtio-blk device and the driver's notifies: 64 KiB (sectors 0 to 127) written
; three times as 16 requests of 4 KiB put on the ring back to back, each time with
; another notify rule:
;   1. the driver notifies after every request, whatever the device says;
;   2. the driver skips the notify while the used ring's flags hold
;      VIRTQ_USED_F_NO_NOTIFY (the device is busy and polls the ring);
;   3. after a reset with VIRTIO_F_RING_EVENT_IDX negotiated, the driver notifies only
;      when its available index passes the device's avail_event (vring_need_event).
; After each phase the driver reads the 64 KiB back (one request) and compares. The
; driver polls the used ring with interrupts suppressed. With a device that serves each
; notify at once every rule notifies 16 times; a device with a service time
; (`vmlab run --virtio-service`) is busy while the driver posts, and rules 2 and 3
; notify once.

%define QSIZE     128
%define RING      0x30000          ; descriptor table; the queue's PFN is RING >> 12
%define AVAIL     (RING + 16 * QSIZE)
%define USED      (RING + 0x1000)
%define USED_EVENT (AVAIL + 4 + 2 * QSIZE)
%define REQ       0x40000          ; the read-back request's header
%define STAT      0x40010          ; and status byte
%define HDRS      0x40100          ; 16 request headers
%define STATS     0x40200          ; 16 status bytes
%define BUF       0x100000         ; request k writes BUF + 4 KiB * k
%define BACK      0x200000         ; the read-back
%define REQS      16
%define T_IN      0
%define T_OUT     1
%define DESC_NEXT  1
%define DESC_WRITE 2
%define EVENT_IDX (1 << 29)

    bits 32
    org 0x10000
start:
    mov esp, 0x9F000
    cld
    cli
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
    xor eax, eax                        ; no optional feature
    call virtio_blk_setup
    jc fail
    mov word [AVAIL], 1                 ; VIRTQ_AVAIL_F_NO_INTERRUPT: the driver polls
ready:

    ; 1. A notify after every request.
    mov bl, 0x11
    call fill
    xor esi, esi
.always:
    call post
    call virtio_blk_kick
    inc esi
    cmp esi, REQS
    jb .always
    call finish
kick_always_done:

    ; 2. A notify unless the used ring says VIRTQ_USED_F_NO_NOTIFY.
    mov bl, 0x22
    call fill
    xor esi, esi
.flag:
    call post
    call virtio_blk_notify
    inc esi
    cmp esi, REQS
    jb .flag
    call finish
no_notify_done:

    ; 3. Event indexes: reset, negotiate VIRTIO_F_RING_EVENT_IDX; a notify only when
    ; the available index passes avail_event.
    mov eax, EVENT_IDX
    call virtio_blk_setup
    jc fail
    test byte [vblk_features + 3], EVENT_IDX >> 24
    jz fail                             ; the device did not offer the feature
    mov word [USED_EVENT], 0xFFFF       ; no interrupt: the driver polls
    mov bl, 0x33
    call fill
    xor esi, esi
.event:
    call post
    call virtio_blk_notify
    inc esi
    cmp esi, REQS
    jb .event
    call finish
avail_event_done:
    mov esi, msg_ok
    call puts
    hlt

; Fills the 64 KiB at BUF: byte i is BL + i / 4096 + i (the phase's pattern).
fill:
    mov edi, BUF
    xor ecx, ecx
.next:
    mov eax, ecx
    shr eax, 12
    add al, bl
    add al, cl
    mov [edi + ecx], al
    inc ecx
    cmp ecx, 0x10000
    jb .next
    ret

; Request ESI on the ring (no notify): write 4 KiB from BUF + 4 KiB * ESI to sector
; 8 * ESI.
post:
    push esi
    mov eax, T_OUT
    mov edx, esi
    shl edx, 3
    mov edi, esi
    shl edi, 12
    add edi, BUF
    mov ecx, 0x1000
    call virtio_blk_post
    pop esi
    ret

; Polls the used ring until the device used every request, checks the status bytes,
; reads the 64 KiB back, compares and reports.
finish:
    mov ecx, 10000000
    movzx eax, word [AVAIL + 2]
.poll:
    cmp [USED + 2], ax
    je .used
    pause
    dec ecx
    jnz .poll
    jmp fail
.used:
    mov ecx, REQS
    call virtio_blk_all_ok
    jne fail
    mov eax, T_IN
    xor edx, edx
    mov edi, BACK
    mov ecx, 0x10000
    call virtio_blk_request
    jc fail
    mov esi, BUF
    mov edi, BACK
    mov ecx, 0x10000 / 4
    repe cmpsd
    jne fail
    mov esi, msg_phase
    call puts
    ret

fail:
    mov esi, msg_fail
    call puts
    hlt

msg_hello: db "64 KiB written three ways to a virtio-blk that may be busy", 10, 0
msg_phase: db "phase done: 16 writes read back", 10, 0
msg_ok:    db "virtio-blk busy device OK", 10, 0
msg_fail:  db "virtio-blk FAILED", 10, 0

align 4
iobase: dd 0

%include "virtio_blk.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"
