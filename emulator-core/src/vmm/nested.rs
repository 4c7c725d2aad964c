//! Nested paging for hardware assistance: a second-level table from
//! guest-physical to host-physical, and the two-dimensional walk it costs.
//!
//! vmlab's nested table maps the guest's whole physical space one to one onto
//! host memory in 4 KiB pages, each guest frame to its machine frame by the VM's
//! [`super::p2m`] map. It is a two-level table like the guest's, so
//! a TLB miss with guest paging on reads each guest table entry through a
//! nested walk: (2 + 1) × (2 + 1) − 1 = 8 memory references instead of 2.
//! Both dimensions are the one page walk, [`crate::mmu::walk`]: the guest's
//! walk reads its entries through [`ThroughNested`], which takes each
//! guest-physical address through the walk of [`NestedTable`].

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::Exception;

use crate::mmu::{probe, pte, tlb, walk, EntryAccess, PagingRegs, ReadOnly};
use crate::state::cr0;

use super::guest::PhysMem;
use super::p2m::P2m;

/// Where the views place the nested tables in the VMM's memory.
pub const NESTED_TABLE_BASE: u32 = 0xff80_0000;

/// Nested-walk statistics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct NestedStats {
    /// Two-dimensional walks (TLB misses with guest paging on).
    pub walks: u64,
    /// Memory references those walks made (guest entries and nested entries).
    pub references: u64,
    /// What the same walks would have cost natively (2 per walk, 1 for 4 MiB pages).
    pub native_references: u64,
}

/// The second-level table and its counters.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct NestedPaging {
    /// Counters.
    pub stats: NestedStats,
}

/// One nested page-directory entry, for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NestedPdeView {
    /// Index (guest-physical bits 22..31).
    pub index: u32,
    /// The nested page table's address in the VMM's memory.
    pub host_address: u32,
}

/// One nested page-table entry, for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NestedPteView {
    /// Index (guest-physical bits 12..21).
    pub index: u32,
    /// The guest-physical page.
    pub guest_physical: u32,
    /// The host-physical frame.
    pub host_physical: u32,
}

impl NestedPaging {
    /// Guest-physical to host-physical, counting the nested walk's references.
    pub fn translate_gpa(&mut self, gpa: u32, p2m: &P2m) -> u32 {
        let w = nested_translation(p2m, gpa);
        self.stats.references += references(&w);
        w.physical.unwrap_or(gpa)
    }

    /// The two-dimensional walk: the guest's walk with every table reference and
    /// the final guest-physical address translated through the nested table.
    pub fn translate(
        &mut self,
        mem: &mut dyn PhysMem,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
        p2m: &P2m,
    ) -> Result<(u32, u8), Exception> {
        self.stats.walks += 1;
        let mut tables = ThroughNested::new(mem, p2m);
        let m = walk(&mut tables, regs, linear, acc);
        self.stats.references += tables.references;
        let m = m?;
        self.stats.native_references += references(&m);
        let frame = self.translate_gpa(m.frame(), p2m);
        // the nested table maps 4 KiB pages: the TLB holds one, never a 4 MiB piece
        Ok((frame, m.tlb_bits() & !tlb::LARGE))
    }

    /// The nested page directory, for the UI: one table per 4 MiB of guest-physical space
    /// that holds RAM (`ram_bytes`), plus the ROM at the top of the address space.
    pub fn directory(&self, ram_bytes: u32, p2m: &P2m) -> Vec<NestedPdeView> {
        let ram_tables = ram_bytes.div_ceil(0x40_0000);
        (0..ram_tables)
            .chain(core::iter::once(1023))
            .map(|index| NestedPdeView {
                index,
                host_address: NestedTable(p2m).read_entry(NESTED_ROOT.wrapping_add(index << 2))
                    & !0xfff,
            })
            .collect()
    }

    /// One nested page table, for the UI.
    pub fn table(&self, ram_bytes: u32, pde_index: u32, p2m: &P2m) -> Vec<NestedPteView> {
        (0..1024u32)
            .map(|i| (pde_index << 22) | (i << 12))
            .filter(|gpa| *gpa < ram_bytes || *gpa >= 0xfff0_0000)
            .map(|gpa| NestedPteView {
                index: (gpa >> 12) & 0x3ff,
                guest_physical: gpa,
                host_physical: nested_translation(p2m, gpa).frame(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::guest::tests::{two_level, Ram};
    use super::super::guest::{access, pte};
    use super::*;

    /// Reads dwords of a copy of `ram`, as a probe reads host memory.
    fn reader(ram: &Ram) -> impl FnMut(u32) -> u32 {
        let bytes = ram.0.clone();
        move |a: u32| {
            let i = a as usize;
            bytes
                .get(i..i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
    }

    #[test]
    fn a_two_dimensional_walk_costs_eight_references() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::RW);
        let mut n = NestedPaging::default();
        let (f, _) = n
            .translate(&mut ram, regs, 0x4000, access::READ, &P2m::default())
            .unwrap();
        assert_eq!(f, super::super::p2m::host_of(0x9000));
        // PDE (2 + 1) + PTE (2 + 1) + data (2)
        assert_eq!(n.stats.references, 8);
        assert_eq!(n.stats.native_references, 2);
        assert_eq!(n.table(0x10000, 0, &P2m::default()).len(), 16);
        let w = NestedPaging::probe(regs, 0x4123, &P2m::default(), reader(&ram));
        assert_eq!(w.steps.len(), 8, "{w:#?}");
        assert_eq!(w.host_physical, Some(super::super::p2m::host_of(0x9123)));
    }

    /// The textbook count of a two-dimensional walk with an n-level guest table
    /// and an m-level nested table: each of the n guest entries and the data
    /// address takes an m-reference nested walk, plus the n guest reads.
    fn textbook(n: u64, m: u64) -> u64 {
        (n + 1) * (m + 1) - 1
    }

    #[test]
    fn the_reference_count_is_the_textbook_formula() {
        let mut ram = Ram::new(0x10000);
        let regs = PagingRegs {
            cr4: crate::state::cr4::PSE,
            ..two_level(&mut ram)
        };
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::RW);
        ram.write_u32(0x1000 + 4, 0x0080_0000 | pte::P | pte::RW | pte::PS);
        // a 4 KiB page: 2 guest levels; a 4 MiB page: 1; the nested table: 2
        for (linear, guest_levels) in [(0x4000, 2), (0x0040_5000, 1)] {
            let mut n = NestedPaging::default();
            n.translate(&mut ram, regs, linear, access::READ, &P2m::default())
                .unwrap();
            assert_eq!(n.stats.references, textbook(guest_levels, 2), "{linear:#x}");
            assert_eq!(n.stats.native_references, guest_levels);
            let w = NestedPaging::probe(regs, linear, &P2m::default(), reader(&ram));
            assert_eq!(w.steps.len() as u64, textbook(guest_levels, 2), "{w:#?}");
        }
    }
}

/// One memory reference of a two-dimensional walk, for the UI.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NestedWalkStep {
    /// What was read ("nested PDE for guest PDE", "guest PTE", ...).
    pub what: alloc::string::String,
    /// The host-physical address read.
    pub host_address: u32,
    /// The entry read.
    pub value: u32,
}

/// A two-dimensional walk as data: every reference, in order, and the outcome.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NestedWalk {
    /// The guest-linear address translated.
    pub linear: u32,
    /// The references, in the order the hardware makes them.
    pub steps: Vec<NestedWalkStep>,
    /// The host-physical address, or `None` when a guest entry is not present.
    pub host_physical: Option<u32>,
}

/// The root of the nested page directory in the VMM's memory (the page below the
/// tables).
pub const NESTED_ROOT: u32 = NESTED_TABLE_BASE - 0x1000;

/// The registers of the nested walk: paging on, the root at [`NESTED_ROOT`], 4 KiB pages.
const NESTED_REGS: PagingRegs = PagingRegs {
    cr0: cr0::PE | cr0::PG | cr0::WP,
    cr3: NESTED_ROOT,
    cr4: 0,
};

/// The nested table as the walk reads it. The VMM keeps it in its own memory,
/// out of the guest's reach, so its entries are computed: the directory at
/// [`NESTED_ROOT`] points at one table per 4 MiB at [`NESTED_TABLE_BASE`], and
/// each table entry maps a guest-physical page to its host frame by the
/// VM's [`P2m`]. Every entry is built with A and D set, so the walk never writes.
#[derive(Clone, Copy, Debug)]
pub struct NestedTable<'p>(pub &'p P2m);

impl EntryAccess for NestedTable<'_> {
    fn read_entry(&mut self, addr: u32) -> u32 {
        let flags = pte::P | pte::RW | pte::US | pte::A;
        let in_root = addr.wrapping_sub(NESTED_ROOT);
        if in_root < 0x1000 {
            let table = NESTED_TABLE_BASE.wrapping_add((in_root >> 2) << 12);
            return table | flags;
        }
        let in_tables = addr.wrapping_sub(NESTED_TABLE_BASE);
        let gpa = ((in_tables >> 12) << 22) | (((in_tables & 0xfff) >> 2) << 12);
        self.0.host_of(gpa) | flags | pte::D
    }
    fn write_entry(&mut self, _addr: u32, _value: u32) {}
}

/// The nested walk of guest-physical `gpa`.
pub(super) fn nested_translation(p2m: &P2m, gpa: u32) -> crate::mmu::PageWalk {
    probe(&mut NestedTable(p2m), NESTED_REGS, gpa)
}

/// The entries a walk read (2, or 1 for a 4 MiB page).
fn references(w: &crate::mmu::PageWalk) -> u64 {
    w.pde.is_some() as u64 + w.pte.is_some() as u64
}

/// A guest's tables read through the nested table: each entry's guest-physical
/// address takes a nested walk, then the read of host-physical memory through
/// `host`. Counts every reference and, when asked, records it.
pub(crate) struct ThroughNested<'h, H: ?Sized> {
    /// Memory references made (nested entries and guest entries).
    pub(crate) references: u64,
    /// The references in order, when recording.
    pub(crate) steps: Option<Vec<NestedWalkStep>>,
    /// Guest entries read so far (0: the next is the PDE).
    guest_reads: usize,
    host: &'h mut H,
    p2m: &'h P2m,
}

impl<'h, H: EntryAccess + ?Sized> ThroughNested<'h, H> {
    /// Reads and writes the guest's entries in `host`, the VM's frame store (by
    /// guest frame), after the nested walk of their addresses through `p2m`'s
    /// table, counting only.
    pub(crate) fn new(host: &'h mut H, p2m: &'h P2m) -> Self {
        ThroughNested {
            references: 0,
            steps: None,
            guest_reads: 0,
            host,
            p2m,
        }
    }

    /// The host-physical address of `gpa` by the nested walk, its references
    /// counted and recorded as made for `of`.
    pub(crate) fn nested(&mut self, gpa: u32, of: &str) -> u32 {
        let w = nested_translation(self.p2m, gpa);
        self.references += references(&w);
        if let Some(steps) = self.steps.as_mut() {
            for (step, level) in [w.pde, w.pte].into_iter().zip(["PDE", "PTE"]) {
                if let Some(s) = step {
                    steps.push(NestedWalkStep {
                        what: alloc::format!(
                            "nested {level} for {of} (guest-physical {gpa:#010x})"
                        ),
                        host_address: s.entry_addr,
                        value: s.raw,
                    });
                }
            }
        }
        w.physical.unwrap_or(gpa)
    }
}

impl<H: EntryAccess + ?Sized> EntryAccess for ThroughNested<'_, H> {
    fn read_entry(&mut self, gpa: u32) -> u32 {
        let level = if self.guest_reads == 0 { "PDE" } else { "PTE" };
        self.guest_reads += 1;
        let at = self.nested(gpa, &alloc::format!("the guest {level}"));
        // the frame store holds the VM's frames by guest frame
        let value = self.host.read_entry(gpa);
        self.references += 1;
        if let Some(steps) = self.steps.as_mut() {
            steps.push(NestedWalkStep {
                what: alloc::format!("guest {level}"),
                host_address: at,
                value,
            });
        }
        value
    }
    fn write_entry(&mut self, gpa: u32, value: u32) {
        // the hardware reuses the translation of the read: not counted again
        self.host.write_entry(gpa, value);
    }
}

impl NestedPaging {
    /// The walk [`NestedPaging::translate`] would make for `linear`, without side
    /// effects (no A/D bits, no counting). `read` reads the VM's frame store at a
    /// guest-physical address.
    pub fn probe(
        regs: PagingRegs,
        linear: u32,
        p2m: &P2m,
        read: impl FnMut(u32) -> u32,
    ) -> NestedWalk {
        let mut host = ReadOnly(read);
        let mut tables = ThroughNested::new(&mut host, p2m);
        tables.steps = Some(Vec::new());
        let w = probe(&mut tables, regs, linear);
        let host_physical = w.physical.map(|gpa| tables.nested(gpa, "the data"));
        NestedWalk {
            linear,
            steps: tables.steps.unwrap_or_default(),
            host_physical,
        }
    }
}
