; Lab 2 — page tables. Build the mappings of the statement, then enable paging.
;
; At entry: EBX = physical address of a free, zero-filled-or-not 64 KiB area
; (4 KiB aligned) for your page directory and page tables; ECX = the number of
; user pages (1..8). End with HLT.

        org 0x10000
        bits 32

start:
        mov [n_user], ecx
        cld
        mov edi, ebx                    ; clear the area (it may hold garbage)
        xor eax, eax
        mov ecx, 16384
        rep stosd

        ; A page table for the first 4 MiB, identity-mapped, supervisor, read/write.
        ; (Page 0 must stay not present: fix that.)
        lea edi, [ebx + 0x1000]
        xor ecx, ecx
.ident: mov eax, ecx
        shl eax, 12
        or eax, 3                       ; P | R/W
        mov [edi + ecx*4], eax
        inc ecx
        cmp ecx, 1024
        jb .ident

        ; Your work: the directory entries, the 0xC0000000 and 0x40000000
        ; regions, CR3, and CR0.PG and CR0.WP. Then the two writes of the statement.

        hlt

n_user: dd 0
