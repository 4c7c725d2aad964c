; Shadow versus nested paging: a phase of CR3 switches, then a phase of TLB
; misses without any, so each way of virtualizing memory shows where it pays.
bits 32
org 0x10000

PD_A     equ 0x80000        ; two address spaces with the same mappings
PD_B     equ 0x81000
PT_LOW   equ 0x82000        ; 0-4 MiB identity: code, stack, tables
PT_HIGH  equ 0x83000        ; the first page of each high 4 MiB region -> DATA
DATA     equ 0x200000
SWITCHES equ 100            ; round trips A -> B -> A: 200 CR3 writes
ROUNDS   equ 250            ; rounds of 4 conflicting pages: 1000 TLB misses

start:
    mov esp, 0x90000
    mov edi, PT_LOW
    call map_identity
    mov dword [PT_HIGH], DATA + 3
    ; PDEs 0-4 of both directories: 0x400000, 0x800000, 0xc00000 and 0x1000000
    ; share one table, so their pages fall in the same slot of the TLB
    mov dword [PD_A], PT_LOW + 3
    mov dword [PD_B], PT_LOW + 3
    mov ebx, 1
high_pdes:
    mov dword [PD_A + ebx * 4], PT_HIGH + 3
    mov dword [PD_B + ebx * 4], PT_HIGH + 3
    inc ebx
    cmp ebx, 5
    jne high_pdes
    mov eax, PD_A
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
measure:
    mov ecx, SWITCHES
    mov esi, PD_A
    mov edi, PD_B
switch_loop:                ; a context switch each way, one page touched in each space
    mov cr3, edi
    mov eax, [0x400000]
    mov cr3, esi
    mov eax, [0x400000]
    dec ecx
    jnz switch_loop
cr3_done:
    mov ecx, ROUNDS
miss_loop:                  ; four pages in one TLB slot: every access misses
    mov eax, [0x400000]
    mov eax, [0x800000]
    mov eax, [0xc00000]
    mov eax, [0x1000000]
    dec ecx
    jnz miss_loop
tlb_done:
    mov esi, message
    call puts
done:
    cli
    hlt
    jmp done                ; a halted CPU stays halted

%include "pc.inc"

message: db "200 CR3 switches, 1000 reads in one TLB slot", 10, 0
