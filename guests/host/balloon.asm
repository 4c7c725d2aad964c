; balloon.asm: a small guest kernel for vmlab's multi-VM host. It counts timer
; ticks (its clock), fills a page cache of identical and private pages one page
; per loop, rewrites a few pages (its working set), spins, and runs a
; paravirtual balloon driver: it asks the VMM for the balloon's target and gives
; pages back (hypercall 6) or takes them again (hypercall 7) until it holds it.
; The framework is balloon_guest.inc, the driver balloon_driver.inc (the balloon
; lab's reference driver).
;
; The host sets: RAM_BYTES, VM_ID, SHARED_PAGES, PRIVATE_PAGES, DIRTY_PAGES,
; WORK (loop iterations per round) and TICK_DIV (PIT divisor, 0: no timer).
; Load it flat at 0x10000 in 32-bit protected mode (`pm32`).

%include "balloon_guest.inc"
%include "balloon_driver.inc"
