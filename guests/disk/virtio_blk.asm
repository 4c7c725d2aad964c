; vmlab virtio-blk guest: loaded with FlatEntry::Protected32 at 0x10000. It walks PCI
; bus 0 with configuration mechanism #1 for vendor 1AF4h, device 1001h (a legacy
; virtio block device), enables its I/O space, and drives the legacy register block
; in BAR 0: reset, ACKNOWLEDGE and DRIVER, the feature handshake, one split virtqueue
; (queue 0, 128 descriptors) at RING, then DRIVER_OK. Each request is a chain of three
; descriptors: the 16-byte header, the data, the status byte. It reads sector 0,
; writes sector 1 (each byte of sector 0 plus one), reads it back and compares, then
; reads 1 MiB in 16 requests of 64 KiB with used-buffer interrupts suppressed
; (VIRTQ_AVAIL_F_NO_INTERRUPT), so the exits per MiB can be counted against ATA PIO.
; Each request has its own notify; with -D BATCH the 16 go on the available ring
; first and one notify hands over the whole batch.
; It polls the used ring; after the first request it reads the ISR to see the
; interrupt the device raised. It reports on COM1 and leaves through the debug-exit
; port: 0 when all went well, 1 otherwise.
;
; Build (in guests/disk/): nasm -f bin -I ../include/ -o virtio_blk.bin virtio_blk.asm

%define QSIZE     128
%define RING      0x30000          ; descriptor table; the queue's PFN is RING >> 12
%define AVAIL     (RING + 16 * QSIZE)
%define USED      (RING + 0x1000)  ; the next 4 KiB boundary after the avail ring
%define REQ       0x40000          ; request header: type, reserved, sector (u64)
%define STAT      0x40010          ; status byte
%define HDRS      0x40100          ; BATCH: the 16 headers
%define STATS     0x40200          ; BATCH: the 16 status bytes
%define SEC0      0x41000          ; sector 0 as read
%define SEC1      0x41200          ; what goes to sector WRITE_LBA
%define BACK      0x41400          ; sector WRITE_LBA read back
%define BULK      0x100000         ; the 1 MiB read goes through this 64 KiB buffer
%define WRITE_LBA 1
%define T_IN      0
%define T_OUT     1
%define DESC_NEXT  1
%define DESC_WRITE 2

        bits 32
        org 0x10000
start:
        cld
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts

        ; PCI bus 0: the first function with vendor 1AF4h, device 1001h.
        mov eax, 0x10011AF4
        call pci_find
        jc fail
        mov esi, msg_found
        call puts
        mov eax, ebx
        shr eax, 11
        and eax, 31
        mov ecx, 2
        call puthex                         ; device
        mov al, '.'
        call putc
        mov eax, ebx
        shr eax, 8
        and eax, 7
        mov ecx, 1
        call puthex                         ; function
        lea eax, [ebx + 0x2C]
        call pci_read                       ; subsystem: the virtio device type
        shr eax, 16
        cmp eax, 2
        jne fail
        lea eax, [ebx + 0x10]
        call pci_read                       ; BAR 0: the legacy register block
        test eax, 1
        jz fail                             ; must be an I/O BAR
        and eax, 0xFFFC
        mov [iobase], eax
        mov esi, msg_bar
        call puts
        mov eax, [iobase]
        mov ecx, 4
        call puthex
        lea eax, [ebx + 0x3C]
        call pci_read                       ; interrupt line
        push eax
        mov esi, msg_irq
        call puts
        pop eax
        and eax, 0xFF
        mov ecx, 2
        call puthex
        mov al, 10
        call putc

        call pci_enable_io

        ; Reset, ACKNOWLEDGE and DRIVER, accept only FLUSH (bit 9) of the features,
        ; queue 0 at RING, DRIVER_OK.
        mov eax, 1 << 9
        call virtio_blk_setup
        jc fail
        ; Capacity (device configuration, offset 0x14): sectors, low dword.
        mov edx, [iobase]
        add edx, 0x14
        in eax, dx
        mov [sectors], eax
        mov esi, msg_capacity
        call puts
        mov ecx, 8
        call puthex
        mov al, 10
        call putc

        ; Read sector 0.
        mov eax, T_IN
        xor edx, edx
        mov edi, SEC0
        mov ecx, 512
        call virtio_blk_request
        jc fail
        ; The device raised its interrupt: ISR bit 0 (reading clears it).
        mov edx, [iobase]
        add edx, 0x13
        in al, dx
        push eax
        mov esi, msg_isr
        call puts
        pop eax
        and eax, 0xFF
        mov ecx, 2
        call puthex
        mov al, 10
        call putc
        mov esi, msg_sector0
        call puts
        mov esi, SEC0
        mov ecx, 48
.show:  lodsb
        cmp al, 32
        jb .shown
        cmp al, 126
        ja .shown
        call putc
        loop .show
.shown: mov al, 10
        call putc

        ; Write sector WRITE_LBA = sector 0 with every byte plus one, read it back.
        xor ecx, ecx
.mk:    mov al, [SEC0 + ecx]
        inc al
        mov [SEC1 + ecx], al
        inc ecx
        cmp ecx, 512
        jb .mk
        mov eax, T_OUT
        mov edx, WRITE_LBA
        mov edi, SEC1
        mov ecx, 512
        call virtio_blk_request
        jc fail
        mov eax, T_IN
        mov edx, WRITE_LBA
        mov edi, BACK
        mov ecx, 512
        call virtio_blk_request
        jc fail
        mov esi, SEC1
        mov edi, BACK
        mov ecx, 128
        repe cmpsd
        jne fail
        mov esi, msg_written
        call puts

        ; 1 MiB: 16 requests of 64 KiB, used-buffer interrupts suppressed.
        cmp dword [sectors], 2048
        jb fail
        mov word [AVAIL], 1                 ; VIRTQ_AVAIL_F_NO_INTERRUPT
%ifdef BATCH
        ; All 16 chains on the available ring first (request k: descriptors 3k to
        ; 3k + 2, its header at HDRS + 16k, its status byte at STATS + k), then one
        ; notify for the batch.
        xor ebx, ebx
.chain: mov edi, ebx
        shl edi, 4
        mov dword [HDRS + edi], T_IN
        mov dword [HDRS + edi + 4], 0
        mov eax, ebx
        shl eax, 7                          ; 128 sectors per request
        mov [HDRS + edi + 8], eax
        mov dword [HDRS + edi + 12], 0
        mov byte [STATS + ebx], 0xFF
        lea esi, [ebx + ebx * 2]
        shl esi, 4                          ; descriptor 3k
        lea eax, [HDRS + edi]
        mov [RING + esi], eax
        mov dword [RING + esi + 4], 0
        mov dword [RING + esi + 8], 16
        mov word [RING + esi + 12], DESC_NEXT
        lea eax, [ebx + ebx * 2 + 1]
        mov [RING + esi + 14], ax
        mov dword [RING + esi + 16], BULK
        mov dword [RING + esi + 20], 0
        mov dword [RING + esi + 24], 0x10000
        mov word [RING + esi + 28], DESC_NEXT | DESC_WRITE
        inc eax
        mov [RING + esi + 30], ax
        lea eax, [STATS + ebx]
        mov [RING + esi + 32], eax
        mov dword [RING + esi + 36], 0
        mov dword [RING + esi + 40], 1
        mov word [RING + esi + 44], DESC_WRITE
        mov word [RING + esi + 46], 0
        movzx eax, word [AVAIL + 2]
        add eax, ebx
        and eax, QSIZE - 1
        lea ecx, [ebx + ebx * 2]
        mov [AVAIL + 4 + eax * 2], cx       ; head 3k
        inc ebx
        cmp ebx, 16
        jb .chain
        add word [AVAIL + 2], 16            ; publish the batch
        movzx eax, word [AVAIL + 2]
        push eax
        mov edx, [iobase]
        add edx, 0x10
        xor eax, eax
        out dx, ax                          ; one notify
        pop eax
        cmp [USED + 2], ax
        jne fail
        xor ebx, ebx
.st:    cmp byte [STATS + ebx], 0
        jne fail
        inc ebx
        cmp ebx, 16
        jb .st
%else
        xor ebx, ebx
.mib:   mov eax, T_IN
        mov edx, ebx
        shl edx, 7                          ; 128 sectors per request
        mov edi, BULK
        mov ecx, 0x10000
        call virtio_blk_request
        jc fail
        inc ebx
        cmp ebx, 16
        jb .mib
%endif
        mov esi, msg_mib
        call puts
        mov esi, msg_ok
        xor eax, eax
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave

%include "virtio_blk.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"

msg_hello:    db "virtio-blk guest", 10, 0
msg_found:    db "virtio-blk at 00:", 0
msg_bar:      db " BAR0 I/O at 0x", 0
msg_irq:      db " IRQ ", 0
msg_capacity: db "capacity sectors 0x", 0
msg_isr:      db "ISR 0x", 0
msg_sector0:  db "sector 0: ", 0
msg_written:  db "sector 1 written and read back", 10, 0
msg_mib:      db "read 1 MiB in 16 requests", 10, 0
msg_ok:       db "virtio-blk OK", 10, 0
msg_fail:     db "virtio-blk FAILED", 10, 0

align 4
iobase:  dd 0
sectors: dd 0
