; vmlab virtio-blk guest on the modern interface: loaded with FlatEntry::Protected32
; at 0x10000. It finds vendor 1AF4h, device 1001h on PCI bus 0, walks the function's
; capability list to the common configuration, notify, ISR and device configuration
; structures in memory BAR 4 (virtio_modern.inc), negotiates VIRTIO_F_VERSION_1, sets
; up queue 0 with 64 of the device's 128 entries and its descriptor table, driver
; area and device area at independent addresses (not the legacy one-area layout), and
; reads sector 0, writes sector 1 (each byte of sector 0 plus one) and reads it back.
; It reports on COM1 and leaves through the debug-exit port: 0 when all went well, 1
; otherwise. -D DESC_HI=1 (a table above 4 GiB) or -D AVAIL=0x80000000 (above RAM)
; make the device stop with NEEDS_RESET.
;
; Build (in guests/disk/): nasm -f bin -I ../include/ -o virtio_modern.bin virtio_modern.asm

%define QSIZE     64
%define DESC      0x30000          ; descriptor table
%ifndef AVAIL
%define AVAIL     0x32000          ; driver area (available ring)
%endif
%define USED      0x35000          ; device area (used ring)
%define REQ       0x40000          ; request header: type, reserved, sector (u64)
%define STAT      0x40010          ; status byte
%define SEC0      0x41000          ; sector 0 as read
%define SEC1      0x41200          ; what goes to sector WRITE_LBA
%define BACK      0x41400          ; sector WRITE_LBA read back
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

        mov eax, 0x10011AF4
        call pci_find
        jc fail
        call virtio_modern_find
        jc fail
        mov esi, msg_common
        call puts
        mov eax, [vm_common]
        mov ecx, 8
        call puthex
        mov esi, msg_notify
        call puts
        mov eax, [vm_notify]
        mov ecx, 8
        call puthex
        mov esi, msg_mult
        call puts
        mov eax, [vm_mult]
        mov ecx, 1
        call puthex
        mov al, 10
        call putc

        mov eax, 1 << 9                     ; of the low features, only FLUSH
        call virtio_modern_setup
        jc fail
        mov esi, msg_v1
        call puts
        mov esi, [vm_devcfg]
        mov eax, [esi]                      ; capacity in sectors, low dword
        mov esi, msg_capacity
        call puts
        mov ecx, 8
        call puthex
        mov al, 10
        call putc

        mov eax, T_IN
        xor edx, edx
        mov edi, SEC0
        mov ecx, 512
        call virtio_modern_request
        jc fail
        mov esi, [vm_isr]
        movzx eax, byte [esi]               ; reading clears it
        push eax
        mov esi, msg_isr
        call puts
        pop eax
        mov ecx, 2
        call puthex
        mov al, 10
        call putc

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
        call virtio_modern_request
        jc fail
        mov eax, T_IN
        mov edx, WRITE_LBA
        mov edi, BACK
        mov ecx, 512
        call virtio_modern_request
        jc fail
        mov esi, SEC1
        mov edi, BACK
        mov ecx, 128
        repe cmpsd
        jne fail
        mov esi, msg_written
        call puts
        mov esi, msg_ok
        xor eax, eax
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave

%include "virtio_modern.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"

msg_hello:    db "virtio-blk modern guest", 10, 0
msg_common:   db "common cfg at 0x", 0
msg_notify:   db " notify at 0x", 0
msg_mult:     db " x", 0
msg_v1:       db "VERSION_1 negotiated, queue 0 of 64 enabled", 10, 0
msg_capacity: db "capacity sectors 0x", 0
msg_isr:      db "ISR 0x", 0
msg_written:  db "sector 1 written and read back", 10, 0
msg_ok:       db "virtio-blk modern OK", 10, 0
msg_fail:     db "virtio-blk modern FAILED", 10, 0
