; Regression guest for instruction corner cases found by running independent CPU test
; programs. Loaded flat at 0x1000 in 32-bit ring 0 (FlatEntry::Protected32). Each case
; writes its number to the POST port 0x80 before it runs; a failing case halts with
; EAX = 0xBAD, all passing ends with POST 0xFF and EAX = 0x600D.
	bits 32
	org 0x1000

%macro CASE 1
	mov al, %1
	out 0x80, al
%endmacro

start:
	lgdt [gdtr]
	jmp 0x08:.reload
.reload:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, 0x30000

; 1: POP SS from a 32-bit stack into a 16-bit stack segment increments ESP with the old
;    stack size (all 32 bits) and keeps the upper half.
	CASE 1
	mov esp, 0x1fffc
	mov dword [0x1fffc], 0x18
	pop ss
	cmp esp, 0x20000
	jne fail
	mov ax, 0x10
	mov ss, ax
	mov esp, 0x30000

; 2: ARPL on a memory selector whose RPL needs no change does not write, so it does
;    not fault in a read-only segment; ZF=0.
	CASE 2
	mov word [0x2000], 0x0013
	mov ax, 0x20
	mov ds, ax
	mov bx, 2
	arpl [0x2000], bx
	jz fail
	mov ax, 0x10
	mov ds, ax
	cmp word [0x2000], 0x0013
	jne fail

; 3: hardware task switches: CALL to a TSS (NT and back link set, IRET returns), JMP to
;    a TSS and back (busy bits moved, no link), INT through a task gate.
	CASE 3
	mov dword [0x5100+0x20], task_b        ; EIP
	mov dword [0x5100+0x24], 2             ; EFLAGS
	mov dword [0x5100+0x38], 0x28000       ; ESP
	mov dword [0x5100+0x48], 0x10          ; ES
	mov dword [0x5100+0x4c], 0x08          ; CS
	mov dword [0x5100+0x50], 0x10          ; SS
	mov dword [0x5100+0x54], 0x10          ; DS
	mov dword [0x5100+0x60], 0             ; LDT
	mov dword [0x6000], 0
	mov ax, 0x28
	ltr ax
	mov esi, 0x1234
	call 0x30:0
	cmp esi, 0x1234
	jne fail
	cmp dword [0x6000], 1
	jne fail
	cmp byte [gdt+0x35], 0x89              ; task B available again after its IRET
	jne fail
	cmp byte [gdt+0x2d], 0x8b              ; task A busy
	jne fail
	str ax
	cmp ax, 0x28
	jne fail
	mov eax, cr0
	test al, 8                             ; CR0.TS set by the switch
	jz fail
	clts
	pushfd
	pop eax
	test eax, 0x4000
	jnz fail
	jmp 0x30:0
	cmp dword [0x6000], 2
	jne fail
	cmp word [0x5100], 0x28                ; link left from the CALL, not rewritten by JMP
	jne fail
	cmp byte [gdt+0x35], 0x89
	jne fail
	lidt [idtr]
	int 0x40
	cmp dword [0x6000], 3
	jne fail
	cmp esi, 0x1234
	jne fail
	clts

; 4: an exception with an error code through a task gate: the handler task finds the
;    error code on its stack and returns with IRET; the faulting task resumes.
	CASE 4
	mov dword [0x5200+0x20], task_c
	mov dword [0x5200+0x24], 2
	mov dword [0x5200+0x38], 0x27000
	mov dword [0x5200+0x48], 0x10
	mov dword [0x5200+0x4c], 0x08
	mov dword [0x5200+0x50], 0x10
	mov dword [0x5200+0x54], 0x10
	mov dword [idt+13*8], 0x00380000
	mov dword [idt+13*8+4], 0x8500
	mov esi, 0x4321
	mov ax, 0x1f8
.fault:
	mov es, ax
	jmp fail
.resume:
	cmp esi, 0x4321
	jne fail
	cmp dword [0x6004], .fault
	jne fail
	clts

; 5: CALL to an 80286 (16-bit) TSS: 16-bit fields, upper register halves FFFFh, FS/GS
;    null; IRET returns to the 32-bit task.
	CASE 5
	mov word [0x5300+0x0e], task_d         ; IP
	mov word [0x5300+0x10], 2              ; FLAGS
	mov word [0x5300+0x12], 0x1111         ; AX
	mov word [0x5300+0x1a], 0x6000         ; SP
	mov word [0x5300+0x22], 0x10           ; ES
	mov word [0x5300+0x24], 0x08           ; CS
	mov word [0x5300+0x26], 0x10           ; SS
	mov word [0x5300+0x28], 0x10           ; DS
	mov word [0x5300+0x2a], 0              ; LDT
	mov esi, 0x5555
	call 0x40:0
	cmp esi, 0x5555
	jne fail
	cmp dword [0x6008], 0xffff1111
	jne fail
	cmp word [0x5300], 0x28
	jne fail
	cmp byte [gdt+0x45], 0x81
	jne fail
	clts

; 6: virtual-8086 mode: IRETD with VM from ring 0, real-mode addressing inside, INT n at
;    IOPL 3, faults for INT n to a non-ring-0 handler and for HLT, and CLI at IOPL 0,
;    each leaving for ring 0 with the data segments pushed.
	CASE 6
	mov dword [0x5004], 0x27800            ; ESP0 of task A
	mov dword [0x5008], 0x10               ; SS0
	mov eax, v86_int
	mov [idt+0x41*8], ax
	mov word [idt+0x41*8+2], 0x08
	mov word [idt+0x41*8+4], 0xee00
	shr eax, 16
	mov [idt+0x41*8+6], ax
	mov dword [0x6020], 0
	mov word [idt+0x42*8], 0
	mov word [idt+0x42*8+2], 0x58
	mov word [idt+0x42*8+4], 0xee00
	mov word [idt+0x42*8+6], 0
	mov eax, v86_int3
	mov [idt+3*8], ax
	mov word [idt+3*8+2], 0x08
	mov word [idt+3*8+4], 0xee00
	shr eax, 16
	mov [idt+3*8+6], ax
	mov eax, v86_gp
	mov [idt+13*8], ax
	mov word [idt+13*8+2], 0x08
	mov word [idt+13*8+4], 0x8e00
	shr eax, 16
	mov [idt+13*8+6], ax
	mov ebp, esp
	push dword 0x0900                      ; GS
	push dword 0x0900                      ; FS
	push dword 0x0800                      ; DS
	push dword 0x0900                      ; ES
	push dword 0x0700                      ; SS
	push dword 0x0100                      ; ESP
	push dword 0x23002                     ; EFLAGS: VM, IOPL 3
	push dword 0                           ; CS
	push dword v86_code                    ; EIP
	iretd
v86_back:
	mov esp, ebp
	cmp word [0x8010], 0xbeef
	jne fail

; 7: a task with its own LDT: LDTR and an LDT data segment come from the new TSS, and
;    the old task's LDTR is back after the return.
	CASE 7
	mov dword [0x5400], 0x8000ffff         ; LDT entry 0: data base 0x8000, limit 0xffff
	mov dword [0x5404], 0x00009200
	mov dword [0x5500+0x20], task_e
	mov dword [0x5500+0x24], 2
	mov dword [0x5500+0x38], 0x26000
	mov dword [0x5500+0x48], 0x10
	mov dword [0x5500+0x4c], 0x08
	mov dword [0x5500+0x50], 0x10
	mov dword [0x5500+0x54], 0x04          ; DS from the LDT
	mov dword [0x5500+0x60], 0x48
	mov byte [0x8000], 0
	call 0x50:0
	cmp byte [0x8000], 0x77
	jne fail
	sldt ax
	test ax, ax
	jnz fail
	mov ax, ds
	cmp ax, 0x10
	jne fail
	clts

	CASE 0xff
	mov eax, 0x600d
	hlt
fail:
	mov eax, 0xbad
	hlt

task_c:
	cmp dword [esp], 0x1f8
	jne fail
	add esp, 4
	mov eax, [0x5000+0x20]
	mov [0x6004], eax
	mov dword [0x5000+0x20], start.resume
	iretd
	jmp task_c

task_d:
	mov [0x6008], eax
	mov ax, fs
	test ax, ax
	jnz fail
	mov ax, gs
	test ax, ax
	jnz fail
	cmp byte [gdt+0x45], 0x83
	jne fail
	iretd
	jmp task_d

	bits 16
v86_code:
	mov ax, ds
	cmp ax, 0x800
	jne v86_fail
	mov word [0x10], 0xbeef
v86_i42:
	int 0x42                               ; gate to ring-3 code: #GP(0x58)
v86_hlt:
	hlt                                    ; privileged whatever IOPL: #GP(0)
v86_b:
	int 0x41
v86_after_int:
	; the handler returned with IOPL 0: INT3 still goes to its handler, CLI faults
	int3
	cli
v86_fail:
	jmp v86_fail
	bits 32
v86_int:
	cmp dword [esp], v86_after_int
	jne fail
	cmp dword [esp+4], 0
	jne fail
	test dword [esp+8], 0x20000
	jz fail
	cmp dword [esp+12], 0x100
	jne fail
	cmp dword [esp+16], 0x700
	jne fail
	cmp dword [esp+24], 0x800
	jne fail
	cmp esp, 0x27800-36
	jne fail
	mov ax, ds
	test ax, ax
	jnz fail
	and dword [esp+8], ~0x3000
	iretd
v86_int3:
	cmp dword [esp], v86_fail - 1
	jne fail
	test dword [esp+8], 0x3000
	jnz fail
	iretd
v86_gp:
	; expected faults in order: (error code, EIP, resume EIP or 0 to leave V86)
	mov ebx, [ss:0x6020]
	imul ebx, ebx, 12
	add ebx, v86_faults
	mov eax, [ss:ebx]
	cmp [esp], eax
	jne fail
	mov eax, [ss:ebx+4]
	cmp [esp+4], eax
	jne fail
	inc dword [ss:0x6020]
	mov eax, [ss:ebx+8]
	test eax, eax
	jz .leave
	mov [esp+4], eax
	add esp, 4
	iretd
.leave:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	jmp v86_back
v86_faults:
	dd 0x58, v86_i42, v86_hlt
	dd 0, v86_hlt, v86_b
	dd 0, v86_fail - 1, 0

task_e:
	mov byte [0], 0x77
	sldt ax
	cmp ax, 0x48
	jne fail
	iretd
	jmp task_e

task_b:
	inc dword [0x6000]
	pushfd
	pop eax
	test eax, 0x4000
	jz .via_jmp
	cmp word [0x5100], 0x28
	jne fail
	cmp byte [gdt+0x35], 0x8b
	jne fail
	iretd
	jmp task_b
.via_jmp:
	cmp byte [gdt+0x2d], 0x89
	jne fail
	jmp 0x28:0
	jmp task_b

	align 8
gdt:
	dq 0
	dq 0x00cf9a000000ffff ; 0x08 code32 flat
	dq 0x00cf92000000ffff ; 0x10 data32 flat
	dq 0x000f92000000ffff ; 0x18 data16 (B=0), 1 MiB
	dq 0x00cf90000000ffff ; 0x20 read-only data
	dq 0x0000890050000067 ; 0x28 TSS A at 0x5000
	dq 0x0000890051000067 ; 0x30 TSS B at 0x5100
	dq 0x0000890052000067 ; 0x38 TSS C at 0x5200
	dq 0x000081005300002b ; 0x40 80286 TSS D at 0x5300
	dq 0x0000820054000007 ; 0x48 LDT at 0x5400, one entry
	dq 0x0000890055000067 ; 0x50 TSS E at 0x5500
	dq 0x00cffa000000ffff ; 0x58 code32 DPL3
gdt_end:
gdtr:
	dw gdt_end - gdt - 1
	dd gdt
	align 8
idt:
	times 0x40 dq 0
	dw 0, 0x30, 0x8500, 0   ; 0x40 task gate to TSS B
	dq 0                    ; 0x41
	dq 0                    ; 0x42
idt_end:
idtr:
	dw idt_end - idt - 1
	dd idt
