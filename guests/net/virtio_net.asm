; vmlab virtio-net guest: loaded with FlatEntry::Protected32 at 0x10000. It finds the
; legacy virtio network device (vendor 1AF4h, device 1000h) on PCI bus 0, reads its MAC
; address from the device configuration, sets up the receive queue (queue 0, eight
; 2 KiB buffers posted) and the transmit queue (queue 1), then as 10.0.0.2 sends an ARP
; request for 10.0.0.1, waits for the reply on the receive queue, and sends an ICMP
; echo request to the MAC address it learnt and waits for the echo reply. Every frame
; carries the 10-byte virtio_net_hdr (all zero) in front. It reports on COM1 and
; leaves through the debug-exit port: 0 when both replies came, 1 otherwise.
;
; Build (in guests/net/): nasm -f bin -I ../include/ -I ../disk/ -o virtio_net.bin virtio_net.asm

%define QSIZE     64
%define RXRING    0x30000          ; queue 0: descriptors, avail ring, used ring at +0x1000
%define TXRING    0x32000          ; queue 1
%define RXBUF     0x40000          ; eight receive buffers of 2 KiB
%define TXBUF     0x44000          ; the frame being sent, after its 10-byte header
%define HDR       10
%define NRX       8
%define DESC_WRITE 2

        bits 32
        org 0x10000
start:
        cld
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts
        mov eax, 0x10001AF4
        call pci_find
        jc fail
        lea eax, [ebx + 0x10]
        call pci_read                       ; BAR 0: the legacy register block
        test eax, 1
        jz fail
        and eax, 0xFFFC
        mov [iobase], eax
        call pci_enable_io

        ; Reset, ACKNOWLEDGE, DRIVER; accept only the MAC feature (bit 5).
        mov edx, [iobase]
        add edx, 0x12
        xor eax, eax
        out dx, al
        mov al, 3
        out dx, al
        mov edx, [iobase]
        in eax, dx
        and eax, 1 << 5
        jz fail
        add edx, 4
        out dx, eax
        ; The MAC address: configuration bytes 0-5 (BAR 0 + 0x14).
        mov esi, msg_mac
        call puts
        xor ecx, ecx
.mac:   mov edx, [iobase]
        add edx, 0x14
        add edx, ecx
        in al, dx
        mov [mymac + ecx], al
        call puthex_byte
        inc ecx
        cmp ecx, 6
        jb .mac
        mov al, 10
        call putc
        ; Our MAC address into the frames' source and sender fields.
        mov eax, [mymac]
        mov dx, [mymac + 4]
        mov [arp_request + 6], eax
        mov [arp_request + 10], dx
        mov [arp_request + 22], eax
        mov [arp_request + 26], dx
        mov [ping + 6], eax
        mov [ping + 10], dx

        ; Queue 0 (receive) and queue 1 (transmit).
        mov edi, RXRING
        mov ecx, 0x4000 / 4
        xor eax, eax
        rep stosd
        xor eax, eax
        mov ebx, RXRING
        call setup_queue
        mov eax, 1
        mov ebx, TXRING
        call setup_queue
        ; Post the receive buffers: descriptor i = RXBUF + 2 KiB i, device-writable.
        xor ecx, ecx
.post:  mov eax, ecx
        shl eax, 11
        add eax, RXBUF
        mov edi, ecx
        shl edi, 4
        mov [RXRING + edi], eax
        mov dword [RXRING + edi + 8], 2048
        mov word [RXRING + edi + 12], DESC_WRITE
        mov [RXRING + 16 * QSIZE + 4 + ecx * 2], cx
        inc ecx
        cmp ecx, NRX
        jb .post
        mov word [RXRING + 16 * QSIZE + 2], NRX
        ; DRIVER_OK, then tell the device the receive buffers are there.
        mov edx, [iobase]
        add edx, 0x12
        mov al, 7
        out dx, al
        xor eax, eax
        call notify

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

; EAX = queue, EBX = its ring area: checks the size and gives the device the PFN.
setup_queue:
        mov edx, [iobase]
        add edx, 0x0E
        out dx, ax
        mov edx, [iobase]
        add edx, 0x0C
        in ax, dx
        cmp ax, QSIZE
        jne fail
        mov edx, [iobase]
        add edx, 0x08
        mov eax, ebx
        shr eax, 12
        out dx, eax
        ret

; AX = queue to notify.
notify: push edx
        mov edx, [iobase]
        add edx, 0x10
        out dx, ax
        pop edx
        ret

; Sends the frame at ESI, ECX bytes: header and frame into TXBUF, descriptor 0 of the
; transmit queue, onto its available ring, notify; waits for the device to use it.
send:   push edi
        push ecx
        mov edi, TXBUF
        xor eax, eax
        stosd
        stosd
        stosw                               ; the 10-byte header, all zero
        rep movsb
        pop ecx
        add ecx, HDR
        mov dword [TXRING], TXBUF
        mov dword [TXRING + 4], 0
        mov [TXRING + 8], ecx
        mov dword [TXRING + 12], 0
        movzx eax, word [TXRING + 16 * QSIZE + 2]
        mov edi, eax
        and edi, QSIZE - 1
        mov word [TXRING + 16 * QSIZE + 4 + edi * 2], 0
        inc eax
        mov [TXRING + 16 * QSIZE + 2], ax
        push eax
        mov eax, 1
        call notify
        pop eax
        cmp [TXRING + 0x1000 + 2], ax
        jne fail
        pop edi
        ret

; Waits for the next used receive buffer: ESI = its frame (after the header). The
; buffer goes back on the available ring.
receive:
        mov ecx, 2000000
.wait:  movzx eax, word [RXRING + 0x1000 + 2]
        cmp ax, [rx_seen]
        jne .got
        pause
        loop .wait
        jmp fail
.got:   movzx eax, word [rx_seen]
        and eax, QSIZE - 1
        mov eax, [RXRING + 0x1000 + 4 + eax * 8] ; the used element's id
        inc word [rx_seen]
        movzx edx, word [RXRING + 16 * QSIZE + 2]
        and edx, QSIZE - 1
        mov [RXRING + 16 * QSIZE + 4 + edx * 2], ax
        inc word [RXRING + 16 * QSIZE + 2]
        shl eax, 11
        lea esi, [RXBUF + eax + HDR]
        ret

; The Internet checksum of ECX bytes (even) at ESI, in AX as it is stored.
csum:   push ebx
        xor ebx, ebx
.word:  movzx eax, word [esi]
        xchg al, ah
        add ebx, eax
        add esi, 2
        sub ecx, 2
        jnz .word
        mov eax, ebx
        shr eax, 16
        and ebx, 0xFFFF
        add ebx, eax
        mov eax, ebx
        shr eax, 16
        add eax, ebx
        not eax
        xchg al, ah
        pop ebx
        ret

; Prints AL as two hex digits.
puthex_byte:
        push ecx
        and eax, 0xFF
        mov ecx, 2
        call puthex
        pop ecx
        ret

; Writes AL to COM1.
putc:   push edx
        mov dx, COM1
        out dx, al
        pop edx
        ret

%include "pci.inc"
%include "pc.inc"

msg_hello: db "virtio-net guest", 10, 0
msg_mac:   db "MAC ", 0
msg_arp:   db "ARP reply: 10.0.0.1 is at ", 0
msg_pong:  db "ping reply from 10.0.0.1", 10, 0
msg_ok:    db "virtio-net OK", 10, 0
msg_fail:  db "virtio-net FAILED", 10, 0

align 4
iobase:  dd 0
rx_seen: dw 0
peermac: times 6 db 0
mymac:   times 6 db 0

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
