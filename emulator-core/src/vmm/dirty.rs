//! Write protection of the translations the VMM's walk (shadow or nested) hands the
//! hardware TLB, and dirty logging on it: while the log is on, every frame not yet
//! logged in the round is write-protected, so the first write to a frame takes a
//! `dirty-log` exit that logs it and makes the translation writable again. Shared
//! frames ([`super::p2m`]) are write-protected the same way; their first write
//! takes a `share-break` exit (`share.rs`).

use alloc::format;
use alloc::string::String;

use super::guest::PhysMem;
use super::guest::{access, tlb};
use super::{ExitReason, Vmm};
use crate::memory::PageLog;
use crate::state::CpuState;

impl Vmm {
    /// Starts a round of write-protection (every frame protected again). The caller
    /// flushes the TLB so no writable translation survives.
    pub fn start_dirty_tracking(&mut self) {
        let pages = (self.ram_bytes as usize).div_ceil(4096);
        if self.dirty.words_for() != pages.div_ceil(64) {
            self.dirty = PageLog::new(pages);
        }
        self.dirty.set_on(true);
    }

    /// Stops write-protecting for the dirty log.
    pub fn stop_dirty_tracking(&mut self) {
        self.dirty.set_on(false);
    }

    /// The frames logged by `dirty-log` exits since the round started; a new round
    /// starts (the caller flushes the TLB).
    pub fn take_dirty_tracked(&mut self) -> alloc::vec::Vec<u32> {
        self.dirty.take()
    }

    /// Applies the VMM's write protection to a translation its walk made of
    /// `linear`, (machine frame, guest-physical page, TLB bits): a frame not yet
    /// logged in a dirty-log round (when `log_dirty`) or shared gets a read-only TLB
    /// entry, and a write to it exits, logging it or breaking the share (which moves
    /// the frame to its own machine frame).
    pub(super) fn protect_writes(
        &mut self,
        mem: &mut dyn PhysMem,
        cpu: &CpuState,
        linear: u32,
        (frame, gpa, bits): (u32, u32, u8),
        acc: u8,
        log_dirty: bool,
    ) -> (u32, u32, u8) {
        let gfn = gpa >> 12;
        let dirty = log_dirty && self.dirty.is_on() && !self.dirty.contains(gfn as usize);
        let shared = self.p2m.is_shared(gfn);
        if !dirty && !shared {
            return (frame, gpa, bits);
        }
        if acc & access::WRITE == 0 {
            return (frame, gpa, bits & !(tlb::WRITE | tlb::DIRTY));
        }
        let mut frame = frame;
        if shared {
            frame = self.break_share(mem, cpu, linear, frame, gfn);
        }
        if dirty {
            self.dirty.mark(gfn as usize);
            self.exit(
                cpu,
                ExitReason::DirtyLog,
                String::from("(write to a logged frame)"),
                format!("dirty log: logged guest frame {gfn:#x} and made its entry writable"),
            );
        }
        (frame, gpa, bits)
    }
}
