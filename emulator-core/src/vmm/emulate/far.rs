//! Descriptors from the guest's tables, segment loads, far transfers and IRET
//! of the guest kernel, and the guest stack accesses they make.

use super::*;

impl Vmm {
    pub(super) fn system_descriptor(
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

    /// Sets the accessed bit of the guest's descriptor for `sel`.
    pub(super) fn set_accessed(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
    ) -> Result<(), Exception> {
        self.set_descriptor_attrs(host, cpu, sel, attr::ACCESSED)
    }

    /// Sets attribute bits (accessed, TSS busy) in the guest's descriptor for `sel`.
    pub(super) fn set_descriptor_attrs(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
        attrs: u16,
    ) -> Result<(), Exception> {
        let regs = self.guest_paging(cpu);
        guest::set_descriptor_bits(
            host.mem(),
            regs,
            self.vcpu.gdtr,
            &self.vcpu.ldtr,
            sel,
            descriptor::hi_bits(attrs),
        )
    }

    /// Loads a data or stack segment register at guest privilege 0, with the checks
    /// the hardware makes.
    pub(super) fn load_data_segment(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        s: SegReg,
        sel: u16,
    ) -> Result<(), Exception> {
        if s == SegReg::Cs {
            return Err(Exception::InvalidOpcode);
        }
        let sel = self.guest_selector(host, cpu, sel);
        let err = sel & !3;
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
    pub(super) fn code_segment(
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

    pub(super) fn emulate_far(
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
        let sel = self.guest_selector(host, cpu, sel);
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

    pub(super) fn emulate_retf(
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
        let sel = self.guest_selector(host, cpu, sel as u16);
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

    pub(super) fn emulate_iret(
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
        let sel = self.guest_selector(host, cpu, sel as u16);
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
    pub(super) fn return_outward(
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
    pub(super) fn peek_pop(
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

    pub(super) fn read_u16(
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
}
