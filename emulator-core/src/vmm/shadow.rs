//! Shadow paging: VMM-built tables that map guest-virtual straight to
//! host-physical, filled from the guest's tables on hidden faults, switched on
//! guest CR3 writes and trimmed by INVLPG.
//!
//! The shadow of an address space is a page directory of shadow page tables,
//! each 1024 entries, built on demand; a 4 MiB guest page is split into 4 KiB
//! shadow entries. A missing entry, or an access the entry does not allow, is
//! a hidden fault when the guest's tables allow it: the VMM walks the guest's
//! tables (setting the guest's A and D bits as the hardware would) and fills
//! the entry by [`shadow_entry`]'s rules, which keep the guest's dirty bits
//! exact: a clean page is mapped read-only, so its first write faults again. When the guest's own tables forbid
//! the access it is a true fault, returned with the guest's error code for
//! injection. A guest CR3 write resynchronizes the shadow (its tables are
//! dropped and refilled on demand), exactly as a CR3 write empties a TLB. With
//! [`ShadowPaging::pt_protect`] the guest's page tables are also mapped
//! read-only, so each store to them exits and the shadow follows it at once
//! ([`protect`]); without it a rewritten entry stays stale until INVLPG.
//!
//! When the guest kernel runs at ring 3 each space has two roots: the
//! kernel-mode root, used at virtual CPL 0, walks the guest's tables as a
//! supervisor and maps what they allow user-accessible (the hardware sees only
//! user accesses); the user-mode root keeps the guest's U/S bits, so the
//! kernel's supervisor-only pages are absent from it.

mod protect;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::Exception;
use crate::state::cr0;

use super::guest::{access, pte, tlb, PhysMem};
use super::p2m::P2m;
use crate::mmu::PagingRegs;
use crate::mmu::{walk, PageWalk};

/// Where the views place shadow page tables in the VMM's own memory (labels for
/// the UI: the tables live in the VMM, out of the guest's reach).
pub const SHADOW_TABLE_BASE: u32 = 0xffd0_0000;
/// Most address spaces kept at once; the least recently used goes first.
pub const MAX_SPACES: usize = 64;
/// Where the views place each space's shadow page directory in the VMM's memory:
/// one page per space slot, below the tables.
pub const SHADOW_ROOT_BASE: u32 = SHADOW_TABLE_BASE - MAX_SPACES as u32 * 0x1000;

/// One shadow page table.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ShadowTable {
    /// The table's address in the VMM's memory.
    pub host_address: u32,
    /// Filled from a guest 4 MiB page (INVLPG drops the whole table).
    pub from_large_page: bool,
    /// 1024 entries: host frame | P | R/W | U/S | A | D.
    pub entries: Vec<u32>,
}

/// The shadow of one guest address space.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ShadowSpace {
    /// Shadow page tables by page-directory index (the only root at guest ring 1
    /// or 2; the user-mode root at guest ring 3).
    pub tables: BTreeMap<u32, ShadowTable>,
    /// The kernel-mode root at guest ring 3: the same space with the guest's
    /// supervisor pages mapped user-accessible, used while the virtual CPL is 0.
    #[serde(default)]
    pub kernel_tables: BTreeMap<u32, ShadowTable>,
    /// When it was last made active (for eviction).
    pub last_used: u64,
    /// Its shadow page directory's address in the VMM's memory (what the
    /// hardware CR3 holds while it is active; a label for the views).
    #[serde(default)]
    pub root: u32,
}

/// Shadow paging statistics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ShadowStats {
    /// Misses the guest's tables allowed: the VMM filled the shadow.
    pub hidden_faults: u64,
    /// Misses the guest's tables forbade: injected into the guest.
    pub true_faults: u64,
    /// Shadow page tables built.
    pub tables_built: u64,
    /// Shadow page tables dropped (CR3 write, INVLPG of a 4 MiB page, paging changes).
    pub tables_dropped: u64,
    /// Shadow address spaces created (one per guest page directory seen).
    pub spaces_built: u64,
    /// Translations found already in the shadow (after a TLB miss).
    pub hits: u64,
    /// Switches between the kernel-mode and user-mode roots (guest ring 3: each
    /// change of the virtual CPL reloads the hardware CR3 and flushes the TLB).
    #[serde(default)]
    pub root_switches: u64,
}

/// What one switch between the kernel-mode and user-mode shadow roots costs, in
/// cycles: the hardware CR3 load and the TLB refill it causes (reported with the
/// exit cycles, like them not added to virtual time).
pub const ROOT_SWITCH_CYCLES: u32 = 400;

/// All shadow address spaces, and which one the hardware uses.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ShadowPaging {
    spaces: BTreeMap<u32, ShadowSpace>,
    active: Option<u32>,
    switches: u64,
    next_table: u32,
    /// The kernel-mode root is active (guest ring 3, virtual CPL 0): supervisor
    /// accesses of the guest kernel arrive as user accesses of the hardware.
    #[serde(default)]
    kernel_root: bool,
    /// Counters.
    pub stats: ShadowStats,
    /// Write-protect the guest's page tables ([`protect`]): a store to a guest
    /// entry exits (`pt-write`) and the shadow follows it at once. Off, the shadow
    /// follows the guest's tables only on INVLPG and CR3 writes.
    #[serde(default)]
    pub pt_protect: bool,
    /// The guest frames seen holding page directories and page tables.
    #[serde(default)]
    pt_frames: BTreeSet<u32>,
    /// The hardware TLB must be flushed (a protected table changed).
    #[serde(default)]
    tlb_flush: bool,
}

/// What a shadow translation did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShadowOutcome {
    /// The shadow already had it.
    Hit,
    /// A hidden fault: the VMM filled the entry from the guest's tables.
    Filled,
    /// A write to a protected guest page table: the VMM dropped the shadow
    /// entries built from the entries written (and mapped the table read-only).
    PtWrite {
        /// Shadow entries dropped.
        entries: u32,
        /// Shadow tables dropped (a directory entry was written).
        tables: u32,
    },
}

impl ShadowPaging {
    /// Makes the shadow of the guest page directory at `guest_cr3` the active one;
    /// its tables are dropped (resynchronized on demand) as a CR3 write flushes a TLB.
    pub fn switch_to(&mut self, guest_cr3: u32) {
        let key = guest_cr3 & !0xfff;
        self.switches += 1;
        if !self.spaces.contains_key(&key) {
            if self.spaces.len() >= MAX_SPACES {
                let victim = self
                    .spaces
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(k, _)| *k);
                if let Some(v) = victim {
                    if let Some(s) = self.spaces.remove(&v) {
                        self.stats.tables_dropped +=
                            (s.tables.len() + s.kernel_tables.len()) as u64;
                    }
                }
            }
            let slot = (self.stats.spaces_built % MAX_SPACES as u64) as u32;
            self.spaces.insert(
                key,
                ShadowSpace {
                    root: SHADOW_ROOT_BASE + slot * 0x1000,
                    ..ShadowSpace::default()
                },
            );
            self.stats.spaces_built += 1;
        }
        let switches = self.switches;
        if let Some(space) = self.spaces.get_mut(&key) {
            self.stats.tables_dropped += (space.tables.len() + space.kernel_tables.len()) as u64;
            space.tables.clear();
            space.kernel_tables.clear();
            space.last_used = switches;
        }
        self.active = Some(key);
    }

    /// Drops every shadow table of every space (the guest changed CR0.PG/WP or CR4).
    pub fn drop_all(&mut self) {
        for space in self.spaces.values_mut() {
            self.stats.tables_dropped += (space.tables.len() + space.kernel_tables.len()) as u64;
            space.tables.clear();
            space.kernel_tables.clear();
        }
    }

    /// Guest ring 3: makes the kernel-mode root (`true`) or the user-mode root
    /// active, keeping both filled. Returns whether the root changed (the caller
    /// then flushes the hardware TLB, as the CR3 load would).
    pub fn select_root(&mut self, kernel: bool) -> bool {
        let changed = self.kernel_root != kernel;
        if changed {
            self.kernel_root = kernel;
            self.stats.root_switches += 1;
        }
        changed
    }

    /// The kernel-mode root is the active one.
    pub fn kernel_root(&self) -> bool {
        self.kernel_root
    }

    /// INVLPG: forgets the shadow translation of the page holding `linear`.
    pub fn invalidate(&mut self, linear: u32) {
        let Some(space) = self.active.and_then(|k| self.spaces.get_mut(&k)) else {
            return;
        };
        for tables in [&mut space.tables, &mut space.kernel_tables] {
            self.stats.tables_dropped += invalidate_in(tables, linear);
        }
    }

    /// The guest page directory whose shadow is active.
    pub fn active(&self) -> Option<u32> {
        self.active
    }

    /// Translates `linear` through the active shadow for an access of kind `acc`,
    /// filling it from the guest's tables (`regs`) on a hidden fault. Returns the
    /// machine frame (the guest's frame moved by the VM's [`P2m`]) and the TLB permission bits, or the guest's #PF on a true fault.
    pub fn translate(
        &mut self,
        mem: &mut dyn PhysMem,
        regs: PagingRegs,
        linear: u32,
        acc: u8,
        p2m: &P2m,
    ) -> Result<(u32, u8, ShadowOutcome), Exception> {
        let key = match self.active {
            Some(k) if k == regs.cr3 & !0xfff => k,
            _ => {
                self.switch_to(regs.cr3);
                regs.cr3 & !0xfff
            }
        };
        let pdi = linear >> 22;
        let pti = ((linear >> 12) & 0x3ff) as usize;
        let wp = regs.cr0 & cr0::WP != 0;
        let kernel = self.kernel_root;
        if let Some(e) = self
            .spaces
            .get(&key)
            .and_then(|s| {
                if kernel {
                    s.kernel_tables.get(&pdi)
                } else {
                    s.tables.get(&pdi)
                }
            })
            .and_then(|t| t.entries.get(pti).copied())
        {
            if e & pte::P != 0 && permits(e, acc) {
                self.stats.hits += 1;
                return Ok((e & !0xfff, tlb_bits(e), ShadowOutcome::Hit));
            }
        }
        // the kernel-mode root: the hardware's user access is the guest kernel's
        // supervisor access, and every page it may touch is mapped user-accessible
        let guest_acc = if kernel { acc & !access::USER } else { acc };
        let m = match walk(mem, regs, linear, guest_acc) {
            Ok(m) => m,
            Err(e) => {
                self.stats.true_faults += 1;
                return Err(e);
            }
        };
        // the rules give the guest frame; the hardware's entry holds where it lives
        let rule = shadow_entry(&m, guest_acc, wp);
        let mut entry = p2m.host_of(rule & !0xfff) | (rule & 0xfff);
        if kernel {
            entry |= pte::US;
        }
        let mut outcome = ShadowOutcome::Filled;
        if self.pt_protect {
            self.note_tables(key, &m);
            if self.is_page_table(m.frame()) {
                entry &= !(pte::RW | pte::D);
                if acc & access::WRITE != 0 {
                    let phys = m.frame() | (linear & 0xfff);
                    let (entries, tables) = self.pt_write(mem, phys);
                    outcome = ShadowOutcome::PtWrite { entries, tables };
                }
            }
        }
        let space = self.spaces.entry(key).or_default();
        let tables = if kernel {
            &mut space.kernel_tables
        } else {
            &mut space.tables
        };
        let table = match tables.entry(pdi) {
            alloc::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            alloc::collections::btree_map::Entry::Vacant(v) => {
                let host_address =
                    SHADOW_TABLE_BASE.wrapping_add(self.next_table.wrapping_mul(0x1000));
                self.next_table = (self.next_table + 1) % 0x100;
                self.stats.tables_built += 1;
                v.insert(ShadowTable {
                    host_address,
                    from_large_page: m.large(),
                    entries: vec![0; 1024],
                })
            }
        };
        table.from_large_page |= m.large();
        if let Some(e) = table.entries.get_mut(pti) {
            *e = entry;
        }
        self.stats.hidden_faults += 1;
        Ok((entry & !0xfff, tlb_bits(entry), outcome))
    }

    /// Points every present shadow entry whose machine frame `moved` gives a new
    /// one at it, keeping its bits (P2M entries moved to or from shared frames).
    pub fn remap_frames(&mut self, moved: impl Fn(u32) -> Option<u32>) {
        for space in self.spaces.values_mut() {
            for t in space
                .tables
                .values_mut()
                .chain(space.kernel_tables.values_mut())
            {
                for e in t.entries.iter_mut().filter(|e| **e & pte::P != 0) {
                    if let Some(to) = moved(*e & !0xfff) {
                        *e = to | (*e & 0xfff);
                    }
                }
            }
        }
    }

    /// Drops every shadow entry that holds machine frame `from` (a shared frame
    /// several guest frames may hold; they refill from the guest's tables), except
    /// the active root's entry for `keep`'s linear address, which moves to `keep`'s
    /// machine frame.
    pub fn split_frame(&mut self, from: u32, keep: Option<(u32, u32)>) {
        let kernel = self.kernel_root;
        let active = self.active;
        for (key, space) in self.spaces.iter_mut() {
            for (is_kernel, tables) in
                [(false, &mut space.tables), (true, &mut space.kernel_tables)]
            {
                let here = Some(*key) == active && is_kernel == kernel;
                for (pdi, t) in tables.iter_mut() {
                    for (pti, e) in t.entries.iter_mut().enumerate() {
                        if *e & pte::P == 0 || *e & !0xfff != from {
                            continue;
                        }
                        let linear = (pdi << 22) | ((pti as u32) << 12);
                        *e = match keep {
                            Some((l, to)) if here && l & !0xfff == linear => to | (*e & 0xfff),
                            _ => 0,
                        };
                    }
                }
            }
        }
    }

    /// The guest page directories that have a shadow.
    pub fn spaces(&self) -> Vec<u32> {
        self.spaces.keys().copied().collect()
    }

    /// Where the shadow page directory of the guest directory at `guest_cr3` lives in
    /// the VMM's memory (`None` before it has a shadow).
    pub fn root_address(&self, guest_cr3: u32) -> Option<u32> {
        self.spaces.get(&(guest_cr3 & !0xfff)).map(|s| s.root)
    }

    /// The shadow page directory of the guest directory at `guest_cr3`, for the UI.
    pub fn directory(&self, guest_cr3: u32) -> Vec<ShadowPdeView> {
        self.spaces
            .get(&(guest_cr3 & !0xfff))
            .map(|s| {
                s.tables
                    .iter()
                    .map(|(i, t)| ShadowPdeView {
                        index: *i,
                        host_address: t.host_address,
                        from_large_page: t.from_large_page,
                        present_entries: t.entries.iter().filter(|e| *e & pte::P != 0).count()
                            as u32,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The present entries of one shadow page table, as data for the UI.
    pub fn table(&self, guest_cr3: u32, pde_index: u32) -> Vec<ShadowPteView> {
        self.spaces
            .get(&(guest_cr3 & !0xfff))
            .and_then(|s| s.tables.get(&pde_index))
            .map(|t| {
                t.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| *e & pte::P != 0)
                    .map(|(i, e)| ShadowPteView {
                        index: i as u32,
                        linear: (pde_index << 22) | ((i as u32) << 12),
                        frame: e & !0xfff,
                        user: e & pte::US != 0,
                        writable: e & pte::RW != 0,
                        dirty: e & pte::D != 0,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// INVLPG in one root: drops the table of a 4 MiB guest page, else one entry;
/// returns the tables dropped.
fn invalidate_in(tables: &mut BTreeMap<u32, ShadowTable>, linear: u32) -> u64 {
    let pdi = linear >> 22;
    match tables.get(&pdi).map(|t| t.from_large_page) {
        Some(true) => {
            tables.remove(&pdi);
            1
        }
        Some(false) => {
            if let Some(e) = tables
                .get_mut(&pdi)
                .and_then(|t| t.entries.get_mut(((linear >> 12) & 0x3ff) as usize))
            {
                *e = 0;
            }
            0
        }
        None => 0,
    }
}

/// The shadow PTE for a guest mapping the guest's tables allowed for an access of
/// kind `acc` (the mapping's dirty bit is the guest's after this access):
/// the host frame (guest-physical = host-physical in vmlab) with P and A; U/S the
/// guest's effective U/S; R/W and D only when the guest allows writes and its
/// entry is already dirty, so the first write to a clean page faults again and
/// the VMM can set the guest's D bit. One exception: a supervisor write to a
/// read-only page with the guest's CR0.WP clear is allowed, and the page is then
/// mapped read/write but supervisor-only, so user code still cannot write it.
/// (The shadow-fill lab states the same rules.)
pub fn shadow_entry(m: &PageWalk, acc: u8, wp: bool) -> u32 {
    let user = acc & access::USER != 0;
    let write = acc & access::WRITE != 0;
    let mut entry = m.frame() | pte::P | pte::A;
    if m.user() {
        entry |= pte::US;
    }
    if m.writable() && m.dirty() {
        entry |= pte::RW | pte::D;
    } else if write && !m.writable() && !user && !wp {
        entry = (entry & !pte::US) | pte::RW | pte::D;
    }
    entry
}

/// The hardware's check of a shadow entry: user accesses need U/S, writes need R/W
/// (the hardware CR0.WP is always set under the VMM).
fn permits(entry: u32, acc: u8) -> bool {
    let user = acc & access::USER != 0;
    let write = acc & access::WRITE != 0;
    (!user || entry & pte::US != 0) && (!write || entry & pte::RW != 0)
}

fn tlb_bits(entry: u32) -> u8 {
    let mut b = 0;
    if entry & pte::US != 0 {
        b |= tlb::USER;
    }
    if entry & pte::RW != 0 {
        b |= tlb::WRITE;
    }
    if entry & pte::D != 0 {
        b |= tlb::DIRTY;
    }
    b
}

/// A shadow page-directory entry, for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ShadowPdeView {
    /// Page-directory index (the top 10 bits of the linear address).
    pub index: u32,
    /// The shadow page table's address in the VMM's memory.
    pub host_address: u32,
    /// Filled from a guest 4 MiB page.
    pub from_large_page: bool,
    /// How many of its 1024 entries are filled.
    pub present_entries: u32,
}

/// A shadow page-table entry, for the UI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ShadowPteView {
    /// Page-table index.
    pub index: u32,
    /// The linear page it maps.
    pub linear: u32,
    /// The host-physical frame.
    pub frame: u32,
    /// U/S.
    pub user: bool,
    /// R/W (the guest's combined permission).
    pub writable: bool,
    /// The guest's dirty bit was set when filled (else writes take a hidden fault).
    pub dirty: bool,
}

#[cfg(test)]
mod tests {
    use super::super::guest::tests::{two_level, Ram};
    use super::super::p2m;
    use super::*;

    #[test]
    fn hidden_fault_fills_then_hits_and_dirty_write_refills() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::RW | pte::US);
        let mut sp = ShadowPaging::default();
        sp.switch_to(regs.cr3);
        let (f, bits, o) = sp
            .translate(&mut ram, regs, 0x4010, access::USER, &P2m::default())
            .unwrap();
        assert_eq!((f, o), (p2m::host_of(0x9000), ShadowOutcome::Filled));
        assert_eq!(bits & tlb::DIRTY, 0, "clean page: a write must come back");
        let (_, _, o) = sp
            .translate(&mut ram, regs, 0x4020, access::USER, &P2m::default())
            .unwrap();
        assert_eq!(o, ShadowOutcome::Hit);
        let (_, bits, o) = sp
            .translate(
                &mut ram,
                regs,
                0x4020,
                access::USER | access::WRITE,
                &P2m::default(),
            )
            .unwrap();
        assert_eq!(o, ShadowOutcome::Filled);
        assert_eq!(bits & tlb::DIRTY, tlb::DIRTY);
        assert_eq!(ram.read_u32(0x2010) & pte::D, pte::D, "guest D bit set");
        assert_eq!(sp.stats.hidden_faults, 2);
        assert_eq!(sp.stats.tables_built, 1);
        assert_eq!(sp.table(0x1000, 0).len(), 1);
    }

    #[test]
    fn true_faults_keep_the_guest_error_code_and_kernel_pages_stay_supervisor() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 3 * 4, 0x8000 | pte::P | pte::RW); // supervisor page
        let mut sp = ShadowPaging::default();
        assert!(sp
            .translate(&mut ram, regs, 0x3000, access::WRITE, &P2m::default())
            .is_ok());
        let e = sp.translate(&mut ram, regs, 0x3000, access::USER, &P2m::default());
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x3000,
                error_code: 5
            })
        );
        assert_eq!(sp.stats.true_faults, 1);
    }

    #[test]
    fn supervisor_write_to_a_read_only_page_with_wp_clear_stays_out_of_user_reach() {
        let mut ram = Ram::new(0x10000);
        let mut regs = two_level(&mut ram);
        regs.cr0 &= !crate::state::cr0::WP;
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::US); // user, read-only
        let mut sp = ShadowPaging::default();
        let (_, bits, _) = sp
            .translate(&mut ram, regs, 0x4000, access::WRITE, &P2m::default())
            .unwrap();
        assert_eq!(bits, tlb::WRITE | tlb::DIRTY, "writable, supervisor-only");
        let e = sp.translate(
            &mut ram,
            regs,
            0x4000,
            access::USER | access::WRITE,
            &P2m::default(),
        );
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x4000,
                error_code: 7
            })
        );
        let (_, bits, _) = sp
            .translate(&mut ram, regs, 0x4000, access::USER, &P2m::default())
            .unwrap();
        assert_eq!(
            bits & (tlb::USER | tlb::WRITE),
            tlb::USER,
            "user read: read-only again"
        );
    }

    #[test]
    fn ring_three_kernel_root_maps_supervisor_pages_for_user_accesses_only_there() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 3 * 4, 0x8000 | pte::P | pte::RW); // supervisor page
        let mut sp = ShadowPaging::default();
        assert!(sp.select_root(true));
        assert!(!sp.select_root(true), "already the kernel root");
        // the guest kernel's access arrives as a user access of hardware ring 3
        let (f, bits, _) = sp
            .translate(
                &mut ram,
                regs,
                0x3000,
                access::USER | access::WRITE,
                &P2m::default(),
            )
            .unwrap();
        assert_eq!(f, p2m::host_of(0x8000));
        assert_eq!(
            bits & tlb::USER,
            tlb::USER,
            "user-accessible in the kernel root"
        );
        assert!(sp.select_root(false));
        let e = sp.translate(&mut ram, regs, 0x3000, access::USER, &P2m::default());
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x3000,
                error_code: 5
            }),
            "absent from the user root: the guest's own fault"
        );
        assert!(sp.select_root(true));
        let (_, _, o) = sp
            .translate(&mut ram, regs, 0x3000, access::USER, &P2m::default())
            .unwrap();
        assert_eq!(o, ShadowOutcome::Hit, "the kernel root was kept");
        sp.invalidate(0x3000);
        let (_, _, o) = sp
            .translate(&mut ram, regs, 0x3000, access::USER, &P2m::default())
            .unwrap();
        assert_eq!(o, ShadowOutcome::Filled, "INVLPG trims both roots");
        assert_eq!(sp.stats.root_switches, 3);
    }

    #[test]
    fn cr3_switch_and_invlpg_drop_what_they_must() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 4 * 4, 0x9000 | pte::P | pte::RW);
        let mut sp = ShadowPaging::default();
        sp.translate(&mut ram, regs, 0x4000, access::READ, &P2m::default())
            .unwrap();
        ram.write_u32(0x2000 + 4 * 4, 0xa000 | pte::P | pte::RW);
        let (f, _, o) = sp
            .translate(&mut ram, regs, 0x4000, access::READ, &P2m::default())
            .unwrap();
        assert_eq!(
            (f, o),
            (p2m::host_of(0x9000), ShadowOutcome::Hit),
            "stale until INVLPG, like a TLB"
        );
        sp.invalidate(0x4000);
        let (f, _, _) = sp
            .translate(&mut ram, regs, 0x4000, access::READ, &P2m::default())
            .unwrap();
        assert_eq!(f, p2m::host_of(0xa000));
        sp.switch_to(0x1000);
        assert_eq!(sp.stats.tables_dropped, 1);
        assert!(sp.directory(0x1000).is_empty());
    }
}
