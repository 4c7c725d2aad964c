; vmlab network peer guest: loaded with FlatEntry::Protected32 at 0x10000, with a
; legacy virtio-net device (or with -D NE2000 an NE2000). As 10.0.0.ME it pings 10.0.0.PEER COUNT times and, all the
; while, answers ARP requests for its own address and ICMP echo requests to it, so two
; copies on one network ping each other. One loop does everything: it takes a received
; frame if there is one, else it sends what is due. Time is counted in loop turns:
; an unanswered ARP request or ping is given up after RETRY turns, and after the last
; ping the guest goes on answering for LINGER turns. It prints each reply on COM1,
; then "N sent, M answered", and leaves through the debug-exit port: 0 when every
; ping was answered, 1 otherwise.
; -D PEER_NET=n puts the peer outside 10.0.0.0/24: n is its first three octets as they
; sit in a frame (0x7100CB for 203.0.113.PEER); -D GW=g sends the pings through the
; router 10.0.0.g, whose MAC the guest learns by ARP instead of the peer's.
;
; Build (in guests/net/): nasm -f bin -I ../include/ -D ME=2 -D PEER=1 -o peer.bin peer.asm

%ifndef ME
%define ME 2
%endif
%ifndef PEER
%define PEER 1
%endif
%ifndef COUNT
%define COUNT 4
%endif
%define RETRY     4000
%define LINGER    8000
%ifndef PEER_NET
%define PEER_NET 0x0A
%endif
%define MYIP      (0x0A | (ME << 24))        ; 10.0.0.ME as it sits in a frame
%define PEERIP    (PEER_NET | (PEER << 24))
%ifdef GW
%define HOPIP     (0x0A | (GW << 24))        ; the router's address: ARP asks for it
%else
%define HOPIP     PEERIP
%endif
%define ICMP_ID   0x3412                     ; identifier 0x1234, as stored

        bits 32
        org 0x10000
start:
        cld
        mov esp, 0x9F000
%ifdef NE2000
        call ne_init
%else
        call vnet_init
%endif
        mov esi, msg_hello
        call puts
        mov eax, ME
        call putdec
        mov esi, msg_pinging
        call puts
        mov ebx, PEERIP
        mov ecx, 4
.ip:    movzx eax, bl                       ; the peer's address, octet by octet
        call putdec
        shr ebx, 8
        mov al, '.'
        dec ecx
        jz .ipd
        call putc
        jmp .ip
.ipd:   mov al, 10
        call putc
        mov dword [last_send], -RETRY       ; the first ARP request goes at once

main:   inc dword [clock]
        call rx_poll
        jc .idle
        call handle
        jmp main
.idle:  mov eax, [clock]
        sub eax, [last_send]
        cmp byte [peer_known], 0
        jne .pings
        cmp eax, RETRY                      ; no ARP reply yet: ask (again)
        jb .wait
        cmp dword [arp_tries], COUNT        ; nobody answers: give up
        jae done
        call send_arp
        jmp main
.pings: cmp byte [outstanding], 0
        je .next
        cmp eax, RETRY                      ; a ping without its reply is lost
        jb .wait
        mov byte [outstanding], 0
.next:  cmp dword [sent], COUNT
        jae .linger
        call send_ping
        jmp main
.linger:
        cmp eax, LINGER
        jae done
.wait:  pause
        jmp main

done:   mov eax, [sent]
        call putdec
        mov esi, msg_sent
        call puts
        mov eax, [answered]
        call putdec
        mov esi, msg_answered
        call puts
        xor eax, eax
        cmp dword [answered], COUNT
        je .out
        mov al, 1
.out:   mov esi, msg_none
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave

; The frame at ESI, ECX bytes: answers an ARP request or echo request for our address,
; learns the peer's MAC from its ARP reply, counts an echo reply to our pings.
handle: cmp ecx, 42
        jb .done
        cmp word [esi + 12], 0x0608         ; ARP
        je .arp
        cmp word [esi + 12], 0x0008         ; IPv4
        jne .done
        cmp byte [esi + 23], 1              ; ICMP
        jne .done
        cmp dword [esi + 30], MYIP          ; to us
        jne .done
        cmp byte [esi + 34], 8
        je echo_reply
        cmp byte [esi + 34], 0              ; an echo reply
        jne .done
        cmp dword [esi + 26], PEERIP
        jne .done
        cmp word [esi + 38], ICMP_ID
        jne .done
        mov byte [outstanding], 0
        inc dword [answered]
        push esi
        mov esi, msg_reply
        call puts
        pop esi
        movzx eax, byte [esi + 41]          ; the sequence number's low byte
        call putdec
        mov al, 10
        call putc
.done:  ret
.arp:   cmp dword [esi + 38], MYIP          ; target IP
        jne .done
        cmp word [esi + 20], 0x0100         ; a request: answer it
        je arp_reply
        cmp word [esi + 20], 0x0200         ; a reply from the peer: learn its MAC
        jne .done
        cmp dword [esi + 28], HOPIP
        jne .done
        mov eax, [esi + 22]
        mov [peermac], eax
        mov ax, [esi + 26]
        mov [peermac + 4], ax
        mov byte [peer_known], 1
        ret

; Answers the ARP request at ESI: to its sender, from us.
arp_reply:
        mov edi, frame
        mov eax, [esi + 22]                 ; the asker's MAC: destination and target
        mov [edi], eax
        mov [edi + 32], eax
        mov ax, [esi + 26]
        mov [edi + 4], ax
        mov [edi + 36], ax
        mov eax, [esi + 28]
        mov [edi + 38], eax                 ; target IP
        call our_addresses
        mov dword [edi + 12], 0x01000608    ; ARP, Ethernet
        mov dword [edi + 16], 0x04060008    ; IPv4, lengths 6 and 4
        mov word [edi + 20], 0x0200         ; reply
        mov esi, frame
        mov ecx, 42
        jmp send

; Answers the echo request at ESI, ECX bytes: the same frame back, addresses swapped,
; type 0, the ICMP checksum made again.
echo_reply:
        cmp ecx, 1514
        ja handle.done
        push ecx
        mov edi, frame
        rep movsb
        pop ecx
        mov eax, [frame + 6]                ; the sender's MAC becomes the destination
        mov [frame], eax
        mov ax, [frame + 10]
        mov [frame + 4], ax
        mov eax, [frame + 26]
        mov [frame + 30], eax
        mov dword [frame + 26], MYIP
        mov edi, frame
        call our_mac
        mov byte [frame + 34], 0            ; echo reply
        mov word [frame + 36], 0
        movzx eax, word [frame + 16]        ; IPv4 total length, big-endian
        xchg al, ah
        sub eax, 20
        jbe handle.done
        lea edx, [eax + 34]
        cmp edx, ecx                        ; the ICMP message must be in the frame
        ja handle.done
        push ecx
        mov ecx, eax
        test ecx, 1
        jz .even
        mov byte [frame + 34 + ecx], 0      ; the checksum pads an odd length with 0
        inc ecx
.even:  mov esi, frame + 34
        call csum
        mov [frame + 36], ax
        pop ecx
        mov esi, frame
        jmp send

; Who has HOPIP (the peer, or the router on its way)? tell MYIP.
send_arp:
        mov eax, [clock]
        mov [last_send], eax
        inc dword [arp_tries]
        mov edi, frame
        mov dword [edi], 0xFFFFFFFF
        mov word [edi + 4], 0xFFFF
        mov dword [edi + 32], 0
        mov word [edi + 36], 0
        mov dword [edi + 38], HOPIP
        call our_addresses
        mov dword [edi + 12], 0x01000608
        mov dword [edi + 16], 0x04060008
        mov word [edi + 20], 0x0100         ; request
        mov esi, frame
        mov ecx, 42
        jmp send

; The next echo request to the peer.
send_ping:
        mov eax, [clock]
        mov [last_send], eax
        inc dword [sent]
        mov byte [outstanding], 1
        mov esi, ping_template
        mov edi, frame
        mov ecx, ping_len
        rep movsb
        mov eax, [peermac]
        mov [frame], eax
        mov ax, [peermac + 4]
        mov [frame + 4], ax
        mov edi, frame
        call our_mac
        mov eax, [sent]
        mov [frame + 41], al                ; sequence number, big-endian low byte
        mov esi, frame + 14
        mov ecx, 20
        call csum
        mov [frame + 24], ax
        mov esi, frame + 34
        mov ecx, ping_len - 34
        call csum
        mov [frame + 36], ax
        mov esi, frame
        mov ecx, ping_len
        jmp send

; Our MAC as the source of the frame at EDI, and as the ARP sender with our IP.
our_addresses:
        mov eax, [mymac]
        mov [edi + 22], eax
        mov ax, [mymac + 4]
        mov [edi + 26], ax
        mov dword [edi + 28], MYIP
our_mac:
        mov eax, [mymac]
        mov [edi + 6], eax
        mov ax, [mymac + 4]
        mov [edi + 10], ax
        ret



%ifdef NE2000
%include "ne2000.inc"
%else
%include "virtio_net.inc"
%endif
%include "pci.inc"
%include "console.inc"
%include "pc.inc"

msg_hello:    db "10.0.0.", 0
msg_pinging:  db " pings ", 0
msg_reply:    db "echo reply, sequence ", 0
msg_sent:     db " sent, ", 0
msg_answered: db " answered", 10, 0
msg_fail:     db "NIC FAILED", 10, 0
msg_none:     db 0

ping_template:
        times 12 db 0                       ; destination and source, filled in
        db 0x08, 0x00                       ; IPv4
        db 0x45, 0, 0, 36, 0, 1, 0, 0, 64, 1, 0, 0 ; 36 bytes, ICMP, checksum later
        dd MYIP, PEERIP
        db 8, 0, 0, 0, 0x12, 0x34, 0, 0     ; echo request, checksum, id, sequence
        db "vmlab!", 13, 10
ping_len equ $ - ping_template

align 4
clock:       dd 0
last_send:   dd 0
sent:        dd 0
arp_tries:   dd 0
answered:    dd 0
peermac:     times 6 db 0
peer_known:  db 0
outstanding: db 0
align 4
frame:       times 1520 db 0
