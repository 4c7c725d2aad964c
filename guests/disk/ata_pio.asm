; vmlab ATA PIO guest: loaded with FlatEntry::Protected32 at 0x10000. It walks PCI
; bus 0 with configuration mechanism #1 (ports 0xCF8/0xCFC), finds the IDE
; controller (class 01h, subclass 01h), sizes its BAR 4, moves it and finds the
; bus-master registers following it, sends IDENTIFY DEVICE, reads sector 0 with
; READ SECTORS, writes sector 1 with WRITE SECTORS (each byte of sector 0 plus one),
; reads it back, then reads 1 MiB (8 commands of 256 sectors) so the exits per MiB
; moved by PIO can be counted. Everything polls the status register; interrupts
; stay off. It reports on COM1 and leaves through the debug-exit port: 0 when all
; went well, 1 otherwise.
;
; Build: nasm -f bin -o ata_pio.bin ata_pio.asm

%define COM1      0x3F8
%define ATA       0x1F0
%define ATA_CTL   0x3F6
%define WRITE_LBA 1
%define SEC0      0x20000          ; sector 0 as read
%define SEC1      0x20200          ; what goes to sector WRITE_LBA
%define BACK      0x20400          ; sector WRITE_LBA read back
%define IDENT     0x20600          ; IDENTIFY data
%define BULK      0x20800          ; the 1 MiB read goes through this sector buffer

        bits 32
        org 0x10000
start:
        cld
        lgdt [gdt_desc]
        jmp 0x08:.cs_loaded
.cs_loaded:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x9F000
        mov esi, msg_hello
        call puts

        ; PCI bus 0: every device and function, 00:00.0 to 00:1f.7.
        xor ebx, ebx
.scan:  mov eax, ebx
        call pci_read                       ; vendor and device ID
        cmp ax, 0xFFFF
        je .next
        mov [pci_id], eax
        mov esi, msg_pci
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
        mov al, ' '
        call putc
        mov eax, [pci_id]
        mov ecx, 4
        call puthex                         ; vendor
        mov al, ':'
        call putc
        mov eax, [pci_id]
        shr eax, 16
        mov ecx, 4
        call puthex                         ; device ID
        mov esi, msg_class
        call puts
        lea eax, [ebx + 8]
        call pci_read                       ; class code, revision
        shr eax, 16
        push eax
        mov ecx, 4
        call puthex
        mov al, 10
        call putc
        pop eax
        cmp ax, 0x0101                      ; mass storage, IDE
        jne .next
        lea eax, [ebx + 0x80000000]
        mov [ide], eax
.next:  add ebx, 0x100
        cmp ebx, 0x10000
        jb .scan
        cmp dword [ide], 0
        je fail
        mov esi, msg_ide
        call puts
        mov eax, [ide]
        and eax, 0xFFFF
        add eax, 0x3C
        call pci_read                       ; interrupt line and pin
        and eax, 0xFF
        mov ecx, 2
        call puthex
        mov al, 10
        call putc

        ; Size BAR 4 (the bus-master block): write all ones, read the mask back,
        ; put the address back.
        mov ebx, [ide]
        and ebx, 0xFFFF
        add ebx, 0x20
        mov eax, ebx
        call pci_read
        mov edi, eax                        ; the address it had
        mov eax, 0xFFFFFFFF
        call pci_write
        mov eax, ebx
        call pci_read
        and eax, 0xFFFC                     ; I/O BAR: bits 15:2 of the address
        neg eax
        and eax, 0xFFFF                     ; the size
        push eax
        mov eax, edi
        call pci_write
        mov esi, msg_bar
        call puts
        mov eax, edi
        and eax, 0xFFFC
        mov ecx, 4
        call puthex
        mov esi, msg_bar_size
        call puts
        pop eax
        mov ecx, 2
        call puthex
        mov al, 10
        call putc

        ; Enable the function's I/O space: BAR 4's registers answer at its address,
        ; and follow it when it moves.
        sub ebx, 0x1C                       ; the command register
        mov eax, ebx
        call pci_read
        or eax, 1
        and eax, 0xFFFF
        call pci_write
        add ebx, 0x1C                       ; BAR 4 again
        mov edx, edi
        and edx, 0xFFFC
        add edx, 4                          ; the primary channel's PRD address
        mov eax, 0x00123454
        out dx, eax
        in eax, dx
        cmp eax, 0x00123454
        jne fail
        mov eax, 0xD001                     ; move BAR 4 to 0xD000
        call pci_write
        in eax, dx                          ; the old place no longer answers
        cmp eax, 0xFFFFFFFF
        jne fail
        push edx
        mov dx, 0xD004
        in eax, dx
        pop edx
        cmp eax, 0x00123454
        jne fail
        mov eax, edi                        ; and back
        call pci_write
        mov esi, msg_bar_moved
        call puts

        ; IDENTIFY DEVICE on the primary master.
        mov dx, ATA_CTL
        mov al, 0x02                        ; nIEN: no interrupts, we poll
        out dx, al
        mov dx, ATA + 6
        mov al, 0xA0
        out dx, al
        mov dx, ATA + 7
        mov al, 0xEC
        out dx, al
        mov edi, IDENT
        call data_in
        mov esi, msg_sectors
        call puts
        mov eax, [IDENT + 120]              ; words 60-61: LBA28 sectors
        mov [sectors], eax
        mov ecx, 8
        call puthex
        mov al, 10
        call putc

        ; READ SECTORS: sector 0.
        xor eax, eax
        mov edi, SEC0
        call read_sector
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

        ; WRITE SECTORS: sector WRITE_LBA = sector 0 with every byte plus one.
        xor ecx, ecx
.mk:    mov al, [SEC0 + ecx]
        inc al
        mov [SEC1 + ecx], al
        inc ecx
        cmp ecx, 512
        jb .mk
        mov eax, WRITE_LBA
        mov ecx, 1
        call set_task
        mov dx, ATA + 7
        mov al, 0x30
        out dx, al
        call wait_drq
        mov esi, SEC1
        mov ecx, 256
        mov dx, ATA
        rep outsw
        call wait_ready
        mov dx, ATA + 7
        mov al, 0xE7                        ; FLUSH CACHE
        out dx, al
        call wait_ready

        ; Read it back.
        mov eax, WRITE_LBA
        mov edi, BACK
        call read_sector
        mov esi, SEC1
        mov edi, BACK
        mov ecx, 128
        repe cmpsd
        jne fail
        mov esi, msg_written
        call puts

        ; 1 MiB by PIO: 8 READ SECTORS of 256 sectors (count register 0).
        cmp dword [sectors], 2048
        jb fail
        xor ebx, ebx                        ; commands done
.mib:   mov eax, ebx
        shl eax, 8
        xor ecx, ecx                        ; 0 = 256 sectors
        call set_task
        mov dx, ATA + 7
        mov al, 0x20
        out dx, al
        mov ebp, 256
.sec:   mov edi, BULK
        call data_in
        dec ebp
        jnz .sec
        inc ebx
        cmp ebx, 8
        jb .mib
        mov esi, msg_mib
        call puts
        mov esi, msg_ok
        xor eax, eax
        jmp leave

fail:   mov esi, msg_fail
        mov eax, 1
        jmp leave

; READ SECTORS of one sector: EAX = LBA, EDI = where the 512 bytes go.
read_sector:
        push ecx
        mov ecx, 1
        call set_task
        mov dx, ATA + 7
        mov al, 0x20
        out dx, al
        pop ecx
        ; falls through

; Waits for DRQ, then moves one sector from the data port to EDI by REP INSW.
data_in:
        push ecx
        call wait_drq
        mov ecx, 256
        mov dx, ATA
        rep insw
        pop ecx
        ret

; EAX = LBA (28 bits), CL = sector count: fill the task file for LBA mode.
set_task:
        push eax
        push edx
        mov dx, ATA + 2
        xchg eax, ecx
        out dx, al                          ; count
        xchg eax, ecx
        inc dx
        out dx, al                          ; LBA 7:0
        shr eax, 8
        inc dx
        out dx, al                          ; LBA 15:8
        shr eax, 8
        inc dx
        out dx, al                          ; LBA 23:16
        shr eax, 8
        and al, 0x0F
        or al, 0xE0                         ; LBA mode, master
        inc dx
        out dx, al
        pop edx
        pop eax
        ret

; Waits for DRQ with BSY clear; fails on ERR or after too many polls.
wait_drq:
        push ecx
        push edx
        mov ecx, 100000
        mov dx, ATA + 7
.poll:  in al, dx
        test al, 0x80
        jnz .again
        test al, 0x01
        jnz fail
        test al, 0x08
        jnz .ok
.again: loop .poll
        jmp fail
.ok:    pop edx
        pop ecx
        ret

; Waits for BSY and DRQ clear; fails on ERR or after too many polls.
wait_ready:
        push ecx
        push edx
        mov ecx, 100000
        mov dx, ATA + 7
.poll:  in al, dx
        test al, 0x01
        jnz fail
        test al, 0x88
        jz .ok
        loop .poll
        jmp fail
.ok:    pop edx
        pop ecx
        ret

%include "pci.inc"

putc:   push edx
        push eax
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

puts:   push eax
.next:  mov al, [esi]
        test al, al
        jz .end
        call putc
        inc esi
        jmp .next
.end:   pop eax
        ret

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF               ; 0x08 ring-0 code, flat
        dq 0x00CF92000000FFFF               ; 0x10 ring-0 data, flat
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt
ide:            dd 0
pci_id:         dd 0
sectors:        dd 0
msg_hello:      db "ata: scanning PCI bus 0", 10, 0
msg_pci:        db "pci 00:", 0
msg_class:      db " class ", 0
msg_ide:        db "ata: IDE controller found, IRQ ", 0
msg_bar:        db "ata: BAR4 I/O at 0x", 0
msg_bar_size:   db ", size 0x", 0
msg_bar_moved:  db "ata: bus-master registers answer at BAR4, moved to 0xd000 and back", 10, 0
msg_sectors:    db "ata: IDENTIFY: sectors 0x", 0
msg_sector0:    db "ata: sector 0: ", 0
msg_written:    db "ata: sector 1 written and read back", 10, 0
msg_mib:        db "ata: read 1 MiB by PIO", 10, 0
msg_ok:         db "ata: OK", 10, 0
msg_fail:       db "ata: FAILED", 10, 0
