; istruc/at/iend: structure instances padded to their fields and size.
        bits 32
struc gdtentry
  .limit:  resw 1
  .base_lo: resw 1
  .base_mid: resb 1
  .access: resb 1
  .gran:   resb 1
  .base_hi: resb 1
endstruc
gdt:
        istruc gdtentry
        iend
code:   istruc gdtentry
          at gdtentry.limit, dw 0xffff
          at gdtentry.access, db 0x9a
          at gdtentry.gran, db 0xcf
        iend
        istruc gdtentry
          at gdtentry.base_mid, db 1
        iend
        dd code - gdt, gdtentry_size
