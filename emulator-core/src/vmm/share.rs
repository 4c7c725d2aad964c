//! Page sharing under the VMM: the host points P2M entries at shared machine frames, and a guest store to one takes a `share-break` exit that copies the frame back into the VM's own.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::guest::PhysMem;
use super::p2m::P2m;
use super::{ExitReason, Vmm};
use crate::machine::Machine;
use crate::state::CpuState;

impl Vmm {
    /// A store to shared guest frame `gfn` through machine frame `frame` (the walk
    /// of `linear`): the exit copies the frame (pooled RAM's copy-on-write), gives the
    /// entry its home machine frame, moves the shadow entry of `linear` there (other
    /// shadow entries that held the shared frame refill) and asks for a TLB flush.
    /// Returns the new machine frame's address.
    pub(super) fn break_share(
        &mut self,
        mem: &mut dyn PhysMem,
        cpu: &CpuState,
        linear: u32,
        frame: u32,
        gfn: u32,
    ) -> u32 {
        let shared = self.p2m.unshare(gfn).unwrap_or(frame >> 12);
        mem.copy_shared_frame(gfn);
        let home = self.p2m.home(gfn);
        if self.uses_shadow() {
            self.shadow
                .split_frame(shared << 12, Some((linear, home << 12)));
        }
        self.p2m_flush = true;
        self.exit(
            cpu,
            ExitReason::ShareBreak,
            String::from("(write to a shared frame)"),
            format!(
                "share break: copied guest frame {gfn:#x} out of shared machine frame {shared:#x} into machine frame {home:#x} and made its entry writable"
            ),
        );
        home << 12
    }

    /// Whether a share break moved a frame (the machine flushes the TLB); clears it.
    pub(crate) fn take_p2m_flush(&mut self) -> bool {
        core::mem::take(&mut self.p2m_flush)
    }

    /// Moves the shadow entries of frames whose machine frame changed, `(from, to)`
    /// machine frame numbers sorted by `from`.
    fn remap_shadow(&mut self, moved: &[(u32, u32)]) {
        if self.uses_shadow() && !moved.is_empty() {
            self.shadow.remap_frames(|f| {
                moved
                    .binary_search_by_key(&(f >> 12), |&(from, _)| from)
                    .ok()
                    .and_then(|i| moved.get(i))
                    .map(|&(_, to)| to << 12)
            });
        }
    }
}

impl Machine {
    /// Places the VM's guest frame 0 at machine frame `base` (its other frames
    /// follow): a host gives each VM its own range. Nothing may be shared yet.
    pub fn place_p2m(&mut self, base: u32) -> Result<(), String> {
        let Some(v) = self.vmm.as_deref_mut() else {
            return Err(String::from("place_p2m: a bare machine has no P2M"));
        };
        if v.p2m.shared_count() > 0 {
            return Err(String::from("place_p2m: the VM already shares frames"));
        }
        v.p2m = P2m::at(base);
        self.flush_tlbs();
        Ok(())
    }

    /// Points guest frames at shared machine frames, `(guest frame, machine frame)`:
    /// their entries become shared and write-protected, the shadow follows, the TLB
    /// is flushed. The caller has put the same bytes behind them. Returns how many
    /// entries changed (0 for a bare machine).
    pub fn share_frames(&mut self, frames: &[(u32, u32)]) -> usize {
        let Some(v) = self.vmm.as_deref_mut() else {
            return 0;
        };
        let mut moved: Vec<(u32, u32)> = frames
            .iter()
            .map(|&(gfn, machine)| (v.p2m.share(gfn, machine), machine))
            .filter(|(from, to)| from != to)
            .collect();
        moved.sort_unstable();
        v.remap_shadow(&moved);
        self.flush_tlbs();
        frames.len()
    }

    /// Gives guest frame `gfn` its home machine frame back when it is shared (the
    /// host changed its contents, e.g. the balloon took it): no exit. Returns the
    /// shared machine frame it had.
    pub fn unshare_frame(&mut self, gfn: u32) -> Option<u32> {
        let v = self.vmm.as_deref_mut()?;
        let shared = v.p2m.unshare(gfn)?;
        if v.uses_shadow() {
            v.shadow.split_frame(shared << 12, None);
        }
        self.flush_tlbs();
        Some(shared)
    }
}
