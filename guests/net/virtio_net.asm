; vmlab virtio-net guest: loaded with FlatEntry::Protected32 at 0x10000. It finds the
; legacy virtio network device (vendor 1AF4h, device 1000h) on PCI bus 0, reads its MAC
; address from the device configuration, sets up the receive queue (queue 0, eight
; 2 KiB buffers posted) and the transmit queue (queue 1), then as 10.0.0.2 sends an ARP
; request for 10.0.0.1, waits for the reply on the receive queue, and sends an ICMP
; echo request to the MAC address it learnt and waits for the echo reply. Every frame
; carries the 10-byte virtio_net_hdr (all zero) in front. It reports on COM1 and
; leaves through the debug-exit port: 0 when both replies came, 1 otherwise.
;
; Build (in guests/net/): nasm -f bin -I ../include/ -o virtio_net.bin virtio_net.asm

        bits 32
        org 0x10000
start:
        cld
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts
        call vnet_init
        ; Our MAC address into the frames' source and sender fields.
        mov eax, [mymac]
        mov dx, [mymac + 4]
        mov [arp_request + 6], eax
        mov [arp_request + 10], dx
        mov [arp_request + 22], eax
        mov [arp_request + 26], dx
        mov [ping + 6], eax
        mov [ping + 10], dx

        ; ARP: who has 10.0.0.1? tell 10.0.0.2.
        mov esi, arp_request
        mov ecx, arp_request_len
        call send
        call receive                        ; ESI = the frame
        cmp word [esi + 12], 0x0608         ; ARP
        jne fail
        cmp word [esi + 20], 0x0200         ; reply
        jne fail
        cmp dword [esi + 28], 0x0100000A    ; from 10.0.0.1
        jne fail
        mov eax, [esi + 22]                 ; its MAC
        mov [peermac], eax
        mov ax, [esi + 26]
        mov [peermac + 4], ax
        mov esi, msg_arp
        call puts
        xor ecx, ecx
.pm:    mov al, [peermac + ecx]
        call puthex_byte
        inc ecx
        cmp ecx, 6
        jb .pm
        mov al, 10
        call putc

        ; ICMP echo request to 10.0.0.1: checksums over the IPv4 header and ICMP.
        mov eax, [peermac]
        mov [ping], eax
        mov ax, [peermac + 4]
        mov [ping + 4], ax
        mov esi, ping + 14
        mov ecx, 20
        call csum
        mov [ping + 24], ax
        mov esi, ping + 34
        mov ecx, ping_len - 34
        call csum
        mov [ping + 36], ax
        mov esi, ping
        mov ecx, ping_len
        call send
        call receive
        cmp word [esi + 12], 0x0008         ; IPv4
        jne fail
        cmp byte [esi + 23], 1              ; ICMP
        jne fail
        cmp dword [esi + 26], 0x0100000A    ; from 10.0.0.1
        jne fail
        cmp byte [esi + 34], 0              ; echo reply
        jne fail
        cmp dword [esi + 38], 0x01003412    ; our identifier and sequence number
        jne fail
        mov esi, msg_pong
        call puts
        mov esi, msg_ok
        xor eax, eax
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave


%include "virtio_net.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"

msg_hello: db "virtio-net guest", 10, 0
msg_arp:   db "ARP reply: 10.0.0.1 is at ", 0
msg_pong:  db "ping reply from 10.0.0.1", 10, 0
msg_ok:    db "virtio-net OK", 10, 0
msg_fail:  db "virtio-net FAILED", 10, 0

peermac: times 6 db 0

arp_request:
        times 6 db 0xFF                     ; broadcast
        times 6 db 0                        ; source: the MAC the device reports
        db 0x08, 0x06                       ; ARP
        db 0, 1, 0x08, 0, 6, 4, 0, 1        ; Ethernet, IPv4, request
        times 6 db 0                        ; sender MAC
        db 10, 0, 0, 2                      ; sender IP
        times 6 db 0                        ; target MAC
        db 10, 0, 0, 1                      ; target IP
arp_request_len equ $ - arp_request

ping:   times 6 db 0                        ; destination: learnt by ARP
        times 6 db 0                        ; source
        db 0x08, 0x00                       ; IPv4
        db 0x45, 0, 0, 36, 0, 1, 0, 0, 64, 1, 0, 0 ; 36 bytes, ICMP, checksum later
        db 10, 0, 0, 2, 10, 0, 0, 1
        db 8, 0, 0, 0, 0x12, 0x34, 0, 1     ; echo request, checksum later, id, seq 1
        db "vmlab!", 13, 10
ping_len equ $ - ping
