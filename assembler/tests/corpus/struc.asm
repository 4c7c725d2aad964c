; struc/endstruc: field offsets, NAME_size, alignb inside a structure.
        bits 32
struc mbinfo
  .flags:     resd 1
  .mem_lower: resd 1
  .mem_upper: resd 1
  .pad:       resb 3
              alignb 4
  .cmdline:   resd 1
endstruc
struc point
  .x: resw 1
  .y: resw 1
endstruc
start:  mov eax, [ebx + mbinfo.mem_upper]
        mov esi, [ebx + mbinfo.cmdline]
        mov ecx, mbinfo_size
        sub esp, point_size
        mov word [esp + point.y], 5
.l:     jmp .l
        dd mbinfo, point, point.x
