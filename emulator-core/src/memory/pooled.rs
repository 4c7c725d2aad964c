//! RAM whose frames come from a host's shared pool: the per-VM frame table (guest frame → shared host frame), demand-zero backing and copy-on-write sharing.
//!
//! Each guest frame is either unbacked (it reads as zeros and takes a host frame on
//! its first write) or backed by a reference-counted host frame. Several guest frames,
//! of one VM or of several, may hold the same host frame: that is a shared page. A
//! write to a shared frame first copies it (copy-on-write). Under a VMM the host
//! also marks the frame shared in the VM's P2M, so the guest's store takes a
//! `share-break` exit first, whose handler makes the copy ([`PooledRam::copy_shared`]). The
//! host (crate `vmlab-host`) decides which frames to merge, reclaim or swap through
//! [`PooledRam::slot`] and [`Machine::pooled_ram_mut`].

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::{FrameStore, GuestRam, Memory, FRAME};
use crate::machine::Machine;

/// One host frame's bytes.
pub type HostFrame = [u8; FRAME];

/// The bytes every unbacked frame reads as.
static ZERO: HostFrame = [0; FRAME];

/// What a pooled store has done since it was built.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct PooledStats {
    /// Host frames taken on a first write to an unbacked guest frame.
    pub demand_fills: u64,
}

/// Guest RAM as a table of shared host frames (see the module documentation).
#[derive(Clone)]
pub struct PooledRam {
    len: usize,
    slots: Vec<Option<Arc<HostFrame>>>,
    /// Slots that hold a frame.
    backed: usize,
    stats: PooledStats,
}

impl core::fmt::Debug for PooledRam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PooledRam")
            .field("bytes", &self.len)
            .field("backed", &self.backed())
            .field("stats", &self.stats)
            .finish()
    }
}

impl PooledRam {
    /// `len` bytes of RAM, every frame unbacked.
    pub fn new(len: usize) -> PooledRam {
        PooledRam {
            len,
            slots: vec![None; len.div_ceil(FRAME)],
            backed: 0,
            stats: PooledStats::default(),
        }
    }

    /// Number of guest frames.
    pub fn frame_count(&self) -> usize {
        self.slots.len()
    }

    /// Guest frames backed by a host frame.
    pub fn backed(&self) -> usize {
        self.backed
    }

    /// The host frame behind guest frame `gfn` (`None`: unbacked or out of range).
    pub fn slot(&self, gfn: usize) -> Option<&Arc<HostFrame>> {
        self.slots.get(gfn)?.as_ref()
    }

    /// Every slot in guest-frame order.
    pub fn slots(&self) -> &[Option<Arc<HostFrame>>] {
        &self.slots
    }

    /// Puts `frame` behind guest frame `gfn` and returns what was there. The caller
    /// keeps the contents the guest sees unchanged (merge, swap-in) or tells the
    /// machine they changed ([`Machine::set_pooled_frame`] does).
    pub fn replace(&mut self, gfn: usize, frame: Option<Arc<HostFrame>>) -> Option<Arc<HostFrame>> {
        let slot = self.slots.get_mut(gfn)?;
        let now = usize::from(frame.is_some());
        let old = core::mem::replace(slot, frame);
        self.backed = self.backed + now - usize::from(old.is_some());
        old
    }

    /// What the store has done.
    pub fn stats(&self) -> PooledStats {
        self.stats
    }

    /// Gives guest frame `gfn` a host frame of its own, a copy of the one it shares
    /// (or a zero frame when unbacked); its contents stay the same.
    pub fn copy_shared(&mut self, gfn: usize) {
        let _ = self.frame_mut(gfn);
    }

    fn part(&self, gfn: usize) -> usize {
        let start = gfn * FRAME;
        self.len.saturating_sub(start).min(FRAME)
    }
}

impl FrameStore for PooledRam {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn frame(&self, gfn: usize) -> Option<&[u8]> {
        let part = self.part(gfn);
        match self.slots.get(gfn)? {
            Some(f) => f.get(..part),
            None => ZERO.get(..part),
        }
    }
    #[inline]
    fn frame_mut(&mut self, gfn: usize) -> Option<&mut [u8]> {
        let part = self.part(gfn);
        let slot = self.slots.get_mut(gfn)?;
        if slot.is_none() {
            self.stats.demand_fills += 1;
            self.backed += 1;
            *slot = Some(Arc::new([0; FRAME]));
        }
        let frame = slot.as_mut()?;
        Arc::make_mut(frame).get_mut(..part)
    }
}

impl Memory {
    /// Replaces RAM with an all-unbacked pooled store of the same size.
    fn use_pooled(&mut self) {
        self.ram = GuestRam::Pooled(PooledRam::new(self.ram.len()));
        self.invalidate_all();
    }

    /// Marks guest frame `gfn` as written (its cached code is dropped, it is dirty).
    fn frame_changed(&mut self, gfn: usize) {
        self.touch(gfn * FRAME);
    }
}

impl Machine {
    /// Backs the machine's RAM by a pooled store, all frames unbacked (zero); call it
    /// before loading the guest.
    pub fn use_pooled_ram(&mut self) {
        self.mem.use_pooled();
    }

    /// The pooled store behind RAM (`None` for flat RAM).
    pub fn pooled_ram(&self) -> Option<&PooledRam> {
        match self.mem.frames() {
            GuestRam::Pooled(p) => Some(p),
            GuestRam::Flat(_) => None,
        }
    }

    /// The pooled store for changes that keep every frame's contents (merging equal
    /// frames, swapping out and back in).
    pub fn pooled_ram_mut(&mut self) -> Option<&mut PooledRam> {
        match &mut self.mem.ram {
            GuestRam::Pooled(p) => Some(p),
            GuestRam::Flat(_) => None,
        }
    }

    /// Puts `frame` behind guest frame `gfn` when the contents change (a ballooned frame
    /// reclaimed to zero): decoded code from the frame is dropped. Returns the old one.
    pub fn set_pooled_frame(
        &mut self,
        gfn: usize,
        frame: Option<Arc<HostFrame>>,
    ) -> Option<Arc<HostFrame>> {
        let old = self.pooled_ram_mut()?.replace(gfn, frame);
        // its bytes are the host's now, not a shared frame's
        self.unshare_frame(gfn as u32);
        self.mem.frame_changed(gfn);
        self.cpu.dcache.clear();
        self.cpu.fast.clear();
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::frames::{load, store};

    #[test]
    fn unbacked_frames_read_zero_and_fill_on_write() {
        let mut r = PooledRam::new(3 * FRAME);
        assert_eq!(load::<4>(&r, FRAME + 4), Some([0; 4]));
        assert_eq!(r.backed(), 0);
        assert!(store(&mut r, FRAME + 4, [1, 2, 3, 4]));
        assert_eq!(load::<4>(&r, FRAME + 4), Some([1, 2, 3, 4]));
        assert_eq!((r.backed(), r.stats().demand_fills), (1, 1));
        assert!(r.frame(3).is_none());
    }

    #[test]
    fn a_write_to_a_shared_frame_copies_it() {
        let mut r = PooledRam::new(2 * FRAME);
        assert!(store(&mut r, 8, [7]));
        let shared = r.slot(0).cloned();
        r.replace(1, shared);
        assert!(Arc::ptr_eq(r.slot(0).unwrap(), r.slot(1).unwrap()));
        assert!(store(&mut r, FRAME + 8, [9]));
        assert_eq!(
            load::<1>(&r, 8),
            Some([7]),
            "the other sharer keeps its copy"
        );
        assert_eq!(load::<1>(&r, FRAME + 8), Some([9]));
        assert!(!Arc::ptr_eq(r.slot(0).unwrap(), r.slot(1).unwrap()));
    }
}
