//! The x87's memory images: operands of 2 to 10 bytes, and the environment
//! (FNSTENV/FLDENV), full state (FNSAVE/FRSTOR) and FXSAVE/FXRSTOR areas, all read or
//! written whole so that a fault part-way leaves memory unchanged.

use alloc::vec::Vec;

use super::f80::F80;
use super::{Fpu, Tag};
use crate::cpu::decode::Decoded;
use crate::error::Exception;
use crate::machine::Machine;

impl Machine {
    /// Reads `buf.len()` bytes of the memory operand, from `extra` bytes past it.
    pub(super) fn x87_read(
        &mut self,
        d: &Decoded,
        extra: u32,
        buf: &mut [u8],
    ) -> Result<(), Exception> {
        let seg = d.seg as usize;
        let base = self.ea(d).wrapping_add(extra);
        let mut i = 0;
        while i < buf.len() {
            let n = (buf.len() - i).min(4);
            let size = if n >= 4 {
                4
            } else if n >= 2 {
                2
            } else {
                1
            };
            let off = self.wrap_offset(d, base.wrapping_add(i as u32));
            let v = self.read_mem(seg, off, size)?;
            buf[i..i + size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]);
            i += size as usize;
        }
        Ok(())
    }

    /// Writes `bytes` to the memory operand, every page checked before the first byte
    /// changes.
    pub(super) fn x87_write(&mut self, d: &Decoded, bytes: &[u8]) -> Result<(), Exception> {
        let seg = d.seg as usize;
        let base = self.ea(d);
        let mut refs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let n = (bytes.len() - i).min(4);
            let size = if n >= 4 {
                4
            } else if n >= 2 {
                2
            } else {
                1
            };
            let off = self.wrap_offset(d, base.wrapping_add(i as u32));
            refs.push((self.mem_ref_write(seg, off, size)?, i, size));
            i += size as usize;
        }
        for (r, at, size) in refs {
            let mut w = [0u8; 4];
            w[..size as usize].copy_from_slice(&bytes[at..at + size as usize]);
            self.phys_write(r, size, u32::from_le_bytes(w));
        }
        Ok(())
    }

    fn wrap_offset(&self, d: &Decoded, off: u32) -> u32 {
        if d.addr16 {
            off & 0xffff
        } else {
            off
        }
    }
}

impl Fpu {
    /// The tag word as FNSTENV stores it: each non-empty register tagged by its value.
    pub(super) fn full_tag_word(&self) -> u16 {
        let mut tw = 0u16;
        for r in 0..8 {
            let t = match self.tag_phys(r) {
                Tag::Empty => Tag::Empty,
                _ => Tag::of(F80::from_bytes(self.regs[r])),
            };
            tw |= (t as u16) << (2 * r);
        }
        tw
    }

    /// The environment image: 28 bytes in 32-bit form, 14 in 16-bit form.
    pub(super) fn env_image(&self, size32: bool) -> Vec<u8> {
        let mut b = Vec::new();
        let tw = self.full_tag_word();
        if size32 {
            for w in [self.cw as u32, self.sw as u32, tw as u32, self.fip] {
                b.extend_from_slice(&w.to_le_bytes());
            }
            b.extend_from_slice(&self.fcs.to_le_bytes());
            b.extend_from_slice(&(self.fop & 0x7ff).to_le_bytes());
            b.extend_from_slice(&self.fdp.to_le_bytes());
            b.extend_from_slice(&(self.fds as u32).to_le_bytes());
        } else {
            for w in [
                self.cw,
                self.sw,
                tw,
                self.fip as u16,
                self.fcs,
                self.fdp as u16,
                self.fds,
            ] {
                b.extend_from_slice(&w.to_le_bytes());
            }
        }
        b
    }

    /// Loads an environment image (as [`Fpu::env_image`] lays it out).
    pub(super) fn load_env(&mut self, b: &[u8], size32: bool) {
        let w16 = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let w32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let tw;
        if size32 {
            self.cw = w16(0);
            self.sw = w16(4);
            tw = w16(8);
            self.fip = w32(12);
            self.fcs = w16(16);
            self.fop = w16(18) & 0x7ff;
            self.fdp = w32(20);
            self.fds = w16(24);
        } else {
            self.cw = w16(0);
            self.sw = w16(2);
            tw = w16(4);
            self.fip = w16(6) as u32;
            self.fcs = w16(8);
            self.fdp = w16(10) as u32;
            self.fds = w16(12);
        }
        // Empty stays empty; every other register is tagged by what it holds.
        for r in 0..8 {
            let t = if (tw >> (2 * r)) & 3 == 3 {
                Tag::Empty
            } else {
                Tag::of(F80::from_bytes(self.regs[r]))
            };
            self.set_tag_phys(r, t);
        }
        self.update_summary();
    }

    /// The 512-byte FXSAVE image (no SSE state: MXCSR reads as its reset value).
    pub(super) fn fxsave_image(&self) -> Vec<u8> {
        let mut b = alloc::vec![0u8; 512];
        b[0..2].copy_from_slice(&self.cw.to_le_bytes());
        b[2..4].copy_from_slice(&self.sw.to_le_bytes());
        let mut abridged = 0u8;
        for r in 0..8 {
            if self.tag_phys(r) != Tag::Empty {
                abridged |= 1 << r;
            }
        }
        b[4] = abridged;
        b[6..8].copy_from_slice(&(self.fop & 0x7ff).to_le_bytes());
        b[8..12].copy_from_slice(&self.fip.to_le_bytes());
        b[12..14].copy_from_slice(&self.fcs.to_le_bytes());
        b[16..20].copy_from_slice(&self.fdp.to_le_bytes());
        b[20..22].copy_from_slice(&self.fds.to_le_bytes());
        b[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        b[28..32].copy_from_slice(&0xffffu32.to_le_bytes());
        for i in 0..8 {
            let at = 32 + 16 * i;
            b[at..at + 10].copy_from_slice(&self.regs[self.phys(i)]);
        }
        b
    }

    /// Loads a 512-byte FXSAVE image.
    pub(super) fn load_fxsave(&mut self, b: &[u8]) {
        self.cw = u16::from_le_bytes([b[0], b[1]]);
        self.sw = u16::from_le_bytes([b[2], b[3]]);
        self.fop = u16::from_le_bytes([b[6], b[7]]) & 0x7ff;
        self.fip = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        self.fcs = u16::from_le_bytes([b[12], b[13]]);
        self.fdp = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
        self.fds = u16::from_le_bytes([b[20], b[21]]);
        for i in 0..8 {
            let at = 32 + 16 * i;
            let mut r = [0u8; 10];
            r.copy_from_slice(&b[at..at + 10]);
            let p = self.phys(i);
            self.regs[p] = r;
        }
        for r in 0..8 {
            let t = if b[4] & (1 << r) == 0 {
                Tag::Empty
            } else {
                Tag::of(F80::from_bytes(self.regs[r]))
            };
            self.set_tag_phys(r, t);
        }
        self.update_summary();
    }
}
