; reference solution: smp-bringup (vmlab lab 12)
;
; Brings up the application processors; each prints through a spinlock.
;
; Loaded at 0x8000 and started in flat 32-bit protected mode on CPU 0 (the
; bootstrap processor). The other CPUs wait for INIT and a start-up IPI; the MP
; table (its floating pointer in the last KiB of base memory) says how many there
; are. Each CPU prints "cpu N up" (N its local APIC ID) through the console
; spinlock; CPU 0 waits for them all and prints "cpus up: N".

LAPIC_ID    equ 0xfee00020
LAPIC_SVR   equ 0xfee000f0
LAPIC_ICRLO equ 0xfee00300
LAPIC_ICRHI equ 0xfee00310
STACKS_TOP  equ 0x80000     ; CPU n's stack ends at STACKS_TOP - n * 4 KiB
TRAMPOLINE  equ 0x9000      ; where the APs start: SIPI vector 0x09
COM1        equ 0x3f8
WAIT_LIMIT  equ 200000      ; CPU 0 gives up waiting after this many checks

[bits 32]
org 0x8000

start:
    lgdt [gdt_desc]
    call find_cpus
    mov [ncpu], eax
    call start_aps
    xor ebx, ebx                ; CPU 0 is APIC ID 0
    call say_up
    mov ecx, WAIT_LIMIT
.wait:                          ; every CPU up (or give up)
    pause
    mov eax, [up]
    cmp eax, [ncpu]
    jae .all
    loop .wait
.all:
    call lock_acquire
    mov esi, msg_all
    call puts
    mov eax, [up]
    call print_dec
    mov esi, msg_nl
    call puts
    call lock_release
    jmp park

; ap_main: an AP in flat protected mode on its own stack, EBX = its APIC ID
ap_main:
    call say_up
park:
    cli
    hlt
    jmp park

; ---------------------------------------------------------------------------
; Your part 1: start the APs (they are waiting for INIT and SIPI).
; start_aps: EAX = the number of CPUs. With more than one: software-enable this
; local APIC (spurious-vector register), send INIT to all but self, wait, then a
; start-up IPI (vector TRAMPOLINE >> 12) to all but self, twice with a wait.
start_aps:
    cmp eax, 1
    jbe .one
    mov dword [LAPIC_SVR], 0x1ff
    mov dword [LAPIC_ICRHI], 0
    mov dword [LAPIC_ICRLO], 0x000c4500 ; INIT, assert, all but self
    call delay
    mov dword [LAPIC_ICRLO], 0x000c4600 | (TRAMPOLINE >> 12) ; SIPI
    call delay
    mov dword [LAPIC_ICRLO], 0x000c4600 | (TRAMPOLINE >> 12) ; SIPI again
.one:
    ret

; Your part 2: a spinlock that holds whatever the interleaving.
; lock_acquire / lock_release: the console lock (clobber EAX only)
lock_acquire:
    mov eax, 1
    xchg eax, [console_lock]    ; atomic test-and-set
    test eax, eax
    jz .got
.spin:
    pause
    cmp dword [console_lock], 0
    jne .spin
    jmp lock_acquire
.got:
    ret

lock_release:
    mov dword [console_lock], 0
    ret

; Your part 3: count this CPU as up, atomically.
; say_up: prints "cpu N up" (N in EBX) through the lock and counts the CPU
say_up:
    call lock_acquire
    mov esi, msg_cpu
    call puts
    mov eax, ebx
    call print_dec
    mov esi, msg_up
    call puts
    call lock_release
    lock inc dword [up]
    ret
; ---------------------------------------------------------------------------

; find_cpus: EAX = the enabled processor entries of the MP table; 1 without one
find_cpus:
    mov esi, 0x9fc00
.scan:
    cmp dword [esi], 0x5f504d5f ; "_MP_"
    je .found
    add esi, 16
    cmp esi, 0xa0000
    jb .scan
    mov eax, 1
    ret
.found:
    mov edi, [esi + 4]          ; the configuration table
    movzx ecx, word [edi + 34]  ; its entry count
    add edi, 44
    xor eax, eax
.entry:
    test ecx, ecx
    jz .done
    dec ecx
    cmp byte [edi], 0           ; a processor entry (20 bytes)
    jne .short
    test byte [edi + 3], 1
    jz .skip
    inc eax
.skip:
    add edi, 20
    jmp .entry
.short:
    add edi, 8
    jmp .entry
.done:
    ret

delay:
    mov ecx, 200
.spin:
    pause
    loop .spin
    ret

; puts: the NUL-terminated string at ESI to COM1 (clobbers AL, DX, ESI)
puts:
    mov dx, COM1
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

; print_dec: EAX in decimal to COM1 (clobbers EAX, ECX, EDX)
print_dec:
    mov ecx, 10
    push 0xff                   ; end mark
.div:
    xor edx, edx
    div ecx
    push edx
    test eax, eax
    jnz .div
    mov dx, COM1
.out:
    pop eax
    cmp eax, 0xff
    je .end
    add al, '0'
    out dx, al
    jmp .out
.end:
    ret

msg_cpu: db "cpu ", 0
msg_up:  db " up", 10, 0
msg_all: db "cpus up: ", 0
msg_nl:  db 10, 0

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: flat code
    dq 0x00cf92000000ffff       ; 0x10: flat data
gdt_desc:
    dw gdt_desc - gdt - 1
    dd gdt

align 4
console_lock: dd 0
ncpu:         dd 1
up:           dd 0

; The APs start here in real mode at CS:IP = 0x0900:0, switch to flat protected
; mode and go to ap_main on their own stacks with EBX = their APIC ID.
times TRAMPOLINE - 0x8000 - ($ - $$) db 0
[bits 16]
trampoline:
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:.flat
[bits 32]
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ebx, [LAPIC_ID]
    shr ebx, 24
    mov eax, ebx
    shl eax, 12
    mov esp, STACKS_TOP
    sub esp, eax
    jmp ap_main
