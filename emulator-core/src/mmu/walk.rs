//! The one IA-32 page walk (SDM vol. 3, 4.3), generic over how page-table
//! entries are reached, as a side-effect-free probe or as an access that checks
//! protection and sets the accessed and dirty bits.

use serde::{Deserialize, Serialize};

use crate::error::Exception;
use crate::memory::PhysMem;
use crate::state::{cr0, cr4, CpuState};

use super::{access, pte, tlb};

/// How a walk reaches page-table entries. The address is the one the walk
/// computes from CR3 and the entries (guest-physical for a guest's tables); the
/// implementation decides where that lives (host memory, through a nested
/// table, through a read-only view).
pub trait EntryAccess {
    /// Reads the page-table entry at `addr`.
    fn read_entry(&mut self, addr: u32) -> u32;
    /// Writes back an entry whose accessed or dirty bit the walk set (a probe
    /// never writes).
    fn write_entry(&mut self, addr: u32, value: u32);
}

impl<M: PhysMem + ?Sized> EntryAccess for M {
    #[inline]
    fn read_entry(&mut self, addr: u32) -> u32 {
        self.read_u32(addr)
    }
    #[inline]
    fn write_entry(&mut self, addr: u32, value: u32) {
        self.write_u32(addr, value)
    }
}

/// Entries read through a function, for probes over memory the caller may only
/// read; writes are dropped, so use it with [`probe`].
pub struct ReadOnly<F>(pub F);

impl<F> core::fmt::Debug for ReadOnly<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ReadOnly")
    }
}

impl<F: FnMut(u32) -> u32> EntryAccess for ReadOnly<F> {
    #[inline]
    fn read_entry(&mut self, addr: u32) -> u32 {
        (self.0)(addr)
    }
    #[inline]
    fn write_entry(&mut self, _addr: u32, _value: u32) {}
}

/// CR0, CR3 and CR4: the control registers a page walk depends on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PagingRegs {
    /// CR0 (PG, WP).
    pub cr0: u32,
    /// CR3 (the page directory).
    pub cr3: u32,
    /// CR4 (PSE).
    pub cr4: u32,
}

impl PagingRegs {
    /// The registers of a CPU.
    pub fn of(cpu: &CpuState) -> PagingRegs {
        PagingRegs {
            cr0: cpu.cr0,
            cr3: cpu.cr3,
            cr4: cpu.cr4,
        }
    }
    /// CR0.PG.
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }
}

/// One level of a walk: where the entry is, what it holds and its flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WalkStep {
    /// Address of the entry (as the walk computed it).
    pub entry_addr: u32,
    /// Index of the entry in its table (0..1024).
    pub index: u32,
    /// The raw entry.
    pub raw: u32,
    /// P.
    pub present: bool,
    /// R/W.
    pub writable: bool,
    /// U/S.
    pub user: bool,
    /// A.
    pub accessed: bool,
    /// D (leaf entries).
    pub dirty: bool,
    /// PS with CR4.PSE: a 4 MiB page.
    pub large: bool,
}

impl WalkStep {
    pub(crate) fn new(entry_addr: u32, index: u32, raw: u32, large: bool) -> WalkStep {
        WalkStep {
            entry_addr,
            index,
            raw,
            present: raw & pte::P != 0,
            writable: raw & pte::RW != 0,
            user: raw & pte::US != 0,
            accessed: raw & pte::A != 0,
            dirty: raw & pte::D != 0,
            large,
        }
    }

    /// This entry with `bits` set, written back through `tables` when that changes it.
    fn set<E: EntryAccess + ?Sized>(&mut self, tables: &mut E, bits: u32) {
        if self.raw & bits != bits {
            *self = WalkStep::new(self.entry_addr, self.index, self.raw | bits, self.large);
            tables.write_entry(self.entry_addr, self.raw);
        }
    }
}

/// A translation as data: each level of the walk and the outcome.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PageWalk {
    /// The linear address translated.
    pub linear: u32,
    /// Paging was enabled (otherwise linear = physical and there are no steps).
    pub paging: bool,
    /// The page-directory entry.
    pub pde: Option<WalkStep>,
    /// The page-table entry (absent for 4 MiB pages and non-present PDEs).
    pub pte: Option<WalkStep>,
    /// The physical address, or `None` when the walk ends at a non-present entry.
    pub physical: Option<u32>,
}

impl PageWalk {
    /// The page frame reached (0 when the walk reached none).
    pub fn frame(&self) -> u32 {
        self.physical.map_or(0, |p| p & !0xfff)
    }
    /// It maps a 4 MiB page.
    pub fn large(&self) -> bool {
        self.pde.is_some_and(|s| s.large)
    }
    /// The entry that maps the page (the PTE, or the PDE of a 4 MiB page).
    pub fn leaf(&self) -> Option<WalkStep> {
        self.pte.or(self.pde)
    }
    /// Every level allows user access (true with paging off).
    pub fn user(&self) -> bool {
        self.pde.is_none_or(|s| s.user) && self.pte.is_none_or(|s| s.user)
    }
    /// Every level allows writes (true with paging off).
    pub fn writable(&self) -> bool {
        self.pde.is_none_or(|s| s.writable) && self.pte.is_none_or(|s| s.writable)
    }
    /// The leaf's dirty bit.
    pub fn dirty(&self) -> bool {
        self.leaf().is_some_and(|s| s.dirty)
    }
    /// The TLB permission bits of this translation (see [`tlb`]).
    pub fn tlb_bits(&self) -> u8 {
        let mut bits = 0;
        if self.user() {
            bits |= tlb::USER;
        }
        if self.writable() {
            bits |= tlb::WRITE;
        }
        if self.dirty() {
            bits |= tlb::DIRTY;
        }
        if self.large() {
            bits |= tlb::LARGE;
        }
        bits
    }
}

/// The walk as a probe: reads the entries through `tables` and records them;
/// no protection check, no accessed/dirty bits, no TLB fill.
#[inline]
pub fn probe<E: EntryAccess + ?Sized>(tables: &mut E, regs: PagingRegs, linear: u32) -> PageWalk {
    let mut walk = PageWalk {
        linear,
        paging: regs.paging(),
        pde: None,
        pte: None,
        physical: None,
    };
    if !walk.paging {
        walk.physical = Some(linear);
        return walk;
    }
    let idx = linear >> 22;
    let pde_addr = (regs.cr3 & !0xfff) | (idx << 2);
    let pde = tables.read_entry(pde_addr);
    let large = pde & pte::PS != 0 && regs.cr4 & cr4::PSE != 0;
    walk.pde = Some(WalkStep::new(pde_addr, idx, pde, large));
    if pde & pte::P == 0 {
        return walk;
    }
    if large {
        walk.physical = Some((pde & 0xffc0_0000) | (linear & 0x003f_ffff));
        return walk;
    }
    let pidx = (linear >> 12) & 0x3ff;
    let pte_addr = (pde & !0xfff) | (pidx << 2);
    let pte_val = tables.read_entry(pte_addr);
    walk.pte = Some(WalkStep::new(pte_addr, pidx, pte_val, false));
    if pte_val & pte::P != 0 {
        walk.physical = Some((pte_val & !0xfff) | (linear & 0xfff));
    }
    walk
}

/// The walk as an access of kind `acc` (see [`access`]): the probe's reads, then
/// the protection check (#PF with the hardware's error code) and the accessed and
/// dirty bits written back through `tables`. The record holds the entries as
/// they are after the access.
#[inline]
pub fn walk<E: EntryAccess + ?Sized>(
    tables: &mut E,
    regs: PagingRegs,
    linear: u32,
    acc: u8,
) -> Result<PageWalk, Exception> {
    let mut w = probe(tables, regs, linear);
    let Some(mut pde) = w.pde else {
        return Ok(w);
    };
    let write = acc & access::WRITE != 0;
    let user = acc & access::USER != 0;
    let fault = |present: bool| Exception::PageFault {
        linear,
        error_code: (acc & (access::WRITE | access::USER)) as u32 | present as u32,
    };
    if w.physical.is_none() {
        return Err(fault(false));
    }
    if user && !w.user() {
        return Err(fault(true));
    }
    if write && !w.writable() && (user || regs.cr0 & cr0::WP != 0) {
        return Err(fault(true));
    }
    let want = pte::A | if write { pte::D } else { 0 };
    pde.set(tables, pte::A);
    match w.pte.as_mut() {
        Some(leaf) => leaf.set(tables, want),
        None => pde.set(tables, want),
    }
    w.pde = Some(pde);
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    /// Page tables as a map of entries, counting the writes.
    #[derive(Default, Clone, PartialEq, Debug)]
    struct Tables {
        entries: BTreeMap<u32, u32>,
        writes: u32,
    }

    impl EntryAccess for Tables {
        fn read_entry(&mut self, addr: u32) -> u32 {
            self.entries.get(&addr).copied().unwrap_or(0)
        }
        fn write_entry(&mut self, addr: u32, value: u32) {
            self.writes += 1;
            self.entries.insert(addr, value);
        }
    }

    const REGS: PagingRegs = PagingRegs {
        cr0: cr0::PE | cr0::PG | cr0::WP,
        cr3: 0x1000,
        cr4: cr4::PSE,
    };

    /// 0x5000 → 0x7000 through a table at 0x2000 (clean, not accessed), and a
    /// 4 MiB page at 0x0040_0000.
    fn tables() -> Tables {
        let mut t = Tables::default();
        t.entries
            .insert(0x1000, 0x2000 | pte::P | pte::RW | pte::US);
        t.entries
            .insert(0x2000 + 5 * 4, 0x7000 | pte::P | pte::RW | pte::US);
        t.entries
            .insert(0x1004, 0x0080_0000 | pte::P | pte::RW | pte::PS);
        t
    }

    #[test]
    fn a_probe_sets_no_bits_and_writes_nothing() {
        let mut t = tables();
        let before = t.clone();
        for linear in [0x5123, 0x0040_1234, 0x6000, 0x0800_0000] {
            let w = probe(&mut t, REGS, linear);
            assert_eq!(t, before, "the probe of {linear:#x} changed the tables");
            assert!(w.paging);
        }
        let w = probe(&mut t, REGS, 0x5123);
        assert_eq!(w.physical, Some(0x7123));
        assert_eq!(
            w.pde.map(|s| (s.entry_addr, s.accessed)),
            Some((0x1000, false))
        );
        assert_eq!(
            w.pte.map(|s| (s.entry_addr, s.index, s.dirty)),
            Some((0x2014, 5, false))
        );
        let w = probe(&mut t, REGS, 0x0040_1234);
        assert_eq!(
            (w.physical, w.large(), w.pte),
            (Some(0x0080_1234), true, None)
        );
    }

    #[test]
    fn an_access_sets_accessed_and_dirty_once_and_faults_first() {
        let mut t = tables();
        let w = walk(&mut t, REGS, 0x5123, access::WRITE).unwrap();
        assert_eq!(w.frame(), 0x7000);
        assert_eq!(t.entries[&0x1000] & (pte::A | pte::D), pte::A);
        assert_eq!(t.entries[&0x2014] & (pte::A | pte::D), pte::A | pte::D);
        assert!(w.dirty() && w.pte.is_some_and(|s| s.accessed));
        assert_eq!(t.writes, 2);
        walk(&mut t, REGS, 0x5123, access::WRITE).unwrap();
        assert_eq!(t.writes, 2, "bits already set are not written again");
        let before = t.clone();
        let e = walk(&mut t, REGS, 0x0040_0000, access::USER);
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x0040_0000,
                error_code: 5
            })
        );
        assert_eq!(t, before, "a faulting access sets no bits");
        let w = walk(&mut t, REGS, 0x0040_0000, access::WRITE).unwrap();
        assert_eq!(w.tlb_bits(), tlb::WRITE | tlb::DIRTY | tlb::LARGE);
        assert_eq!(t.entries[&0x1004] & (pte::A | pte::D), pte::A | pte::D);
    }
}
