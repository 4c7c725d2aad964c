; Lab 11 starter: a virtio-blk driver that copies sector EBX to sector ECX.
; Finding the device, the two requests' calls, printing and leaving are done; the
; device's initialisation, the capacity and `request` are yours (see the TODOs).
        bits 32
        org 0x10000

%define RING    0x30000         ; queue 0: descriptors, available ring, used ring
%define REQ     0x40000         ; the request header: type, reserved, sector (u64)
%define STAT    0x40010         ; the status byte the device writes
%define BUF     0x41000         ; one sector of data
%define T_IN    0
%define T_OUT   1
%define F_NEXT  1
%define F_WRITE 2

start:  cld
        mov [src], ebx
        mov [dst], ecx
        ; PCI bus 0: the first function with vendor 1AF4h, device 1001h.
        xor ebx, ebx
.scan:  mov eax, ebx
        call pci_read
        cmp eax, 0x10011AF4
        je .found
        add ebx, 0x100
        cmp ebx, 0x10000
        jb .scan
        mov esi, msg_nodev
        jmp fail
.found: lea eax, [ebx + 0x10]
        call pci_read                   ; BAR 0: the legacy register block
        and eax, 0xFFFC
        mov [io], eax
        lea eax, [ebx + 4]
        call pci_read
        or eax, 5                       ; I/O space and bus mastering on
        and eax, 0xFFFF
        lea ebx, [ebx + 4]
        call pci_write

        ; TODO: reset, ACKNOWLEDGE | DRIVER, features, queue 0 (its size into
        ; [qsize], its rings at RING, [avail] and [used]), DRIVER_OK.
        ; TODO: print "virtio-blk: capacity N sectors".

        mov eax, T_IN
        mov ebx, [src]
        mov ecx, F_WRITE                ; the device writes the data buffer
        call request
        jc io_error
        mov eax, T_OUT
        mov ebx, [dst]
        xor ecx, ecx
        call request
        jc io_error
        mov esi, msg_copied
        call puts
        mov eax, [src]
        call putdec
        mov esi, msg_to
        call puts
        mov eax, [dst]
        call putdec
        mov al, 10
        call putc
        xor eax, eax
        jmp leave

io_error:
        mov esi, msg_ioerr
fail:   call puts
        mov eax, 1
leave:  mov dx, 0xF4
        out dx, al
        cli
        hlt

; One request of type EAX on sector EBX; ECX = the data descriptor's extra flags.
; Waits for the device; CF set when the status is not OK.
request:
        ; TODO: the three descriptors, the available ring, the notify, then wait
        ; for the used ring and check the status byte.
        stc
        ret

; The device status register := AL.
set_status:
        mov edx, [io]
        add edx, 0x12
        out dx, al
        ret

; EAX = a configuration address (bus 0) -> EAX = the dword there.
pci_read:
        push edx
        or eax, 0x80000000
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
        pop edx
        ret

; EBX = a configuration address, EAX = the dword to write there.
pci_write:
        push edx
        push eax
        mov eax, ebx
        or eax, 0x80000000
        mov dx, 0xCF8
        out dx, eax
        pop eax
        mov dx, 0xCFC
        out dx, eax
        pop edx
        ret

; Writes the NUL-terminated string at ESI to COM1.
puts:   push eax
.next:  lodsb
        test al, al
        jz .end
        call putc
        jmp .next
.end:   pop eax
        ret

; Writes AL to COM1.
putc:   push edx
        mov dx, 0x3F8
        out dx, al
        pop edx
        ret

; Writes EAX to COM1 in decimal.
putdec: push ebx
        push ecx
        push edx
        mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
.out:   pop eax
        add al, '0'
        call putc
        loop .out
        pop edx
        pop ecx
        pop ebx
        ret

msg_nodev:   db "virtio-blk: no device", 10, 0
msg_cap:     db "virtio-blk: capacity ", 0
msg_sectors: db " sectors", 10, 0
msg_copied:  db "virtio-blk: copied sector ", 0
msg_to:      db " to ", 0
msg_ioerr:   db "virtio-blk: I/O error", 10, 0

align 4
src:       dd 0
dst:       dd 0
io:        dd 0
qsize:     dd 0
avail:     dd 0
used:      dd 0
last_used: dw 0
