//! Write protection of the guest's page tables in the shadow (`pt_protect`): the
//! frames that hold the guest's page directories and page tables are mapped
//! read-only, so a guest store to an entry traps (`pt-write`) and the VMM drops the
//! shadow entries built from it before the store lands; the next access refills
//! them from the new entry, without waiting for INVLPG or a CR3 write.

use alloc::collections::BTreeMap;

use super::super::guest::{pte, PhysMem};
use super::{ShadowPaging, ShadowTable};
use crate::mmu::PageWalk;

/// Most guest page-table frames the VMM tracks (a guest cannot grow the set
/// without bound; frames past it are not protected).
pub const MAX_PT_FRAMES: usize = 4096;

impl ShadowPaging {
    /// Notes the guest table frames `m` went through (its directory `pd` and its page
    /// table); a frame seen for the first time loses R/W in every shadow entry that
    /// maps it, and the hardware TLB is flushed so no writable entry for it is left.
    pub(super) fn note_tables(&mut self, pd: u32, m: &PageWalk) {
        let pt = m
            .pde
            .filter(|s| s.present && !s.large)
            .map(|s| s.raw & !0xfff);
        for frame in core::iter::once(pd & !0xfff).chain(pt) {
            if self.pt_frames.len() >= MAX_PT_FRAMES || !self.pt_frames.insert(frame) {
                continue;
            }
            for space in self.spaces.values_mut() {
                for tables in [&mut space.tables, &mut space.kernel_tables] {
                    for t in tables.values_mut() {
                        for e in t.entries.iter_mut() {
                            if *e & pte::P != 0 && *e & !0xfff == frame {
                                *e &= !(pte::RW | pte::D);
                            }
                        }
                    }
                }
            }
            self.tlb_flush = true;
        }
    }

    /// Whether `frame` holds a guest page directory or page table the VMM protects.
    pub fn is_page_table(&self, frame: u32) -> bool {
        self.pt_protect && self.pt_frames.contains(&(frame & !0xfff))
    }

    /// A guest store of up to 8 bytes at guest-physical `phys`, in a protected
    /// table frame: drops the shadow entries built from the entries it covers (a
    /// directory entry's whole shadow table) in every space, and asks for a TLB
    /// flush. Returns the shadow entries and tables dropped.
    pub(super) fn pt_write(&mut self, mem: &mut dyn PhysMem, phys: u32) -> (u32, u32) {
        let frame = phys & !0xfff;
        let first = (phys & 0xfff) / 4;
        let last = ((phys & 0xfff) + 7).min(0xfff) / 4;
        let (mut entries, mut dropped) = (0, 0);
        for (&pd, space) in self.spaces.iter_mut() {
            for tables in [&mut space.tables, &mut space.kernel_tables] {
                if pd == frame {
                    for i in first..=last {
                        dropped += tables.remove(&i).is_some() as u32;
                    }
                }
                entries += drop_entries(mem, pd, tables, frame, first, last);
            }
        }
        self.stats.tables_dropped += dropped as u64;
        self.tlb_flush = true;
        (entries, dropped)
    }

    /// Whether a page-table write or a newly protected frame asks the hardware TLB to
    /// be flushed; clears the request.
    pub fn take_tlb_flush(&mut self) -> bool {
        core::mem::take(&mut self.tlb_flush)
    }
}

/// Clears entries `first..=last` of the shadow tables whose guest page table (read
/// from the guest directory at `pd`) is `frame`; returns how many were present.
fn drop_entries(
    mem: &mut dyn PhysMem,
    pd: u32,
    tables: &mut BTreeMap<u32, ShadowTable>,
    frame: u32,
    first: u32,
    last: u32,
) -> u32 {
    let mut n = 0;
    for (&pdi, t) in tables.iter_mut() {
        let pde = mem.read_u32(pd.wrapping_add(pdi * 4));
        if pde & pte::P == 0 || pde & pte::PS != 0 || pde & !0xfff != frame {
            continue;
        }
        for i in first..=last {
            if let Some(e) = t.entries.get_mut(i as usize) {
                n += (*e & pte::P != 0) as u32;
                *e = 0;
            }
        }
    }
    n
}
