//! Instruction execution: one dispatch on the decoded mnemonic into the families.
//! An instruction vmlab does not implement raises #UD.

mod alu;
mod control;
mod io;
mod mov;
mod stack;
mod string;
mod system;

use iced_x86::Mnemonic as M;

use super::decode::Decoded;
use super::ESP;
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, flags};

/// LOCK is allowed only on read-modify-write instructions with a memory destination.
pub(crate) fn lockable(mnem: M, memory_destination: bool) -> bool {
    memory_destination
        && matches!(
            mnem,
            M::Add
                | M::Adc
                | M::And
                | M::Btc
                | M::Btr
                | M::Bts
                | M::Cmpxchg
                | M::Cmpxchg8b
                | M::Dec
                | M::Inc
                | M::Neg
                | M::Not
                | M::Or
                | M::Sbb
                | M::Sub
                | M::Xor
                | M::Xadd
                | M::Xchg
        )
}

impl Machine {
    /// Fetches, decodes and executes one instruction; a fault restores EIP and ESP and
    /// is delivered to the guest.
    #[inline(always)]
    pub(crate) fn execute_one(&mut self) {
        let eip0 = self.cpu.eip;
        let esp0 = self.cpu.gpr[ESP];
        self.cpu.interrupt_shadow = false;
        self.cpu.tsc = self.cpu.tsc.wrapping_add(1);
        let idx = match self.fetch() {
            Ok(i) => i,
            Err(e) => return self.exception(e),
        };
        let slots = self.cpu.dcache.take();
        let Some(slot) = slots.get(idx) else {
            self.cpu.dcache.give_back(slots);
            return self.exception(Exception::InvalidOpcode);
        };
        let d = &slot.d;
        if self.vmm.is_some() && self.vmm_before_execute(&d.ins) {
            self.cpu.dcache.give_back(slots);
            return;
        }
        let trap = self.cpu.eflags & flags::TF != 0;
        let next = eip0.wrapping_add(d.ins.len() as u32);
        self.cpu.eip = if d.code16 { next & 0xffff } else { next };
        let r = self.exec(d);
        self.cpu.dcache.give_back(slots);
        match r {
            Ok(()) => {
                if self.cpu.incomplete {
                    self.cpu.incomplete = false;
                } else {
                    self.icount += 1;
                }
                if trap {
                    // Single-step trap after the instruction (DR6.BS).
                    self.cpu.dr[6] |= 0x4000;
                    self.exception(Exception::Debug);
                }
            }
            Err(e) => {
                self.cpu.incomplete = false;
                self.cpu.eip = eip0;
                self.cpu.gpr[ESP] = esp0;
                self.exception(e);
            }
        }
    }

    /// The dispatch table.
    #[inline(always)]
    fn exec(&mut self, d: &Decoded) -> Result<(), Exception> {
        if d.bad_lock {
            return Err(Exception::InvalidOpcode);
        }
        match d.mnem {
            M::Mov => self.op_mov(d),
            M::Movzx => self.op_movzx(d),
            M::Movsx => self.op_movsx(d),
            M::Lea => self.op_lea(d),
            M::Xchg => self.op_xchg(d),
            M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg => self.op_cmov(d),
            M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg => self.op_setcc(d),
            M::Bswap => self.op_bswap(d),
            M::Xlatb => self.op_xlat(d),
            M::Cbw | M::Cwde => self.op_cbw(d),
            M::Cwd | M::Cdq => self.op_cwd(d),
            M::Lahf => self.op_lahf(),
            M::Sahf => self.op_sahf(),
            M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => self.op_lxs(d),
            // ENDBR32/64 and the other 0F 18–1F encodings are hint NOPs on a P6-class CPU.
            M::Pause => {
                self.op_pause();
                Ok(())
            }
            M::Nop | M::Endbr32 | M::Endbr64 | M::Reservednop => Ok(()),
            M::Wait => self.op_wait(),
            M::Cmpxchg => self.op_cmpxchg(d),
            M::Cmpxchg8b => self.op_cmpxchg8b(d),
            M::Xadd => self.op_xadd(d),

            M::Add => self.op_add(d),
            M::Or => self.op_or(d),
            M::Adc => self.op_adc(d),
            M::Sbb => self.op_sbb(d),
            M::And => self.op_and(d),
            M::Sub => self.op_sub(d),
            M::Xor => self.op_xor(d),
            M::Cmp | M::Test => self.op_compare(d),
            M::Inc => self.op_inc(d),
            M::Dec => self.op_dec(d),
            M::Neg => self.op_neg(d),
            M::Not => self.op_not(d),
            M::Rol => self.op_rol(d),
            M::Ror => self.op_ror(d),
            M::Rcl => self.op_rcl(d),
            M::Rcr => self.op_rcr(d),
            M::Shl | M::Sal => self.op_shl(d),
            M::Shr => self.op_shr(d),
            M::Sar => self.op_sar(d),
            M::Shld | M::Shrd => self.op_shxd(d),
            M::Mul | M::Imul | M::Div | M::Idiv => self.op_muldiv(d),
            M::Daa | M::Das | M::Aaa | M::Aas | M::Aam | M::Aad => self.op_bcd(d),
            M::Bt | M::Bts | M::Btr | M::Btc => self.op_bt(d),
            // Without BMI1/ABM, TZCNT and LZCNT (F3 0F BC/BD) execute as BSF and BSR.
            M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt => self.op_bitscan(d),
            M::Clc | M::Stc | M::Cmc | M::Cld | M::Std => self.op_flag(d),
            M::Salc => self.op_salc(),

            M::Push => self.op_push(d),
            M::Pop => self.op_pop(d),
            M::Pusha | M::Pushad => self.op_pusha(d),
            M::Popa | M::Popad => self.op_popa(d),
            M::Pushf | M::Pushfd => self.op_pushf(d),
            M::Popf | M::Popfd => self.op_popf(d),
            M::Enter => self.op_enter(d),
            M::Leave => self.op_leave(d),

            M::Jmp => self.op_jmp(d),
            M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg => self.op_jcc(d),
            M::Jcxz | M::Jecxz | M::Loop | M::Loope | M::Loopne => self.op_loop(d),
            M::Call => self.op_call(d),
            M::Ret => self.op_ret(d),
            M::Retf => self.op_retf(d),
            M::Int | M::Int3 | M::Into | M::Int1 => self.op_int(d),
            M::Iret | M::Iretd => self.iret(d.osize),
            M::Bound => self.op_bound(d),

            M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Scasb
            | M::Scasw
            | M::Scasd
            | M::Insb
            | M::Insw
            | M::Insd
            | M::Outsb
            | M::Outsw
            | M::Outsd => self.op_string(d),
            M::In => self.op_in(d),
            M::Out => self.op_out(d),

            M::Lgdt | M::Lidt => self.op_lgdt(d),
            M::Sgdt | M::Sidt => self.op_sgdt(d),
            M::Lldt => self.op_lldt(d),
            M::Ltr => self.op_ltr(d),
            M::Sldt | M::Str => self.op_sldt(d),
            M::Lmsw => self.op_lmsw(d),
            M::Smsw => self.op_smsw(d),
            M::Clts => self.op_clts(),
            M::Invlpg => self.op_invlpg(d),
            M::Hlt => self.op_hlt(),
            M::Cli | M::Sti => self.op_cli_sti(d),
            M::Cpuid => self.op_cpuid(),
            M::Rdtsc => self.op_rdtsc(),
            M::Lar | M::Lsl => self.op_lar(d),
            M::Verr | M::Verw => self.op_verr(d),
            M::Arpl => self.op_arpl(d),
            M::Wbinvd | M::Invd => self.require_cpl0(),
            _ => self.op_unimplemented(d),
        }
    }

    /// WAIT/FWAIT: #NM when CR0.TS and CR0.MP are both set.
    fn op_wait(&mut self) -> Result<(), Exception> {
        let c = self.cpu.cr0;
        if c & cr0::TS != 0 && c & cr0::MP != 0 {
            return Err(Exception::DeviceNotAvailable);
        }
        self.x87_pending()
    }

    /// Instructions outside the integer set: x87 instructions raise #NM when CR0.EM or
    /// CR0.TS is set (so an emulator in the guest, or a lazy context switch, can take
    /// over) and otherwise run on the FPU (`cpu/x87/`). Everything else raises #UD.
    #[inline(never)]
    fn op_unimplemented(&mut self, d: &Decoded) -> Result<(), Exception> {
        use iced_x86::CpuidFeature as F;
        let x87 = d.ins.cpuid_features().iter().any(|f| {
            matches!(
                f,
                F::FPU | F::FPU287 | F::FPU287XL_ONLY | F::FPU387 | F::FPU387SL_ONLY | F::FXSR
            )
        });
        if x87 {
            if self.cpu.cr0 & (cr0::EM | cr0::TS) != 0 {
                return Err(Exception::DeviceNotAvailable);
            }
            return self.op_x87(d);
        }
        Err(Exception::InvalidOpcode)
    }
}
