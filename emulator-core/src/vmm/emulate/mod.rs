//! The VMM's two entry points for instructions and events, the switches between
//! an interpreted and a deprivileged guest kernel, and the emulation of its
//! privileged instructions on the virtual CPU: the instructions in
//! `privileged`, control registers and I/O in `cr_io`, descriptors, far
//! transfers and IRET in `far`, and hardware assistance's exits in `hw_assist`.

mod cr_io;
mod far;
mod hw_assist;
mod privileged;

use alloc::format;
use alloc::string::String;
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use crate::config::ExecMode;
use crate::error::Exception;
use crate::state::{cr0, flags, CpuState, SegReg, Segment, TableReg};

use super::exit::ExitReason;
use super::guest::{self, access};
use super::operand::{memory_linear, read_reg, reg_or_imm, seg_of, stack_mask, write_reg};
use super::vcpu::{vmm_task_register, VMM_CR0_BITS, VMM_IDT_BASE, VMM_IDT_LIMIT};
use super::{format_instruction, Delivery, GuestEvent, Vmm, VmmHost};
use crate::descriptor::{self, attr, system, Descriptor};

/// An emulated instruction's outcome: the exit's reason and the VMM's action.
struct Emulated {
    reason: ExitReason,
    action: String,
    /// The instruction set EIP itself (a control transfer).
    jumped: bool,
    stop: Option<crate::stop::StopReason>,
}

fn done(reason: ExitReason, action: String) -> Emulated {
    Emulated {
        reason,
        action,
        jumped: false,
        stop: None,
    }
}

impl Vmm {
    /// Sees each decoded instruction before it executes (see the module docs).
    pub fn before_execute(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Delivery {
        self.start_at(cpu);
        let d = self.before_execute_at(host, cpu, insn);
        self.done_at();
        d
    }

    fn before_execute_at(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Delivery {
        match self.mode {
            ExecMode::Bare => Delivery::Native,
            ExecMode::TrapEmulate { .. } => {
                if !self.vcpu.deprivileged {
                    if !cpu.protected_mode() || cpu.cpl != 0 || cpu.v86() {
                        return self.watch_real_mode(host, cpu, insn);
                    }
                    // a loader started the guest in protected mode: deprivilege it now
                    self.start_deprivileged(host, cpu);
                }
                if insn.mnemonic() == Mnemonic::Cpuid {
                    return self.cpuid(cpu, insn);
                }
                if self.guest_cpl(cpu) == 0 {
                    if insn.mnemonic() == Mnemonic::Vmcall {
                        return self.hypercall(host, cpu, insn);
                    }
                    if self.ring3() && is_return(insn) {
                        // at hardware ring 3 the kernel's IRET or RETF to its user mode
                        // would be a same-ring return: the VMM makes every one exit; one
                        // that faults raises its exception at the instruction, as the
                        // hardware does
                        return match self.emulate(host, cpu, insn) {
                            Ok(Some(em)) => self.finish_emulated(cpu, insn, em),
                            Ok(None) => Delivery::Native,
                            Err(e) => Delivery::Fault(e),
                        };
                    }
                    self.observe_sensitive(host, cpu, insn);
                }
                Delivery::Native
            }
            ExecMode::HwAssist { .. } => self.hw_assist_exits(host, cpu, insn),
        }
    }

    /// Whether [`Vmm::before_execute`] has anything to do with `insn` (a cheap filter
    /// the machine applies to every instruction first).
    pub fn interested(&self, cpu: &CpuState, insn: &Instruction) -> bool {
        let m = insn.mnemonic();
        let writes_cr = || {
            m == Mnemonic::Mov && insn.op0_kind() == OpKind::Register && insn.op0_register().is_cr()
        };
        match self.mode {
            ExecMode::Bare => false,
            ExecMode::TrapEmulate { .. } => {
                if !self.vcpu.deprivileged {
                    return (cpu.protected_mode() && cpu.cpl == 0 && !cpu.v86())
                        || writes_cr()
                        || m == Mnemonic::Lmsw;
                }
                if m == Mnemonic::Cpuid {
                    return true;
                }
                self.guest_cpl(cpu) == 0
                    && ((self.ring3() && is_return(insn))
                        || matches!(
                            m,
                            Mnemonic::Vmcall
                                | Mnemonic::Pushf
                                | Mnemonic::Pushfd
                                | Mnemonic::Popf
                                | Mnemonic::Popfd
                                | Mnemonic::Sgdt
                                | Mnemonic::Sidt
                                | Mnemonic::Sldt
                                | Mnemonic::Str
                                | Mnemonic::Smsw
                                | Mnemonic::Lar
                                | Mnemonic::Lsl
                                | Mnemonic::Verr
                                | Mnemonic::Verw
                        )
                        || matches!(
                            insn.code(),
                            Code::Mov_rm16_Sreg
                                | Code::Mov_r32m16_Sreg
                                | Code::Pushw_CS
                                | Code::Pushd_CS
                                | Code::Pushw_SS
                                | Code::Pushd_SS
                        ))
            }
            ExecMode::HwAssist { .. } => {
                is_io(m)
                    || writes_cr()
                    || matches!(
                        m,
                        Mnemonic::Cpuid
                            | Mnemonic::Vmcall
                            | Mnemonic::Hlt
                            | Mnemonic::Clts
                            | Mnemonic::Lmsw
                            | Mnemonic::Invlpg
                    )
            }
        }
    }

    /// Sees each exception and interrupt before the hardware delivers it.
    pub fn intercept(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        event: GuestEvent,
    ) -> Delivery {
        self.start_at(cpu);
        let d = self.intercept_at(host, cpu, event);
        self.done_at();
        d
    }

    fn intercept_at(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        event: GuestEvent,
    ) -> Delivery {
        if !self.trap_emulate() {
            if let GuestEvent::External { vector } = event {
                if self.take_window(cpu, vector) {
                    return Delivery::Native;
                }
            }
            let reason = match event {
                GuestEvent::Exception(Exception::PageFault { .. }) => ExitReason::PageFault,
                GuestEvent::Exception(_) => ExitReason::Exception,
                GuestEvent::External { .. } => ExitReason::ExternalInterrupt,
                GuestEvent::Software { .. } => return Delivery::Native,
            };
            let wanted = match event {
                GuestEvent::External { .. } => self.controls.external_interrupts,
                _ => self.controls.exceptions,
            };
            if wanted {
                let what = describe(event);
                self.exit(
                    cpu,
                    reason,
                    what,
                    String::from("reflected: injected through the guest's IDT on VM entry"),
                );
            }
            return Delivery::Native;
        }
        self.emulated = false;
        if !self.vcpu.deprivileged {
            return Delivery::Native;
        }
        if let GuestEvent::Exception(Exception::GeneralProtection(_)) = event {
            if self.guest_cpl(cpu) == 0 {
                let insn = match self.fetch(host.mem(), cpu) {
                    Ok(i) => i,
                    Err(e) => return self.inject_event(host, cpu, GuestEvent::Exception(e)),
                };
                if let Some(d) = self.emulate_exit(host, cpu, &insn) {
                    return d;
                }
            }
        }
        let (reason, action) = match event {
            GuestEvent::Exception(Exception::PageFault { linear, error_code }) => {
                self.vcpu.cr2 = linear;
                (
                    ExitReason::PageFault,
                    format!(
                        "true fault: the guest's tables forbid it; injected #PF (CR2={linear:#010x}, error code {error_code:#x})"
                    ),
                )
            }
            GuestEvent::Exception(e) => (
                ExitReason::Exception,
                format!("reflected {e} through the guest's IDT"),
            ),
            GuestEvent::External { vector } => (
                ExitReason::ExternalInterrupt,
                format!("injected vector {vector:#04x} through the guest's IDT"),
            ),
            GuestEvent::Software { vector } => (
                ExitReason::SoftwareInterrupt,
                format!("delivered INT {vector:#04x} through the guest's IDT"),
            ),
        };
        let what = describe(event);
        self.exit(cpu, reason, what, action);
        if let GuestEvent::Software { vector } = event {
            let saved = cpu.clone();
            return match self.deliver(host, cpu, vector, None, true) {
                Ok(()) => Delivery::Done,
                Err(e) => {
                    *cpu = saved;
                    Delivery::Fault(e)
                }
            };
        }
        self.inject_event(host, cpu, event)
    }

    /// Emulates `insn` of the guest kernel as one exit: `None` when it is not an
    /// instruction the VMM emulates.
    fn emulate_exit(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Option<Delivery> {
        match self.emulate(host, cpu, insn) {
            Ok(Some(em)) => Some(self.finish_emulated(cpu, insn, em)),
            Ok(None) => None,
            Err(e) => {
                self.exit(
                    cpu,
                    ExitReason::Exception,
                    format_instruction(insn),
                    format!("emulation raised {e}: injected into the guest"),
                );
                Some(self.inject_event(host, cpu, GuestEvent::Exception(e)))
            }
        }
    }

    /// Records the exit of an instruction the VMM emulated and retires it.
    fn finish_emulated(
        &mut self,
        cpu: &mut CpuState,
        insn: &Instruction,
        em: Emulated,
    ) -> Delivery {
        self.emulated = true;
        self.compress_rpl(cpu);
        self.exit(cpu, em.reason, format_instruction(insn), em.action);
        if !em.jumped {
            cpu.eip = next_eip(cpu, insn);
        }
        match em.stop {
            Some(s) => Delivery::Stop(s),
            None => Delivery::Done,
        }
    }

    /// Trap-and-emulate before protected mode: the guest is interpreted until it sets CR0.PE.
    fn watch_real_mode(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Delivery {
        let new_cr0 = match insn.mnemonic() {
            Mnemonic::Mov
                if insn.op0_kind() == OpKind::Register && insn.op0_register() == Register::CR0 =>
            {
                read_reg(cpu, insn.op1_register())
            }
            Mnemonic::Lmsw => match reg_or_imm(cpu, insn, 0) {
                Some(v) => (cpu.cr0 & !0xf) | (v & 0xf) | (cpu.cr0 & cr0::PE),
                None => return Delivery::Native,
            },
            _ => return Delivery::Native,
        };
        if new_cr0 & cr0::PE == 0 || cpu.cpl != 0 {
            return Delivery::Native;
        }
        self.vcpu.retake(cpu);
        self.vcpu.cr0 = new_cr0 | cr0::ET;
        self.vcpu.deprivileged = true;
        self.shadow.switch_to(self.vcpu.cr3);
        self.deprivilege(host, cpu);
        host.flush_tlb();
        cpu.eip = next_eip(cpu, insn);
        let text = format_instruction(insn);
        let ring = self.guest_ring;
        self.exit(
            cpu,
            ExitReason::ModeSwitch,
            text,
            format!("protected mode: the guest kernel now runs deprivileged at ring {ring}"),
        );
        Delivery::Done
    }

    /// Takes over a guest that a loader started in protected mode at ring 0 (a flat
    /// binary or a Multiboot kernel): its state becomes the virtual CPU's.
    fn start_deprivileged(&mut self, host: &mut dyn VmmHost, cpu: &mut CpuState) {
        self.vcpu.retake(cpu);
        self.vcpu.deprivileged = true;
        self.shadow.switch_to(self.vcpu.cr3);
        self.deprivilege(host, cpu);
        let ring = self.guest_ring;
        host.flush_tlb();
        self.exit(
            cpu,
            ExitReason::ModeSwitch,
            String::from("(start in protected mode)"),
            format!("the guest kernel starts deprivileged at ring {ring}"),
        );
    }

    /// Puts the VMM's values into the hardware for a deprivileged guest.
    fn deprivilege(&mut self, host: &mut dyn VmmHost, cpu: &mut CpuState) {
        cpu.cr0 = self.vcpu.cr0 | VMM_CR0_BITS;
        self.enter_cpl(host, cpu, 0);
        cpu.gdtr = self.vcpu.gdtr;
        cpu.ldtr = self.vcpu.ldtr;
        cpu.idtr = TableReg {
            base: VMM_IDT_BASE,
            limit: VMM_IDT_LIMIT,
        };
        cpu.tr = vmm_task_register(self.vcpu.tr.selector, self.hw_ring(0));
        cpu.eflags &= !flags::IOPL;
        self.set_virtual_if(cpu, self.vcpu.interrupt_flag);
    }

    /// Sets the virtual IF, and the hardware IF with it (so PUSHF reads it true;
    /// at ring 1 with IOPL 0 the guest's own POPF and IRET cannot change it).
    pub(crate) fn set_virtual_if(&mut self, cpu: &mut CpuState, on: bool) {
        self.vcpu.interrupt_flag = on;
        if on {
            cpu.eflags |= flags::IF;
        } else {
            cpu.eflags &= !flags::IF;
        }
    }

    /// Gives the hardware back to the guest (it left protected mode).
    fn reprivilege(&mut self, cpu: &mut CpuState) {
        self.vcpu.deprivileged = false;
        self.vcpu.cpl = 0;
        cpu.cr0 = self.vcpu.cr0;
        cpu.cr2 = self.vcpu.cr2;
        cpu.cr3 = self.vcpu.cr3;
        cpu.cr4 = self.vcpu.cr4;
        cpu.cpl = 0;
        for s in [SegReg::Cs, SegReg::Ss] {
            cpu.seg[s as usize].selector &= !3;
        }
        cpu.gdtr = self.vcpu.gdtr;
        cpu.idtr = self.vcpu.idtr;
        cpu.ldtr = self.vcpu.ldtr;
        cpu.tr = self.vcpu.tr;
        cpu.eflags &= !(flags::IF | flags::IOPL);
        if self.vcpu.interrupt_flag {
            cpu.eflags |= flags::IF;
        }
        cpu.eflags |= (self.vcpu.iopl as u32 & 3) << 12;
    }

    /// The guest's EFLAGS as it should see them (virtual IF and IOPL at its kernel level).
    pub(crate) fn guest_eflags(&self, cpu: &CpuState) -> u32 {
        if !self.deprivileged() {
            return cpu.eflags;
        }
        if self.guest_cpl(cpu) != 0 {
            // user mode runs with IOPL 0 and takes every interrupt
            return cpu.eflags | flags::IF;
        }
        let mut f = cpu.eflags & !(flags::IF | flags::IOPL);
        if self.vcpu.interrupt_flag {
            f |= flags::IF;
        }
        f | ((self.vcpu.iopl as u32 & 3) << 12)
    }
}

fn is_io(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::In
            | Mnemonic::Out
            | Mnemonic::Insb
            | Mnemonic::Insw
            | Mnemonic::Insd
            | Mnemonic::Outsb
            | Mnemonic::Outsw
            | Mnemonic::Outsd
    )
}

/// IRET or a far RET (the kernel's ways back to its user mode).
fn is_return(insn: &Instruction) -> bool {
    matches!(
        insn.mnemonic(),
        Mnemonic::Iret | Mnemonic::Iretd | Mnemonic::Retf
    )
}

fn is_far(insn: &Instruction) -> bool {
    matches!(
        insn.code(),
        Code::Jmp_ptr1616
            | Code::Jmp_ptr1632
            | Code::Jmp_m1616
            | Code::Jmp_m1632
            | Code::Call_ptr1616
            | Code::Call_ptr1632
            | Code::Call_m1616
            | Code::Call_m1632
    )
}

fn dr_index(n: usize) -> usize {
    match n {
        4 => 6,
        5 => 7,
        n => n & 7,
    }
}

fn set_esp(cpu: &mut CpuState, esp: u32) {
    cpu.gpr[4] = esp;
}

/// EIP after `insn` (16-bit code wraps at 64 KiB).
pub(crate) fn next_eip(cpu: &CpuState, insn: &Instruction) -> u32 {
    let next = cpu.eip.wrapping_add(insn.len() as u32);
    if cpu.sreg(SegReg::Cs).big() {
        next
    } else {
        next & 0xffff
    }
}

fn describe(event: GuestEvent) -> String {
    match event {
        GuestEvent::Exception(e) => format!("{e}"),
        GuestEvent::External { vector } => format!("IRQ vector {vector:#04x}"),
        GuestEvent::Software { vector } => format!("int {vector:#04x}"),
    }
}
