; A qcow2 overlay on the ATA drive: the guest reads sector 9, writes it, and after
; a snapshot writes sector 10, which lives in the same 4 KiB cluster. It reports the
; first byte of each sector it reads on COM1.

%define BUF 0x20000

    bits 32
    org 0x10000
start:
    mov esp, 0x9F000
    cld
    ; Read sector 9: the overlay has no cluster for it yet.
    mov eax, 9
    mov edi, BUF
    mov bl, 0x20                        ; READ SECTORS
    call ata_io
    mov esi, msg_read
    call show
read_done:
    ; Write sector 9: 512 bytes of 0xAB.
    mov edi, BUF
    mov eax, 0xABABABAB
    mov ecx, 128
    rep stosd
    mov eax, 9
    mov esi, BUF
    mov bl, 0x30                        ; WRITE SECTORS
    call ata_io
write_done:
    ; Write sector 10, same cluster: 512 bytes of 0xCD.
    mov edi, BUF
    mov eax, 0xCDCDCDCD
    mov ecx, 128
    rep stosd
    mov eax, 10
    mov esi, BUF
    mov bl, 0x30
    call ata_io
rewrite_done:
    ; Sector 9 again, and sector 8, which no write touched.
    mov eax, 9
    mov edi, BUF
    mov bl, 0x20
    call ata_io
    mov esi, msg_again
    call show
    mov eax, 8
    mov edi, BUF
    mov bl, 0x20
    call ata_io
    mov esi, msg_eight
    call show
    cli
    hlt

; Prints the string at ESI and the first byte of BUF in hex.
show:   call puts
    movzx eax, byte [BUF]
    mov ecx, 2
    call puthex
    mov al, 10
    call putc
    ret

; One sector by PIO: EAX = LBA, BL = command (READ or WRITE SECTORS), EDI = where a
; read goes, ESI = what a write sends.
ata_io:
    mov cl, 1
    call ata_command
    call ata_wait_drq
    jc .fail
    mov ecx, 256
    mov dx, 0x1F0
    cmp bl, 0x30
    je .out
    rep insw
    ret
.out:   rep outsw
    jmp ata_wait_idle
.fail:  mov esi, msg_fail
    call puts
    cli
    hlt

msg_read:  db "sector 9 byte 0: ", 0
msg_again: db "sector 9 again: ", 0
msg_eight: db "sector 8 byte 0: ", 0
msg_fail:  db "disk FAILED", 10, 0

%include "ata.inc"
%include "pci.inc"
%include "console.inc"
%include "pc.inc"
