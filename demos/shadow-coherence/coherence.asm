; Shadow coherence: two address spaces that map 0x400000 to different frames,
; context switches between them, and a page-table edit the shadow must follow.
bits 32
org 0x10000

PD_A    equ 0x80000         ; process A's page directory
PD_B    equ 0x81000         ; process B's page directory
PT_LOW  equ 0x82000         ; 0-4 MiB identity, shared: the kernel
PT_A    equ 0x83000         ; A's table for 0x400000-0x7fffff
PT_B    equ 0x84000         ; B's table for 0x400000-0x7fffff
FRAME_A equ 0x200000        ; where A's 0x400000 lives
FRAME_B equ 0x201000        ; where B's 0x400000 lives
FRAME_N equ 0x202000        ; the frame A's page moves to
PAGE    equ 0x400000        ; the page both processes use

start:
    mov esp, 0x90000
    mov edi, PT_LOW
    call map_identity
    mov dword [PT_A], FRAME_A + 3
    mov dword [PT_B], FRAME_B + 3
    mov dword [PD_A], PT_LOW + 3
    mov dword [PD_A + 4], PT_A + 3
    mov dword [PD_B], PT_LOW + 3
    mov dword [PD_B + 4], PT_B + 3
    mov dword [FRAME_A], 'A'
    mov dword [FRAME_B], 'B'
    mov dword [FRAME_N], 'N'
    mov eax, PD_A           ; process A first
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
paging_on:
    mov ebx, [PAGE]         ; process A reads its page: 'A'
a_ran:
    mov eax, PD_B
    mov cr3, eax            ; context switch to B
in_b:
    mov ecx, [PAGE]         ; process B reads the same address: 'B'
b_ran:
    mov eax, PD_A
    mov cr3, eax            ; and back to A
a_again:
    mov edx, [PAGE]         ; 'A' again, through a rebuilt shadow
a_reread:
    mov dword [PT_A], FRAME_N + 3   ; the kernel moves A's page: a plain store
pte_written:
    mov esi, [PAGE]         ; no INVLPG yet: still 'A'
stale_read:
    invlpg [PAGE]           ; the kernel tells the MMU
after_invlpg:
    mov edi, [PAGE]         ; now 'N'
fresh_read:
    mov [seen], bl
    mov [seen + 1], cl
    mov [seen + 2], dl
    mov eax, esi
    mov [seen + 3], al
    mov eax, edi
    mov [seen + 4], al
    mov esi, report
    call puts
done:
    cli
    hlt
    jmp done                ; a halted CPU stays halted

%include "pc.inc"

report: db "reads of 0x400000: "
seen:   db "?????", 10, 0     ; A, B, A again, A before INVLPG, after it
