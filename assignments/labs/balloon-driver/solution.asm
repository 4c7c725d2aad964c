; reference solution: balloon-driver (vmlab lab 16)
; The framework (timer, page cache, workload) and vmlab's own balloon driver: the
; same driver the multi-VM host's guests run.
%include "balloon_guest.inc"
%include "balloon_driver.inc"
