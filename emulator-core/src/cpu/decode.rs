//! Instruction fetch and decode (iced-x86), with a direct-mapped cache of decoded
//! instructions keyed by physical address and invalidated per page on writes.

use alloc::vec;
use alloc::vec::Vec;
use iced_x86::{
    ConditionCode, Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic, OpKind, Register,
};

use crate::error::Exception;
use crate::machine::Machine;
use crate::mmu::access;
use crate::state::cr0;

use super::CS;

/// A decoded instruction with the facts the executor needs precomputed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decoded {
    /// The iced-x86 instruction (decoded at IP = the EIP it was fetched from).
    pub ins: Instruction,
    /// Its mnemonic (the dispatch key).
    pub mnem: Mnemonic,
    /// Operand size in bytes (1, 2 or 4).
    pub osize: u8,
    /// Memory operand size in bytes (0 without one).
    pub msize: u8,
    /// 16-bit addressing (SI/DI/CX forms, 16-bit effective addresses).
    pub addr16: bool,
    /// The memory operand's segment register index.
    pub seg: u8,
    /// Condition code (low nibble of Jcc) or 0xff.
    pub cc: u8,
    /// Decoded as 16-bit code (IP wraps at 64 KiB).
    pub code16: bool,
    /// Per operand: [`K_GPR`], [`K_MEM`], [`K_IMM`] or [`K_OTHER`].
    pub kind: [u8; 4],
    /// Per general-purpose register operand: the register, packed by [`pack_gpr`].
    pub reg: [u8; 4],
    /// The first immediate operand, extended as its kind says.
    pub imm: u32,
    /// Effective address: base and index GPR numbers ([`NO_REG`] when absent), the
    /// index scale as a shift, and the displacement.
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    pub disp: u32,
    /// A LOCK prefix on an instruction that does not allow one.
    pub bad_lock: bool,
}

/// Operand kinds precomputed at decode time.
pub(crate) const K_GPR: u8 = 0;
pub(crate) const K_MEM: u8 = 1;
pub(crate) const K_IMM: u8 = 2;
pub(crate) const K_OTHER: u8 = 3;
/// No base or index register.
pub(crate) const NO_REG: u8 = 0xff;

/// Packs a GPR operand as number | width code << 3 (0: 32-bit, 1: 16-bit, 2: low byte,
/// 3: high byte); `None` for other registers.
pub(crate) fn pack_gpr(r: Register) -> Option<u8> {
    let n = r as u32;
    match n {
        1..=4 => Some((n - 1) as u8 | 2 << 3),
        5..=8 => Some((n - 5) as u8 | 3 << 3),
        21..=28 => Some((n - 21) as u8 | 1 << 3),
        37..=44 => Some((n - 37) as u8),
        _ => None,
    }
}

/// A 32-bit GPR operand's register number.
pub(crate) fn r32(d: &Decoded, n: usize) -> Option<u8> {
    match (d.kind.get(n), d.reg.get(n)) {
        (Some(&K_GPR), Some(&p)) if p >> 3 == 0 => Some(p & 7),
        _ => None,
    }
}

/// A 32-bit-code instruction without LOCK or REP prefixes (the fast and translating
/// tiers specialise only those).
pub(crate) fn plain32(d: &Decoded) -> bool {
    let ins = &d.ins;
    !(d.bad_lock
        || ins.has_lock_prefix()
        || ins.has_rep_prefix()
        || ins.has_repne_prefix()
        || d.code16)
}

/// The memory operand is a 32-bit address in DS, ES or SS.
pub(crate) fn form_mem_ok(d: &Decoded) -> bool {
    !d.addr16 && matches!(d.seg, 0 | 2 | 3)
}

/// The GPR number of a 16- or 32-bit base/index register.
fn addr_reg(r: Register) -> Option<u8> {
    match pack_gpr(r) {
        Some(p) if p >> 3 <= 1 => Some(p & 7),
        _ => None,
    }
}

impl Decoded {
    pub(crate) fn new(ins: Instruction, bitness: u32) -> Decoded {
        let mnem = ins.mnemonic();
        let msize = match ins.memory_size().size() {
            s @ (1 | 2 | 4 | 6 | 8) => s as u8,
            _ => 0,
        };
        let op = ins.op_code();
        let mut osize = (op.operand_size() / 8) as u8;
        let mut has_mem = false;
        let mut string16 = None;
        for n in 0..ins.op_count() {
            match ins.op_kind(n) {
                OpKind::Register => {
                    let r = ins.op_register(n);
                    if osize == 0 && r.is_gpr() {
                        osize = r.size() as u8;
                    }
                }
                OpKind::Memory => {
                    has_mem = true;
                    if osize == 0 && matches!(msize, 1 | 2 | 4) {
                        osize = msize;
                    }
                }
                OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => {
                    string16 = Some(true);
                    if osize == 0 {
                        osize = msize;
                    }
                }
                OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => {
                    string16 = Some(false);
                    if osize == 0 {
                        osize = msize;
                    }
                }
                _ => {}
            }
        }
        if osize == 0 || osize > 4 {
            osize = if bitness == 16 { 2 } else { 4 };
        }
        let asz = op.address_size();
        let addr16 = if let Some(s) = string16 {
            s
        } else if asz != 0 {
            asz == 16
        } else if has_mem {
            let b = ins.memory_base();
            let x = ins.memory_index();
            is16(b)
                || is16(x)
                || (b == Register::None && x == Register::None && ins.memory_displ_size() == 2)
        } else {
            bitness == 16
        };
        let seg = match ins.memory_segment() {
            Register::ES => 0,
            Register::CS => 1,
            Register::SS => 2,
            Register::FS => 4,
            Register::GS => 5,
            _ => 3,
        };
        let cc = match ins.condition_code() {
            ConditionCode::None => 0xff,
            c => c as u8 - 1,
        };
        let mut kind = [K_OTHER; 4];
        let mut reg = [0u8; 4];
        let mut imm = 0u32;
        let mut have_imm = false;
        for n in 0..ins.op_count().min(4) {
            let k = &mut kind[n as usize];
            match ins.op_kind(n) {
                OpKind::Register => {
                    if let Some(p) = pack_gpr(ins.op_register(n)) {
                        *k = K_GPR;
                        reg[n as usize] = p;
                    }
                }
                OpKind::Memory => *k = K_MEM,
                kd @ (OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32) => {
                    *k = K_IMM;
                    if !have_imm {
                        have_imm = true;
                        imm = match kd {
                            OpKind::Immediate8 => ins.immediate8() as u32,
                            OpKind::Immediate16 => ins.immediate16() as u32,
                            OpKind::Immediate32 => ins.immediate32(),
                            OpKind::Immediate8to16 => ins.immediate8to16() as u16 as u32,
                            _ => ins.immediate8to32() as u32,
                        };
                    } else {
                        *k = K_OTHER;
                    }
                }
                _ => {}
            }
        }
        let base = addr_reg(ins.memory_base()).unwrap_or(NO_REG);
        let index = addr_reg(ins.memory_index()).unwrap_or(NO_REG);
        let scale = ins.memory_index_scale().trailing_zeros() as u8;
        let bad_lock = ins.has_lock_prefix() && !super::exec::lockable(mnem, kind[0] == K_MEM);
        Decoded {
            ins,
            mnem,
            osize,
            msize,
            addr16,
            seg,
            cc,
            code16: bitness == 16,
            kind,
            reg,
            imm,
            base,
            index,
            scale,
            disp: ins.memory_displacement32(),
            bad_lock,
        }
    }
}

fn is16(r: Register) -> bool {
    (Register::AX as u32..=Register::DI as u32).contains(&(r as u32))
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    phys: u32,
    generation: u32,
    eip: u32,
    bitness: u32,
    pub d: Decoded,
}

const SLOTS: usize = 1 << 14;

/// The decoded-instruction cache.
#[derive(Clone)]
pub(crate) struct DecodeCache {
    slots: Vec<Slot>,
    pub hits: u64,
    pub misses: u64,
}

impl core::fmt::Debug for DecodeCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecodeCache")
            .field("slots", &self.slots.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl Default for DecodeCache {
    fn default() -> Self {
        let empty = Slot {
            phys: u32::MAX,
            generation: 0,
            eip: 0,
            bitness: 0,
            d: Decoded::new(Instruction::default(), 32),
        };
        DecodeCache {
            slots: vec![empty; SLOTS + 1],
            hits: 0,
            misses: 0,
        }
    }
}

impl DecodeCache {
    /// Lends the slots out while an instruction executes from one of them.
    #[inline(always)]
    pub fn take(&mut self) -> Vec<Slot> {
        core::mem::take(&mut self.slots)
    }
    /// Returns the slots lent by [`take`](Self::take).
    #[inline(always)]
    pub fn give_back(&mut self, slots: Vec<Slot>) {
        // The placeholder left by `take` owns no allocation: skip its drop.
        core::mem::forget(core::mem::replace(&mut self.slots, slots));
    }

    /// Forgets every cached instruction (new ROM, restored snapshot).
    pub fn clear(&mut self) {
        for s in &mut self.slots {
            s.phys = u32::MAX;
        }
    }
}

#[inline(always)]
fn slot_index(phys: u32) -> usize {
    ((phys ^ (phys >> 14)) as usize) & (SLOTS - 1)
}

impl Machine {
    /// The code size: the D bit of the cached CS descriptor (16 or 32), which is also
    /// what the hardware uses in real mode; V86 mode always loads a 16-bit CS.
    #[inline(always)]
    pub(crate) fn bitness(&self) -> u32 {
        if self.cpu.seg[CS].big() {
            32
        } else {
            16
        }
    }

    /// Fetches and decodes the instruction at CS:EIP; returns its slot in the decode
    /// cache (an instruction that cannot be cached goes to a scratch slot).
    #[inline(always)]
    pub(crate) fn fetch(&mut self) -> Result<usize, Exception> {
        let eip = self.cpu.eip;
        let cs = &self.cpu.seg[CS];
        if eip > cs.limit {
            return Err(Exception::GeneralProtection(0));
        }
        let lin = cs.base.wrapping_add(eip);
        let bitness = self.bitness();
        let phys = if self.cpu.cr0 & cr0::PG != 0 {
            let regs = self.paging_regs();
            let acc = self.user_acc();
            self.translate_access(regs, lin, acc)?
        } else {
            lin
        };
        let idx = slot_index(phys);
        if let Some(s) = self.cpu.dcache.slots.get(idx) {
            if s.phys == phys
                && s.eip == eip
                && s.bitness == bitness
                && s.generation == self.mem.generation(phys)
            {
                self.cpu.dcache.hits += 1;
                return Ok(idx);
            }
        }
        self.fetch_slow(eip, lin, phys, bitness)
    }

    #[inline(never)]
    fn fetch_slow(
        &mut self,
        eip: u32,
        lin: u32,
        phys: u32,
        bitness: u32,
    ) -> Result<usize, Exception> {
        self.cpu.dcache.misses += 1;
        let mut bytes = [0u8; 15];
        let room = (0x1000 - (lin & 0xfff)).min(15) as usize;
        for (i, b) in bytes.iter_mut().enumerate().take(room) {
            *b = self.mem.read_u8(phys.wrapping_add(i as u32));
        }
        let mut ins = Instruction::default();
        let mut avail = room;
        let mut decoder =
            Decoder::try_with_ip(bitness, &bytes[..room], eip as u64, DecoderOptions::NONE)
                .map_err(|_| Exception::InvalidOpcode)?;
        decoder.decode_out(&mut ins);
        if ins.is_invalid() && room < 15 && decoder.last_error() == DecoderError::NoMoreBytes {
            // Cut short by the page end: fetch the rest from the next page.
            let next = lin.wrapping_add(room as u32);
            let p2 = if self.cpu.cr0 & cr0::PG != 0 {
                let regs = self.paging_regs();
                let acc = self.user_acc() | access::READ;
                self.translate_access(regs, next, acc)?
            } else {
                next
            };
            for (i, b) in bytes.iter_mut().enumerate().skip(room) {
                *b = self.mem.read_u8(p2.wrapping_add((i - room) as u32));
            }
            avail = 15;
            let mut decoder =
                Decoder::try_with_ip(bitness, &bytes, eip as u64, DecoderOptions::NONE)
                    .map_err(|_| Exception::InvalidOpcode)?;
            decoder.decode_out(&mut ins);
        }
        if ins.is_invalid() {
            return Err(Exception::InvalidOpcode);
        }
        let last = eip.wrapping_add(ins.len() as u32 - 1);
        if last < eip || last > self.cpu.seg[CS].limit {
            return Err(Exception::GeneralProtection(0));
        }
        let d = Decoded::new(ins, bitness);
        let (idx, phys) = if ins.len() <= room && avail >= ins.len() {
            (slot_index(phys), phys)
        } else {
            (SLOTS, u32::MAX)
        };
        let generation = self.mem.code_generation(phys);
        if let Some(s) = self.cpu.dcache.slots.get_mut(idx) {
            *s = Slot {
                phys,
                generation,
                eip,
                bitness,
                d,
            };
        }
        Ok(idx)
    }
}
