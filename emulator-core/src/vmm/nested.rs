//! Nested paging for hardware assistance: a second-level table from
//! guest-physical to host-physical, and the two-dimensional walk it costs.
//!
//! vmlab's nested table maps the guest's RAM one to one onto host RAM in 4 KiB
//! pages (as a VMM that gives a single guest all of memory does), and the
//! device and ROM ranges through. It is a two-level table like the guest's, so
//! a TLB miss with guest paging on reads each guest table entry through a
//! nested walk: (2 + 1) × (2 + 1) − 1 = 8 memory references instead of 2.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::Exception;

use super::guest::{guest_walk, tlb, PhysMem};
use super::vcpu::PagingView;

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
    /// Guest-physical to host-physical, counting the two nested references.
    pub fn translate_gpa(&mut self, gpa: u32) -> u32 {
        self.stats.references += 2;
        gpa
    }

    /// The two-dimensional walk: the guest's walk with every table reference and
    /// the final guest-physical address translated through the nested table.
    pub fn translate(
        &mut self,
        mem: &mut dyn PhysMem,
        regs: PagingView,
        linear: u32,
        acc: u8,
    ) -> Result<(u32, u8), Exception> {
        self.stats.walks += 1;
        let mut refs = 0u64;
        // each guest entry's guest-physical address takes a nested walk (2) and the read (1)
        let m = guest_walk(mem, regs, linear, acc, &mut |gpa| {
            refs += 3;
            gpa
        });
        self.stats.references += refs;
        let m = m?;
        self.stats.native_references += if m.large { 1 } else { 2 };
        let frame = self.translate_gpa(m.frame);
        let mut bits = 0;
        if m.user {
            bits |= tlb::USER;
        }
        if m.writable {
            bits |= tlb::WRITE;
        }
        if m.dirty {
            bits |= tlb::DIRTY;
        }
        Ok((frame, bits))
    }

    /// The nested page directory, for the UI: one table per 4 MiB of guest-physical space
    /// that holds RAM (`ram_bytes`), plus the ROM at the top of the address space.
    pub fn directory(&self, ram_bytes: u32) -> Vec<NestedPdeView> {
        let ram_tables = ram_bytes.div_ceil(0x40_0000);
        (0..ram_tables)
            .chain(core::iter::once(1023))
            .map(|index| NestedPdeView {
                index,
                host_address: NESTED_TABLE_BASE.wrapping_add(index.wrapping_mul(0x1000)),
            })
            .collect()
    }

    /// One nested page table, for the UI.
    pub fn table(&self, ram_bytes: u32, pde_index: u32) -> Vec<NestedPteView> {
        (0..1024u32)
            .map(|i| (pde_index << 22) | (i << 12))
            .filter(|gpa| *gpa < ram_bytes || *gpa >= 0xfff0_0000)
            .map(|gpa| NestedPteView {
                index: (gpa >> 12) & 0x3ff,
                guest_physical: gpa,
                host_physical: gpa,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::guest::tests::{two_level, Ram};
    use super::super::guest::{access, pte};
    use super::*;

    #[test]
    fn a_two_dimensional_walk_costs_eight_references() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::RW);
        let mut n = NestedPaging::default();
        let (f, _) = n.translate(&mut ram, regs, 0x4000, access::READ).unwrap();
        assert_eq!(f, 0x9000);
        // PDE (2 + 1) + PTE (2 + 1) + data (2)
        assert_eq!(n.stats.references, 8);
        assert_eq!(n.stats.native_references, 2);
        assert_eq!(n.table(0x10000, 0).len(), 16);
        let bytes = ram.0.clone();
        let read = |a: u32| {
            let i = a as usize;
            bytes
                .get(i..i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let w = NestedPaging::probe(regs, 0x4123, &read);
        assert_eq!(w.steps.len(), 8, "{w:#?}");
        assert_eq!(w.host_physical, Some(0x9123));
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

impl NestedPaging {
    /// The nested table's entries for guest-physical `gpa`: (PDE address, PDE, PTE
    /// address, PTE), as the views place the table in the VMM's memory.
    fn nested_entries(gpa: u32) -> [(u32, u32); 2] {
        let pdi = gpa >> 22;
        let table = NESTED_TABLE_BASE.wrapping_add(pdi.wrapping_mul(0x1000));
        let pde_at = NESTED_TABLE_BASE.wrapping_sub(0x1000).wrapping_add(pdi * 4);
        let pte_at = table.wrapping_add(((gpa >> 12) & 0x3ff) * 4);
        [(pde_at, table | 0x27), (pte_at, (gpa & !0xfff) | 0x67)]
    }

    /// The walk [`NestedPaging::translate`] would make for `linear`, without side
    /// effects (no A/D bits, no counting). `read` reads host-physical memory.
    pub fn probe(regs: PagingView, linear: u32, read: &dyn Fn(u32) -> u32) -> NestedWalk {
        let mut steps = Vec::new();
        let nested = |steps: &mut Vec<NestedWalkStep>, gpa: u32, of: &str| {
            for ((at, value), level) in Self::nested_entries(gpa).into_iter().zip(["PDE", "PTE"]) {
                steps.push(NestedWalkStep {
                    what: alloc::format!("nested {level} for {of} (guest-physical {gpa:#010x})"),
                    host_address: at,
                    value,
                });
            }
            gpa
        };
        let pde_gpa = (regs.cr3 & !0xfff) | ((linear >> 22) << 2);
        let pde_at = nested(&mut steps, pde_gpa, "the guest PDE");
        let pde = read(pde_at);
        steps.push(NestedWalkStep {
            what: alloc::string::String::from("guest PDE"),
            host_address: pde_at,
            value: pde,
        });
        let done = |steps, host_physical| NestedWalk {
            linear,
            steps,
            host_physical,
        };
        if pde & super::guest::pte::P == 0 {
            return done(steps, None);
        }
        let gpa = if pde & super::guest::pte::PS != 0 && regs.cr4 & crate::state::cr4::PSE != 0 {
            (pde & 0xffc0_0000) | (linear & 0x003f_ffff)
        } else {
            let pte_gpa = (pde & !0xfff) | (((linear >> 12) & 0x3ff) << 2);
            let pte_at = nested(&mut steps, pte_gpa, "the guest PTE");
            let pte = read(pte_at);
            steps.push(NestedWalkStep {
                what: alloc::string::String::from("guest PTE"),
                host_address: pte_at,
                value: pte,
            });
            if pte & super::guest::pte::P == 0 {
                return done(steps, None);
            }
            (pte & !0xfff) | (linear & 0xfff)
        };
        let hpa = nested(&mut steps, gpa, "the data");
        done(steps, Some(hpa))
    }
}
