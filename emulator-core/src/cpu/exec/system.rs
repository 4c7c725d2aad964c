//! System instructions: descriptor-table registers, LLDT/LTR, control and debug
//! registers, LMSW/SMSW/CLTS, INVLPG, HLT, CLI/STI, CPUID, RDTSC, LAR/LSL/VERR/VERW/ARPL.

use iced_x86::{Mnemonic as M, OpKind};

use crate::cpu::decode::Decoded;
use crate::cpu::{EAX, EBX, ECX, EDX};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, cr4, flags, Segment};

/// CPUID vendor string: "GenuineVmlab".
const VENDOR: &[u8; 12] = b"GenuineVmlab";
/// CPUID.1 EAX: family 4, model 0, stepping 0 (matches EDX at reset).
const SIGNATURE: u32 = 0x0400;
/// CPUID.1 EDX: FPU (0), PSE (3), TSC (4), CX8 (8), CMOV (15), FXSR (24).
const FEATURES: u32 = 1 | (1 << 3) | (1 << 4) | (1 << 8) | (1 << 15) | (1 << 24);
/// CR4 bits software may set.
const CR4_SUPPORTED: u32 = cr4::TSD | cr4::DE | cr4::PSE | cr4::PGE;

impl Machine {
    /// #GP(0) unless at CPL 0 (real mode counts as CPL 0; V86 mode does not).
    pub(crate) fn require_cpl0(&self) -> Result<(), Exception> {
        if self.cpu.cr0 & cr0::PE != 0 && (self.cpu.cpl != 0 || self.cpu.v86()) {
            return Err(Exception::GeneralProtection(0));
        }
        Ok(())
    }

    /// #UD in real and V86 mode (instructions that only exist in protected mode).
    fn require_protected(&self) -> Result<(), Exception> {
        if self.real_like() {
            return Err(Exception::InvalidOpcode);
        }
        Ok(())
    }

    pub(crate) fn read_cr(&mut self, n: u32) -> Result<u32, Exception> {
        self.require_cpl0()?;
        match n {
            0 => Ok(self.cpu.cr0),
            2 => Ok(self.cpu.cr2),
            3 => Ok(self.cpu.cr3),
            4 => Ok(self.cpu.cr4),
            _ => Err(Exception::InvalidOpcode),
        }
    }

    pub(crate) fn write_cr(&mut self, n: u32, v: u32) -> Result<(), Exception> {
        self.require_cpl0()?;
        match n {
            0 => {
                if v & cr0::PG != 0 && v & cr0::PE == 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                if v & cr0::NW != 0 && v & cr0::CD == 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                let old = self.cpu.cr0;
                self.cpu.cr0 = v | cr0::ET;
                if (old ^ v) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
                    self.cpu.mmu.flush();
                }
                if v & cr0::PE == 0 {
                    self.cpu.cpl = 0;
                }
            }
            2 => self.cpu.cr2 = v,
            3 => {
                self.cpu.cr3 = v;
                self.cpu.mmu.flush();
                self.note_tlb_invalidation();
            }
            4 => {
                if v & !CR4_SUPPORTED != 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                self.cpu.cr4 = v;
                self.cpu.mmu.flush();
            }
            _ => return Err(Exception::InvalidOpcode),
        }
        Ok(())
    }

    pub(crate) fn read_dr(&mut self, n: u32) -> Result<u32, Exception> {
        self.require_cpl0()?;
        let i = match n {
            0..=3 | 6 | 7 => n,
            4 | 5 => n + 2,
            _ => return Err(Exception::InvalidOpcode),
        };
        Ok(self.cpu.dr[i as usize & 7])
    }

    pub(crate) fn write_dr(&mut self, n: u32, v: u32) -> Result<(), Exception> {
        self.require_cpl0()?;
        let i = match n {
            0..=3 | 6 | 7 => n,
            4 | 5 => n + 2,
            _ => return Err(Exception::InvalidOpcode),
        };
        self.cpu.dr[i as usize & 7] = v;
        Ok(())
    }

    pub(super) fn op_lgdt(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_cpl0()?;
        if d.ins.op0_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let off = self.ea(d);
        let limit = self.read_mem(d.seg as usize, off, 2)? as u16;
        let mut base = self.read_mem(d.seg as usize, off.wrapping_add(2), 4)?;
        if d.osize == 2 {
            base &= 0x00ff_ffff;
        }
        let t = crate::state::TableReg { base, limit };
        if d.mnem == M::Lgdt {
            self.cpu.gdtr = t;
        } else {
            self.cpu.idtr = t;
        }
        Ok(())
    }

    pub(super) fn op_sgdt(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.ins.op0_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let t = if d.mnem == M::Sgdt {
            self.cpu.gdtr
        } else {
            self.cpu.idtr
        };
        let off = self.ea(d);
        let base = if d.osize == 2 {
            t.base & 0x00ff_ffff
        } else {
            t.base
        };
        self.seg_lin(d.seg as usize, off, 6, true)?;
        self.write_mem(d.seg as usize, off, 2, t.limit as u32)?;
        self.write_mem(d.seg as usize, off.wrapping_add(2), 4, base)
    }

    pub(super) fn op_lldt(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        self.require_cpl0()?;
        let sel = self.op_read_sel(d)?;
        if sel & 0xfffc == 0 {
            self.cpu.ldtr = Segment {
                selector: sel,
                base: 0,
                limit: 0,
                attrs: 0,
            };
            return Ok(());
        }
        let err = Exception::GeneralProtection(sel & 0xfffc);
        if sel & 4 != 0 {
            return Err(err);
        }
        let (desc, _) = self.read_descriptor(sel)?;
        if !desc.system() || desc.typ() != 2 {
            return Err(err);
        }
        if !desc.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        self.cpu.ldtr = desc.segment(sel);
        Ok(())
    }

    pub(super) fn op_ltr(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        self.require_cpl0()?;
        let sel = self.op_read_sel(d)?;
        if sel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let err = Exception::GeneralProtection(sel & 0xfffc);
        if sel & 4 != 0 {
            return Err(err);
        }
        let (desc, addr) = self.read_descriptor(sel)?;
        if !desc.system() || !matches!(desc.typ(), 1 | 9) {
            return Err(err);
        }
        if !desc.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        let busy = desc.hi | 0x200;
        self.write_lin(addr.wrapping_add(4), 4, busy, 0)?;
        let mut seg = desc.segment(sel);
        seg.attrs |= 2;
        self.cpu.tr = seg;
        Ok(())
    }

    fn op_read_sel(&mut self, d: &Decoded) -> Result<u16, Exception> {
        if d.ins.op0_kind() == OpKind::Memory {
            let off = self.ea(d);
            Ok(self.read_mem(d.seg as usize, off, 2)? as u16)
        } else {
            Ok(self.reg_read(d.ins.op0_register()) as u16)
        }
    }

    /// Writes a 16-bit system value to operand 0: memory stores 16 bits, a register gets
    /// it zero-extended to the operand size.
    fn op_write_sys16(&mut self, d: &Decoded, v: u32) -> Result<(), Exception> {
        if d.ins.op0_kind() == OpKind::Memory {
            let off = self.ea(d);
            self.write_mem(d.seg as usize, off, 2, v & 0xffff)
        } else {
            self.reg_write(d.ins.op0_register(), v);
            Ok(())
        }
    }

    pub(super) fn op_sldt(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        let v = if d.mnem == M::Sldt {
            self.cpu.ldtr.selector
        } else {
            self.cpu.tr.selector
        };
        self.op_write_sys16(d, v as u32)
    }

    pub(super) fn op_lmsw(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_cpl0()?;
        let v = self.op_read_sel(d)? as u32;
        // LMSW sets PE but never clears it.
        let new = (self.cpu.cr0 & !0xe) | (v & 0xf) | (self.cpu.cr0 & cr0::PE);
        self.write_cr(0, new)
    }

    pub(super) fn op_smsw(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.cpu.cr0;
        if d.ins.op0_kind() == OpKind::Memory {
            self.op_write_sys16(d, v)
        } else {
            self.reg_write(d.ins.op0_register(), v);
            Ok(())
        }
    }

    pub(super) fn op_clts(&mut self) -> Result<(), Exception> {
        self.require_cpl0()?;
        self.cpu.cr0 &= !cr0::TS;
        Ok(())
    }

    pub(super) fn op_invlpg(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_cpl0()?;
        if d.ins.op0_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let off = self.ea(d);
        let lin = self.cpu.seg[d.seg as usize % 6].base.wrapping_add(off);
        self.cpu.mmu.invalidate(lin);
        self.note_tlb_invalidation();
        Ok(())
    }

    pub(super) fn op_hlt(&mut self) -> Result<(), Exception> {
        self.require_cpl0()?;
        self.cpu.halted = true;
        self.cpu.attention = 0;
        Ok(())
    }

    pub(super) fn op_cli_sti(&mut self, d: &Decoded) -> Result<(), Exception> {
        if self.cpu.cr0 & cr0::PE != 0 && self.cpu.cpl > self.cpu.iopl() {
            return Err(Exception::GeneralProtection(0));
        }
        if d.mnem == M::Cli {
            self.cpu.eflags &= !flags::IF;
        } else if self.cpu.eflags & flags::IF == 0 {
            self.cpu.eflags |= flags::IF;
            self.cpu.interrupt_shadow = true;
        }
        Ok(())
    }

    pub(super) fn op_cpuid(&mut self) -> Result<(), Exception> {
        let word =
            |i: usize| u32::from_le_bytes([VENDOR[i], VENDOR[i + 1], VENDOR[i + 2], VENDOR[i + 3]]);
        let (a, b, c, dx) = match self.cpu.gpr[EAX] {
            0 => (1, word(0), word(8), word(4)),
            1 => (SIGNATURE, 0, 0, FEATURES),
            _ => (0, 0, 0, 0),
        };
        self.cpu.gpr[EAX] = a;
        self.cpu.gpr[EBX] = b;
        self.cpu.gpr[ECX] = c;
        self.cpu.gpr[EDX] = dx;
        Ok(())
    }

    pub(super) fn op_rdtsc(&mut self) -> Result<(), Exception> {
        if self.cpu.cr4 & cr4::TSD != 0 {
            self.require_cpl0()?;
        }
        // under a VMM the vCPU's TSC offset applies (`smp/tsc.rs`)
        let t = self.cpu.tsc.wrapping_add(self.tsc_offset_now());
        self.cpu.gpr[EAX] = t as u32;
        self.cpu.gpr[EDX] = (t >> 32) as u32;
        Ok(())
    }

    pub(super) fn op_lar(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        let sel = self.op_read(d, 1)? as u16;
        let lsl = d.mnem == M::Lsl;
        match self.visible_descriptor(sel, lsl)? {
            Some(desc) => {
                let v = if lsl {
                    desc.limit()
                } else {
                    desc.hi & if d.osize == 2 { 0xff00 } else { 0x00ff_ff00 }
                };
                self.reg_write(d.ins.op0_register(), v);
                self.cpu.flags.set_zf(true);
            }
            None => self.cpu.flags.set_zf(false),
        }
        Ok(())
    }

    pub(super) fn op_verr(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        let sel = self.op_read_sel(d)?;
        let ok = match self.visible_descriptor(sel, false)? {
            Some(desc) if !desc.system() => {
                if d.mnem == M::Verr {
                    desc.readable()
                } else {
                    desc.writable_data()
                }
            }
            _ => false,
        };
        self.cpu.flags.set_zf(ok);
        Ok(())
    }

    pub(super) fn op_arpl(&mut self, d: &Decoded) -> Result<(), Exception> {
        self.require_protected()?;
        let src = self.reg_read(d.ins.op1_register()) & 3;
        // The destination is only written when its RPL changes: an unchanged selector
        // in a read-only segment does not fault (as on the 80386 and later).
        let v = self.op_read(d, 0)?;
        let adjusted = v & 3 < src;
        if adjusted {
            self.op_write(d, 0, (v & !3) | src)?;
        }
        self.cpu.flags.set_zf(adjusted);
        Ok(())
    }
}
