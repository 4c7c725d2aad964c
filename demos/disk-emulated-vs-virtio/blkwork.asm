; The same work on two disks: 64 KiB (sectors 0 to 127) read from the emulated ATA
; drive by PIO, one word per IN, then the same 64 KiB read from the virtio-blk disk
; with one request on a split virtqueue. Both disks hold the same bytes; the guest
; checks that both buffers agree. Interrupts stay off: both drivers poll.

%define SECTORS   128
%define ATA_BUF   0x100000         ; what the ATA drive gave
%define VIO_BUF   0x120000         ; what virtio-blk gave
%define QSIZE     128
%define RING      0x30000          ; descriptor table; the queue's PFN is RING >> 12
%define AVAIL     (RING + 16 * QSIZE)
%define USED      (RING + 0x1000)
%define REQ       0x40000          ; request header: type, reserved, sector (u64)
%define STAT      0x40010          ; status byte
%define T_IN      0
%define DESC_NEXT  1
%define DESC_WRITE 2

    bits 32
    org 0x10000
start:
    mov esp, 0x9F000
    cld
    mov esi, msg_hello
    call puts
    ; virtio-blk: find it on PCI bus 0, turn on its I/O space, take BAR 0.
    mov eax, 0x10011AF4
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
found:
    ; 64 KiB through the ATA drive: one READ SECTORS for 128 sectors.
    xor eax, eax
    mov ecx, SECTORS
    mov edi, ATA_BUF
    call ata_read
ata_done:
    ; The same 64 KiB through virtio-blk: one request of three descriptors.
    mov eax, T_IN
    xor edx, edx
    mov edi, VIO_BUF
    mov ecx, SECTORS * 512
    call virtio_blk_request
    jc fail
virtio_done:
    mov esi, msg_ata
    call puts
    mov esi, msg_virtio
    call puts
    mov esi, ATA_BUF
    mov edi, VIO_BUF
    mov ecx, SECTORS * 512 / 4
    repe cmpsd
    jne fail
    mov esi, msg_same
    call puts
    cli
    hlt

fail:   mov esi, msg_fail
    call puts
    cli
    hlt

; ATA PIO read: EAX = first LBA (28-bit), ECX = sectors (1 to 255), EDI = buffer.
; Each sector: wait for DRQ, then 256 words through the data port.
ata_read:
    mov bl, 0x20                        ; READ SECTORS
    call ata_command
.sector:
    call ata_wait_drq
    jc fail
    push ecx
    mov ecx, 256
    mov dx, 0x1F0
    rep insw
    pop ecx
    loop .sector
    ret

msg_hello:  db "64 KiB from each disk", 10, 0
msg_ata:    db "ATA PIO: 128 sectors read", 10, 0
msg_virtio: db "virtio-blk: 128 sectors read", 10, 0
msg_same:   db "both disks gave the same bytes", 10, 0
msg_fail:   db "disk FAILED", 10, 0
iobase:     dd 0

%include "ata.inc"
%include "virtio_blk.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"
