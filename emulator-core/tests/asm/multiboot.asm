; A minimal Multiboot (v1) kernel using the a.out kludge: checks the loader's magic in
; EAX and the information structure in EBX, prints the command line on COM1 and exits
; through the debug-exit port (0 = passed, 1 = failed).
        bits 32
        org 0x100000
%define MAGIC 0x1badb002
%define FLAGS 0x00010003
header:
        dd MAGIC
        dd FLAGS
        dd -(MAGIC + FLAGS)
        dd header                 ; header_addr
        dd header                 ; load_addr
        dd end                    ; load_end_addr
        dd bss_end                ; bss_end_addr
        dd start                  ; entry_addr
start:
        mov edi, eax              ; the loader's magic
        mov ebp, ebx              ; the information structure
        mov dx, 0x3fb             ; COM1: 8N1
        mov al, 3
        out dx, al
        cmp edi, 0x2badb002
        jne fail
        test dword [ebp], 4       ; a command line is present
        jz fail
        cmp dword [bss], 0        ; the loader zeroed the BSS
        jne fail
        mov esi, [ebp + 16]
.print: lodsb
        test al, al
        jz .done
        mov dx, 0x3f8
        out dx, al
        jmp .print
.done:  mov dx, 0x3f8
        mov al, 10
        out dx, al
        mov al, 0
        out 0xf4, al
fail:   mov al, 1
        out 0xf4, al
        cli
        hlt
end:
bss:    equ end
bss_end: equ end + 64
