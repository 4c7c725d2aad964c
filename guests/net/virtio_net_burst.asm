; vmlab virtio-net burst guest: loaded with FlatEntry::Protected32 at 0x10000. It brings
; the virtio NIC up (virtio_net.inc) and puts 16 broadcast frames (EtherType 88B5h, the
; local experimental type; frame k carries 46 bytes of k) on the transmit queue back to
; back, 16 slots in flight, each followed by the driver's notify decision
; (vnet_tx_notify: skipped while a busy device says VIRTQ_USED_F_NO_NOTIFY or its
; avail_event was not passed). It waits for the device to use them all and leaves
; through the debug-exit port: 0 when done, 1 on a failure.
; -D VNET_FEATURES=0x20000020 negotiates VIRTIO_F_RING_EVENT_IDX; -D KICK_ALWAYS
; notifies after every frame.
;
; Build (in guests/net/): nasm -f bin -I ../include/ -o burst.bin virtio_net_burst.asm

%define TXSLOTS 16
%define FRAMES  16
%define FRAME   0x50000             ; the frame being built (TXBUF's 16 slots end at 0x4C000)

        bits 32
        org 0x10000
start:
        cld
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts
        call vnet_init
        mov dword [FRAME], 0xFFFFFFFF       ; broadcast
        mov word [FRAME + 4], 0xFFFF
        mov eax, [mymac]
        mov [FRAME + 6], eax
        mov ax, [mymac + 4]
        mov [FRAME + 10], ax
        mov word [FRAME + 12], 0xB588       ; EtherType 88B5h
        xor ebx, ebx
.frame: mov edi, FRAME + 14
        mov ecx, 46
        mov al, bl
        rep stosb
        mov esi, FRAME
        mov ecx, 60
        call vnet_post
        inc ebx
        cmp ebx, FRAMES
        jb .frame
        call vnet_tx_wait
        mov esi, msg_ok
        xor eax, eax
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave

msg_hello: db "virtio-net burst guest", 10, 0
msg_ok:    db "virtio-net burst OK", 10, 0
msg_fail:  db "virtio-net FAILED", 10, 0

%include "virtio_net.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"
