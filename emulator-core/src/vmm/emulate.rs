//! The VMM's two entry points for instructions and events, and the emulation of
//! the deprivileged guest kernel's privileged instructions on the virtual CPU.

use alloc::format;
use alloc::string::String;
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use crate::config::ExecMode;
use crate::error::Exception;
use crate::state::{cr0, flags, CpuState, SegReg, Segment, TableReg};

use super::exit::ExitReason;
use super::guest::{self, access};
use super::operand::{memory_linear, read_reg, reg_or_imm, seg_of, stack_mask, write_reg};
use super::vcpu::{vmm_task_register, VirtualCpu, VMM_CR0_BITS, VMM_IDT_BASE, VMM_IDT_LIMIT};
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
        self.vcpu = VirtualCpu::capture(cpu);
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
        self.vcpu = VirtualCpu::capture(cpu);
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
        cpu.tr = vmm_task_register(self.vcpu.tr.selector);
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

    /// Emulates one privileged instruction of the guest kernel; `Ok(None)` when it is
    /// not one the VMM emulates (the #GP is then the guest's own).
    fn emulate(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Result<Option<Emulated>, Exception> {
        let m = insn.mnemonic();
        let r = match m {
            Mnemonic::Cli => {
                self.set_virtual_if(cpu, false);
                done(ExitReason::InterruptFlag, String::from("virtual IF := 0"))
            }
            Mnemonic::Sti => {
                self.set_virtual_if(cpu, true);
                cpu.interrupt_shadow = true;
                done(ExitReason::InterruptFlag, String::from("virtual IF := 1"))
            }
            Mnemonic::Hlt => {
                cpu.halted = true;
                let action = if self.vcpu.interrupt_flag {
                    "the virtual CPU waits for the next interrupt"
                } else {
                    "halted with the virtual IF clear: the guest stops"
                };
                done(ExitReason::Hlt, String::from(action))
            }
            Mnemonic::In | Mnemonic::Out => self.emulate_io(host, cpu, insn),
            Mnemonic::Insb
            | Mnemonic::Insw
            | Mnemonic::Insd
            | Mnemonic::Outsb
            | Mnemonic::Outsw
            | Mnemonic::Outsd => return self.emulate_string_io(host, cpu, insn).map(Some),
            Mnemonic::Mov => {
                let (r0, r1) = (insn.op0_kind(), insn.op1_kind());
                let dst = if r0 == OpKind::Register {
                    insn.op0_register()
                } else {
                    Register::None
                };
                let src = if r1 == OpKind::Register {
                    insn.op1_register()
                } else {
                    Register::None
                };
                if dst.is_cr() {
                    let v = read_reg(cpu, src);
                    self.write_cr(host, cpu, dst.number(), v)?
                } else if src.is_cr() {
                    let v = match src.number() {
                        0 => self.vcpu.cr0,
                        2 => self.vcpu.cr2,
                        3 => self.vcpu.cr3,
                        4 => self.vcpu.cr4,
                        _ => return Err(Exception::InvalidOpcode),
                    };
                    write_reg(cpu, dst, v);
                    done(
                        ExitReason::CrRead,
                        format!("read the virtual CR{}: {v:#010x}", src.number()),
                    )
                } else if dst.is_dr() {
                    let v = read_reg(cpu, src);
                    let n = dr_index(dst.number());
                    if let Some(d) = cpu.dr.get_mut(n) {
                        *d = v;
                    }
                    done(ExitReason::DrAccess, format!("DR{n} := {v:#010x}"))
                } else if src.is_dr() {
                    let n = dr_index(src.number());
                    let v = cpu.dr.get(n).copied().unwrap_or(0);
                    write_reg(cpu, dst, v);
                    done(ExitReason::DrAccess, format!("read DR{n}: {v:#010x}"))
                } else if let Some(s) = seg_of(dst) {
                    let sel = match reg_or_imm(cpu, insn, 1) {
                        Some(v) => v as u16,
                        None => self.read_u16(host, cpu, memory_linear(cpu, insn))?,
                    };
                    self.load_data_segment(host, cpu, s, sel)?;
                    done(
                        ExitReason::SegmentLoad,
                        format!(
                            "loaded {} = {sel:#06x} for the ring-compressed kernel",
                            s.name()
                        ),
                    )
                } else {
                    return Ok(None);
                }
            }
            Mnemonic::Pop
                if insn.op0_kind() == OpKind::Register && seg_of(insn.op0_register()).is_some() =>
            {
                let s = seg_of(insn.op0_register()).unwrap_or(SegReg::Ds);
                let size = if matches!(
                    insn.code(),
                    Code::Popd_DS | Code::Popd_ES | Code::Popd_SS | Code::Popd_FS | Code::Popd_GS
                ) {
                    4
                } else {
                    2
                };
                let (sel, esp) = self.peek_pop(host, cpu, size, 0)?;
                self.load_data_segment(host, cpu, s, sel as u16)?;
                set_esp(cpu, esp);
                done(
                    ExitReason::SegmentLoad,
                    format!(
                        "popped {} = {:#06x} for the ring-compressed kernel",
                        s.name(),
                        sel as u16
                    ),
                )
            }
            Mnemonic::Lds | Mnemonic::Les | Mnemonic::Lfs | Mnemonic::Lgs | Mnemonic::Lss => {
                let s = match m {
                    Mnemonic::Lds => SegReg::Ds,
                    Mnemonic::Les => SegReg::Es,
                    Mnemonic::Lfs => SegReg::Fs,
                    Mnemonic::Lgs => SegReg::Gs,
                    _ => SegReg::Ss,
                };
                let at = memory_linear(cpu, insn);
                let wide = insn.op0_register().is_gpr32();
                let (off, sel) = if wide {
                    (
                        self.read_u32(host, cpu, at)?,
                        self.read_u16(host, cpu, at.wrapping_add(4))?,
                    )
                } else {
                    (
                        self.read_u16(host, cpu, at)? as u32,
                        self.read_u16(host, cpu, at.wrapping_add(2))?,
                    )
                };
                self.load_data_segment(host, cpu, s, sel)?;
                write_reg(cpu, insn.op0_register(), off);
                done(
                    ExitReason::SegmentLoad,
                    format!(
                        "loaded {} = {sel:#06x} for the ring-compressed kernel",
                        s.name()
                    ),
                )
            }
            Mnemonic::Clts => {
                let v = self.vcpu.cr0 & !cr0::TS;
                self.write_cr(host, cpu, 0, v)?
            }
            Mnemonic::Lmsw => {
                let v = match reg_or_imm(cpu, insn, 0) {
                    Some(v) => v,
                    None => self.read_u16(host, cpu, memory_linear(cpu, insn))? as u32,
                };
                let new = (self.vcpu.cr0 & !0xf) | (v & 0xf) | (self.vcpu.cr0 & cr0::PE);
                self.write_cr(host, cpu, 0, new)?
            }
            Mnemonic::Invlpg => {
                let lin = memory_linear(cpu, insn);
                self.shadow.invalidate(lin);
                host.invalidate_tlb(lin);
                done(
                    ExitReason::Invlpg,
                    format!(
                        "dropped the shadow entry and TLB entry for {:#010x}",
                        lin & !0xfff
                    ),
                )
            }
            Mnemonic::Lgdt | Mnemonic::Lidt => {
                let at = memory_linear(cpu, insn);
                let limit = self.read_u16(host, cpu, at)?;
                let mut base = self.read_u32(host, cpu, at.wrapping_add(2))?;
                if matches!(insn.code(), Code::Lgdt_m1632_16 | Code::Lidt_m1632_16) {
                    base &= 0x00ff_ffff;
                }
                let t = TableReg { base, limit };
                if m == Mnemonic::Lgdt {
                    self.vcpu.gdtr = t;
                    cpu.gdtr = t;
                    done(
                        ExitReason::DescriptorTable,
                        format!(
                            "virtual GDTR := {}; the hardware uses the guest's GDT",
                            super::show_table(t)
                        ),
                    )
                } else {
                    self.vcpu.idtr = t;
                    done(
                        ExitReason::DescriptorTable,
                        format!(
                            "virtual IDTR := {}; the hardware keeps the VMM's IDT",
                            super::show_table(t)
                        ),
                    )
                }
            }
            Mnemonic::Lldt | Mnemonic::Ltr => {
                let sel = match reg_or_imm(cpu, insn, 0) {
                    Some(v) => v as u16,
                    None => self.read_u16(host, cpu, memory_linear(cpu, insn))?,
                };
                if m == Mnemonic::Lldt {
                    let seg = if sel & !3 == 0 {
                        Segment {
                            selector: sel,
                            base: 0,
                            limit: 0,
                            attrs: attr::PRESENT | system::LDT as u16,
                        }
                    } else {
                        let d = self.system_descriptor(host, cpu, sel)?;
                        if !d.system() || d.typ() != system::LDT {
                            return Err(Exception::GeneralProtection(sel & !3));
                        }
                        if !d.present() {
                            return Err(Exception::SegmentNotPresent(sel & !3));
                        }
                        d.segment(sel)
                    };
                    self.vcpu.ldtr = seg;
                    cpu.ldtr = seg;
                    done(
                        ExitReason::DescriptorTable,
                        format!("virtual LDTR := {sel:#06x}"),
                    )
                } else {
                    let d = self.system_descriptor(host, cpu, sel)?;
                    if !d.system() || !matches!(d.typ(), system::TSS16 | system::TSS32) {
                        return Err(Exception::GeneralProtection(sel & !3));
                    }
                    if !d.present() {
                        return Err(Exception::SegmentNotPresent(sel & !3));
                    }
                    let regs = self.guest_paging(cpu);
                    guest::set_descriptor_bits(
                        host.mem(),
                        regs,
                        self.vcpu.gdtr,
                        &self.vcpu.ldtr,
                        sel,
                        descriptor::hi_bits(system::BUSY as u16),
                    )?;
                    let mut seg = d.segment(sel);
                    seg.attrs |= system::BUSY as u16;
                    self.vcpu.tr = seg;
                    cpu.tr = vmm_task_register(sel);
                    done(
                        ExitReason::DescriptorTable,
                        format!(
                            "virtual TR := {sel:#06x} (TSS at {:#010x}, marked busy); the hardware's TSS stays the VMM's",
                            seg.base
                        ),
                    )
                }
            }
            Mnemonic::Rdtsc => {
                cpu.gpr[0] = cpu.tsc as u32;
                cpu.gpr[2] = (cpu.tsc >> 32) as u32;
                done(
                    ExitReason::Rdtsc,
                    format!(
                        "time stamp {}: virtual time, as the guest's CR4.TSD allows its kernel",
                        cpu.tsc
                    ),
                )
            }
            Mnemonic::Wbinvd | Mnemonic::Invd => done(
                ExitReason::Cache,
                String::from("nothing to do: vmlab has no caches"),
            ),
            Mnemonic::Jmp | Mnemonic::Call if is_far(insn) => {
                return self.emulate_far(host, cpu, insn).map(Some);
            }
            Mnemonic::Retf => return self.emulate_retf(host, cpu, insn).map(Some),
            Mnemonic::Iret | Mnemonic::Iretd => {
                return self.emulate_iret(host, cpu, insn).map(Some)
            }
            _ => return Ok(None),
        };
        Ok(Some(r))
    }

    fn write_cr(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        n: usize,
        value: u32,
    ) -> Result<Emulated, Exception> {
        match n {
            0 => {
                let old = self.vcpu.cr0;
                let new = value | cr0::ET;
                if new & cr0::PG != 0 && new & cr0::PE == 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                self.vcpu.cr0 = new;
                if new & cr0::PE == 0 {
                    self.reprivilege(cpu);
                    host.flush_tlb();
                    return Ok(done(
                        ExitReason::CrWrite,
                        String::from("CR0.PE cleared: back to real mode, interpreted"),
                    ));
                }
                cpu.cr0 = new | VMM_CR0_BITS;
                if (old ^ new) & (cr0::PG | cr0::WP) != 0 {
                    self.shadow.drop_all();
                    host.flush_tlb();
                }
                let action = if (old ^ new) & cr0::PG != 0 {
                    format!(
                        "virtual CR0 := {new:#010x}: guest paging {}, shadow tables rebuilt",
                        if new & cr0::PG != 0 { "on" } else { "off" }
                    )
                } else {
                    format!("virtual CR0 := {new:#010x}")
                };
                Ok(done(ExitReason::CrWrite, action))
            }
            2 => {
                self.vcpu.cr2 = value;
                cpu.cr2 = value;
                Ok(done(
                    ExitReason::CrWrite,
                    format!("virtual CR2 := {value:#010x}"),
                ))
            }
            3 => {
                self.vcpu.cr3 = value;
                // mirrored for the debugger's views; the hardware walks the shadow
                cpu.cr3 = value;
                self.shadow.switch_to(value);
                host.flush_tlb();
                Ok(done(
                    ExitReason::Cr3Write,
                    format!(
                        "virtual CR3 := {value:#010x}: switched to its shadow page directory (resynchronized)"
                    ),
                ))
            }
            4 => {
                self.vcpu.cr4 = value;
                cpu.cr4 = value;
                self.shadow.drop_all();
                host.flush_tlb();
                Ok(done(
                    ExitReason::CrWrite,
                    format!("virtual CR4 := {value:#010x}, shadow tables rebuilt"),
                ))
            }
            _ => Err(Exception::InvalidOpcode),
        }
    }

    fn emulate_io(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Emulated {
        let (data_reg, port_op) = if insn.mnemonic() == Mnemonic::In {
            (insn.op0_register(), 1)
        } else {
            (insn.op1_register(), 0)
        };
        let port = reg_or_imm(cpu, insn, port_op).unwrap_or(0) as u16;
        let size = data_reg.size() as u8;
        if insn.mnemonic() == Mnemonic::In {
            let v = host.port_in(port, size);
            write_reg(cpu, data_reg, v);
            done(
                ExitReason::Io,
                format!("emulated IN from port {port:#06x}: {v:#x}"),
            )
        } else {
            let v = read_reg(cpu, data_reg);
            let stop = host.port_out(port, size, v);
            let mut e = done(
                ExitReason::Io,
                format!("emulated OUT {v:#x} to port {port:#06x}"),
            );
            e.stop = stop;
            e
        }
    }

    /// INS/OUTS: one element per exit; with REP the instruction runs again until ECX is 0.
    fn emulate_string_io(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Result<Emulated, Exception> {
        let size: u8 = match insn.mnemonic() {
            Mnemonic::Insb | Mnemonic::Outsb => 1,
            Mnemonic::Insw | Mnemonic::Outsw => 2,
            _ => 4,
        };
        let input = matches!(
            insn.mnemonic(),
            Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd
        );
        let mem_op = if input {
            insn.op0_kind()
        } else {
            insn.op1_kind()
        };
        let a16 = matches!(mem_op, OpKind::MemoryESDI | OpKind::MemorySegSI);
        let mask = if a16 { 0xffff } else { 0xffff_ffff };
        let rep = insn.has_rep_prefix() || insn.has_repne_prefix();
        let count = cpu.gpr[1] & mask;
        if rep && count == 0 {
            return Ok(done(
                ExitReason::Io,
                String::from("REP with ECX = 0: nothing to do"),
            ));
        }
        let port = (cpu.gpr[2] & 0xffff) as u16;
        let step = if cpu.eflags & flags::DF != 0 {
            (size as u32).wrapping_neg()
        } else {
            size as u32
        };
        let mut stop = None;
        let action;
        if input {
            let v = host.port_in(port, size);
            let at = cpu.sreg(SegReg::Es).base.wrapping_add(cpu.gpr[7] & mask);
            let regs = self.guest_paging(cpu);
            guest::write_linear(
                host.mem(),
                regs,
                at,
                &v.to_le_bytes()[..size as usize],
                access::READ,
            )?;
            cpu.gpr[7] = (cpu.gpr[7] & !mask) | (cpu.gpr[7].wrapping_add(step) & mask);
            action = format!("emulated one IN from port {port:#06x}: {v:#x}");
        } else {
            let seg = seg_of(insn.memory_segment()).unwrap_or(SegReg::Ds);
            let at = cpu.sreg(seg).base.wrapping_add(cpu.gpr[6] & mask);
            let mut b = [0u8; 4];
            let regs = self.guest_paging(cpu);
            guest::read_linear(host.mem(), regs, at, &mut b[..size as usize], access::READ)?;
            let v = u32::from_le_bytes(b);
            stop = host.port_out(port, size, v);
            cpu.gpr[6] = (cpu.gpr[6] & !mask) | (cpu.gpr[6].wrapping_add(step) & mask);
            action = format!("emulated one OUT {v:#x} to port {port:#06x}");
        }
        let mut jumped = false;
        if rep {
            let left = count.wrapping_sub(1) & mask;
            cpu.gpr[1] = (cpu.gpr[1] & !mask) | left;
            jumped = left != 0; // run the instruction again: another exit
        }
        Ok(Emulated {
            reason: ExitReason::Io,
            action,
            jumped,
            stop,
        })
    }

    fn system_descriptor(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
    ) -> Result<Descriptor, Exception> {
        if sel & 4 != 0 {
            return Err(Exception::GeneralProtection(sel & !3));
        }
        self.descriptor(host, cpu, sel)
    }

    pub(crate) fn descriptor(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
    ) -> Result<Descriptor, Exception> {
        let regs = self.guest_paging(cpu);
        let (gdtr, ldtr) = if self.trap_emulate() {
            (self.vcpu.gdtr, self.vcpu.ldtr)
        } else {
            (cpu.gdtr, cpu.ldtr)
        };
        guest::read_descriptor(host.mem(), regs, gdtr, &ldtr, sel)
    }

    fn set_accessed(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
    ) -> Result<(), Exception> {
        let regs = self.guest_paging(cpu);
        guest::set_descriptor_bits(
            host.mem(),
            regs,
            self.vcpu.gdtr,
            &self.vcpu.ldtr,
            sel,
            descriptor::hi_bits(attr::ACCESSED),
        )
    }

    /// Loads a data or stack segment register at guest privilege 0, with the checks
    /// the hardware makes.
    fn load_data_segment(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        s: SegReg,
        sel: u16,
    ) -> Result<(), Exception> {
        let err = sel & !3;
        if s == SegReg::Cs {
            return Err(Exception::InvalidOpcode);
        }
        if sel & !3 == 0 {
            if s == SegReg::Ss {
                return Err(Exception::GeneralProtection(0));
            }
            cpu.seg[s as usize] = Segment {
                selector: sel,
                base: 0,
                limit: 0,
                attrs: 0,
            };
            return Ok(());
        }
        let d = self.descriptor(host, cpu, sel)?;
        let rpl = (sel & 3) as u8;
        if s == SegReg::Ss {
            if rpl != 0 || !d.writable_data() || d.dpl() != 0 {
                return Err(Exception::GeneralProtection(err));
            }
            if !d.present() {
                return Err(Exception::StackFault(err));
            }
            self.set_accessed(host, cpu, sel)?;
            cpu.seg[s as usize] = d.segment(sel);
            cpu.interrupt_shadow = true;
        } else {
            if !d.readable() || (!d.conforming() && d.dpl() < rpl) {
                return Err(Exception::GeneralProtection(err));
            }
            if !d.present() {
                return Err(Exception::SegmentNotPresent(err));
            }
            self.set_accessed(host, cpu, sel)?;
            cpu.seg[s as usize] = d.segment(sel);
        }
        Ok(())
    }

    /// The code segment for a transfer to guest privilege `rpl` (the selector keeps
    /// the guest's RPL; the hardware CPL is the VMM's business).
    fn code_segment(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
        rpl: u8,
    ) -> Result<Segment, Exception> {
        let err = sel & !3;
        if err == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let d = self.descriptor(host, cpu, sel)?;
        if !d.is_code() || (d.conforming() && d.dpl() > rpl) || (!d.conforming() && d.dpl() != rpl)
        {
            return Err(Exception::GeneralProtection(err));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(err));
        }
        self.set_accessed(host, cpu, sel)?;
        Ok(d.segment(err | rpl as u16))
    }

    fn emulate_far(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Result<Emulated, Exception> {
        let wide = matches!(
            insn.code(),
            Code::Jmp_ptr1632 | Code::Call_ptr1632 | Code::Jmp_m1632 | Code::Call_m1632
        );
        let (sel, off) = match insn.op0_kind() {
            OpKind::FarBranch16 => (insn.far_branch_selector(), insn.far_branch16() as u32),
            OpKind::FarBranch32 => (insn.far_branch_selector(), insn.far_branch32()),
            _ => {
                let at = memory_linear(cpu, insn);
                if wide {
                    (
                        self.read_u16(host, cpu, at.wrapping_add(4))?,
                        self.read_u32(host, cpu, at)?,
                    )
                } else {
                    (
                        self.read_u16(host, cpu, at.wrapping_add(2))?,
                        self.read_u16(host, cpu, at)? as u32,
                    )
                }
            }
        };
        if (sel & 3) != 0 {
            return Err(Exception::GeneralProtection(sel & !3));
        }
        let cs = self.code_segment(host, cpu, sel, 0)?;
        let off = if wide { off } else { off & 0xffff };
        if off > cs.limit {
            return Err(Exception::GeneralProtection(0));
        }
        if insn.mnemonic() == Mnemonic::Call {
            let size = if wide { 4 } else { 2 };
            let ret = next_eip(cpu, insn);
            let old_cs = (cpu.sreg(SegReg::Cs).selector & !3) as u32;
            self.push(host, cpu, size, old_cs)?;
            self.push(host, cpu, size, ret)?;
        }
        cpu.seg[SegReg::Cs as usize] = cs;
        cpu.eip = off;
        Ok(Emulated {
            reason: ExitReason::FarTransfer,
            action: format!(
                "far transfer to {sel:#06x}:{off:#010x}, run at ring {}",
                self.guest_ring
            ),
            jumped: true,
            stop: None,
        })
    }

    fn emulate_retf(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Result<Emulated, Exception> {
        let size = if matches!(insn.code(), Code::Retfd | Code::Retfd_imm16) {
            4
        } else {
            2
        };
        let extra = if insn.op_count() > 0 {
            insn.immediate16() as u32
        } else {
            0
        };
        let (eip, _) = self.peek_pop(host, cpu, size, 0)?;
        let (sel, esp) = self.peek_pop(host, cpu, size, size as u32)?;
        let sel = sel as u16;
        let rpl = (sel & 3) as u8;
        if rpl == 0 {
            let cs = self.code_segment(host, cpu, sel, 0)?;
            cpu.seg[SegReg::Cs as usize] = cs;
            cpu.eip = eip;
            set_esp(cpu, esp.wrapping_add(extra));
        } else {
            let (new_esp, _) = self.peek_pop(host, cpu, size, 2 * size as u32 + extra)?;
            let (new_ss, _) = self.peek_pop(host, cpu, size, 3 * size as u32 + extra)?;
            self.return_outward(
                host,
                cpu,
                sel,
                eip,
                new_ss as u16,
                new_esp.wrapping_add(extra),
                None,
            )?;
        }
        Ok(Emulated {
            reason: ExitReason::FarTransfer,
            action: format!("far return to {sel:#06x}:{eip:#010x}"),
            jumped: true,
            stop: None,
        })
    }

    fn emulate_iret(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Result<Emulated, Exception> {
        let size = if insn.mnemonic() == Mnemonic::Iretd {
            4
        } else {
            2
        };
        let (eip, _) = self.peek_pop(host, cpu, size, 0)?;
        let (sel, _) = self.peek_pop(host, cpu, size, size as u32)?;
        let (fl, esp) = self.peek_pop(host, cpu, size, 2 * size as u32)?;
        let sel = sel as u16;
        let fl = if size == 2 {
            (cpu.eflags & 0xffff_0000) | fl
        } else {
            fl
        };
        let rpl = (sel & 3) as u8;
        let action;
        if rpl == 0 {
            let cs = self.code_segment(host, cpu, sel, 0)?;
            cpu.seg[SegReg::Cs as usize] = cs;
            cpu.eip = eip;
            set_esp(cpu, esp);
            self.vcpu.iopl = ((fl >> 12) & 3) as u8;
            cpu.eflags = (fl & !(flags::IOPL | flags::VM)) | flags::RESERVED1;
            self.set_virtual_if(cpu, fl & flags::IF != 0);
            action = format!(
                "IRET to the guest kernel at {sel:#06x}:{eip:#010x}; virtual IF := {}",
                self.vcpu.interrupt_flag as u8
            );
        } else {
            let (new_esp, _) = self.peek_pop(host, cpu, size, 3 * size as u32)?;
            let (new_ss, _) = self.peek_pop(host, cpu, size, 4 * size as u32)?;
            self.return_outward(host, cpu, sel, eip, new_ss as u16, new_esp, Some(fl))?;
            action = format!("IRET to ring {rpl} at {sel:#06x}:{eip:#010x}");
        }
        Ok(Emulated {
            reason: ExitReason::Iret,
            action,
            jumped: true,
            stop: None,
        })
    }

    /// A return from the guest kernel to an outer ring (RETF or IRET), as the hardware does it.
    #[allow(clippy::too_many_arguments)]
    fn return_outward(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        sel: u16,
        eip: u32,
        ss_sel: u16,
        esp: u32,
        eflags: Option<u32>,
    ) -> Result<(), Exception> {
        let rpl = (sel & 3) as u8;
        let cs = self.code_segment(host, cpu, sel, rpl)?;
        let ssd = self.descriptor(host, cpu, ss_sel)?;
        if (ss_sel & 3) as u8 != rpl || !ssd.writable_data() || ssd.dpl() != rpl {
            return Err(Exception::GeneralProtection(ss_sel & !3));
        }
        if !ssd.present() {
            return Err(Exception::StackFault(ss_sel & !3));
        }
        cpu.seg[SegReg::Cs as usize] = cs;
        cpu.seg[SegReg::Ss as usize] = ssd.segment(ss_sel);
        cpu.eip = eip;
        cpu.gpr[4] = esp;
        self.enter_cpl(host, cpu, rpl);
        if let Some(fl) = eflags {
            self.vcpu.interrupt_flag = fl & flags::IF != 0;
            cpu.eflags = (fl & !(flags::VM | flags::IOPL)) | flags::RESERVED1;
        }
        for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            descriptor::null_for_outer_ring(&mut cpu.seg[s as usize], rpl);
        }
        Ok(())
    }

    /// Reads a stack slot `offset` bytes above ESP; returns it and ESP past it.
    fn peek_pop(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        size: u8,
        offset: u32,
    ) -> Result<(u32, u32), Exception> {
        let mask = stack_mask(cpu);
        let esp = cpu.gpr[4].wrapping_add(offset) & mask;
        let at = cpu.sreg(SegReg::Ss).base.wrapping_add(esp);
        let v = if size == 4 {
            self.read_u32(host, cpu, at)?
        } else {
            self.read_u16(host, cpu, at)? as u32
        };
        Ok((
            v,
            (cpu.gpr[4] & !mask) | (esp.wrapping_add(size as u32) & mask),
        ))
    }

    /// Pushes onto the guest's current stack as its kernel would.
    pub(crate) fn push(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        size: u8,
        value: u32,
    ) -> Result<(), Exception> {
        let mask = stack_mask(cpu);
        let esp = cpu.gpr[4].wrapping_sub(size as u32) & mask;
        let at = cpu.sreg(SegReg::Ss).base.wrapping_add(esp);
        let regs = self.guest_paging(cpu);
        guest::write_linear(
            host.mem(),
            regs,
            at,
            &value.to_le_bytes()[..size as usize],
            access::READ,
        )?;
        cpu.gpr[4] = (cpu.gpr[4] & !mask) | esp;
        Ok(())
    }

    pub(crate) fn read_u32(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        at: u32,
    ) -> Result<u32, Exception> {
        let regs = self.guest_paging(cpu);
        guest::read_u32_linear(host.mem(), regs, at, access::READ)
    }

    fn read_u16(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        at: u32,
    ) -> Result<u16, Exception> {
        let regs = self.guest_paging(cpu);
        let mut b = [0u8; 2];
        guest::read_linear(host.mem(), regs, at, &mut b, access::READ)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Hardware assistance: the exits the controls select; the hardware then completes
    /// the instruction natively (the VMM's emulation would be the same).
    fn hw_assist_exits(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        insn: &Instruction,
    ) -> Delivery {
        let m = insn.mnemonic();
        if m == Mnemonic::Cpuid {
            return self.cpuid(cpu, insn);
        }
        if cpu.cpl != 0 && !(cpu.cpl <= cpu.iopl() && is_io(m)) {
            return Delivery::Native;
        }
        if m == Mnemonic::Vmcall {
            return self.hypercall(host, cpu, insn);
        }
        let shadow = self.uses_shadow();
        let text = || format_instruction(insn);
        if m == Mnemonic::Hlt && self.controls.hlt {
            self.exit(
                cpu,
                ExitReason::Hlt,
                text(),
                String::from("HLT exiting: the guest waits for an interrupt"),
            );
        } else if is_io(m) && self.controls.io {
            self.exit(
                cpu,
                ExitReason::Io,
                text(),
                String::from("I/O exiting: emulated against the device"),
            );
        } else if m == Mnemonic::Mov
            && insn.op0_kind() == OpKind::Register
            && insn.op0_register().is_cr()
        {
            let v = read_reg(cpu, insn.op1_register());
            match insn.op0_register() {
                Register::CR3 if self.controls.cr3_write || shadow => {
                    let action = if shadow {
                        self.shadow.switch_to(v);
                        host.flush_tlb();
                        format!("CR3-load exiting: CR3 := {v:#010x}, shadow switched")
                    } else {
                        format!("CR3-load exiting: CR3 := {v:#010x}")
                    };
                    self.exit(cpu, ExitReason::Cr3Write, text(), action);
                }
                Register::CR0 | Register::CR4 if self.controls.cr0_cr4_write || shadow => {
                    if shadow {
                        self.shadow.drop_all();
                    }
                    self.exit(
                        cpu,
                        ExitReason::CrWrite,
                        text(),
                        format!("CR write exiting: {v:#010x}"),
                    );
                }
                _ => {}
            }
        } else if matches!(m, Mnemonic::Clts | Mnemonic::Lmsw)
            && (self.controls.cr0_cr4_write || shadow)
        {
            self.exit(
                cpu,
                ExitReason::CrWrite,
                text(),
                String::from("CR0 write exiting"),
            );
        } else if m == Mnemonic::Invlpg && (self.controls.invlpg || shadow) {
            let lin = memory_linear(cpu, insn);
            if shadow {
                self.shadow.invalidate(lin);
            }
            self.exit(
                cpu,
                ExitReason::Invlpg,
                text(),
                format!("INVLPG exiting: {:#010x}", lin & !0xfff),
            );
        }
        Delivery::Native
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
