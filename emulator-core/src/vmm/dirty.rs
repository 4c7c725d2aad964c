//! Dirty logging under the VMM: while it is on, the translations the VMM's walk
//! (shadow or nested) hands the hardware TLB are write-protected for every frame not
//! yet logged in the round, so the first write to a frame takes a `dirty-log` exit
//! that logs it and makes the translation writable again.

use alloc::format;
use alloc::string::String;

use super::guest::{access, tlb};
use super::{p2m, ExitReason, Vmm};
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

    /// Applies the dirty log's write protection to a translation the VMM's walk made:
    /// a write to a frame not yet logged exits and logs it; any other access to such
    /// a frame gets a read-only TLB entry.
    pub(super) fn track_dirty(&mut self, cpu: &CpuState, host_frame: u32, acc: u8, bits: u8) -> u8 {
        if !self.dirty.is_on() {
            return bits;
        }
        let gfn = (p2m::guest_of(host_frame) >> 12) as usize;
        if self.dirty.contains(gfn) {
            return bits;
        }
        if acc & access::WRITE == 0 {
            return bits & !(tlb::WRITE | tlb::DIRTY);
        }
        self.dirty.mark(gfn);
        self.exit(
            cpu,
            ExitReason::DirtyLog,
            String::from("(write to a logged frame)"),
            format!("dirty log: logged guest frame {gfn:#x} and made its entry writable"),
        );
        bits
    }
}
