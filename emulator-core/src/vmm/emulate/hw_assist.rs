//! Hardware assistance: the exits the VM-execution controls select.

use super::*;

impl Vmm {
    /// Hardware assistance: the exits the controls select; the hardware then completes
    /// the instruction natively (the VMM's emulation would be the same).
    pub(super) fn hw_assist_exits(
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
