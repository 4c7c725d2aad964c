//! The machine's hooks for live migration: the dirty log and touch log of RAM pages,
//! page-by-page RAM access, and the machine state apart from memory.
//!
//! The memory path fills the dirty log in every mode (devices and loaders write
//! through it too). Under a VMM each round also write-protects the translations the
//! VMM's walk makes, so the first write to each frame in a round is a `dirty-log`
//! exit, counted like every exit ([`crate::vmm::Vmm::start_dirty_tracking`]).

use alloc::vec::Vec;

use crate::error::HostError;
use crate::machine::Machine;
use crate::snapshot::Snapshot;

impl Machine {
    /// Starts (or restarts, empty) the dirty log: from now on every store to RAM, from
    /// any tier, the devices or a loader, logs its page.
    pub fn start_dirty_log(&mut self) {
        self.mem.written.set_on(true);
        self.mem.bookkeep_every_store();
        if let Some(v) = self.vmm.as_deref_mut() {
            v.start_dirty_tracking();
        }
        self.flush_tlbs();
    }

    /// The pages written since the dirty log started or was last taken, in order; the
    /// log goes on, empty.
    pub fn take_dirty_log(&mut self) -> Vec<u32> {
        let pages = self.mem.written.take();
        self.mem.bookkeep_every_store();
        if let Some(v) = self.vmm.as_deref_mut() {
            v.take_dirty_tracked();
        }
        self.flush_tlbs();
        pages
    }

    /// Under a VMM, empties every CPU's TLB, so that no translation made writable in
    /// a dirty-log round outlives it (bare, the memory path logs alone).
    pub(crate) fn flush_tlbs(&mut self) {
        if self.vmm.is_none() {
            return;
        }
        self.cpu.mmu.flush();
        for c in self.parked_cpus_mut() {
            c.mmu.flush();
        }
    }

    /// Stops the dirty log.
    pub fn stop_dirty_log(&mut self) {
        self.mem.written.set_on(false);
        if let Some(v) = self.vmm.as_deref_mut() {
            v.stop_dirty_tracking();
        }
    }

    /// Starts (or restarts, empty) the touch log: every read or write of RAM, including
    /// instruction fetches and page walks, logs its page.
    pub fn start_touch_log(&mut self) {
        self.mem.touched.set_on(true);
    }

    /// The pages touched since the touch log started or was last taken; it goes on, empty.
    pub fn take_touch_log(&mut self) -> Vec<u32> {
        self.mem.touched.take()
    }

    /// Stops the touch log.
    pub fn stop_touch_log(&mut self) {
        self.mem.touched.set_on(false);
    }

    /// Bounds virtual time for the runs that follow: a CPU halted until a timer
    /// deadline past `limit` moves the clock to `limit` and the run returns
    /// [`crate::StopReason::BudgetExhausted`] (the next run goes on to the deadline, so
    /// the guest sees the same time stream). `None` lifts the bound.
    pub fn set_time_limit(&mut self, limit: Option<u64>) {
        self.time_limit = limit.unwrap_or(u64::MAX);
    }

    /// The number of RAM pages (4 KiB; the last may be partial).
    pub fn ram_pages(&self) -> usize {
        self.mem.pages()
    }

    /// The bytes of RAM page `page` (empty past the end of RAM).
    pub fn ram_page(&self, page: u32) -> &[u8] {
        self.mem.page(page as usize)
    }

    /// The machine state but RAM and ROM: CPU, devices, TLB, VMM. What a migration
    /// sends when it stops the guest.
    pub fn snapshot_without_memory(&self) -> Snapshot {
        self.state_without_memory()
    }

    /// Takes the state of [`Machine::snapshot_without_memory`], keeping this machine's
    /// RAM (and ROM); fails when the snapshot is of a machine of another size.
    pub fn restore_without_ram(&mut self, s: &Snapshot) -> Result<(), HostError> {
        self.restore_without_memory(s)
    }
}
