; Protected-mode walk for vmlab's CPU tests: GDT/IDT/TSS, exceptions with error codes,
; paging faults, IRET to ring 3, INT from ring 3 with a TSS stack switch, a call gate,
; IOPL and the I/O permission bitmap. Loaded flat at 0x1000 in 32-bit ring 0.
; Every exception is logged at LOG (count, then 16-byte entries: vector, error code,
; CR2, CS of the interrupted code); the host test compares the log. LOG+4 receives
; ECX at the fault the REP MOVSB test repairs.
        bits 32
        org 0x1000
%define LOG   0x20000
%define TSS   0x3000
%define IDT   0x4000
%define PD    0x30000
%define PT    0x31000
%define STK0  0x80000
%define STK3  0x70000
%define COM1  0x3f8

start:
        lgdt [gdtr]
        jmp 0x08:reload
reload:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STK0
        mov dword [LOG], 0
        mov dx, COM1 + 3          ; 8N1
        mov al, 3
        out dx, al
        ; IDT: exception stubs as DPL0 interrupt gates, INT 0x80/0x81 as DPL3 trap gates
        xor ecx, ecx
        mov ebx, 0x8e00
.idt:   mov eax, [stub_table + ecx*4]
        call set_gate
        inc ecx
        cmp ecx, 32
        jb .idt
        mov ebx, 0xef00
        mov ecx, 0x80
        mov eax, int80
        call set_gate
        mov ecx, 0x81
        mov eax, exit81
        call set_gate
        lidt [idtr]
        ; TSS: ring-0 stack and an I/O bitmap that allows only COM1 (0x3F8..0x3FF)
        mov dword [TSS + 4], STK0
        mov dword [TSS + 8], 0x10
        mov word [TSS + 0x66], 0x68
        mov edi, TSS + 0x68
        mov ecx, 129
        mov al, 0xff
        rep stosb
        mov byte [TSS + 0x68 + 0x3f8 / 8], 0
        mov ax, 0x28
        ltr ax
        ; call gate 0x38 (DPL3) to gate_fn in ring 0
        mov eax, gate_fn
        mov edx, eax
        and eax, 0xffff
        or eax, 0x00080000
        mov [gdt + 0x38], eax
        and edx, 0xffff0000
        or edx, 0xec00
        mov [gdt + 0x3c], edx

        ; --- ring 0 exceptions ---
        mov dword [resume], t1
        xor ecx, ecx
        div ecx                   ; #DE
t1:     mov dword [resume], t2
        ud2                       ; #UD
t2:     mov dword [resume], t3
        mov ax, 0x1234
        mov ds, ax                ; #GP(0x1234): TI=1 and no LDT
t3:     mov dword [resume], t4
        mov ax, 0x30
        mov es, ax                ; #NP(0x30)
t4:     ; paging: identity map 4 MiB; 0x7000 absent, 0x8000 read-only, 0x9000 supervisor
        mov edi, PT
        mov eax, 7
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov dword [PT + 7*4], 0x7006
        mov dword [PT + 8*4], 0x8005
        mov dword [PT + 9*4], 0x9003
        mov dword [PT + 0x60*4], 0x60006
        mov dword [PD], PT + 7
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000        ; PG | WP
        mov cr0, eax
        mov dword [resume], t5
        mov eax, [0x7000]         ; #PF(0) CR2=0x7000
t5:     mov dword [resume], t6
        mov dword [0x8000], 1     ; #PF(3): write to read-only with CR0.WP
t6:     ; REP MOVSB that faults half-way: the handler maps the page, the copy resumes
        mov edi, 0x40000
        mov ecx, 0x1000
        xor eax, eax
.fill:  stosb
        inc al
        loop .fill
        mov esi, 0x40000
        mov edi, 0x5f800
        mov ecx, 0x1000
        cld
        mov dword [fixup], PT + 0x60*4
        mov dword [resume], t6rep
t6rep:  rep movsb                 ; #PF(2) CR2=0x60000 with ECX=0x800 left
        mov byte [0x6fff], 0xb8   ; MOV EAX, imm32 whose immediate lies in the absent page
        mov dword [resume], t7
        jmp 0x6fff                ; #PF(0) CR2=0x7000
t7:     mov word [0x6ffe], 0x0b0f ; UD2, complete before the page end
        mov dword [resume], t8
        jmp 0x6ffe                ; #UD, not #PF
t8:
        ; --- to ring 3 (ES keeps a DPL0 selector, which IRET must null) ---
        mov ax, 0x10
        mov es, ax
        push dword 0x23
        push dword STK3
        pushfd
        push dword 0x1b
        push dword ring3
        mov ax, 0x23
        mov ds, ax
        iret

ring3:  int 0x80                  ; logged with CS = 0x1B
        mov dword [resume], r1
        mov eax, [es:0x2000]      ; #GP(0): ES was nulled
r1:     mov dword [resume], r2
        cli                       ; #GP(0): CPL > IOPL
r2:     mov dword [resume], r3
        mov eax, [0x9000]         ; #PF(5)
r3:     mov dword [resume], r4
        mov dword [0x8000], 1     ; #PF(7)
r4:     mov dword [resume], r5
        out 0x80, al              ; #GP(0): the bitmap denies port 0x80
r5:     mov dx, COM1
        mov al, 'r'
        out dx, al                ; allowed by the bitmap
        call 0x38:0               ; through the call gate to ring 0 and back
        mov dword [resume], r6
        mov eax, cr0              ; #GP(0)
r6:     mov dword [resume], r7
        hlt                       ; #GP(0)
r7:     int 0x81                  ; done

gate_fn:                          ; ring 0 via the call gate: log (0xC0, caller CS, SS, CS)
        push eax
        push ebx
        mov ebx, [LOG]
        shl ebx, 4
        add ebx, LOG + 16
        mov dword [ebx], 0xc0
        mov eax, [esp + 12]       ; caller CS
        mov [ebx + 4], eax
        mov eax, ss
        mov [ebx + 8], eax
        mov eax, cs
        mov [ebx + 12], eax
        inc dword [LOG]
        pop ebx
        pop eax
        retf

set_gate:                         ; ecx = vector, eax = handler, ebx = type/DPL word
        push eax
        push edx
        mov edx, eax
        and eax, 0xffff
        or eax, 0x00080000
        mov [IDT + ecx*8], eax
        and edx, 0xffff0000
        or edx, ebx
        mov [IDT + ecx*8 + 4], edx
        pop edx
        pop eax
        ret

%macro STUB 1
stub%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17
%else
        push dword 0
%endif
        push dword %1
        jmp isr_common
%endmacro
%assign i 0
%rep 32
        STUB i
%assign i i+1
%endrep

int80:  push dword 0
        push dword 0x80
        jmp isr_common

isr_common: push eax
        push ebx
        push ds
        mov ax, 0x10
        mov ds, ax
        mov ebx, [LOG]
        shl ebx, 4
        add ebx, LOG + 16
        mov eax, [esp + 12]
        mov [ebx], eax
        mov eax, [esp + 16]
        mov [ebx + 4], eax
        mov eax, cr2
        mov [ebx + 8], eax
        mov eax, [esp + 24]
        mov [ebx + 12], eax
        inc dword [LOG]
        mov eax, [fixup]          ; a test asked for a page to be made present
        test eax, eax
        jz .nofix
        or dword [eax], 1
        mov dword [fixup], 0
        mov [LOG + 4], ecx        ; ECX when the fault hit
.nofix: cmp dword [esp + 12], 32
        jae .back
        mov eax, [resume]
        mov [esp + 20], eax
.back:  pop ds
        pop ebx
        pop eax
        add esp, 8
        iret

exit81: mov ax, 0x10
        mov ds, ax
        mov dx, COM1
        mov al, 'O'
        out dx, al
        mov al, 'K'
        out dx, al
        mov al, 10
        out dx, al
        cli
        hlt

stub_table:
%assign i 0
%rep 32
        dd stub %+ i
%assign i i+1
%endrep

resume: dd 0
fixup:  dd 0
        align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff     ; 0x08 ring-0 code
        dq 0x00cf92000000ffff     ; 0x10 ring-0 data
        dq 0x00cffa000000ffff     ; 0x18 ring-3 code
        dq 0x00cff2000000ffff     ; 0x20 ring-3 data
        dq 0x00008900300000e8     ; 0x28 TSS at 0x3000, limit 0xE8
        dq 0x00cf12000000ffff     ; 0x30 data, not present
        dq 0                      ; 0x38 call gate (built at run time)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*8 - 1
        dd IDT
