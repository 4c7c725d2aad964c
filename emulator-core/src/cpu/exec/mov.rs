//! Data movement: MOV (including segment, control and debug registers), MOVZX/MOVSX,
//! LEA, XCHG, CMOVcc, SETcc, BSWAP, XLAT, CBW/CWD family, LAHF/SAHF, LDS/LES/LFS/LGS/LSS,
//! CMPXCHG, CMPXCHG8B, XADD.

use iced_x86::{OpKind, Register};

use crate::cpu::alu;
use crate::cpu::decode::{Decoded, K_OTHER};
use crate::cpu::{CS, DS, EAX, EBX, ECX, EDX, ES, FS, GS, SS};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::flags;

fn reg_in(r: Register, lo: Register, hi: Register) -> bool {
    (lo as u32..=hi as u32).contains(&(r as u32))
}

impl Machine {
    pub(super) fn op_mov(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.kind[0] != K_OTHER && d.kind[1] != K_OTHER {
            let v = self.op_read(d, 1)?;
            return self.op_write(d, 0, v);
        }
        self.op_mov_special(d)
    }

    /// MOV with a segment, control or debug register, or a moffs operand.
    fn op_mov_special(&mut self, d: &Decoded) -> Result<(), Exception> {
        let i = &d.ins;
        if i.op0_kind() == OpKind::Register {
            let r = i.op0_register();
            if reg_in(r, Register::ES, Register::GS) {
                let seg = r as usize - Register::ES as usize;
                if seg == CS {
                    return Err(Exception::InvalidOpcode);
                }
                let v = self.op_read(d, 1)? as u16;
                return self.load_seg(seg, v);
            }
            if reg_in(r, Register::CR0, Register::CR15) {
                let v = self.reg_read(i.op1_register());
                return self.write_cr(r as u32 - Register::CR0 as u32, v);
            }
            if reg_in(r, Register::DR0, Register::DR15) {
                let v = self.reg_read(i.op1_register());
                return self.write_dr(r as u32 - Register::DR0 as u32, v);
            }
            if reg_in(r, Register::TR0, Register::TR7) {
                return Err(Exception::InvalidOpcode);
            }
        }
        if i.op1_kind() == OpKind::Register {
            let r = i.op1_register();
            if reg_in(r, Register::CR0, Register::CR15) {
                let v = self.read_cr(r as u32 - Register::CR0 as u32)?;
                self.reg_write(i.op0_register(), v);
                return Ok(());
            }
            if reg_in(r, Register::DR0, Register::DR15) {
                let v = self.read_dr(r as u32 - Register::DR0 as u32)?;
                self.reg_write(i.op0_register(), v);
                return Ok(());
            }
            if reg_in(r, Register::TR0, Register::TR7) {
                return Err(Exception::InvalidOpcode);
            }
        }
        let v = self.op_read(d, 1)?;
        self.op_write(d, 0, v)
    }

    /// The size in bytes of operand `n` (register width or memory size).
    fn src_size(&self, d: &Decoded, n: u32) -> u8 {
        match d.ins.op_kind(n) {
            OpKind::Register => d.ins.op_register(n).size() as u8,
            _ => d.msize,
        }
    }

    pub(super) fn op_movzx(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.op_read(d, 1)?;
        self.op_write(d, 0, v)
    }

    pub(super) fn op_movsx(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.op_read(d, 1)?;
        let v = match self.src_size(d, 1) {
            1 => v as u8 as i8 as i32 as u32,
            _ => v as u16 as i16 as i32 as u32,
        };
        self.op_write(d, 0, v)
    }

    pub(super) fn op_lea(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.ins.op1_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let a = self.ea(d);
        self.op_write(d, 0, a)
    }

    pub(super) fn op_xchg(&mut self, d: &Decoded) -> Result<(), Exception> {
        let i = &d.ins;
        let (mem_n, reg_n) = if i.op0_kind() == OpKind::Memory {
            (Some(0), 1)
        } else if i.op1_kind() == OpKind::Memory {
            (Some(1), 0)
        } else {
            (None, 1)
        };
        match mem_n {
            Some(_) => {
                let r = i.op_register(reg_n);
                let rv = self.reg_read(r);
                let off = self.ea(d);
                let p = self.mem_ref_write(d.seg as usize, off, d.msize)?;
                let mv = self.phys_read(p, d.msize);
                self.phys_write(p, d.msize, rv);
                self.reg_write(r, mv);
            }
            None => {
                let (a, b) = (i.op0_register(), i.op1_register());
                let (va, vb) = (self.reg_read(a), self.reg_read(b));
                self.reg_write(a, vb);
                self.reg_write(b, va);
            }
        }
        Ok(())
    }

    pub(super) fn op_cmov(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.op_read(d, 1)?;
        if self.cpu.flags.cond(d.cc) {
            self.reg_write(d.ins.op0_register(), v);
        } else if d.osize == 4 {
            // A 32-bit CMOV writes its destination even when the condition is false.
            let r = d.ins.op0_register();
            let old = self.reg_read(r);
            self.reg_write(r, old);
        }
        Ok(())
    }

    pub(super) fn op_setcc(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.cpu.flags.cond(d.cc) as u32;
        self.op_write(d, 0, v)
    }

    pub(super) fn op_bswap(&mut self, d: &Decoded) -> Result<(), Exception> {
        let r = d.ins.op0_register();
        let v = self.reg_read(r);
        // BSWAP of a 16-bit register is undefined; vmlab zeroes it as Intel CPUs do.
        let v = if d.osize == 4 { v.swap_bytes() } else { 0 };
        self.reg_write(r, v);
        Ok(())
    }

    pub(super) fn op_xlat(&mut self, d: &Decoded) -> Result<(), Exception> {
        let mut off = self.cpu.gpr[EBX].wrapping_add(self.cpu.gpr[EAX] & 0xff);
        if d.addr16 {
            off &= 0xffff;
        }
        let v = self.read_mem(d.seg as usize, off, 1)?;
        self.gpr_write(EAX, 1, v);
        Ok(())
    }

    pub(super) fn op_cbw(&mut self, d: &Decoded) -> Result<(), Exception> {
        let a = self.cpu.gpr[EAX];
        if d.osize == 2 {
            self.gpr_write(EAX, 2, a as u8 as i8 as i16 as u16 as u32);
        } else {
            self.cpu.gpr[EAX] = a as u16 as i16 as i32 as u32;
        }
        Ok(())
    }

    pub(super) fn op_cwd(&mut self, d: &Decoded) -> Result<(), Exception> {
        let a = self.cpu.gpr[EAX];
        if d.osize == 2 {
            let hi = if a & 0x8000 != 0 { 0xffff } else { 0 };
            self.gpr_write(EDX, 2, hi);
        } else {
            self.cpu.gpr[EDX] = if a & 0x8000_0000 != 0 { u32::MAX } else { 0 };
        }
        Ok(())
    }

    pub(super) fn op_lahf(&mut self) -> Result<(), Exception> {
        let v = self.eflags() & AH_FLAGS | flags::RESERVED1;
        let a = &mut self.cpu.gpr[EAX];
        *a = (*a & !0xff00) | (v << 8);
        Ok(())
    }

    pub(super) fn op_sahf(&mut self) -> Result<(), Exception> {
        let ah = (self.cpu.gpr[EAX] >> 8) & AH_FLAGS;
        let st = (self.cpu.flags.status() & !AH_FLAGS) | ah;
        self.cpu.flags.set_status(st);
        Ok(())
    }

    pub(super) fn op_lxs(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.ins.op1_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let seg = match d.mnem {
            iced_x86::Mnemonic::Lds => DS,
            iced_x86::Mnemonic::Les => ES,
            iced_x86::Mnemonic::Lfs => FS,
            iced_x86::Mnemonic::Lgs => GS,
            _ => SS,
        };
        let off = self.ea(d);
        let o = d.osize;
        let v = self.read_mem(d.seg as usize, off, o)?;
        let sel = self.read_mem(d.seg as usize, off.wrapping_add(o as u32), 2)? as u16;
        self.load_seg(seg, sel)?;
        self.reg_write(d.ins.op0_register(), v);
        Ok(())
    }

    pub(super) fn op_cmpxchg(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let src = self.reg_read(d.ins.op1_register());
        let acc = self.cpu.gpr[EAX] & crate::cpu::size_mask(size);
        let mut loaded = 0;
        self.op0_rmw(d, |m, dst| {
            alu::cmp(&mut m.cpu.flags, size, acc, dst);
            loaded = dst;
            Ok(Some(if m.cpu.flags.zf() { src } else { dst }))
        })?;
        if !self.cpu.flags.zf() {
            self.gpr_write(EAX, size, loaded);
        }
        Ok(())
    }

    pub(super) fn op_cmpxchg8b(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.ins.op0_kind() != OpKind::Memory {
            return Err(Exception::InvalidOpcode);
        }
        let off = self.ea(d);
        let seg = d.seg as usize;
        let lo_ref = self.mem_ref_write(seg, off, 4)?;
        let hi_ref = self.mem_ref_write(seg, off.wrapping_add(4), 4)?;
        let lo = self.phys_read(lo_ref, 4);
        let hi = self.phys_read(hi_ref, 4);
        let g = self.cpu.gpr;
        if lo == g[EAX] && hi == g[EDX] {
            self.phys_write(lo_ref, 4, g[EBX]);
            self.phys_write(hi_ref, 4, g[ECX]);
            self.cpu.flags.set_zf(true);
        } else {
            self.phys_write(lo_ref, 4, lo);
            self.phys_write(hi_ref, 4, hi);
            self.cpu.gpr[EAX] = lo;
            self.cpu.gpr[EDX] = hi;
            self.cpu.flags.set_zf(false);
        }
        Ok(())
    }

    pub(super) fn op_xadd(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let r = d.ins.op1_register();
        let src = self.reg_read(r);
        let mut old = 0;
        self.op0_rmw(d, |m, dst| {
            old = dst;
            Ok(Some(alu::add(&mut m.cpu.flags, size, dst, src)))
        })?;
        // With both operands the same register the sum wins, as on hardware.
        if d.ins.op0_kind() != OpKind::Register || d.ins.op0_register() != r {
            self.reg_write(r, old);
        }
        Ok(())
    }
}

/// The status bits LAHF/SAHF move.
const AH_FLAGS: u32 = flags::SF | flags::ZF | flags::AF | flags::PF | flags::CF;
