//! The stack: PUSH/POP (registers, memory, immediates, segment registers), PUSHA/POPA,
//! PUSHF/POPF, ENTER/LEAVE.

use iced_x86::{OpKind, Register};

use crate::cpu::decode::Decoded;
use crate::cpu::{EBP, ESP, SS};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::flags;

impl Machine {
    pub(super) fn op_push(&mut self, d: &Decoded) -> Result<(), Exception> {
        let v = self.op_read(d, 0)?;
        self.push(d.osize, v)
    }

    pub(super) fn op_pop(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let v = self.stack_peek(0, size)?;
        let i = &d.ins;
        if i.op0_kind() == OpKind::Register {
            let r = i.op0_register();
            if (Register::ES as u32..=Register::GS as u32).contains(&(r as u32)) {
                // The increment uses the stack size in force before the load (POP SS
                // may change SS.B), and ESP is only written once the load succeeded.
                let new_sp = self.sp_add(size as u32);
                let esp = if self.stack32() {
                    new_sp
                } else {
                    (self.cpu.gpr[ESP] & 0xffff_0000) | new_sp
                };
                self.load_seg(r as usize - Register::ES as usize, v as u16)?;
                self.cpu.gpr[ESP] = esp;
                return Ok(());
            }
            self.set_sp(self.sp_add(size as u32));
            self.reg_write(r, v);
            return Ok(());
        }
        // POP to memory computes the address after incrementing ESP.
        self.set_sp(self.sp_add(size as u32));
        self.op_write(d, 0, v)
    }

    pub(super) fn op_pusha(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let g = self.cpu.gpr;
        for v in g {
            self.push(size, v)?;
        }
        Ok(())
    }

    pub(super) fn op_popa(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let mut vals = [0u32; 8];
        for (k, v) in vals.iter_mut().enumerate() {
            *v = self.stack_peek(k as u32 * size as u32, size)?;
        }
        for (k, v) in vals.iter().enumerate() {
            let reg = 7 - k;
            if reg != ESP {
                self.gpr_write(reg, size, *v);
            }
        }
        self.set_sp(self.sp_add(8 * size as u32));
        Ok(())
    }

    pub(super) fn op_pushf(&mut self, d: &Decoded) -> Result<(), Exception> {
        if self.cpu.v86() && self.cpu.iopl() < 3 {
            return Err(Exception::GeneralProtection(0));
        }
        let v = self.eflags() & !(flags::VM | flags::RF);
        self.push(d.osize, v)
    }

    pub(super) fn op_popf(&mut self, d: &Decoded) -> Result<(), Exception> {
        if self.cpu.v86() && self.cpu.iopl() < 3 {
            return Err(Exception::GeneralProtection(0));
        }
        let v = self.stack_peek(0, d.osize)?;
        self.set_sp(self.sp_add(d.osize as u32));
        self.write_eflags_checked(v, d.osize, false);
        Ok(())
    }

    /// ENTER: the stack size picks SP/BP or ESP/EBP for the pushes, the frame-pointer
    /// copies and the allocation; FrameTemp is ESP with a 32-bit operand size (its
    /// upper half included on a 16-bit stack) and SP with a 16-bit one. Nothing but
    /// the stack below SP changes until the final write check at the new stack pointer
    /// has passed.
    pub(super) fn op_enter(&mut self, d: &Decoded) -> Result<(), Exception> {
        let size = d.osize;
        let alloc = d.ins.immediate16() as u32;
        let level = (d.ins.immediate8_2nd() & 31) as u32;
        let ebp = self.cpu.gpr[EBP];
        self.push(size, ebp)?;
        // A 16-bit FrameTemp is pushed and stored as its low half.
        let frame = self.cpu.gpr[ESP];
        if level > 0 {
            let mut bp = self.sp_wrap(ebp);
            for _ in 1..level {
                bp = self.sp_wrap(bp.wrapping_sub(size as u32));
                let v = self.read_mem(SS, bp, size)?;
                self.push(size, v)?;
            }
            self.push(size, frame)?;
        }
        let new_sp = self.sp_add(alloc.wrapping_neg());
        // A write of an operand-size item at the new stack pointer must not fault
        // (segment limit and paging); nothing is written.
        self.mem_ref_write(SS, new_sp, size)?;
        self.gpr_write(EBP, size, frame);
        self.set_sp(new_sp);
        Ok(())
    }

    pub(super) fn op_leave(&mut self, d: &Decoded) -> Result<(), Exception> {
        let bp = self.sp_wrap(self.cpu.gpr[EBP]);
        let v = self.read_mem(SS, bp, d.osize)?;
        self.set_sp(bp);
        self.set_sp(self.sp_add(d.osize as u32));
        self.gpr_write(EBP, d.osize, v);
        Ok(())
    }
}
