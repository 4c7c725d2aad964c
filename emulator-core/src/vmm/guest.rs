//! The guest's memory as the VMM reads it: the guest page walk (which the
//! shadow fill and the nested walk both use), linear reads and writes on the
//! guest's behalf, and segment descriptors from the guest's tables.

use crate::error::Exception;
use crate::state::{cr0, cr4, Segment, TableReg};

use super::vcpu::PagingView;

/// Physical memory as the VMM reads and writes it.
pub trait PhysMem {
    /// Reads a byte (unmapped reads give 0xFF).
    fn read_u8(&mut self, phys: u32) -> u8;
    /// Writes a byte (ROM and unmapped writes are dropped).
    fn write_u8(&mut self, phys: u32, value: u8);
    /// Reads a little-endian dword.
    fn read_u32(&mut self, phys: u32) -> u32 {
        u32::from_le_bytes([
            self.read_u8(phys),
            self.read_u8(phys.wrapping_add(1)),
            self.read_u8(phys.wrapping_add(2)),
            self.read_u8(phys.wrapping_add(3)),
        ])
    }
    /// Writes a little-endian dword.
    fn write_u32(&mut self, phys: u32, value: u32) {
        for (i, b) in value.to_le_bytes().into_iter().enumerate() {
            self.write_u8(phys.wrapping_add(i as u32), b);
        }
    }
}

pub use crate::mmu::{access, pte, tlb};

/// What a guest page walk found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GuestMapping {
    /// The guest-physical page frame.
    pub frame: u32,
    /// Both levels allow user access.
    pub user: bool,
    /// Both levels allow writes.
    pub writable: bool,
    /// The leaf's dirty bit (after this access).
    pub dirty: bool,
    /// It came from a 4 MiB page.
    pub large: bool,
}

/// The guest's two-level page walk (SDM vol. 3, 4.3), with the same protection
/// checks, #PF error codes and accessed/dirty updates as the hardware's.
/// `table_ref` maps the guest-physical address of each table entry to the
/// host-physical one (the identity, or a nested translation that counts).
pub fn guest_walk(
    mem: &mut dyn PhysMem,
    regs: PagingView,
    linear: u32,
    acc: u8,
    table_ref: &mut dyn FnMut(u32) -> u32,
) -> Result<GuestMapping, Exception> {
    let write = acc & access::WRITE != 0;
    let user = acc & access::USER != 0;
    let fault = |present: bool| Exception::PageFault {
        linear,
        error_code: (acc & (access::WRITE | access::USER)) as u32 | present as u32,
    };
    let pde_addr = table_ref((regs.cr3 & !0xfff) | ((linear >> 22) << 2));
    let pde = mem.read_u32(pde_addr);
    if pde & pte::P == 0 {
        return Err(fault(false));
    }
    let large = pde & pte::PS != 0 && regs.cr4 & cr4::PSE != 0;
    let (frame, perms, leaf_addr, leaf) = if large {
        (
            (pde & 0xffc0_0000) | (linear & 0x003f_f000),
            pde,
            pde_addr,
            pde,
        )
    } else {
        let pte_addr = table_ref((pde & !0xfff) | (((linear >> 12) & 0x3ff) << 2));
        let pte_val = mem.read_u32(pte_addr);
        if pte_val & pte::P == 0 {
            return Err(fault(false));
        }
        (pte_val & !0xfff, pde & pte_val, pte_addr, pte_val)
    };
    let user_ok = perms & pte::US != 0;
    let write_ok = perms & pte::RW != 0;
    if user && !user_ok {
        return Err(fault(true));
    }
    if write && !write_ok && (user || regs.cr0 & cr0::WP != 0) {
        return Err(fault(true));
    }
    if pde & pte::A == 0 {
        mem.write_u32(pde_addr, pde | pte::A);
    }
    let mut leaf = if large { pde | pte::A } else { leaf };
    let want = pte::A | if write { pte::D } else { 0 };
    if leaf & want != want {
        leaf |= want;
        mem.write_u32(leaf_addr, leaf);
    }
    Ok(GuestMapping {
        frame,
        user: user_ok,
        writable: write_ok,
        dirty: leaf & pte::D != 0,
        large,
    })
}

/// Guest-linear to guest-physical for an access the VMM makes on the guest's
/// behalf (as the CPU would: protection checked, A/D bits set).
pub fn linear_to_phys(
    mem: &mut dyn PhysMem,
    regs: PagingView,
    linear: u32,
    acc: u8,
) -> Result<u32, Exception> {
    if !regs.paging() {
        return Ok(linear);
    }
    let m = guest_walk(mem, regs, linear, acc, &mut |a| a)?;
    Ok(m.frame | (linear & 0xfff))
}

/// Reads `buf.len()` bytes at a guest-linear address.
pub fn read_linear(
    mem: &mut dyn PhysMem,
    regs: PagingView,
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
    regs: PagingView,
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
    regs: PagingView,
    linear: u32,
    acc: u8,
) -> Result<u32, Exception> {
    let mut b = [0u8; 4];
    read_linear(mem, regs, linear, &mut b, acc)?;
    Ok(u32::from_le_bytes(b))
}

/// A segment descriptor as two dwords.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Descriptor {
    /// Bits 0..31.
    pub lo: u32,
    /// Bits 32..63.
    pub hi: u32,
}

impl Descriptor {
    /// Present.
    pub fn present(&self) -> bool {
        self.hi & (1 << 15) != 0
    }
    /// Descriptor privilege level.
    pub fn dpl(&self) -> u8 {
        ((self.hi >> 13) & 3) as u8
    }
    /// S: a code or data segment (not a system descriptor).
    pub fn code_or_data(&self) -> bool {
        self.hi & (1 << 12) != 0
    }
    /// The four type bits.
    pub fn kind(&self) -> u8 {
        ((self.hi >> 8) & 0xf) as u8
    }
    /// A code segment.
    pub fn code(&self) -> bool {
        self.code_or_data() && self.kind() & 8 != 0
    }
    /// A conforming code segment.
    pub fn conforming(&self) -> bool {
        self.code() && self.kind() & 4 != 0
    }
    /// A writable data segment.
    pub fn writable_data(&self) -> bool {
        self.code_or_data() && self.kind() & 8 == 0 && self.kind() & 2 != 0
    }
    /// A readable segment (any data segment, or readable code).
    pub fn readable(&self) -> bool {
        self.code_or_data() && (self.kind() & 8 == 0 || self.kind() & 2 != 0)
    }
    /// The segment register cache this descriptor loads, with `selector`.
    pub fn segment(&self, selector: u16) -> Segment {
        let base = (self.lo >> 16) | ((self.hi & 0xff) << 16) | (self.hi & 0xff00_0000);
        let raw_limit = (self.lo & 0xffff) | (self.hi & 0x000f_0000);
        let limit = if self.hi & (1 << 23) != 0 {
            (raw_limit << 12) | 0xfff
        } else {
            raw_limit
        };
        Segment {
            selector,
            base,
            limit,
            attrs: ((self.hi >> 8) & 0xf0ff) as u16,
        }
    }
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
    regs: PagingView,
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
    regs: PagingView,
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
    pub(crate) fn two_level(ram: &mut Ram) -> PagingView {
        ram.write_u32(0x1000, 0x2000 | pte::P | pte::RW | pte::US);
        PagingView {
            cr0: cr0::PE | cr0::PG | cr0::WP,
            cr3: 0x1000,
            cr4: 0,
        }
    }

    #[test]
    fn walk_sets_accessed_and_dirty_and_faults_with_guest_codes() {
        let mut ram = Ram::new(0x10000);
        let regs = two_level(&mut ram);
        ram.write_u32(0x2000 + 5 * 4, 0x7000 | pte::P | pte::US); // read-only user page
        let m = guest_walk(&mut ram, regs, 0x5123, access::USER, &mut |a| a).unwrap();
        assert_eq!(m.frame, 0x7000);
        assert!(m.user && !m.writable && !m.dirty);
        assert_eq!(ram.read_u32(0x2000 + 20) & pte::A, pte::A);
        assert_eq!(ram.read_u32(0x1000) & pte::A, pte::A);
        let e = guest_walk(
            &mut ram,
            regs,
            0x5123,
            access::USER | access::WRITE,
            &mut |a| a,
        );
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x5123,
                error_code: 7
            })
        );
        let e = guest_walk(&mut ram, regs, 0x6000, access::READ, &mut |a| a);
        assert_eq!(
            e,
            Err(Exception::PageFault {
                linear: 0x6000,
                error_code: 0
            })
        );
    }

    #[test]
    fn descriptors_decode_base_limit_and_rights() {
        let d = Descriptor {
            lo: 0x0000_ffff,
            hi: 0x00cf_9a00,
        };
        let s = d.segment(0x08);
        assert_eq!((s.base, s.limit, s.attrs), (0, 0xffff_ffff, 0xc09a));
        assert!(d.code() && !d.conforming() && d.readable() && d.present());
        assert_eq!(d.dpl(), 0);
    }
}
