; vmlab NE2000 guest: loaded with FlatEntry::Protected32 at 0x10000. It finds the
; RTL8029 (vendor 10ECh, device 8029h) on PCI bus 0, resets it, reads its MAC address
; from the PROM and starts it, then as 10.0.0.2 sends an ARP request for 10.0.0.1,
; waits for the reply in the receive ring, and sends an ICMP echo request to the MAC
; address it learnt and waits for the echo reply. Every byte of every frame goes
; through the card's data port. It reports on COM1 and leaves through the debug-exit
; port: 0 when both replies came, 1 otherwise. -D PINGS=n -D PAYLOAD=s send n echo
; requests of s data bytes; -D NIC_IRQ sleeps in HLT until the card's interrupt
; instead of polling (arp_ping.inc, nic.inc).
;
; Build (in guests/net/): nasm -f bin -I ../include/ -o ne2000.bin ne2000.asm

        bits 32
        org 0x10000
%define NIC_INIT ne_init
%include "arp_ping.inc"
%include "ne2000.inc"

msg_hello: db "NE2000 guest", 10, 0
msg_ok:    db "NE2000 OK", 10, 0
msg_fail:  db "NE2000 FAILED", 10, 0
