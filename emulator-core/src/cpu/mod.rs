//! The IA-32 processor: decoding with the per-page decode cache, registers, operand and
//! memory access through segmentation and paging, and the instruction families.

pub mod alu;
pub(crate) mod decode;
pub(crate) mod exec;
pub(crate) mod fast;
pub(crate) mod interrupt;
pub(crate) mod percpu;
pub(crate) mod segment;
pub(crate) mod task;
pub mod translate;
pub(crate) mod v86;
pub mod x87;

#[cfg(test)]
mod tests;

use iced_x86::{OpKind, Register};

use crate::descriptor::{self, attr};
use crate::error::Exception;
use crate::machine::Machine;
use crate::mmu::{access, PagingRegs};
use crate::state::{cr0, flags, SegReg};
use decode::{Decoded, K_GPR, K_IMM, K_MEM, NO_REG};
pub use percpu::Cpu;

/// ES, CS, SS, DS, FS, GS as indices into `CpuState::seg`.
pub(crate) const ES: usize = SegReg::Es as usize;
pub(crate) const CS: usize = SegReg::Cs as usize;
pub(crate) const SS: usize = SegReg::Ss as usize;
pub(crate) const DS: usize = SegReg::Ds as usize;
pub(crate) const FS: usize = SegReg::Fs as usize;
pub(crate) const GS: usize = SegReg::Gs as usize;
/// General-purpose register indices.
pub(crate) const EAX: usize = 0;
pub(crate) const ECX: usize = 1;
pub(crate) const EDX: usize = 2;
pub(crate) const EBX: usize = 3;
pub(crate) const ESP: usize = 4;
pub(crate) const EBP: usize = 5;
pub(crate) const ESI: usize = 6;
pub(crate) const EDI: usize = 7;

/// All-ones mask for an operand of `size` bytes (1, 2 or 4).
#[inline(always)]
pub(crate) const fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

/// A physical location for an access that may straddle two pages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhysRef {
    first: u32,
    second: u32,
    /// Bytes in the first page (the access size when it does not straddle).
    split: u8,
}

impl Machine {
    // ---- registers -------------------------------------------------------------

    /// Reads a register operand (8/16/32-bit GPR or segment selector).
    #[inline(always)]
    pub(crate) fn reg_read(&self, r: Register) -> u32 {
        let n = r as usize;
        let g = &self.cpu.gpr;
        match n {
            1..=4 => g[(n - 1) & 7] & 0xff,
            5..=8 => (g[(n - 5) & 7] >> 8) & 0xff,
            21..=28 => g[(n - 21) & 7] & 0xffff,
            37..=44 => g[(n - 37) & 7],
            71..=76 => self.cpu.seg[(n - 71) % 6].selector as u32,
            _ => 0,
        }
    }

    /// Writes a GPR operand, keeping the bits outside its width.
    #[inline(always)]
    pub(crate) fn reg_write(&mut self, r: Register, v: u32) {
        let n = r as usize;
        let g = &mut self.cpu.gpr;
        match n {
            1..=4 => {
                let x = &mut g[(n - 1) & 7];
                *x = (*x & !0xff) | (v & 0xff);
            }
            5..=8 => {
                let x = &mut g[(n - 5) & 7];
                *x = (*x & !0xff00) | ((v & 0xff) << 8);
            }
            21..=28 => {
                let x = &mut g[(n - 21) & 7];
                *x = (*x & !0xffff) | (v & 0xffff);
            }
            37..=44 => g[(n - 37) & 7] = v,
            _ => {}
        }
    }

    /// Reads a GPR operand packed by [`decode::pack_gpr`].
    #[inline(always)]
    pub(crate) fn gpr_get(&self, packed: u8) -> u32 {
        let v = self.cpu.gpr[(packed & 7) as usize];
        match packed >> 3 {
            0 => v,
            1 => v & 0xffff,
            2 => v & 0xff,
            _ => (v >> 8) & 0xff,
        }
    }

    /// Writes a GPR operand packed by [`decode::pack_gpr`].
    #[inline(always)]
    pub(crate) fn gpr_set(&mut self, packed: u8, v: u32) {
        let x = &mut self.cpu.gpr[(packed & 7) as usize];
        *x = match packed >> 3 {
            0 => v,
            1 => (*x & !0xffff) | (v & 0xffff),
            2 => (*x & !0xff) | (v & 0xff),
            _ => (*x & !0xff00) | ((v & 0xff) << 8),
        };
    }

    /// Writes the low `size` bytes of GPR `i`.
    #[inline(always)]
    pub(crate) fn gpr_write(&mut self, i: usize, size: u8, v: u32) {
        let x = &mut self.cpu.gpr[i & 7];
        *x = match size {
            1 => (*x & !0xff) | (v & 0xff),
            2 => (*x & !0xffff) | (v & 0xffff),
            _ => v,
        };
    }

    /// EFLAGS with the live status flags.
    #[inline]
    pub(crate) fn eflags(&self) -> u32 {
        (self.cpu.eflags & !flags::STATUS) | self.cpu.flags.status() | flags::RESERVED1
    }

    /// Sets EFLAGS (status flags included); reserved bits forced as the SDM says.
    #[inline]
    pub(crate) fn set_eflags(&mut self, v: u32) {
        let v = (v & 0x003f_7fd5) | flags::RESERVED1;
        self.cpu.eflags = v;
        self.cpu.flags.set_status(v);
    }

    /// The access bits for a guest data access at the current privilege level.
    #[inline(always)]
    pub(crate) fn user_acc(&self) -> u8 {
        if self.cpu.cpl == 3 {
            access::USER
        } else {
            0
        }
    }

    #[inline(always)]
    pub(crate) fn paging_regs(&self) -> PagingRegs {
        PagingRegs {
            cr0: self.cpu.cr0,
            cr3: self.cpu.cr3,
            cr4: self.cpu.cr4,
        }
    }

    // ---- linear and physical access ---------------------------------------------

    /// Translates a linear access of `size` bytes (both pages when it straddles).
    #[inline(always)]
    pub(crate) fn lin_ref(&mut self, lin: u32, size: u8, acc: u8) -> Result<PhysRef, Exception> {
        if self.cpu.cr0 & cr0::PG == 0 {
            return Ok(PhysRef {
                first: lin,
                second: lin.wrapping_add(size as u32),
                split: size,
            });
        }
        let regs = self.paging_regs();
        let first = self.translate_access(regs, lin, acc)?;
        let room = 0x1000 - (lin & 0xfff);
        if room >= size as u32 {
            return Ok(PhysRef {
                first,
                second: 0,
                split: size,
            });
        }
        let second = self.translate_access(regs, lin.wrapping_add(room), acc)?;
        Ok(PhysRef {
            first,
            second,
            split: room as u8,
        })
    }

    #[inline(always)]
    pub(crate) fn phys_read(&mut self, r: PhysRef, size: u8) -> u32 {
        if r.split >= size {
            if r.first >= crate::devices::pci::MMIO_WINDOW {
                if let Some(v) = self.mmio_read(r.first, size) {
                    return v;
                }
            }
            return self.mem.read(r.first, size);
        }
        let mut v = 0u32;
        for i in 0..size {
            let a = if i < r.split {
                r.first.wrapping_add(i as u32)
            } else {
                r.second.wrapping_add((i - r.split) as u32)
            };
            v |= (self.mem.read_u8(a) as u32) << (8 * i);
        }
        v
    }

    #[inline(always)]
    pub(crate) fn phys_write(&mut self, r: PhysRef, size: u8, v: u32) {
        if r.split >= size {
            if r.first >= crate::devices::pci::MMIO_WINDOW && self.mmio_write(r.first, size, v) {
                return;
            }
            return self.mem.write(r.first, size, v);
        }
        for i in 0..size {
            let a = if i < r.split {
                r.first.wrapping_add(i as u32)
            } else {
                r.second.wrapping_add((i - r.split) as u32)
            };
            self.mem.write_u8(a, (v >> (8 * i)) as u8);
        }
    }

    /// Reads `size` bytes at a linear address with access bits `acc`.
    #[inline(always)]
    pub(crate) fn read_lin(&mut self, lin: u32, size: u8, acc: u8) -> Result<u32, Exception> {
        let r = self.lin_ref(lin, size, acc)?;
        Ok(self.phys_read(r, size))
    }

    /// Writes `size` bytes at a linear address with access bits `acc` (WRITE is added).
    #[inline(always)]
    pub(crate) fn write_lin(
        &mut self,
        lin: u32,
        size: u8,
        v: u32,
        acc: u8,
    ) -> Result<(), Exception> {
        let r = self.lin_ref(lin, size, acc | access::WRITE)?;
        self.phys_write(r, size, v);
        Ok(())
    }

    // ---- segmentation --------------------------------------------------------------

    /// The segment-level fault for segment register `seg`.
    #[inline]
    pub(crate) fn seg_fault(seg: usize) -> Exception {
        if seg == SS {
            Exception::StackFault(0)
        } else {
            Exception::GeneralProtection(0)
        }
    }

    /// Checks an access of `size` bytes at `off` in segment `seg` (limit, and in protected
    /// mode presence and rights) and returns the linear address.
    #[inline(always)]
    pub(crate) fn seg_lin(
        &self,
        seg: usize,
        off: u32,
        size: u8,
        write: bool,
    ) -> Result<u32, Exception> {
        let s = &self.cpu.seg[seg % 6];
        let last = off.wrapping_add(size as u32 - 1);
        // Fast path: an expand-up writable data segment (or any in real mode) with room.
        let attrs = s.attrs;
        if descriptor::writable_data_up(attrs) || self.cpu.cr0 & cr0::PE == 0 || self.cpu.v86() {
            if descriptor::expand_down_data(attrs) {
                return self.seg_lin_expand_down(seg, off, size);
            }
            if last >= off && last <= s.limit {
                return Ok(s.base.wrapping_add(off));
            }
            return Err(Self::seg_fault(seg));
        }
        self.seg_lin_slow(seg, off, size, write)
    }

    fn seg_lin_expand_down(&self, seg: usize, off: u32, size: u8) -> Result<u32, Exception> {
        let s = &self.cpu.seg[seg % 6];
        let top = if s.big() { 0xffff_ffffu32 } else { 0xffff };
        let last = off.wrapping_add(size as u32 - 1);
        if off > s.limit && last >= off && last <= top {
            Ok(s.base.wrapping_add(off))
        } else {
            Err(Self::seg_fault(seg))
        }
    }

    fn seg_lin_slow(&self, seg: usize, off: u32, size: u8, write: bool) -> Result<u32, Exception> {
        let s = &self.cpu.seg[seg % 6];
        if !s.present() {
            return Err(Self::seg_fault(seg));
        }
        let code = s.attrs & attr::CODE != 0;
        let rw = s.attrs & attr::WRITABLE != 0;
        if write && (code || !rw) {
            return Err(Self::seg_fault(seg));
        }
        if !write && code && !rw {
            return Err(Self::seg_fault(seg));
        }
        if !code && s.attrs & attr::EXPAND_DOWN != 0 {
            return self.seg_lin_expand_down(seg, off, size);
        }
        let last = off.wrapping_add(size as u32 - 1);
        if last >= off && last <= s.limit {
            Ok(s.base.wrapping_add(off))
        } else {
            Err(Self::seg_fault(seg))
        }
    }

    /// Reads `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read_mem(&mut self, seg: usize, off: u32, size: u8) -> Result<u32, Exception> {
        let lin = self.seg_lin(seg, off, size, false)?;
        self.read_lin(lin, size, self.user_acc())
    }

    /// Writes `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn write_mem(
        &mut self,
        seg: usize,
        off: u32,
        size: u8,
        v: u32,
    ) -> Result<(), Exception> {
        let lin = self.seg_lin(seg, off, size, true)?;
        self.write_lin(lin, size, v, self.user_acc())
    }

    /// Checks `seg:off` for a write and translates it, for read-modify-write instructions.
    #[inline(always)]
    pub(crate) fn mem_ref_write(
        &mut self,
        seg: usize,
        off: u32,
        size: u8,
    ) -> Result<PhysRef, Exception> {
        let lin = self.seg_lin(seg, off, size, true)?;
        self.lin_ref(lin, size, self.user_acc() | access::WRITE)
    }

    // ---- operands ------------------------------------------------------------------

    /// The effective address (offset in the segment) of the memory operand.
    #[inline(always)]
    pub(crate) fn ea(&self, d: &Decoded) -> u32 {
        let g = &self.cpu.gpr;
        let mut a = d.disp;
        if d.base != NO_REG {
            a = a.wrapping_add(g[(d.base & 7) as usize]);
        }
        if d.index != NO_REG {
            a = a.wrapping_add(g[(d.index & 7) as usize] << (d.scale & 3));
        }
        if d.addr16 {
            a & 0xffff
        } else {
            a
        }
    }

    /// Reads operand `n` (register, memory of `d.msize` bytes, or immediate).
    #[inline(always)]
    pub(crate) fn op_read(&mut self, d: &Decoded, n: u32) -> Result<u32, Exception> {
        let k = n as usize & 3;
        match d.kind[k] {
            K_GPR => Ok(self.gpr_get(d.reg[k])),
            K_MEM => {
                let off = self.ea(d);
                self.read_mem(d.seg as usize, off, d.msize)
            }
            K_IMM => Ok(d.imm),
            _ => self.op_read_other(d, n),
        }
    }

    #[inline(never)]
    fn op_read_other(&mut self, d: &Decoded, n: u32) -> Result<u32, Exception> {
        let i = &d.ins;
        match i.op_kind(n) {
            OpKind::Register => Ok(self.reg_read(i.op_register(n))),
            OpKind::Immediate8 => Ok(i.immediate8() as u32),
            OpKind::Immediate16 => Ok(i.immediate16() as u32),
            OpKind::Immediate32 => Ok(i.immediate32()),
            OpKind::Immediate8to16 => Ok(i.immediate8to16() as u16 as u32),
            OpKind::Immediate8to32 => Ok(i.immediate8to32() as u32),
            OpKind::Immediate8_2nd => Ok(i.immediate8_2nd() as u32),
            _ => Err(Exception::InvalidOpcode),
        }
    }

    /// Writes operand `n` (general-purpose register or memory of `d.msize` bytes).
    #[inline(always)]
    pub(crate) fn op_write(&mut self, d: &Decoded, n: u32, v: u32) -> Result<(), Exception> {
        let k = n as usize & 3;
        match d.kind[k] {
            K_GPR => {
                self.gpr_set(d.reg[k], v);
                Ok(())
            }
            K_MEM => {
                let off = self.ea(d);
                self.write_mem(d.seg as usize, off, d.msize, v)
            }
            _ => Err(Exception::InvalidOpcode),
        }
    }

    /// Read-modify-write of operand 0: `f` gets the old value and returns the new one
    /// (or `None` to leave the destination unwritten, as CMP/TEST do).
    #[inline(always)]
    pub(crate) fn op0_rmw(
        &mut self,
        d: &Decoded,
        f: impl FnOnce(&mut Self, u32) -> Result<Option<u32>, Exception>,
    ) -> Result<(), Exception> {
        if d.kind[0] == K_GPR {
            let r = d.reg[0];
            let old = self.gpr_get(r);
            if let Some(v) = f(self, old)? {
                self.gpr_set(r, v);
            }
            Ok(())
        } else if d.kind[0] != K_MEM {
            Err(Exception::InvalidOpcode)
        } else {
            let off = self.ea(d);
            let size = d.msize;
            let p = self.mem_ref_write(d.seg as usize, off, size)?;
            let old = self.phys_read(p, size);
            if let Some(v) = f(self, old)? {
                self.phys_write(p, size, v);
            }
            Ok(())
        }
    }

    // ---- stack ---------------------------------------------------------------------

    /// SS is a 32-bit stack (B bit).
    #[inline(always)]
    pub(crate) fn stack32(&self) -> bool {
        self.cpu.seg[SS].big()
    }

    /// The stack pointer as the stack size sees it.
    #[inline(always)]
    pub(crate) fn sp(&self) -> u32 {
        if self.stack32() {
            self.cpu.gpr[ESP]
        } else {
            self.cpu.gpr[ESP] & 0xffff
        }
    }

    /// Sets the stack pointer, keeping the upper half for a 16-bit stack.
    #[inline(always)]
    pub(crate) fn set_sp(&mut self, v: u32) {
        if self.stack32() {
            self.cpu.gpr[ESP] = v;
        } else {
            self.cpu.gpr[ESP] = (self.cpu.gpr[ESP] & 0xffff_0000) | (v & 0xffff);
        }
    }

    /// An offset in the stack segment wrapped to the stack size (64 KiB for a 16-bit
    /// stack).
    #[inline(always)]
    pub(crate) fn sp_wrap(&self, v: u32) -> u32 {
        if self.stack32() {
            v
        } else {
            v & 0xffff
        }
    }

    /// `sp + delta` wrapped to the stack size.
    #[inline(always)]
    pub(crate) fn sp_add(&self, delta: u32) -> u32 {
        self.sp_wrap(self.sp().wrapping_add(delta))
    }

    /// Pushes `size` bytes.
    #[inline(always)]
    pub(crate) fn push(&mut self, size: u8, v: u32) -> Result<(), Exception> {
        let sp = self.sp_add((size as u32).wrapping_neg());
        self.write_mem(SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Reads `size` bytes at `sp + off` without popping.
    #[inline]
    pub(crate) fn stack_peek(&mut self, off: u32, size: u8) -> Result<u32, Exception> {
        let a = self.sp_add(off);
        self.read_mem(SS, a, size)
    }
}
