//! Control transfer: JMP, Jcc, LOOP/JCXZ, CALL, RET, far forms, INT n/INT3/INTO, BOUND.

use iced_x86::{Mnemonic as M, OpKind};

use crate::cpu::decode::Decoded;
use crate::cpu::{CS, ECX};
use crate::error::Exception;
use crate::machine::Machine;

impl Machine {
    /// Sets EIP to a near target within the CS limit.
    #[inline(always)]
    fn near_jump(&mut self, target: u32, osize: u8) -> Result<(), Exception> {
        let t = if osize == 2 { target & 0xffff } else { target };
        if t > self.cpu.seg[CS].limit {
            return Err(Exception::GeneralProtection(0));
        }
        self.cpu.eip = t;
        Ok(())
    }

    /// Reads a far pointer (offset, selector) from the memory operand.
    fn far_pointer(&mut self, d: &Decoded) -> Result<(u16, u32), Exception> {
        let off = self.ea(d);
        let o = d.osize;
        let target = self.read_mem(d.seg as usize, off, o)?;
        let sel = self.read_mem(d.seg as usize, off.wrapping_add(o as u32), 2)? as u16;
        Ok((sel, target))
    }

    pub(super) fn op_jmp(&mut self, d: &Decoded) -> Result<(), Exception> {
        let i = &d.ins;
        match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 => {
                self.near_jump(i.near_branch_target() as u32, d.osize)
            }
            OpKind::FarBranch16 => {
                self.far_jump(i.far_branch_selector(), i.far_branch16() as u32, 2)
            }
            OpKind::FarBranch32 => self.far_jump(i.far_branch_selector(), i.far_branch32(), 4),
            OpKind::Memory if i.is_jmp_far_indirect() => {
                let (sel, off) = self.far_pointer(d)?;
                self.far_jump(sel, off, d.osize)
            }
            _ => {
                let t = self.op_read(d, 0)?;
                self.near_jump(t, d.osize)
            }
        }
    }

    pub(super) fn op_jcc(&mut self, d: &Decoded) -> Result<(), Exception> {
        if self.cpu.flags.cond(d.cc) {
            self.near_jump(d.ins.near_branch_target() as u32, d.osize)
        } else {
            Ok(())
        }
    }

    pub(super) fn op_loop(&mut self, d: &Decoded) -> Result<(), Exception> {
        let mask = if d.addr16 { 0xffff } else { u32::MAX };
        let c = self.cpu.gpr[ECX] & mask;
        let take = match d.mnem {
            M::Jcxz | M::Jecxz => c == 0,
            _ => {
                let n = c.wrapping_sub(1) & mask;
                self.cpu.gpr[ECX] = (self.cpu.gpr[ECX] & !mask) | n;
                n != 0
                    && match d.mnem {
                        M::Loope => self.cpu.flags.zf(),
                        M::Loopne => !self.cpu.flags.zf(),
                        _ => true,
                    }
            }
        };
        if take {
            self.near_jump(d.ins.near_branch_target() as u32, d.osize)
        } else {
            Ok(())
        }
    }

    pub(super) fn op_call(&mut self, d: &Decoded) -> Result<(), Exception> {
        let i = &d.ins;
        let ret = self.cpu.eip;
        match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 => {
                let t = i.near_branch_target() as u32;
                let t = if d.osize == 2 { t & 0xffff } else { t };
                if t > self.cpu.seg[CS].limit {
                    return Err(Exception::GeneralProtection(0));
                }
                self.push(d.osize, ret)?;
                self.cpu.eip = t;
                Ok(())
            }
            OpKind::FarBranch16 => {
                self.far_call(i.far_branch_selector(), i.far_branch16() as u32, 2, ret)
            }
            OpKind::FarBranch32 => self.far_call(i.far_branch_selector(), i.far_branch32(), 4, ret),
            OpKind::Memory if i.is_call_far_indirect() => {
                let (sel, off) = self.far_pointer(d)?;
                self.far_call(sel, off, d.osize, ret)
            }
            _ => {
                let t = self.op_read(d, 0)?;
                let t = if d.osize == 2 { t & 0xffff } else { t };
                if t > self.cpu.seg[CS].limit {
                    return Err(Exception::GeneralProtection(0));
                }
                self.push(d.osize, ret)?;
                self.cpu.eip = t;
                Ok(())
            }
        }
    }

    pub(super) fn op_ret(&mut self, d: &Decoded) -> Result<(), Exception> {
        let t = self.stack_peek(0, d.osize)?;
        let imm = if d.ins.op_count() > 0 {
            d.ins.immediate16() as u32
        } else {
            0
        };
        if t > self.cpu.seg[CS].limit {
            return Err(Exception::GeneralProtection(0));
        }
        self.set_sp(self.sp_add(d.osize as u32 + imm));
        self.cpu.eip = t;
        Ok(())
    }

    pub(super) fn op_retf(&mut self, d: &Decoded) -> Result<(), Exception> {
        let imm = if d.ins.op_count() > 0 {
            d.ins.immediate16() as u32
        } else {
            0
        };
        self.far_ret(d.osize, imm)
    }

    pub(super) fn op_int(&mut self, d: &Decoded) -> Result<(), Exception> {
        let vector = match d.mnem {
            M::Int3 => 3,
            M::Int1 => 1,
            M::Into => {
                if !self.cpu.flags.of() {
                    return Ok(());
                }
                4
            }
            _ => d.ins.immediate8(),
        };
        // Only INT n is IOPL-sensitive in virtual-8086 mode; INT3 and INTO go to the
        // protected-mode handler through the gate's DPL check.
        if d.mnem == M::Int && self.cpu.v86() && self.cpu.iopl() < 3 {
            return Err(Exception::GeneralProtection(0));
        }
        self.software_interrupt(vector)
    }

    pub(super) fn op_bound(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.ins.op1_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let size = d.osize;
        let idx = self.reg_read(d.ins.op0_register());
        let off = self.ea(d);
        let lo = self.read_mem(d.seg as usize, off, size)?;
        let hi = self.read_mem(d.seg as usize, off.wrapping_add(size as u32), size)?;
        let sx = |v: u32| {
            if size == 2 {
                v as u16 as i16 as i32
            } else {
                v as i32
            }
        };
        if sx(idx) < sx(lo) || sx(idx) > sx(hi) {
            return Err(Exception::BoundRange);
        }
        Ok(())
    }
}
