//! Loaders: Multiboot kernels ([`multiboot`]) and flat binaries ([`flat`]), and
//! the flat 32-bit protected-mode entry state they share.

pub mod flat;
pub mod multiboot;

use crate::descriptor::{attr, CODE_ATTRS, DATA_ATTRS};
use crate::state::{cr0, CpuState, Segment, TableReg};

use multiboot::{ENTRY_CS, ENTRY_DS, ENTRY_GDT};

/// Flat 32-bit ring-0 protected mode through the GDT at `gdt` (laid out as
/// [`ENTRY_GDT`]): CS = 0x08 code, the other segment registers 0x10 data, both
/// base 0 and limit 4 GiB.
pub(crate) fn enter_flat32(cpu: &mut CpuState, gdt: u32) {
    cpu.gdtr = TableReg {
        base: gdt,
        limit: (8 * ENTRY_GDT.len() - 1) as u16,
    };
    cpu.cr0 |= cr0::PE;
    let flat = |selector: u16, attrs: u16| Segment {
        selector,
        base: 0,
        limit: 0xffff_ffff,
        attrs,
    };
    let big = attr::GRANULAR | attr::BIG;
    cpu.seg = [flat(ENTRY_DS, big | DATA_ATTRS); 6];
    cpu.seg[crate::cpu::CS] = flat(ENTRY_CS, big | CODE_ATTRS);
    cpu.cpl = 0;
}
