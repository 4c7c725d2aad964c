; balloon.asm: a small guest kernel for vmlab's multi-VM host. It counts timer
; ticks (its clock), fills a page cache of identical and private pages one page
; per loop, rewrites a few pages (its working set), spins, and runs a
; paravirtual balloon driver: it asks the VMM for the balloon's target and gives
; pages back (hypercall 6) or takes them again (hypercall 7) until it holds it.
;
; The host sets: RAM_BYTES, VM_ID, SHARED_PAGES, PRIVATE_PAGES, DIRTY_PAGES,
; WORK (loop iterations per round) and TICK_DIV (PIT divisor, 0: no timer).
; Load it flat at 0x10000 in 32-bit protected mode (`pm32`).

bits 32
org 0x10000

%ifndef RAM_BYTES
%define RAM_BYTES 0x1000000
%endif
%ifndef VM_ID
%define VM_ID 1
%endif
%ifndef SHARED_PAGES
%define SHARED_PAGES 256
%endif
%ifndef PRIVATE_PAGES
%define PRIVATE_PAGES 16
%endif
%ifndef DIRTY_PAGES
%define DIRTY_PAGES 0
%endif
%ifndef WORK
%define WORK 2000
%endif
%ifndef TICK_DIV
%define TICK_DIV 1193
%endif

HC_BALLOON_TARGET equ 5
HC_BALLOON_GIVE   equ 6
HC_BALLOON_TAKE   equ 7
BATCH        equ 64                  ; most balloon pages moved per round
REGION_START equ 0x200000            ; the page cache and the balloon live here
REGION_END   equ RAM_BYTES - 0x100000
SHARED_END   equ REGION_START + SHARED_PAGES * 4096
FILL_END     equ SHARED_END + PRIVATE_PAGES * 4096

start:
    mov esp, 0xf0000
    call pic_init
    mov eax, irq0                   ; the IDT gate of IRQ 0 (vector 0x20)
    mov [idt + 0x20 * 8], ax
    mov [idt + 0x20 * 8 + 2], cs
    mov byte [idt + 0x20 * 8 + 5], 0x8e
    shr eax, 16
    mov [idt + 0x20 * 8 + 6], ax
    lidt [idtr]
    mov dword [fill_top], REGION_START
%if TICK_DIV
    mov al, 0x34                    ; channel 0, low then high byte, mode 2
    out PIT_CMD, al
    mov al, TICK_DIV & 0xff
    out PIT_CH0, al
    mov al, TICK_DIV >> 8
    out PIT_CH0, al
    sti
%endif

main:
    call balloon_step
    call fill_step
    call dirty_step
    mov ecx, WORK
.work:
    inc dword [work]
    dec ecx
    jnz .work
    inc dword [rounds]
    jmp main

; balloon_step: moves the balloon towards the host's target, BATCH pages at most.
; Balloon page i (from 0) is the page at REGION_END - (i + 1) * 4096.
balloon_step:
    mov esi, BATCH
.again:
    mov eax, HC_BALLOON_TARGET
    vmcall
    cmp eax, [balloon]
    je .done
    jb .deflate
    mov edx, [balloon]              ; inflate: the next page down
    inc edx
    shl edx, 12
    neg edx
    add edx, REGION_END
    cmp edx, REGION_START
    jb .done                        ; nothing left to give
    cmp edx, [fill_top]
    jae .give
    mov [fill_top], edx             ; the cache gives up its top pages
.give:
    mov ebx, edx
    mov eax, HC_BALLOON_GIVE
    vmcall
    test eax, eax
    jnz .done
    inc dword [balloon]
    jmp .next
.deflate:
    mov edx, [balloon]              ; deflate: the lowest page of the balloon
    shl edx, 12
    neg edx
    add edx, REGION_END
    mov ebx, edx
    mov eax, HC_BALLOON_TAKE
    vmcall
    test eax, eax
    jnz .done
    dec dword [balloon]
.next:
    dec esi
    jnz .again
.done:
    ret

; fill_step: fills the next page of the cache (below FILL_END and the balloon).
; Shared pages hold the same words in every VM; private pages depend on VM_ID.
fill_step:
    mov edi, [fill_top]
    cmp edi, FILL_END
    jae .done
    mov eax, [balloon]
    shl eax, 12
    neg eax
    add eax, REGION_END
    cmp edi, eax
    jae .done
    mov eax, edi
    shr eax, 12
    cmp edi, SHARED_END
    jb .fill
    xor eax, (VM_ID << 20) | 0x5a000000
.fill:
    imul eax, eax, 0x9e3779b1
    or eax, 1
    mov ecx, 1024
    cld
    rep stosd
    mov [fill_top], edi
.done:
    ret

; dirty_step: rewrites the first word of each of the first DIRTY_PAGES pages of the
; cache with itself: the contents stay the same (and shareable), but each write
; needs the page to be the guest's own.
dirty_step:
%if DIRTY_PAGES
    mov edi, REGION_START
    mov ecx, DIRTY_PAGES
.next:
    mov eax, [edi]
    mov [edi], eax
    add edi, 4096
    dec ecx
    jnz .next
%endif
    ret

irq0:
    push eax
    inc dword [ticks]
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop eax
    iretd

%include "pc.inc"

align 4096                          ; data on its own page: writes to it leave decoded code alone
ticks:    dd 0                      ; timer interrupts seen: the guest's clock
work:     dd 0                      ; work loop iterations
rounds:   dd 0                      ; main loop rounds
balloon:  dd 0                      ; pages in the balloon
fill_top: dd 0                      ; end of the filled cache
idtr:     dw 0x21 * 8 - 1
          dd idt
align 8
idt:      times 0x21 * 8 db 0
