//! Control-register writes and I/O instructions of the guest kernel, emulated.

use super::*;

impl Vmm {
    pub(super) fn write_cr(
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

    pub(super) fn emulate_io(
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
    pub(super) fn emulate_string_io(
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
}
