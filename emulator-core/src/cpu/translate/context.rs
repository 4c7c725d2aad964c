//! The region context: the addresses and bounds a compiled region reads from the host's
//! linear memory at entry (the guest registers, the lazy-flags record, RAM and its
//! plain-store map, the TLB), so its memory fast path and flags run inline.

use crate::machine::Machine;
use crate::memory::ONE_MIB;
use crate::mmu;
use crate::state::cr0;

/// What a compiled region reads at entry, at the byte offsets its fields have here
/// (`repr(C)`, every field a 32-bit word). Addresses are the host's linear-memory
/// addresses (meaningful in the Wasm build, where they are 32-bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RegionContext {
    /// `CpuState::gpr`: EAX … EDI.
    pub gpr: u32,
    /// The lazy-flags record (`Flags`, four words).
    pub flags: u32,
    /// Guest-physical byte 0 of RAM.
    pub ram: u32,
    /// An access of at most 4 bytes at a physical address below this is plain RAM below
    /// the ROM windows (0 when accesses take the slow path: RAM in frames).
    pub low_end: u32,
    /// An access of at most 4 bytes at 1 MiB + `x`, `x` below this, is plain RAM.
    pub high_span: u32,
    /// `Memory::plain_store`: one byte per RAM page, 1 when a store there needs no
    /// bookkeeping (the page is dirty and holds no translated or decoded code).
    pub plain_store: u32,
    /// The chain table (`chain.rs`), 0 when regions do not chain (paging on).
    pub chain: u32,
    /// `Memory::generation`: one word per RAM page, its code generation.
    pub generations: u32,
    /// With paging on, the TLB's first entry (`mmu::tlb_layout`); 0 with paging off,
    /// where a linear address is physical.
    pub tlb: u32,
    /// The TLB bits a read needs for a hit (at the CPL and CR0.WP the region runs
    /// with: no translated instruction changes them).
    pub need_read: u32,
    /// The TLB bits a write needs for a hit.
    pub need_write: u32,
    /// The TLB's hit counter (a `u64`), which an inline hit counts as the interpreter's
    /// lookup does.
    pub hits: u32,
}

/// Byte offsets of the fields, for the Wasm backend.
pub(crate) const GPR: u64 = 0;
pub(crate) const FLAGS: u64 = 4;
pub(crate) const RAM: u64 = 8;
pub(crate) const LOW_END: u64 = 12;
pub(crate) const HIGH_SPAN: u64 = 16;
pub(crate) const PLAIN_STORE: u64 = 20;
pub(crate) const CHAIN: u64 = 24;
pub(crate) const GENERATIONS: u64 = 28;
pub(crate) const TLB: u64 = 32;
pub(crate) const NEED_READ: u64 = 36;
pub(crate) const NEED_WRITE: u64 = 40;
pub(crate) const HITS: u64 = 44;

impl Machine {
    /// Refreshes the region context for a call of a compiled region and returns its
    /// address (the `ctx` argument of the region's `run`).
    pub fn region_context(&mut self) -> usize {
        let flat = self.cpu.cr0 & cr0::PG == 0;
        let (tlb, hits) = self.cpu.mmu.inline_addresses();
        let user = self.user_acc();
        let (ram, len) = match self.mem.ram_slice() {
            Some(r) => (r.as_ptr() as usize as u32, r.len()),
            None => (0, 0),
        };
        let inline = len > 0;
        let len = len.min(u32::MAX as usize) as u32;
        let ctx = RegionContext {
            gpr: self.cpu.gpr.as_ptr() as usize as u32,
            flags: &self.cpu.flags as *const _ as usize as u32,
            ram,
            low_end: if inline {
                self.mem.rom_low().min(len).saturating_sub(3)
            } else {
                0
            },
            high_span: if inline {
                len.saturating_sub(ONE_MIB + 3)
            } else {
                0
            },
            plain_store: self.mem.plain_store_map().as_ptr() as usize as u32,
            chain: if flat {
                self.cpu.fast.xlate.chain.0.as_ptr() as usize as u32
            } else {
                0
            },
            generations: self.mem.generation_map().as_ptr() as usize as u32,
            tlb: if flat { 0 } else { tlb as u32 },
            need_read: mmu::tlb_need(user, self.cpu.cr0).into(),
            need_write: mmu::tlb_need(user | mmu::access::WRITE, self.cpu.cr0).into(),
            hits: hits as u32,
        };
        let slot = &mut self.cpu.fast.xlate.context;
        **slot = ctx;
        &**slot as *const RegionContext as usize
    }
}
