//! String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP/REPE/REPNE.
//!
//! A REP instruction runs in chunks: after a bounded number of iterations it stops with
//! EIP still on the instruction, so interrupts are taken between chunks and a fault at
//! any iteration leaves ECX/ESI/EDI describing the iterations done. REP MOVS and REP
//! STOS move whole pages at a time when source and destination are plain RAM.

use iced_x86::{Mnemonic as M, OpKind};

use crate::cpu::alu;
use crate::cpu::decode::Decoded;
use crate::cpu::{EAX, ECX, EDI, ES, ESI};
use crate::error::Exception;
use crate::machine::Machine;
use crate::mmu::access;
use crate::state::{cr0, flags};

/// Iterations of a REP instruction between interrupt checks.
const REP_CHUNK: u32 = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Cmps,
    Stos,
    Lods,
    Scas,
    Ins,
    Outs,
}

impl Machine {
    pub(super) fn op_string(&mut self, d: &Decoded) -> Result<(), Exception> {
        let kind = match d.mnem {
            M::Movsb | M::Movsw | M::Movsd => Kind::Movs,
            M::Cmpsb | M::Cmpsw | M::Cmpsd => Kind::Cmps,
            M::Stosb | M::Stosw | M::Stosd => Kind::Stos,
            M::Lodsb | M::Lodsw | M::Lodsd => Kind::Lods,
            M::Scasb | M::Scasw | M::Scasd => Kind::Scas,
            M::Insb | M::Insw | M::Insd => Kind::Ins,
            _ => Kind::Outs,
        };
        // MOVSD/CMPSD also name SSE2 instructions, which vmlab does not implement.
        let string_operand = (0..d.ins.op_count()).any(|n| {
            matches!(
                d.ins.op_kind(n),
                OpKind::MemorySegSI
                    | OpKind::MemorySegESI
                    | OpKind::MemoryESDI
                    | OpKind::MemoryESEDI
            )
        });
        if !string_operand {
            return Err(Exception::InvalidOpcode);
        }
        let size = d.msize;
        if matches!(kind, Kind::Ins | Kind::Outs) {
            self.io_permitted(self.cpu.gpr[crate::cpu::EDX] as u16, size)?;
        }
        let rep = d.ins.has_rep_prefix() || d.ins.has_repne_prefix();
        if !rep {
            return self.string_once(d, kind, size);
        }
        let mask = if d.addr16 { 0xffff } else { u32::MAX };
        let mut done = 0;
        loop {
            let c = self.cpu.gpr[ECX] & mask;
            if c == 0 {
                return Ok(());
            }
            if done >= REP_CHUNK {
                self.cpu.eip = d.ins.ip32();
                self.cpu.incomplete = true;
                return Ok(());
            }
            if matches!(kind, Kind::Movs | Kind::Stos) && self.eflags() & flags::DF == 0 {
                let n = self.rep_fast(d, kind, size, c)?;
                if n > 0 {
                    self.cpu.gpr[ECX] = (self.cpu.gpr[ECX] & !mask) | ((c - n) & mask);
                    done += 1;
                    continue;
                }
            }
            self.string_once(d, kind, size)?;
            self.cpu.gpr[ECX] = (self.cpu.gpr[ECX] & !mask) | (c.wrapping_sub(1) & mask);
            done += 1;
            if matches!(kind, Kind::Cmps | Kind::Scas) {
                let zf = self.cpu.flags.zf();
                if (d.ins.has_repe_prefix() && !zf) || (d.ins.has_repne_prefix() && zf) {
                    return Ok(());
                }
            }
        }
    }

    /// Advances SI/ESI or DI/EDI by `n` elements in the DF direction.
    #[inline(always)]
    fn str_advance(&mut self, reg: usize, d: &Decoded, delta: u32) {
        let v = if self.eflags() & flags::DF != 0 {
            self.cpu.gpr[reg].wrapping_sub(delta)
        } else {
            self.cpu.gpr[reg].wrapping_add(delta)
        };
        if d.addr16 {
            self.gpr_write(reg, 2, v);
        } else {
            self.cpu.gpr[reg] = v;
        }
    }

    #[inline(always)]
    fn str_index(&self, reg: usize, d: &Decoded) -> u32 {
        if d.addr16 {
            self.cpu.gpr[reg] & 0xffff
        } else {
            self.cpu.gpr[reg]
        }
    }

    fn string_once(&mut self, d: &Decoded, kind: Kind, size: u8) -> Result<(), Exception> {
        let src_seg = d.seg as usize;
        let si = self.str_index(ESI, d);
        let di = self.str_index(EDI, d);
        match kind {
            Kind::Movs => {
                let v = self.read_mem(src_seg, si, size)?;
                self.write_mem(ES, di, size, v)?;
                self.str_advance(ESI, d, size as u32);
                self.str_advance(EDI, d, size as u32);
            }
            Kind::Cmps => {
                let a = self.read_mem(src_seg, si, size)?;
                let b = self.read_mem(ES, di, size)?;
                alu::cmp(&mut self.cpu.flags, size, a, b);
                self.str_advance(ESI, d, size as u32);
                self.str_advance(EDI, d, size as u32);
            }
            Kind::Stos => {
                let v = self.cpu.gpr[EAX];
                self.write_mem(ES, di, size, v)?;
                self.str_advance(EDI, d, size as u32);
            }
            Kind::Lods => {
                let v = self.read_mem(src_seg, si, size)?;
                self.gpr_write(EAX, size, v);
                self.str_advance(ESI, d, size as u32);
            }
            Kind::Scas => {
                let a = self.cpu.gpr[EAX];
                let b = self.read_mem(ES, di, size)?;
                alu::cmp(&mut self.cpu.flags, size, a, b);
                self.str_advance(EDI, d, size as u32);
            }
            Kind::Ins => {
                // Check the destination before the port is read.
                let lin = self.seg_lin(ES, di, size, true)?;
                self.lin_ref(lin, size, self.user_acc() | access::WRITE)?;
                let port = self.cpu.gpr[crate::cpu::EDX] as u16;
                let v = self.port_in(port, size);
                self.write_mem(ES, di, size, v)?;
                self.str_advance(EDI, d, size as u32);
            }
            Kind::Outs => {
                let v = self.read_mem(src_seg, si, size)?;
                let port = self.cpu.gpr[crate::cpu::EDX] as u16;
                self.port_out(port, size, v);
                self.str_advance(ESI, d, size as u32);
            }
        }
        Ok(())
    }

    /// Moves as many elements as fit in the current source and destination pages in one
    /// block; returns how many (0 when the fast path does not apply).
    fn rep_fast(
        &mut self,
        d: &Decoded,
        kind: Kind,
        size: u8,
        count: u32,
    ) -> Result<u32, Exception> {
        let s = size as u32;
        let di = self.str_index(EDI, d);
        let dst_lin = self.seg_lin(ES, di, size, true)?;
        let mut n = count.min((0x1000 - (dst_lin & 0xfff)) / s);
        if d.addr16 {
            n = n.min((0x1_0000 - di) / s);
        }
        let src = if kind == Kind::Movs {
            let si = self.str_index(ESI, d);
            let src_lin = self.seg_lin(d.seg as usize, si, size, false)?;
            n = n.min((0x1000 - (src_lin & 0xfff)) / s);
            if d.addr16 {
                n = n.min((0x1_0000 - si) / s);
            }
            if n == 0 {
                return Ok(0);
            }
            self.seg_lin(d.seg as usize, si.wrapping_add(n * s - 1), 1, false)?;
            Some(src_lin)
        } else {
            None
        };
        if n == 0
            || self
                .seg_lin(ES, di.wrapping_add(n * s - 1), 1, true)
                .is_err()
        {
            return Ok(0);
        }
        let len = (n * s) as usize;
        let paging = self.cpu.cr0 & cr0::PG != 0;
        let acc = self.user_acc();
        let src_phys = match src {
            Some(l) if paging => Some(self.lin_ref(l, 1, acc)?.first),
            other => other,
        };
        let dst_phys = if paging {
            self.lin_ref(dst_lin, 1, acc | access::WRITE)?.first
        } else {
            dst_lin
        };
        let ok = match src_phys {
            Some(sp) => {
                let overlap = dst_phys > sp && (dst_phys as u64) < sp as u64 + len as u64;
                !overlap && self.mem.copy_within(sp, dst_phys, len)
            }
            None => self.mem.fill(dst_phys, size, self.cpu.gpr[EAX], n as usize),
        };
        if !ok {
            return Ok(0);
        }
        if src.is_some() {
            self.str_advance(ESI, d, n * s);
        }
        self.str_advance(EDI, d, n * s);
        Ok(n)
    }
}
