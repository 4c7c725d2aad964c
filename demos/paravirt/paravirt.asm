; Paravirtualization: the guest finds the VMM through CPUID, then calls it with
; VMCALL instead of using CLI, STI and OUT, each of which exits on its own.
bits 32
org 0x10000

HC_WRITE equ 1              ; hypercall: console write (EBX = buffer, ECX = length)
HC_OFF   equ 2              ; hypercall: interrupts off, returns the old flag
HC_ON    equ 3              ; hypercall: interrupts restore (EBX = flag)

start:
    mov esp, 0x90000
    mov eax, 0x40000000     ; the hypervisor leaf
    cpuid                   ; EBX, ECX, EDX = "vmlabvmlabvm" under vmlab's VMM
after_cpuid:
    cmp ebx, 'vmla'
    jne native_only
    ; the native way: every CLI, STI and OUT exits on its own
    cli
    mov esi, message
    mov ecx, MESSAGE_LEN
    mov dx, COM1
classic_char:
    lodsb
    out dx, al
    loop classic_char
    sti
classic_done:
    ; the paravirtual way: one hypercall per operation
    mov eax, HC_OFF
    vmcall                  ; interrupts off: EAX = the previous flag
    mov ebx, eax
    push ebx
    mov eax, HC_WRITE
    mov ebx, message
    mov ecx, MESSAGE_LEN
    vmcall                  ; the whole line in one exit
    pop ebx
    mov eax, HC_ON
    vmcall                  ; interrupts back as they were
pv_done:
    mov eax, HC_OFF
    vmcall
    hlt                     ; interrupts off: the guest is done
    jmp pv_done

native_only:                ; no VMM signature: print with OUT and stop
    mov esi, no_vmm
    call puts
halt_here:
    cli
    hlt
    jmp halt_here

%include "pc.inc"

message:     db "sixteen bytes!!", 10
MESSAGE_LEN  equ $ - message
no_vmm:      db "no hypervisor signature", 10, 0
