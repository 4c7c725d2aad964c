; vmlab virtio-net guest: loaded with FlatEntry::Protected32 at 0x10000. It finds the
; legacy virtio network device (vendor 1AF4h, device 1000h) on PCI bus 0, reads its MAC
; address from the device configuration, sets up the receive queue (queue 0, eight
; 2 KiB buffers posted) and the transmit queue (queue 1), then as 10.0.0.2 sends an ARP
; request for 10.0.0.1, waits for the reply on the receive queue, and sends an ICMP
; echo request to the MAC address it learnt and waits for the echo reply. Every frame
; carries the 10-byte virtio_net_hdr (all zero) in front. It reports on COM1 and
; leaves through the debug-exit port: 0 when both replies came, 1 otherwise.
; -D PINGS=n -D PAYLOAD=s send n echo requests of s data bytes; -D NIC_IRQ sleeps in
; HLT until the device's interrupt instead of polling (arp_ping.inc, nic.inc).
;
; Build (in guests/net/): nasm -f bin -I ../include/ -o virtio_net.bin virtio_net.asm

        bits 32
        org 0x10000
%define NIC_INIT vnet_init
%include "arp_ping.inc"
%include "virtio_net.inc"

msg_hello: db "virtio-net guest", 10, 0
msg_ok:    db "virtio-net OK", 10, 0
msg_fail:  db "virtio-net FAILED", 10, 0
