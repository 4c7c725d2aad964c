//! Which privileged instruction of a deprivileged guest kernel the VMM emulates,
//! and how: CLI/STI, HLT, the descriptor-table loads, MOV to and from control
//! and debug registers, LMSW, CLTS, INVLPG, caches, RDTSC, and the dispatch of
//! I/O, segment loads and far transfers to their modules.

use super::*;

impl Vmm {
    /// Emulates one privileged instruction of the guest kernel; `Ok(None)` when it is
    /// not one the VMM emulates (the #GP is then the guest's own).
    pub(super) fn emulate(
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
                            crate::vmm::show_table(t)
                        ),
                    )
                } else {
                    self.vcpu.idtr = t;
                    done(
                        ExitReason::DescriptorTable,
                        format!(
                            "virtual IDTR := {}; the hardware keeps the VMM's IDT",
                            crate::vmm::show_table(t)
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
                    self.set_descriptor_attrs(host, cpu, sel, system::BUSY as u16)?;
                    let mut seg = d.segment(sel);
                    seg.attrs |= system::BUSY as u16;
                    self.vcpu.tr = seg;
                    cpu.tr = vmm_task_register(sel, self.hw_ring(0));
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
                let t = cpu.tsc.wrapping_add(self.vcpu.tsc_offset);
                cpu.gpr[0] = t as u32;
                cpu.gpr[2] = (t >> 32) as u32;
                done(
                    ExitReason::Rdtsc,
                    format!(
                        "time stamp {t}: virtual time plus this vCPU's TSC offset, as the guest's CR4.TSD allows its kernel"
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
}
