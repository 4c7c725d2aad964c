; Lab 16 starter: a paravirtual balloon driver.
; The framework below is given: it sets up the timer, then loops forever: it calls
; balloon_step (yours), fills one page of its page cache, rewrites its working set
; and does some work. Read the statement for the framework's contract.
%include "balloon_guest.inc"

; balloon_step: called once per round of the main loop. Ask the VMM for the
; balloon's target (EAX = HC_BALLOON_TARGET, vmcall: EAX = target in pages), then
; give pages (EAX = HC_BALLOON_GIVE, EBX = page address, vmcall) or take them back
; (EAX = HC_BALLOON_TAKE) until [balloon] equals the target, or nothing is left.
; Move at most a few dozen pages per call, so the workload keeps running.
balloon_step:
    ; TODO: inflate and deflate the balloon.
    ret
