//! Paging: the page-table entry bits, the TLB in front of the one page walk
//! ([`walk`]), and the table views for the UI.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::Exception;
use crate::memory::Memory;
use crate::state::{cr0, cr4};

mod walk;

pub use walk::{probe, walk, EntryAccess, PageWalk, PagingRegs, ReadOnly, WalkStep};

/// Page-table entry bits.
pub mod pte {
    /// Present.
    pub const P: u32 = 1 << 0;
    /// Writable.
    pub const RW: u32 = 1 << 1;
    /// User accessible.
    pub const US: u32 = 1 << 2;
    /// Accessed.
    pub const A: u32 = 1 << 5;
    /// Dirty.
    pub const D: u32 = 1 << 6;
    /// Page size (a 4 MiB page, in a PDE with CR4.PSE).
    pub const PS: u32 = 1 << 7;
    /// Global.
    pub const G: u32 = 1 << 8;
}

/// Access kind bits, laid out as the #PF error code's W/R and U/S bits.
pub mod access {
    /// A read or an instruction fetch by the supervisor.
    pub const READ: u8 = 0;
    /// A write.
    pub const WRITE: u8 = 1 << 1;
    /// An access at CPL 3.
    pub const USER: u8 = 1 << 2;
}

const TLB_SIZE: usize = 1024;
const TLB_VALID: u32 = 1;

/// TLB permission bits, as a cached translation holds them.
pub mod tlb {
    /// User accessible.
    pub const USER: u8 = 1;
    /// Writable.
    pub const WRITE: u8 = 2;
    /// The dirty bit is already set (a write needs no walk).
    pub const DIRTY: u8 = 4;
    /// The entry is a 4 KiB piece of a 4 MiB page.
    pub const LARGE: u8 = 8;
}

/// One cached translation, laid out as a translated region's inline TLB probe reads it
/// ([`tlb_layout`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[repr(C)]
pub(crate) struct TlbEntry {
    /// Linear page address | valid bit.
    tag: u32,
    /// Physical page address (under a VMM, the machine frame).
    frame: u32,
    /// Where the page is in the machine's frame store: the physical page address
    /// bare, the guest-physical page under a VMM (recomputed when a snapshot loads).
    #[serde(skip)]
    ram: u32,
    /// User, writable and dirty-already-set bits.
    bits: u8,
}

/// Two entries are the same translation when tag, frame and bits agree: `ram` is
/// derived from the frame (and, under a VMM, the P2M), and an entry no longer valid
/// may keep a stale one.
impl PartialEq for TlbEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.tag, self.frame, self.bits) == (other.tag, other.frame, other.bits)
    }
}

impl Eq for TlbEntry {}

/// Where a translated region finds a TLB entry's fields: the byte offsets in
/// [`TlbEntry`], its size, and the index mask (entry `(linear >> 12) & MASK`).
pub(crate) mod tlb_layout {
    /// Linear page address | valid bit.
    pub const TAG: u64 = 0;
    /// The page in the machine's frame store.
    pub const RAM: u64 = 8;
    /// The permission bits (one byte).
    pub const BITS: u64 = 12;
    /// log2 of an entry's size in bytes.
    pub const SHIFT: u32 = 4;
    /// The index mask.
    pub const MASK: u32 = super::TLB_SIZE as u32 - 1;
    /// The valid bit of the tag.
    pub const VALID: u32 = super::TLB_VALID;
    const _: () = assert!(core::mem::size_of::<super::TlbEntry>() == 1 << SHIFT);
    const _: () = assert!(core::mem::offset_of!(super::TlbEntry, ram) == RAM as usize);
    const _: () = assert!(core::mem::offset_of!(super::TlbEntry, bits) == BITS as usize);
    const _: () = assert!(core::mem::offset_of!(super::TlbEntry, tag) == TAG as usize);
}

/// The paging unit: a direct-mapped TLB in front of the two-level walk.
#[derive(Clone)]
pub struct Mmu {
    tlb: Vec<TlbEntry>,
    /// Translations served from the TLB.
    pub(crate) hits: u64,
    /// Translations that needed a walk.
    pub(crate) misses: u64,
    /// Page walks (including the probe walks of instruction fetches and faults).
    pub(crate) walks: u64,
    /// Some entry came from a 4 MiB page since the last flush.
    large_cached: bool,
}

impl core::fmt::Debug for Mmu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mmu")
            .field(
                "valid_entries",
                &self.tlb.iter().filter(|e| e.tag & TLB_VALID != 0).count(),
            )
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .field("walks", &self.walks)
            .finish_non_exhaustive()
    }
}

impl Default for Mmu {
    fn default() -> Self {
        Mmu {
            tlb: vec![TlbEntry::default(); TLB_SIZE],
            hits: 0,
            misses: 0,
            walks: 0,
            large_cached: false,
        }
    }
}

impl Mmu {
    /// Drops every cached translation (MOV to CR3, CR0/CR4 paging changes).
    pub fn flush(&mut self) {
        self.tlb.fill(TlbEntry::default());
        self.large_cached = false;
    }

    /// Drops the translation of the page holding `linear` (INVLPG); for a 4 MiB page,
    /// every cached piece of it.
    pub fn invalidate(&mut self, linear: u32) {
        let i = ((linear >> 12) as usize) & (TLB_SIZE - 1);
        if let Some(e) = self.tlb.get_mut(i) {
            if e.tag & !0xfff == linear & !0xfff {
                *e = TlbEntry::default();
            }
        }
        if self.large_cached {
            for e in self.tlb.iter_mut() {
                if e.bits & tlb::LARGE != 0 && (e.tag ^ linear) & 0xffc0_0000 == 0 {
                    *e = TlbEntry::default();
                }
            }
        }
    }

    /// The address of the TLB's first entry and of the hit counter (a `u64`), for a
    /// translated region's inline probe.
    pub(crate) fn inline_addresses(&self) -> (usize, usize) {
        (
            self.tlb.as_ptr() as usize,
            &self.hits as *const u64 as usize,
        )
    }

    /// The TLB's translation of `linear` for an access of kind `acc`, when an entry
    /// allows it, as an address in the machine's frame store; no walk and no other
    /// side effect than the hit count.
    #[inline(always)]
    pub(crate) fn lookup(&mut self, linear: u32, acc: u8, cr0v: u32) -> Option<u32> {
        let e = self.tlb.get(((linear >> 12) as usize) & (TLB_SIZE - 1))?;
        let need = tlb_need(acc, cr0v);
        if e.tag == (linear & !0xfff) | TLB_VALID && e.bits & need == need {
            self.hits += 1;
            return Some(e.ram | (linear & 0xfff));
        }
        None
    }

    /// Translates `linear` for an access of kind `acc` (see [`access`]), walking the
    /// page tables on a TLB miss and setting accessed/dirty bits.
    #[inline(always)]
    pub(crate) fn translate(
        &mut self,
        mem: &mut Memory,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
    ) -> Result<u32, Exception> {
        let i = ((linear >> 12) as usize) & (TLB_SIZE - 1);
        if let Some(e) = self.tlb.get(i) {
            if e.tag == (linear & !0xfff) | TLB_VALID {
                let need = tlb_need(acc, regs.cr0);
                if e.bits & need == need {
                    self.hits += 1;
                    return Ok(e.ram | (linear & 0xfff));
                }
            }
        }
        self.translate_slow(mem, regs, linear, acc)
    }

    #[inline(never)]
    fn translate_slow(
        &mut self,
        mem: &mut Memory,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
    ) -> Result<u32, Exception> {
        self.misses += 1;
        self.walks += 1;
        let w = walk(mem, regs, linear, acc)?;
        let (frame, bits) = (w.frame(), w.tlb_bits());
        self.large_cached |= bits & tlb::LARGE != 0;
        let i = ((linear >> 12) as usize) & (TLB_SIZE - 1);
        if let Some(e) = self.tlb.get_mut(i) {
            *e = TlbEntry {
                tag: (linear & !0xfff) | TLB_VALID,
                frame,
                ram: frame,
                bits,
            };
        }
        Ok(frame | (linear & 0xfff))
    }

    /// [`Mmu::translate`] with the page walk on a miss supplied by the caller (a VMM's
    /// shadow or nested walk), which gives the machine frame, the frame-store page
    /// (the guest-physical page) and the TLB bits; returns the frame-store address.
    #[inline(always)]
    pub(crate) fn translate_with(
        &mut self,
        mem: &mut Memory,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
        walker: impl FnOnce(&mut Memory, PagingRegs, u32, u8) -> Result<(u32, u32, u8), Exception>,
    ) -> Result<u32, Exception> {
        let i = ((linear >> 12) as usize) & (TLB_SIZE - 1);
        if let Some(e) = self.tlb.get(i) {
            if e.tag == (linear & !0xfff) | TLB_VALID {
                let need = tlb_need(acc, regs.cr0);
                if e.bits & need == need {
                    self.hits += 1;
                    return Ok(e.ram | (linear & 0xfff));
                }
            }
        }
        self.misses += 1;
        self.walks += 1;
        let (frame, ram, bits) = walker(mem, regs, linear, acc)?;
        if let Some(e) = self.tlb.get_mut(i) {
            *e = TlbEntry {
                tag: (linear & !0xfff) | TLB_VALID,
                frame,
                ram,
                bits,
            };
        }
        Ok(ram | (linear & 0xfff))
    }

    /// The TLB's valid entries, for the UI.
    pub fn entries(&self) -> Vec<TlbEntryView> {
        self.tlb
            .iter()
            .enumerate()
            .filter(|(_, e)| e.tag & TLB_VALID != 0)
            .map(|(slot, e)| TlbEntryView {
                slot: slot as u32,
                linear_page: e.tag & !0xfff,
                frame: e.frame,
                user: e.bits & tlb::USER != 0,
                writable: e.bits & tlb::WRITE != 0,
                dirty: e.bits & tlb::DIRTY != 0,
            })
            .collect()
    }

    /// The TLB contents, for snapshots.
    pub(crate) fn save(&self) -> Vec<TlbEntry> {
        self.tlb.clone()
    }

    /// Restores the TLB contents of a snapshot; `ram_of` gives each entry's
    /// frame-store page from its frame.
    pub(crate) fn load(&mut self, entries: &[TlbEntry], ram_of: impl Fn(u32) -> u32) {
        self.flush();
        for (d, s) in self.tlb.iter_mut().zip(entries) {
            *d = TlbEntry {
                ram: ram_of(s.frame),
                ..*s
            };
        }
        self.large_cached = self.tlb.iter().any(|e| e.bits & tlb::LARGE != 0);
    }
}

/// The TLB bits an access needs for a hit: user accesses need U; writes need a dirty
/// entry and, for user or CR0.WP, a writable one.
#[inline(always)]
pub(crate) fn tlb_need(acc: u8, cr0v: u32) -> u8 {
    let mut need = 0;
    if acc & access::USER != 0 {
        need |= tlb::USER;
    }
    if acc & access::WRITE != 0 {
        need |= tlb::DIRTY;
        if acc & access::USER != 0 || cr0v & cr0::WP != 0 {
            need |= tlb::WRITE;
        }
    }
    need
}

/// A page-directory entry for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PdeView {
    /// The entry.
    pub step: WalkStep,
    /// The page table's (or the 4 MiB page's) physical address.
    pub address: u32,
}

/// A page-table entry for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PteView {
    /// The entry.
    pub step: WalkStep,
    /// The physical page frame.
    pub frame: u32,
    /// The first linear address this entry maps.
    pub linear: u32,
}

/// A TLB entry for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TlbEntryView {
    /// The slot in the direct-mapped TLB.
    pub slot: u32,
    /// The linear page address.
    pub linear_page: u32,
    /// The physical page frame.
    pub frame: u32,
    /// User accessible.
    pub user: bool,
    /// Writable.
    pub writable: bool,
    /// The dirty bit is already set in memory.
    pub dirty: bool,
}

/// The 1024 page-directory entries at CR3 (paging on or not).
pub(crate) fn page_directory(mem: &Memory, regs: PagingRegs) -> Vec<PdeView> {
    let base = regs.cr3 & !0xfff;
    (0..1024)
        .map(|i| {
            let raw = mem.read_u32(base + i * 4);
            let large = raw & pte::PS != 0 && regs.cr4 & cr4::PSE != 0;
            PdeView {
                step: WalkStep::new(base + i * 4, i, raw, large),
                address: if large {
                    raw & 0xffc0_0000
                } else {
                    raw & !0xfff
                },
            }
        })
        .collect()
}

/// The 1024 entries of the page table that PDE `pde_index` points to (empty when the
/// PDE is not present or maps a 4 MiB page).
pub(crate) fn page_table(mem: &Memory, regs: PagingRegs, pde_index: u32) -> Vec<PteView> {
    let pde = mem.read_u32((regs.cr3 & !0xfff) + (pde_index & 0x3ff) * 4);
    if pde & pte::P == 0 || (pde & pte::PS != 0 && regs.cr4 & cr4::PSE != 0) {
        return Vec::new();
    }
    let base = pde & !0xfff;
    (0..1024)
        .map(|i| {
            let raw = mem.read_u32(base + i * 4);
            PteView {
                step: WalkStep::new(base + i * 4, i, raw, false),
                frame: raw & !0xfff,
                linear: ((pde_index & 0x3ff) << 22) | (i << 12),
            }
        })
        .collect()
}
