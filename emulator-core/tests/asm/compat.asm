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

	CASE 0xff
	mov eax, 0x600d
	hlt
fail:
	mov eax, 0xbad
	hlt

	align 8
gdt:
	dq 0
	dq 0x00cf9a000000ffff ; 0x08 code32 flat
	dq 0x00cf92000000ffff ; 0x10 data32 flat
	dq 0x000f92000000ffff ; 0x18 data16 (B=0), 1 MiB
	dq 0x00cf90000000ffff ; 0x20 read-only data
gdt_end:
gdtr:
	dw gdt_end - gdt - 1
	dd gdt
