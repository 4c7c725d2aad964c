//! Popek and Goldberg: the sensitive but unprivileged instructions of x86 that
//! run without a trap in a deprivileged kernel, and what they reveal or lose.

use alloc::format;
use alloc::string::String;
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};
use serde::{Deserialize, Serialize};

use crate::events::EventKind;
use crate::state::{CpuState, SegReg};

use super::operand::{memory_linear, read_reg, stack_mask};
use super::{format_instruction, show_selector, show_table, Vmm, VmmHost};

/// At most this many reports are kept (all are counted and go to the event ring).
pub const MAX_REPORTS: usize = 256;

/// One sensitive instruction the deprivileged guest kernel executed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SensitiveReport {
    /// The instruction's linear address.
    pub linear_eip: u32,
    /// The instruction (Intel syntax).
    pub instruction: String,
    /// What the guest saw (or what happened) on the deprivileged hardware.
    pub saw: String,
    /// What a real machine would have given it.
    pub real: String,
    /// The two differ: the guest can tell, or misbehaves.
    pub differs: bool,
}

fn flags_text(f: u32) -> String {
    format!(
        "EFLAGS {:#010x} (IF={}, IOPL={})",
        f,
        (f >> 9) & 1,
        (f >> 12) & 3
    )
}

impl Vmm {
    /// Reports `insn` if it is sensitive but unprivileged (the guest kernel runs deprivileged).
    pub(crate) fn observe_sensitive(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        insn: &Instruction,
    ) {
        let v = &self.vcpu;
        let (saw, real, differs) = match insn.mnemonic() {
            Mnemonic::Pushf | Mnemonic::Pushfd => {
                let real = self.guest_eflags(cpu);
                (flags_text(cpu.eflags), flags_text(real), real != cpu.eflags)
            }
            Mnemonic::Popf | Mnemonic::Popfd => {
                let size = if insn.mnemonic() == Mnemonic::Popfd {
                    4
                } else {
                    2
                };
                let at = cpu
                    .sreg(SegReg::Ss)
                    .base
                    .wrapping_add(cpu.gpr[4] & stack_mask(cpu));
                let popped = match self.read_u32(host, cpu, at) {
                    Ok(x) if size == 4 => x,
                    Ok(x) => (cpu.eflags & 0xffff_0000) | (x & 0xffff),
                    Err(_) => return,
                };
                let new_if = (popped >> 9) & 1;
                let new_iopl = (popped >> 12) & 3;
                let v = &self.vcpu;
                (
                    format!(
                        "IF stays {}, IOPL stays {}: at ring {} with IOPL 0 POPF ignores both, without a fault",
                        v.interrupt_flag as u8, v.iopl, self.guest_ring
                    ),
                    format!("IF := {new_if}, IOPL := {new_iopl}"),
                    new_if != v.interrupt_flag as u32 || new_iopl != v.iopl as u32,
                )
            }
            Mnemonic::Sgdt => (
                format!("GDTR {}", show_table(cpu.gdtr)),
                format!("GDTR {}", show_table(v.gdtr)),
                cpu.gdtr != v.gdtr,
            ),
            Mnemonic::Sidt => (
                format!("IDTR {} (the VMM's IDT)", show_table(cpu.idtr)),
                format!("IDTR {}", show_table(v.idtr)),
                cpu.idtr != v.idtr,
            ),
            Mnemonic::Sldt => (
                format!("LDTR {}", show_selector(&cpu.ldtr)),
                format!("LDTR {}", show_selector(&v.ldtr)),
                cpu.ldtr.selector != v.ldtr.selector,
            ),
            Mnemonic::Str => (
                format!("TR {}", show_selector(&cpu.tr)),
                format!("TR {}", show_selector(&v.tr)),
                cpu.tr.selector != v.tr.selector,
            ),
            Mnemonic::Smsw => (
                format!("MSW {:#06x} (the hardware CR0)", cpu.cr0 & 0xffff),
                format!("MSW {:#06x}", v.cr0 & 0xffff),
                (cpu.cr0 ^ v.cr0) & 0xffff != 0,
            ),
            Mnemonic::Mov | Mnemonic::Push => {
                let r = match insn.code() {
                    Code::Mov_rm16_Sreg | Code::Mov_r32m16_Sreg => insn.op1_register(),
                    Code::Pushw_CS | Code::Pushd_CS => Register::CS,
                    Code::Pushw_SS | Code::Pushd_SS => Register::SS,
                    _ => return,
                };
                let s = match r {
                    Register::CS => SegReg::Cs,
                    Register::SS => SegReg::Ss,
                    _ => return,
                };
                let hw = cpu.sreg(s).selector;
                let want = hw & !3;
                (
                    format!("{} = {hw:#06x} (RPL {})", s.name(), hw & 3),
                    format!("{} = {want:#06x} (RPL 0)", s.name()),
                    hw != want,
                )
            }
            Mnemonic::Lar | Mnemonic::Lsl | Mnemonic::Verr | Mnemonic::Verw => {
                let op = if matches!(insn.mnemonic(), Mnemonic::Verr | Mnemonic::Verw) {
                    0
                } else {
                    1
                };
                let sel = match insn.op_kind(op) {
                    OpKind::Register => read_reg(cpu, insn.op_register(op)) as u16,
                    _ => {
                        let mut b = [0u8; 2];
                        let regs = self.guest_paging(cpu);
                        if super::guest::read_linear(
                            host.mem(),
                            regs,
                            memory_linear(cpu, insn),
                            &mut b,
                            super::guest::access::READ,
                        )
                        .is_err()
                        {
                            return;
                        }
                        u16::from_le_bytes(b)
                    }
                };
                let Ok(d) = self.descriptor(host, cpu, sel) else {
                    return;
                };
                let rpl = (sel & 3) as u8;
                let visible = |cpl: u8| {
                    let ok_priv = (d.conforming() && insn.mnemonic() != Mnemonic::Verw)
                        || d.dpl() >= cpl.max(rpl);
                    let ok_type = match insn.mnemonic() {
                        Mnemonic::Verr => d.readable(),
                        Mnemonic::Verw => d.writable_data(),
                        _ => !d.system() || d.system_segment(),
                    };
                    ok_priv && ok_type && sel & !3 != 0
                };
                let (at_hw, at_0) = (visible(cpu.cpl), visible(0));
                (
                    format!("ZF={} for {sel:#06x} at ring {}", at_hw as u8, cpu.cpl),
                    format!("ZF={} at ring 0", at_0 as u8),
                    at_hw != at_0,
                )
            }
            _ => return,
        };
        let instruction = format_instruction(insn);
        self.sensitive_total += 1;
        let linear_eip = cpu.sreg(SegReg::Cs).base.wrapping_add(cpu.eip);
        if self.reports.len() < MAX_REPORTS {
            self.reports.push(SensitiveReport {
                linear_eip,
                instruction: instruction.clone(),
                saw: saw.clone(),
                real: real.clone(),
                differs,
            });
        }
        self.event(
            cpu,
            EventKind::SensitiveInstruction {
                instruction,
                saw,
                real,
                differs,
            },
        );
    }
}
