; Tagged TLB: touch four pages, then leave the guest with a VM exit (OUT), eight
; times over; then the same again. Only the VMM's TLB setting differs between the
; two phases: tagged entries (VPID/ASID) outlive the exits, untagged ones do not.
bits 32
org 0x10000

PD     equ 0x80000          ; page directory
PT1    equ 0x81000          ; linear 4 MiB..8 MiB
DATA   equ 0x400000         ; the four pages the guest touches
ROUNDS equ 8

start:
    mov esp, 0x90000
    mov dword [PD], 0x083           ; the first 4 MiB as one large page (PS | W | P)
    mov dword [PD + 4], PT1 + 3
    mov dword [PT1], 0x100003       ; DATA          -> frame 0x100000
    mov dword [PT1 + 4], 0x101003   ; DATA + 0x1000 -> frame 0x101000
    mov dword [PT1 + 8], 0x102003   ; DATA + 0x2000 -> frame 0x102000
    mov dword [PT1 + 12], 0x103003  ; DATA + 0x3000 -> frame 0x103000
    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10            ; CR4.PSE: large pages
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000      ; CR0.PG
    mov cr0, eax
paging_on:
    mov ecx, ROUNDS
phase_a:
    call touch
    out 0x80, al            ; I/O exit to the VMM and entry back
    loop phase_a
a_exited:                   ; just after the last exit of the first phase
    mov ecx, ROUNDS
phase_b:
    call touch
    out 0x80, al
    loop phase_b
b_exited:                   ; just after the last exit of the second phase
    cli
done:
    hlt
    jmp done

touch:                      ; one read in each of the four pages
    mov eax, [DATA]
    add eax, [DATA + 0x1000]
    add eax, [DATA + 0x2000]
    add eax, [DATA + 0x3000]
    ret
