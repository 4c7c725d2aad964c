; reference solution: page-tables (vmlab lab 2)
;
; EBX = a free 64 KiB area for the directory and tables, ECX = user pages (1..8).

        org 0x10000
        bits 32

start:
        mov [n_user], ecx
        cld
        mov edi, ebx                    ; clear the whole area: nothing mapped by accident
        xor eax, eax
        mov ecx, 16384
        rep stosd

        ; table 0 at EBX + 0x1000: identity map of 4 MiB, except page 0
        lea edi, [ebx + 0x1000]
        mov ecx, 1
.ident: mov eax, ecx
        shl eax, 12
        or eax, 3                       ; P | R/W, supervisor
        mov [edi + ecx*4], eax
        inc ecx
        cmp ecx, 1024
        jb .ident
        lea eax, [ebx + 0x1003]
        mov [ebx + 0*4], eax

        ; table at EBX + 0x2000: 0xC0000000..0xC000FFFF -> 0x100000, supervisor R/W
        lea edi, [ebx + 0x2000]
        xor ecx, ecx
.high:  mov eax, ecx
        shl eax, 12
        add eax, 0x100003
        mov [edi + ecx*4], eax
        inc ecx
        cmp ecx, 16
        jb .high
        lea eax, [ebx + 0x2003]
        mov [ebx + 768*4], eax

        ; table at EBX + 0x3000: user pages at 0x40000000 -> 0x200000, then one read-only page
        lea edi, [ebx + 0x3000]
        xor ecx, ecx
.user:  cmp ecx, [n_user]
        jae .ro
        mov eax, ecx
        shl eax, 12
        add eax, 0x200007               ; P | R/W | U/S
        mov [edi + ecx*4], eax
        inc ecx
        jmp .user
.ro:    mov dword [edi + ecx*4], 0x180005   ; P | U/S, read-only
        lea eax, [ebx + 0x3007]
        mov [ebx + 256*4], eax

        mov cr3, ebx
        mov eax, cr0
        or eax, 0x80010000              ; PG | WP
        mov cr0, eax

        mov dword [0xC0000000], 0x600DF00D
        mov eax, [n_user]
        mov [0x40000000], eax
        hlt

n_user: dd 0
