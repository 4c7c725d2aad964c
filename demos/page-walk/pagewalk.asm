; A page walk and the TLB: map linear 0x400000 onto the VGA text screen.
bits 32
org 0x10000

PD   equ 0x80000            ; page directory
PT0  equ 0x81000            ; identity map of the first 4 MiB
PT1  equ 0x82000            ; the table for linear 4 MiB..8 MiB
VGA  equ 0xb8000

start:
    mov esp, 0x90000
    mov edi, PT0
    mov eax, 0x003          ; frame 0, Present | Writable
    mov ecx, 1024
fill:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop fill
    mov dword [PD], PT0 + 3         ; PDE 0 -> PT0
    mov dword [PD + 4], PT1 + 3     ; PDE 1 -> PT1
    mov dword [PT1], VGA + 3        ; PTE 0 of PT1 -> the VGA frame
tables_ready:
    mov eax, PD
    mov cr3, eax            ; CR3 = the page directory
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax            ; CR0.PG = 1: paging is on
paging_on:
    mov word [0x400000], 0x1f48     ; 'H' through the page walk (TLB miss)
hit:
    mov word [0x400002], 0x1f69     ; 'i' (TLB hit: same page)
flush:
    invlpg [0x400000]               ; drop that TLB entry
walk_again:
    mov word [0x400004], 0x1f21     ; '!' walks again (TLB miss)
done:
    cli
    hlt
    jmp done               ; a halted CPU stays halted
