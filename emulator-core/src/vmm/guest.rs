//! The guest's memory as the VMM reads it: linear reads and writes on the
//! guest's behalf (through the one page walk, [`crate::mmu::walk`]), and
//! segment descriptors from the guest's tables.

use crate::descriptor::Descriptor;
use crate::error::Exception;
use crate::mmu::{walk, PagingRegs};
use crate::state::{Segment, TableReg};

pub use crate::memory::PhysMem;
pub use crate::mmu::{access, pte, tlb};

/// Guest-linear to guest-physical for an access the VMM makes on the guest's
/// behalf (as the CPU would: protection checked, A/D bits set).
pub fn linear_to_phys(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    linear: u32,
    acc: u8,
) -> Result<u32, Exception> {
    if !regs.paging() {
        return Ok(linear);
    }
    Ok(walk(mem, regs, linear, acc)?.frame() | (linear & 0xfff))
}

/// Reads `buf.len()` bytes at a guest-linear address.
pub fn read_linear(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    linear: u32,
    buf: &mut [u8],
    acc: u8,
) -> Result<(), Exception> {
    let mut phys = linear_to_phys(mem, regs, linear, acc)?;
    for (i, b) in buf.iter_mut().enumerate() {
        let lin = linear.wrapping_add(i as u32);
        if i > 0 && lin & 0xfff == 0 {
            phys = linear_to_phys(mem, regs, lin, acc)?;
        }
        *b = mem.read_u8(phys | (lin & 0xfff));
        phys &= !0xfff;
    }
    Ok(())
}

/// Writes bytes at a guest-linear address; every page is checked before any byte
/// is written, so a fault leaves memory untouched.
pub fn write_linear(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    linear: u32,
    bytes: &[u8],
    acc: u8,
) -> Result<(), Exception> {
    let last = linear.wrapping_add(bytes.len().saturating_sub(1) as u32);
    let first_phys = linear_to_phys(mem, regs, linear, acc | access::WRITE)?;
    let last_phys = linear_to_phys(mem, regs, last, acc | access::WRITE)?;
    for (i, b) in bytes.iter().enumerate() {
        let lin = linear.wrapping_add(i as u32);
        let page = if (lin ^ linear) & !0xfff == 0 {
            first_phys & !0xfff
        } else {
            last_phys & !0xfff
        };
        mem.write_u8(page | (lin & 0xfff), *b);
    }
    Ok(())
}

/// Reads a dword at a guest-linear address.
pub fn read_u32_linear(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    linear: u32,
    acc: u8,
) -> Result<u32, Exception> {
    let mut b = [0u8; 4];
    read_linear(mem, regs, linear, &mut b, acc)?;
    Ok(u32::from_le_bytes(b))
}

/// Where a descriptor lives: the guest-linear address of its 8 bytes.
pub fn descriptor_address(gdtr: TableReg, ldtr: &Segment, selector: u16) -> Result<u32, Exception> {
    let index = (selector & !7) as u32;
    let (base, limit) = if selector & 4 != 0 {
        if ldtr.selector & !3 == 0 {
            return Err(Exception::GeneralProtection(selector & !3));
        }
        (ldtr.base, ldtr.limit)
    } else {
        (gdtr.base, gdtr.limit as u32)
    };
    if index + 7 > limit {
        return Err(Exception::GeneralProtection(selector & !3));
    }
    Ok(base.wrapping_add(index))
}

/// Reads the descriptor `selector` names from the guest's GDT or LDT.
pub fn read_descriptor(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    gdtr: TableReg,
    ldtr: &Segment,
    selector: u16,
) -> Result<Descriptor, Exception> {
    let at = descriptor_address(gdtr, ldtr, selector)?;
    let mut b = [0u8; 8];
    read_linear(mem, regs, at, &mut b, access::READ)?;
    Ok(Descriptor {
        lo: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        hi: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    })
}

/// Sets bits in the descriptor's high dword (accessed, TSS busy) as the hardware does.
pub fn set_descriptor_bits(
    mem: &mut dyn PhysMem,
    regs: PagingRegs,
    gdtr: TableReg,
    ldtr: &Segment,
    selector: u16,
    bits: u32,
) -> Result<(), Exception> {
    let at = descriptor_address(gdtr, ldtr, selector)?;
    let hi = read_u32_linear(mem, regs, at.wrapping_add(4), access::READ)?;
    if hi & bits != bits {
        write_linear(
            mem,
            regs,
            at.wrapping_add(4),
            &(hi | bits).to_le_bytes(),
            access::READ,
        )?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::cr0;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A flat test memory.
    pub(crate) struct Ram(pub Vec<u8>);

    impl Ram {
        pub(crate) fn new(bytes: usize) -> Ram {
            Ram(vec![0; bytes])
        }
    }

    impl PhysMem for Ram {
        fn read_u8(&mut self, phys: u32) -> u8 {
            self.0.get(phys as usize).copied().unwrap_or(0xff)
        }
        fn write_u8(&mut self, phys: u32, value: u8) {
            if let Some(b) = self.0.get_mut(phys as usize) {
                *b = value;
            }
        }
    }

    /// Page directory at 0x1000, one page table at 0x2000 for 0-4 MiB.
    pub(crate) fn two_level(ram: &mut Ram) -> PagingRegs {
        ram.write_u32(0x1000, 0x2000 | pte::P | pte::RW | pte::US);
        PagingRegs {
            cr0: cr0::PE | cr0::PG | cr0::WP,
            cr3: 0x1000,
            cr4: 0,
        }
    }
}
