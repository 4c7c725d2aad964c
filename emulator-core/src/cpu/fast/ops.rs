//! The fast tier's handlers, one per instruction form, and its memory fast path.
//!
//! Memory operands go through flat segments (the tier runs only when DS, ES and SS are
//! flat), then through the TLB when paging is on (a hit only: a miss declines so the
//! general path walks), then straight to RAM. Stores decline for pages holding decoded
//! code, ROM and anything outside RAM, so self-modifying code and device memory always
//! take the general path.

use iced_x86::Mnemonic as M;

use super::{Op, DECLINE, DECODE, KNOWN, PAIR, TAKEN};
use crate::cpu::alu;
use crate::cpu::decode::NO_REG;
use crate::cpu::ESP;
use crate::machine::Machine;
use crate::mmu::access;
use crate::state::cr0;

/// ALU operation numbers (the const parameter of the ALU handlers).
const ALU_ADD: u8 = 0;
const ALU_OR: u8 = 1;
const ALU_ADC: u8 = 2;
const ALU_SBB: u8 = 3;
const ALU_AND: u8 = 4;
const ALU_SUB: u8 = 5;
const ALU_XOR: u8 = 6;
const ALU_CMP: u8 = 7;
const ALU_TEST: u8 = 8;

/// Shift operation numbers (the const parameter of [`shift_ri`]).
const SH_SHL: u8 = 0;
const SH_SHR: u8 = 1;
const SH_SAR: u8 = 2;
const SH_ROL: u8 = 3;
const SH_ROR: u8 = 4;

/// The ALU operation number of a binary ALU mnemonic.
pub(super) fn alu_kind(m: M) -> u8 {
    match m {
        M::Add => ALU_ADD,
        M::Or => ALU_OR,
        M::Adc => ALU_ADC,
        M::Sbb => ALU_SBB,
        M::And => ALU_AND,
        M::Sub => ALU_SUB,
        M::Xor => ALU_XOR,
        M::Cmp => ALU_CMP,
        _ => ALU_TEST,
    }
}

/// Applies ALU operation `K`; `None` for CMP and TEST (no result written).
#[inline(always)]
fn alu_op<const K: u8>(m: &mut Machine, size: u8, a: u32, b: u32) -> Option<u32> {
    let f = &mut m.cpu.flags;
    Some(match K {
        ALU_ADD => alu::add(f, size, a, b),
        ALU_OR => alu::or(f, size, a, b),
        ALU_ADC => alu::adc(f, size, a, b),
        ALU_SBB => alu::sbb(f, size, a, b),
        ALU_AND => alu::and(f, size, a, b),
        ALU_SUB => alu::sub(f, size, a, b),
        ALU_XOR => alu::xor(f, size, a, b),
        ALU_CMP => {
            alu::cmp(f, size, a, b);
            return None;
        }
        _ => {
            alu::test(f, size, a, b);
            return None;
        }
    })
}

// ---- kinds and dispatch ----------------------------------------------------------

/// Declares [`Kind`], one variant per handler plus, for each flag-setting handler that
/// a Jcc often follows, a twin with that Jcc fused in; [`exec`], which dispatches on
/// it; [`exec_undoable`], which runs the register-only kinds (those listed `pure`); and
/// [`with_jcc`], which names a handler's fused twin.
macro_rules! kinds {
    (
        plain { $($kind:ident => $handler:expr,)* }
        pure { $($pk:ident => $ph:expr,)* }
        fusable { $($fk:ident / $fj:ident / $fz:ident / $fc:ident => $fh:expr,)* }
        fusable pure { $($fpk:ident / $fpj:ident / $fpz:ident / $fpc:ident => $fph:expr,)* }
    ) => {
        /// The handler an operation runs: one per instruction form the tier
        /// specialises, and one per form followed by a fused Jcc.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kind {
            $($kind,)*
            $($pk,)*
            $($fk, $fj, $fz, $fc,)*
            $($fpk, $fpj, $fpz, $fpc,)*
        }

        /// Executes `op` (`at` places it) and returns the page offset of the next
        /// instruction, with [`PAIR`] set when a fused Jcc is to run next (the
        /// operation holds where it ends and where it jumps), or [`DECLINE`] or
        /// [`DECODE`].
        /// One `match` over every handler, each inlined, so the tier's loop
        /// dispatches with a jump table rather than a call per instruction.
        #[inline(always)]
        pub(super) fn exec(m: &mut Machine, op: &Op, at: At) -> u64 {
            match op.kind {
                $(Kind::$kind => $handler(m, op, at),)*
                $(Kind::$pk => $ph(m, op, at),)*
                $(Kind::$fk => $fh(m, op, at),)*
                $(Kind::$fpk => $fph(m, op, at),)*
                $(Kind::$fj => then_jcc($fh(m, op, at)),)*
                $(Kind::$fpj => then_jcc($fph(m, op, at)),)*
                $(Kind::$fz => then_jz($fh(m, op, at), m, op),)*
                $(Kind::$fpz => then_jz($fph(m, op, at), m, op),)*
                $(Kind::$fc => then_jc($fh(m, op, at), m, op),)*
                $(Kind::$fpc => then_jc($fph(m, op, at), m, op),)*
            }
        }

        /// Runs `op` when it is a register-only operation (it writes at most its
        /// destination register and the flags, and never declines), and puts its
        /// register and flags back when `undo` holds, without a branch on `undo`. False,
        /// with nothing changed, for any other kind.
        #[inline(always)]
        pub(super) fn exec_undoable(m: &mut Machine, op: &Op, undo: bool) -> bool {
            match op.kind {
                $(Kind::$pk => undoable(m, op, undo, $ph),)*
                $(Kind::$fpk => undoable(m, op, undo, $fph),)*
                _ => return false,
            }
            true
        }

        /// The kind that runs `k` and then a fused Jcc with condition `cc`, when `k`
        /// has one: a twin that tests ZF or CF itself for the E/NE and B/AE
        /// conditions, the twin that leaves the test to the loop for the others.
        pub(super) fn with_jcc(k: Kind, cc: u8) -> Option<Kind> {
            let class = (cc >> 1) & 7;
            Some(match k {
                $(Kind::$fk => match class { 1 => Kind::$fc, 2 => Kind::$fz, _ => Kind::$fj },)*
                $(Kind::$fpk => match class { 1 => Kind::$fpc, 2 => Kind::$fpz, _ => Kind::$fpj },)*
                _ => return None,
            })
        }
    };
}

kinds! {
    plain {
        Undecoded => undecoded,
        General => general,
        AddRm => alu_rm::<ALU_ADD>,
        OrRm => alu_rm::<ALU_OR>,
        AdcRm => alu_rm::<ALU_ADC>,
        SbbRm => alu_rm::<ALU_SBB>,
        AndRm => alu_rm::<ALU_AND>,
        SubRm => alu_rm::<ALU_SUB>,
        XorRm => alu_rm::<ALU_XOR>,
        TestRm => alu_rm::<ALU_TEST>,
        AddMr => alu_mr::<ALU_ADD>,
        OrMr => alu_mr::<ALU_OR>,
        AdcMr => alu_mr::<ALU_ADC>,
        SbbMr => alu_mr::<ALU_SBB>,
        AndMr => alu_mr::<ALU_AND>,
        SubMr => alu_mr::<ALU_SUB>,
        XorMr => alu_mr::<ALU_XOR>,
        TestMr => alu_mr::<ALU_TEST>,
        AddMi => alu_mi::<ALU_ADD>,
        OrMi => alu_mi::<ALU_OR>,
        AdcMi => alu_mi::<ALU_ADC>,
        SbbMi => alu_mi::<ALU_SBB>,
        AndMi => alu_mi::<ALU_AND>,
        SubMi => alu_mi::<ALU_SUB>,
        XorMi => alu_mi::<ALU_XOR>,
        MovRm => mov_rm,
        MovMr => mov_mr,
        MovMi => mov_mi,
        MovzxRm => movzx_rm,
        MovsxRm => movsx_rm,
        ImulRmi => imul_rmi,
        PushR => push_r,
        PushI => push_i,
        PopR => pop_r,
        CallRel => call_rel,
        RetNear => ret_near,
        JmpRel => jmp_rel,
        Jo => jcc_rel::<0>,
        Jno => jcc_rel::<1>,
        Jb => jcc_rel::<2>,
        Jae => jcc_rel::<3>,
        Je => jcc_rel::<4>,
        Jne => jcc_rel::<5>,
        Jbe => jcc_rel::<6>,
        Ja => jcc_rel::<7>,
        Js => jcc_rel::<8>,
        Jns => jcc_rel::<9>,
        Jp => jcc_rel::<10>,
        Jnp => jcc_rel::<11>,
        Jl => jcc_rel::<12>,
        Jge => jcc_rel::<13>,
        Jle => jcc_rel::<14>,
        Jg => jcc_rel::<15>,
    }
    pure {
        Nop => nop,
        AdcRr => alu_rr::<ALU_ADC>,
        SbbRr => alu_rr::<ALU_SBB>,
        OrRi => alu_ri::<ALU_OR>,
        AdcRi => alu_ri::<ALU_ADC>,
        SbbRi => alu_ri::<ALU_SBB>,
        XorRi => alu_ri::<ALU_XOR>,
        MovRr => mov_rr,
        MovRi => mov_ri,
        Lea => lea,
        NotR => not_r,
        NegR => neg_r,
        RolRi => shift_ri::<SH_ROL>,
        RorRi => shift_ri::<SH_ROR>,
        ImulRri => imul_rri,
        ImulRr => imul_rr,
    }
    fusable {
        CmpRm / CmpRmJcc / CmpRmJz / CmpRmJc => alu_rm::<ALU_CMP>,
        CmpMr / CmpMrJcc / CmpMrJz / CmpMrJc => alu_mr::<ALU_CMP>,
        CmpMi / CmpMiJcc / CmpMiJz / CmpMiJc => alu_mi::<ALU_CMP>,
        TestMi / TestMiJcc / TestMiJz / TestMiJc => alu_mi::<ALU_TEST>,
    }
    fusable pure {
        AddRr / AddRrJcc / AddRrJz / AddRrJc => alu_rr::<ALU_ADD>,
        OrRr / OrRrJcc / OrRrJz / OrRrJc => alu_rr::<ALU_OR>,
        AndRr / AndRrJcc / AndRrJz / AndRrJc => alu_rr::<ALU_AND>,
        SubRr / SubRrJcc / SubRrJz / SubRrJc => alu_rr::<ALU_SUB>,
        XorRr / XorRrJcc / XorRrJz / XorRrJc => alu_rr::<ALU_XOR>,
        CmpRr / CmpRrJcc / CmpRrJz / CmpRrJc => alu_rr::<ALU_CMP>,
        TestRr / TestRrJcc / TestRrJz / TestRrJc => alu_rr::<ALU_TEST>,
        AddRi / AddRiJcc / AddRiJz / AddRiJc => alu_ri::<ALU_ADD>,
        AndRi / AndRiJcc / AndRiJz / AndRiJc => alu_ri::<ALU_AND>,
        SubRi / SubRiJcc / SubRiJz / SubRiJc => alu_ri::<ALU_SUB>,
        CmpRi / CmpRiJcc / CmpRiJz / CmpRiJc => alu_ri::<ALU_CMP>,
        TestRi / TestRiJcc / TestRiJz / TestRiJc => alu_ri::<ALU_TEST>,
        IncR / IncRJcc / IncRJz / IncRJc => inc_r,
        DecR / DecRJcc / DecRJz / DecRJc => dec_r,
        ShlRi / ShlRiJcc / ShlRiJz / ShlRiJc => shift_ri::<SH_SHL>,
        ShrRi / ShrRiJcc / ShrRiJz / ShrRiJc => shift_ri::<SH_SHR>,
        SarRi / SarRiJcc / SarRiJz / SarRiJc => shift_ri::<SH_SAR>,
    }
}

/// Runs the register-only handler `h` on `op`, then puts back its destination
/// register and the flags when `undo` holds.
#[inline(always)]
fn undoable(m: &mut Machine, op: &Op, undo: bool, h: impl FnOnce(&mut Machine, &Op, At) -> u64) {
    let flags = m.cpu.flags;
    let old = reg(m, op.r0);
    h(m, op, At { page: 0, next: 0 });
    m.cpu.flags.restore_if(undo, &flags);
    let v = core::hint::select_unpredictable(undo, old, reg(m, op.r0));
    set_reg(m, op.r0, v);
}

/// Marks the answer of an operation with a fused Jcc: [`PAIR`] unless it declined
/// (then neither instruction ran). The loop evaluates the Jcc's condition.
#[inline(always)]
fn then_jcc(r: u64) -> u64 {
    if r > u32::MAX as u64 {
        r
    } else {
        r | PAIR
    }
}

/// Marks the answer of an operation with a fused Jcc whose condition `holds` the
/// handler's arm evaluated: [`PAIR`] and [`KNOWN`], with [`TAKEN`] when it jumps.
#[inline(always)]
fn then_known(r: u64, op: &Op, holds: bool) -> u64 {
    if r > u32::MAX as u64 {
        r
    } else {
        let taken = (holds as u64) ^ (op.cc as u64 & 1);
        r | PAIR | KNOWN | (taken * TAKEN)
    }
}

/// [`then_known`] for a Jcc on ZF (JE, JNE), tested right after the flags are set.
#[inline(always)]
fn then_jz(r: u64, m: &Machine, op: &Op) -> u64 {
    then_known(r, op, m.cpu.flags.zf())
}

/// [`then_known`] for a Jcc on CF (JB, JAE), tested right after the flags are set.
#[inline(always)]
fn then_jc(r: u64, m: &Machine, op: &Op) -> u64 {
    then_known(r, op, m.cpu.flags.cf())
}

/// The RR-form ALU kinds by ALU operation number.
pub(super) const ALU_RR: [Kind; 9] = [
    Kind::AddRr,
    Kind::OrRr,
    Kind::AdcRr,
    Kind::SbbRr,
    Kind::AndRr,
    Kind::SubRr,
    Kind::XorRr,
    Kind::CmpRr,
    Kind::TestRr,
];
/// The RI-form ALU kinds by ALU operation number.
pub(super) const ALU_RI: [Kind; 9] = [
    Kind::AddRi,
    Kind::OrRi,
    Kind::AdcRi,
    Kind::SbbRi,
    Kind::AndRi,
    Kind::SubRi,
    Kind::XorRi,
    Kind::CmpRi,
    Kind::TestRi,
];
/// The RM-form ALU kinds by ALU operation number.
pub(super) const ALU_RM: [Kind; 9] = [
    Kind::AddRm,
    Kind::OrRm,
    Kind::AdcRm,
    Kind::SbbRm,
    Kind::AndRm,
    Kind::SubRm,
    Kind::XorRm,
    Kind::CmpRm,
    Kind::TestRm,
];
/// The MR-form ALU kinds by ALU operation number.
pub(super) const ALU_MR: [Kind; 9] = [
    Kind::AddMr,
    Kind::OrMr,
    Kind::AdcMr,
    Kind::SbbMr,
    Kind::AndMr,
    Kind::SubMr,
    Kind::XorMr,
    Kind::CmpMr,
    Kind::TestMr,
];
/// The MI-form ALU kinds by ALU operation number.
pub(super) const ALU_MI: [Kind; 9] = [
    Kind::AddMi,
    Kind::OrMi,
    Kind::AdcMi,
    Kind::SbbMi,
    Kind::AndMi,
    Kind::SubMi,
    Kind::XorMi,
    Kind::CmpMi,
    Kind::TestMi,
];

// ---- memory fast path ------------------------------------------------------------

impl Machine {
    /// The effective address of the operation's memory operand.
    #[inline(always)]
    fn fast_ea(&self, op: &Op) -> u32 {
        let g = &self.cpu.gpr;
        let mut a = op.disp;
        if op.base != NO_REG {
            a = a.wrapping_add(g[(op.base & 7) as usize]);
        }
        if op.index != NO_REG {
            a = a.wrapping_add(g[(op.index & 7) as usize] << (op.scale & 3));
        }
        a
    }

    /// The physical address of a `size`-byte access at flat linear `lin`, when it needs
    /// no page walk; `None` sends the instruction to the general path.
    #[inline(always)]
    fn fast_phys(&mut self, lin: u32, size: u8, write: bool) -> Option<u32> {
        let c0 = self.cpu.cr0;
        if c0 & cr0::PG == 0 {
            return Some(lin);
        }
        if (lin & 0xfff) + size as u32 > 0x1000 {
            return None;
        }
        let acc = self.user_acc() | if write { access::WRITE } else { access::READ };
        self.tlb_lookup(lin, acc)
    }

    /// Reads `size` bytes at flat linear `lin` from RAM or ROM without side effects.
    #[inline(always)]
    pub(crate) fn fast_read(&mut self, lin: u32, size: u8) -> Option<u32> {
        let p = self.fast_phys(lin, size, false)?;
        self.mem.fast_read(p, size)
    }

    /// The RAM offset for a `size`-byte store at flat linear `lin` (plain RAM, no
    /// decoded code on the page).
    #[inline(always)]
    pub(crate) fn fast_store_ref(&mut self, lin: u32, size: u8) -> Option<usize> {
        let p = self.fast_phys(lin, size, true)?;
        self.mem.fast_store_offset(p, size)
    }
}

// ---- handlers ----------------------------------------------------------------------

/// Where an operation runs: the linear address of its code page and the page offset of
/// the instruction after it. A handler answers with the page offset of the next
/// instruction to run (wrapping: an offset past the page is on another page), so a
/// falling-through answer is `next` itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct At {
    pub page: u32,
    pub next: u32,
}

impl At {
    /// The EIP of the instruction after the operation.
    #[inline(always)]
    fn eip(self) -> u32 {
        self.page.wrapping_add(self.next)
    }
}

/// `target` when the operation completed, else [`DECLINE`].
#[inline(always)]
fn finish(completed: bool, target: u32) -> u64 {
    if completed {
        target as u64
    } else {
        DECLINE
    }
}

/// The placeholder of an operation not decoded yet.
pub(super) const UNDECODED: Op = Op {
    kind: Kind::Undecoded,
    len: 0,
    next: 0,
    size: 0,
    r0: 0,
    r1: 0,
    base: NO_REG,
    index: NO_REG,
    scale: 0,
    imm: 0,
    disp: 0,
    cc: 0,
    after: 0,
    target: 0,
    skip: 0,
};

/// Asks the loop to decode the instruction.
#[inline(always)]
fn undecoded(_: &mut Machine, _: &Op, _: At) -> u64 {
    DECODE
}

/// The general path: always declines.
#[inline(always)]
fn general(_: &mut Machine, _: &Op, _: At) -> u64 {
    DECLINE
}

/// NOP.
#[inline(always)]
fn nop(_: &mut Machine, _: &Op, at: At) -> u64 {
    at.next as u64
}

#[inline(always)]
fn reg(m: &Machine, r: u8) -> u32 {
    m.cpu.gpr[(r & 7) as usize]
}

#[inline(always)]
fn set_reg(m: &mut Machine, r: u8, v: u32) {
    m.cpu.gpr[(r & 7) as usize] = v;
}

/// ALU r32, r32.
#[inline(always)]
fn alu_rr<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let (a, b) = (reg(m, op.r0), reg(m, op.r1));
    if let Some(v) = alu_op::<K>(m, 4, a, b) {
        set_reg(m, op.r0, v);
    }
    at.next as u64
}

/// ALU r32, imm.
#[inline(always)]
fn alu_ri<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r0);
    if let Some(v) = alu_op::<K>(m, 4, a, op.imm) {
        set_reg(m, op.r0, v);
    }
    at.next as u64
}

/// ALU r32, m32.
#[inline(always)]
fn alu_rm<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(b) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    let a = reg(m, op.r0);
    if let Some(v) = alu_op::<K>(m, 4, a, b) {
        set_reg(m, op.r0, v);
    }
    at.next as u64
}

/// ALU m, value (read-modify-write, or a read for CMP/TEST).
#[inline(always)]
fn alu_mem<const K: u8>(m: &mut Machine, op: &Op, size: u8, b: u32) -> bool {
    let lin = m.fast_ea(op);
    if K == ALU_CMP || K == ALU_TEST {
        let Some(a) = m.fast_read(lin, size) else {
            return false;
        };
        alu_op::<K>(m, size, a, b);
        return true;
    }
    let Some(slot) = m.fast_store_ref(lin, size) else {
        return false;
    };
    let a = m.mem.ram_load(slot, size);
    if let Some(v) = alu_op::<K>(m, size, a, b) {
        m.mem.ram_store(slot, size, v);
    }
    true
}

/// ALU m32, r32.
#[inline(always)]
fn alu_mr<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let b = reg(m, op.r1);
    finish(alu_mem::<K>(m, op, 4, b), at.next)
}

/// ALU m, imm (8, 16 or 32 bits).
#[inline(always)]
fn alu_mi<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let b = op.imm & alu::mask(op.size);
    finish(alu_mem::<K>(m, op, op.size, b), at.next)
}

/// MOV r32, r32.
#[inline(always)]
fn mov_rr(m: &mut Machine, op: &Op, at: At) -> u64 {
    let v = reg(m, op.r1);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// MOV r32, imm32.
#[inline(always)]
fn mov_ri(m: &mut Machine, op: &Op, at: At) -> u64 {
    set_reg(m, op.r0, op.imm);
    at.next as u64
}

/// MOV r32, m32.
#[inline(always)]
fn mov_rm(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    set_reg(m, op.r0, v);
    at.next as u64
}

/// MOV m32, r32.
#[inline(always)]
fn mov_mr(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(slot) = m.fast_store_ref(lin, 4) else {
        return DECLINE;
    };
    let v = reg(m, op.r1);
    m.mem.ram_store(slot, 4, v);
    at.next as u64
}

/// MOV m, imm (8, 16 or 32 bits).
#[inline(always)]
fn mov_mi(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(slot) = m.fast_store_ref(lin, op.size) else {
        return DECLINE;
    };
    m.mem.ram_store(slot, op.size, op.imm);
    at.next as u64
}

/// MOVZX r32, m8/m16.
#[inline(always)]
fn movzx_rm(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, op.size) else {
        return DECLINE;
    };
    set_reg(m, op.r0, v);
    at.next as u64
}

/// MOVSX r32, m8/m16.
#[inline(always)]
fn movsx_rm(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(v) = m.fast_read(lin, op.size) else {
        return DECLINE;
    };
    let v = if op.size == 1 {
        v as u8 as i8 as i32 as u32
    } else {
        v as u16 as i16 as i32 as u32
    };
    set_reg(m, op.r0, v);
    at.next as u64
}

/// LEA r32, m.
#[inline(always)]
fn lea(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = m.fast_ea(op);
    set_reg(m, op.r0, a);
    at.next as u64
}

/// INC r32.
#[inline(always)]
fn inc_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::inc(&mut m.cpu.flags, 4, a);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// DEC r32.
#[inline(always)]
fn dec_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::dec(&mut m.cpu.flags, 4, a);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// NOT r32.
#[inline(always)]
fn not_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let v = !reg(m, op.r0);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// NEG r32.
#[inline(always)]
fn neg_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r0);
    let v = alu::neg(&mut m.cpu.flags, 4, a);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// Shift or rotate r32 by an immediate count.
#[inline(always)]
fn shift_ri<const K: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r0);
    let c = op.imm as u8;
    let f = &mut m.cpu.flags;
    let v = match K {
        SH_SHL => alu::shl(f, 4, a, c),
        SH_SHR => alu::shr(f, 4, a, c),
        SH_SAR => alu::sar(f, 4, a, c),
        SH_ROL => alu::rol(f, 4, a, c),
        _ => alu::ror(f, 4, a, c),
    };
    set_reg(m, op.r0, v);
    at.next as u64
}

/// IMUL r32, r32, imm.
#[inline(always)]
fn imul_rri(m: &mut Machine, op: &Op, at: At) -> u64 {
    let a = reg(m, op.r1);
    let v = alu::imul_trunc(&mut m.cpu.flags, 4, a, op.imm);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// IMUL r32, m32, imm.
#[inline(always)]
fn imul_rmi(m: &mut Machine, op: &Op, at: At) -> u64 {
    let lin = m.fast_ea(op);
    let Some(a) = m.fast_read(lin, 4) else {
        return DECLINE;
    };
    let v = alu::imul_trunc(&mut m.cpu.flags, 4, a, op.imm);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// IMUL r32, r32.
#[inline(always)]
fn imul_rr(m: &mut Machine, op: &Op, at: At) -> u64 {
    let (a, b) = (reg(m, op.r0), reg(m, op.r1));
    let v = alu::imul_trunc(&mut m.cpu.flags, 4, a, b);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// Pushes a doubleword on the flat 32-bit stack.
#[inline(always)]
fn push32(m: &mut Machine, v: u32) -> bool {
    let sp = m.cpu.gpr[ESP].wrapping_sub(4);
    let Some(slot) = m.fast_store_ref(sp, 4) else {
        return false;
    };
    m.mem.ram_store(slot, 4, v);
    m.cpu.gpr[ESP] = sp;
    true
}

/// PUSH r32.
#[inline(always)]
fn push_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let v = reg(m, op.r0);
    finish(push32(m, v), at.next)
}

/// PUSH imm.
#[inline(always)]
fn push_i(m: &mut Machine, op: &Op, at: At) -> u64 {
    finish(push32(m, op.imm), at.next)
}

/// POP r32.
#[inline(always)]
fn pop_r(m: &mut Machine, op: &Op, at: At) -> u64 {
    let sp = m.cpu.gpr[ESP];
    let Some(v) = m.fast_read(sp, 4) else {
        return DECLINE;
    };
    m.cpu.gpr[ESP] = sp.wrapping_add(4);
    set_reg(m, op.r0, v);
    at.next as u64
}

/// CALL rel32.
#[inline(always)]
fn call_rel(m: &mut Machine, op: &Op, at: At) -> u64 {
    finish(push32(m, at.eip()), op.target)
}

/// RET and RET imm16 (near).
#[inline(always)]
fn ret_near(m: &mut Machine, op: &Op, at: At) -> u64 {
    let sp = m.cpu.gpr[ESP];
    let Some(t) = m.fast_read(sp, 4) else {
        return DECLINE;
    };
    m.cpu.gpr[ESP] = sp.wrapping_add(4).wrapping_add(op.imm);
    t.wrapping_sub(at.page) as u64
}

/// JMP rel.
#[inline(always)]
fn jmp_rel(_m: &mut Machine, op: &Op, _: At) -> u64 {
    op.target as u64
}

/// Jcc rel with condition code `CC` (the low nibble of the opcode).
#[inline(always)]
fn jcc_rel<const CC: u8>(m: &mut Machine, op: &Op, at: At) -> u64 {
    if m.cpu.flags.cond(CC) {
        op.target as u64
    } else {
        at.next as u64
    }
}

/// The Jcc kinds by condition code.
pub(super) const JCC: [Kind; 16] = [
    Kind::Jo,
    Kind::Jno,
    Kind::Jb,
    Kind::Jae,
    Kind::Je,
    Kind::Jne,
    Kind::Jbe,
    Kind::Ja,
    Kind::Js,
    Kind::Jns,
    Kind::Jp,
    Kind::Jnp,
    Kind::Jl,
    Kind::Jge,
    Kind::Jle,
    Kind::Jg,
];
