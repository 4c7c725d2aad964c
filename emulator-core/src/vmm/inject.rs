//! Injection: the VMM delivers an interrupt or exception to the deprivileged
//! guest through the guest's own IDT, exactly as the hardware would have
//! delivered it to the guest on a real machine.

use crate::descriptor::{system, Descriptor};
use crate::error::Exception;
use crate::state::{flags, CpuState, SegReg};
use crate::stop::StopReason;

use super::{Delivery, GuestEvent, Vmm, VmmHost};

impl Vmm {
    /// Injects `event` into the guest; a fault during delivery becomes #DF, and a
    /// fault delivering #DF is a triple fault.
    pub(crate) fn inject_event(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        event: GuestEvent,
    ) -> Delivery {
        let mut current = event;
        for _ in 0..3 {
            let (vector, error, software) = match current {
                GuestEvent::Exception(e) => (e.vector(), e.error_code(), false),
                GuestEvent::External { vector } => (vector, None, false),
                GuestEvent::Software { vector } => (vector, None, true),
            };
            if let GuestEvent::Exception(Exception::PageFault { linear, .. }) = current {
                self.vcpu.cr2 = linear;
                cpu.cr2 = linear;
            }
            let saved = cpu.clone();
            match self.deliver(host, cpu, vector, error, software) {
                Ok(()) => return Delivery::Done,
                Err(second) => {
                    *cpu = saved;
                    if vector == 8 {
                        return Delivery::Stop(StopReason::TripleFault);
                    }
                    current = if double_fault(current, second) {
                        GuestEvent::Exception(Exception::DoubleFault)
                    } else {
                        GuestEvent::Exception(second)
                    };
                }
            }
        }
        Delivery::Stop(StopReason::TripleFault)
    }

    /// One delivery through a 32-bit interrupt or trap gate of the guest's IDT.
    pub(crate) fn deliver(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &mut CpuState,
        vector: u8,
        error: Option<u32>,
        software: bool,
    ) -> Result<(), Exception> {
        let vcpl = self.guest_cpl(cpu);
        let ext = u16::from(!software);
        let gate_err = (vector as u16) * 8 + 2 + ext;
        let idt = self.vcpu.idtr;
        if (vector as u32) * 8 + 7 > idt.limit as u32 {
            return Err(Exception::GeneralProtection(gate_err));
        }
        let at = idt.base.wrapping_add(vector as u32 * 8);
        let lo = self.read_u32(host, cpu, at)?;
        let hi = self.read_u32(host, cpu, at.wrapping_add(4))?;
        let gate = Descriptor { lo, hi };
        let trap = match (gate.system(), gate.typ()) {
            (true, system::INTERRUPT_GATE32) => false,
            (true, system::TRAP_GATE32) => true,
            // task gates and 16-bit gates are not virtualized
            _ => return Err(Exception::GeneralProtection(gate_err)),
        };
        if software && gate.dpl() < vcpl {
            return Err(Exception::GeneralProtection(gate_err));
        }
        if !gate.present() {
            return Err(Exception::SegmentNotPresent(gate_err));
        }
        let sel = gate.gate_selector();
        let offset = gate.gate_offset();
        if sel & !3 == 0 {
            return Err(Exception::GeneralProtection(ext));
        }
        let d = self.descriptor(host, cpu, sel)?;
        if !d.is_code() || d.dpl() > vcpl {
            return Err(Exception::GeneralProtection((sel & !3) + ext));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent((sel & !3) + ext));
        }
        let new_cpl = if d.conforming() { vcpl } else { d.dpl() };
        let guest_flags = self.guest_eflags(cpu);
        let old_cs = (cpu.sreg(SegReg::Cs).selector & !3) | vcpl as u16;
        let old_ss = (cpu.sreg(SegReg::Ss).selector & !3) | vcpl as u16;
        let old_esp = cpu.gpr[4];
        let old_eip = cpu.eip;
        if new_cpl < vcpl {
            let tss = self.vcpu.tr;
            let slot = 4 + 8 * new_cpl as u32;
            if tss.limit < slot + 5 {
                return Err(Exception::InvalidTss((tss.selector & !3) + ext));
            }
            let esp0 = self.read_u32(host, cpu, tss.base.wrapping_add(slot))?;
            let ss0 = (self.read_u32(host, cpu, tss.base.wrapping_add(slot + 4))? & 0xffff) as u16;
            if ss0 & !3 == 0 {
                return Err(Exception::InvalidTss(ext));
            }
            let ssd = self
                .descriptor(host, cpu, ss0)
                .map_err(|_| Exception::InvalidTss((ss0 & !3) + ext))?;
            if (ss0 & 3) as u8 != new_cpl || !ssd.writable_data() || ssd.dpl() != new_cpl {
                return Err(Exception::InvalidTss((ss0 & !3) + ext));
            }
            if !ssd.present() {
                return Err(Exception::StackFault((ss0 & !3) + ext));
            }
            cpu.seg[SegReg::Ss as usize] = ssd.segment(ss0);
            cpu.gpr[4] = esp0;
            self.push(host, cpu, 4, old_ss as u32)?;
            self.push(host, cpu, 4, old_esp)?;
        }
        self.push(host, cpu, 4, guest_flags)?;
        self.push(host, cpu, 4, old_cs as u32)?;
        self.push(host, cpu, 4, old_eip)?;
        if let Some(code) = error {
            self.push(host, cpu, 4, code)?;
        }
        cpu.seg[SegReg::Cs as usize] = d.segment((sel & !3) | new_cpl as u16);
        cpu.eip = offset;
        self.enter_cpl(host, cpu, new_cpl);
        cpu.halted = false;
        cpu.eflags &= !(flags::TF | flags::NT | flags::RF | flags::VM);
        if new_cpl == 0 {
            self.vcpu.iopl = ((guest_flags >> 12) & 3) as u8;
            cpu.eflags &= !flags::IOPL;
            self.set_virtual_if(cpu, trap && guest_flags & flags::IF != 0);
        } else if !trap {
            cpu.eflags &= !flags::IF;
        }
        Ok(())
    }
}

/// The double-fault rule (SDM vol. 3, table 6-5): a contributory exception during
/// a contributory one, or a contributory or page fault during a page fault.
fn double_fault(first: GuestEvent, second: Exception) -> bool {
    let GuestEvent::Exception(first) = first else {
        return false;
    };
    let first_pf = matches!(first, Exception::PageFault { .. });
    let second_pf = matches!(second, Exception::PageFault { .. });
    (first.is_contributory() && second.is_contributory())
        || (first_pf && (second_pf || second.is_contributory()))
}
