//! The physical-to-machine map: where a VM's guest-physical frames live in host memory.
//!
//! Under a VMM the guest's RAM is not at host address 0. Each VM has a [`P2m`], a
//! table from guest frame to machine frame with per-frame flags. By default guest
//! frame `g` lives in its home machine frame `g + base`, `base` being
//! [`OFFSET_FRAMES`] for a lone VM (the host frames below hold the VMM's own
//! structures); a host gives each VM its own base, so two VMs' frames differ. A
//! frame the host merged with another (content-based page sharing) points at a
//! shared machine frame instead, and is [`flags::SHARED`] and
//! [`flags::WRITE_PROTECT`]: the VMM hands the TLB read-only translations of it,
//! and the guest's first store takes a `share-break` exit that gives the frame its
//! home machine frame back (`vmm/share.rs`).
//!
//! The shadow tables, the nested table and the TLB hold machine frames; the guest's
//! own tables, `Machine::translate` and the debugger stay guest-physical. The
//! machine's frame store holds the VM's frames by guest frame, so the TLB also
//! keeps each entry's guest frame for the access itself. Bare, there is no VMM and
//! guest-physical is host-physical.

use alloc::collections::{BTreeMap, BTreeSet};
use serde::{Deserialize, Serialize};

/// How many host frames lie below a lone VM's guest frame 0.
pub const OFFSET_FRAMES: u32 = 0x1_0000;

/// The same offset in bytes (256 MiB).
pub const OFFSET: u32 = OFFSET_FRAMES << 12;

/// Per-frame flags of a P2M entry.
pub mod flags {
    /// The machine frame is shared with other guest frames (of this VM or another).
    pub const SHARED: u8 = 1;
    /// Translations of the frame are handed out read-only; a store exits.
    pub const WRITE_PROTECT: u8 = 2;
}

/// The host-physical address of guest-physical `gpa` in the default layout (a lone
/// VM, nothing shared).
#[inline(always)]
pub const fn host_of(gpa: u32) -> u32 {
    gpa.wrapping_add(OFFSET)
}

/// The guest-physical address behind host-physical `hpa` in the default layout (the
/// inverse of [`host_of`]).
#[inline(always)]
pub const fn guest_of(hpa: u32) -> u32 {
    hpa.wrapping_sub(OFFSET)
}

/// One entry of the map.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct P2mEntry {
    /// The machine frame number.
    pub machine: u32,
    /// [`flags`].
    pub flags: u8,
}

/// A VM's physical-to-machine map (see the module documentation).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct P2m {
    /// The home machine frame of guest frame 0.
    base: u32,
    /// Shared entries: guest frame → shared machine frame (every other entry is at home).
    shared: BTreeMap<u32, u32>,
    /// The inverse of `shared`: (machine frame, guest frame).
    by_machine: BTreeSet<(u32, u32)>,
}

impl Default for P2m {
    fn default() -> Self {
        P2m::at(OFFSET_FRAMES)
    }
}

impl P2m {
    /// A map whose guest frame 0 lives in machine frame `base`, nothing shared.
    pub fn at(base: u32) -> P2m {
        P2m {
            base,
            shared: BTreeMap::new(),
            by_machine: BTreeSet::new(),
        }
    }

    /// The home machine frame of guest frame 0.
    pub fn base(&self) -> u32 {
        self.base
    }

    /// The home machine frame of guest frame `gfn`.
    #[inline(always)]
    pub fn home(&self, gfn: u32) -> u32 {
        gfn.wrapping_add(self.base)
    }

    /// Guest frame `gfn`'s entry.
    pub fn entry(&self, gfn: u32) -> P2mEntry {
        match self.shared.get(&gfn) {
            Some(&machine) => P2mEntry {
                machine,
                flags: flags::SHARED | flags::WRITE_PROTECT,
            },
            None => P2mEntry {
                machine: self.home(gfn),
                flags: 0,
            },
        }
    }

    /// The machine frame of guest frame `gfn`.
    #[inline(always)]
    pub fn machine_of(&self, gfn: u32) -> u32 {
        if self.shared.is_empty() {
            return self.home(gfn);
        }
        self.entry(gfn).machine
    }

    /// The host-physical address of guest-physical `gpa`.
    #[inline(always)]
    pub fn host_of(&self, gpa: u32) -> u32 {
        (self.machine_of(gpa >> 12) << 12) | (gpa & 0xfff)
    }

    /// A guest-physical address behind host-physical `hpa`: for a shared machine
    /// frame the lowest guest frame of this VM that holds it (all hold the same bytes).
    pub fn guest_of(&self, hpa: u32) -> u32 {
        let m = hpa >> 12;
        let g = match self.sharer(m) {
            Some(g) => g,
            None => m.wrapping_sub(self.base),
        };
        (g << 12) | (hpa & 0xfff)
    }

    /// The lowest guest frame that holds shared machine frame `machine` (`None`:
    /// no frame of this VM shares it).
    pub fn sharer(&self, machine: u32) -> Option<u32> {
        if self.by_machine.is_empty() {
            return None;
        }
        self.by_machine
            .range((machine, 0)..=(machine, u32::MAX))
            .next()
            .map(|&(_, g)| g)
    }

    /// Whether guest frame `gfn` is shared (and write-protected).
    #[inline(always)]
    pub fn is_shared(&self, gfn: u32) -> bool {
        !self.shared.is_empty() && self.shared.contains_key(&gfn)
    }

    /// Guest frames that are shared.
    pub fn shared_count(&self) -> usize {
        self.shared.len()
    }

    /// Points guest frame `gfn` at shared machine frame `machine`, shared and
    /// write-protected; returns the machine frame it had.
    pub fn share(&mut self, gfn: u32, machine: u32) -> u32 {
        let old = self.unshare(gfn).unwrap_or_else(|| self.home(gfn));
        self.shared.insert(gfn, machine);
        self.by_machine.insert((machine, gfn));
        old
    }

    /// Gives guest frame `gfn` its home machine frame back; returns the shared
    /// machine frame it had (`None`: it was not shared).
    pub fn unshare(&mut self, gfn: u32) -> Option<u32> {
        let m = self.shared.remove(&gfn)?;
        self.by_machine.remove(&(m, gfn));
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_moves_every_frame_and_inverts() {
        for gpa in [0u32, 0x7c00, 0x0008_0000, 0x00ff_f000, 0xffff_f000] {
            assert_ne!(host_of(gpa), gpa);
            assert_eq!(guest_of(host_of(gpa)), gpa);
            assert_eq!(host_of(gpa) & 0xfff, gpa & 0xfff);
        }
    }

    #[test]
    fn the_default_table_is_the_old_offset() {
        let p = P2m::default();
        for gpa in [0u32, 0x7c00, 0x0008_0123, 0x00ff_f000, 0xffff_f000] {
            assert_eq!(p.host_of(gpa), host_of(gpa));
            assert_eq!(p.guest_of(p.host_of(gpa)), gpa);
            assert_eq!(p.entry(gpa >> 12).flags, 0);
        }
    }

    #[test]
    fn a_shared_entry_remaps_inverts_and_comes_home() {
        let mut a = P2m::at(0x2_0000);
        let mut b = P2m::at(0x3_0000);
        assert_ne!(a.host_of(0x5000), b.host_of(0x5000), "two VMs, two frames");
        let s = 0xc_0001;
        assert_eq!(a.share(5, s), 0x2_0005);
        assert_eq!(b.share(7, s), 0x3_0007);
        assert_eq!(a.host_of(0x5123), (s << 12) | 0x123);
        assert_eq!(b.host_of(0x7000), s << 12);
        assert_eq!(a.entry(5).flags, flags::SHARED | flags::WRITE_PROTECT);
        assert!(a.is_shared(5) && !a.is_shared(6));
        assert_eq!(a.guest_of((s << 12) | 0x10), 0x5010);
        assert_eq!(b.guest_of(s << 12), 0x7000);
        assert_eq!(a.host_of(0x6000), 0x2_0006 << 12, "others stay at home");
        assert_eq!(a.unshare(5), Some(s));
        assert_eq!(
            a.entry(5),
            P2mEntry {
                machine: 0x2_0005,
                flags: 0
            }
        );
        assert_eq!(a.unshare(5), None);
        assert_eq!(a.sharer(s), None);
        assert_eq!(b.sharer(s), Some(7));
    }
}
