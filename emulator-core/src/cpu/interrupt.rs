//! Interrupt and exception delivery: the one place where exceptions, software interrupts
//! and hardware interrupts go through the IVT (real mode) or the IDT (protected mode),
//! with the double-fault rules and the triple fault.
//!
//! A task gate in the IDT switches tasks (`task`); an interrupt taken in virtual-8086
//! mode leaves it for ring 0 with the extra frame of `v86`.

use crate::error::Exception;
use crate::events::EventKind;
use crate::machine::Machine;
use crate::state::{cr0, flags};
use crate::stop::StopReason;

use super::segment::NewStack;
use super::task::TaskSource;
use super::{CS, ESP, SS};

/// Where an interrupt comes from (it decides the EXT bit and the gate DPL check).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Source {
    /// A processor exception.
    Exception,
    /// INT n, INT3, INTO.
    Software,
    /// An interrupt from the PIC.
    External,
}

impl Machine {
    /// Delivers a guest exception raised by the instruction at CS:EIP (the single entry
    /// point for exceptions; a VMM hooks here before the IDT).
    pub(crate) fn exception(&mut self, first: Exception) {
        let mut cur = first;
        self.note_exception(cur);
        if self.vmm_exception(cur) {
            return;
        }
        for _ in 0..4 {
            let next = match self.deliver(cur.vector(), cur.error_code(), Source::Exception) {
                Ok(()) => return,
                Err(e) => e,
            };
            if cur == Exception::DoubleFault {
                break;
            }
            self.note_exception(next);
            let page_fault = matches!(cur, Exception::PageFault { .. });
            let next_pf = matches!(next, Exception::PageFault { .. });
            let double = (cur.is_contributory() && next.is_contributory())
                || (page_fault && (next_pf || next.is_contributory()));
            cur = if double {
                self.note_exception(Exception::DoubleFault);
                Exception::DoubleFault
            } else {
                next
            };
        }
        self.log(EventKind::TripleFault);
        self.cpu.halted = true;
        self.stop = Some(StopReason::TripleFault);
    }

    fn note_exception(&mut self, e: Exception) {
        if let Exception::PageFault { linear, .. } = e {
            self.cpu.cr2 = linear;
        }
        if let Some(c) = self.counters.exceptions.get_mut(e.vector() as usize) {
            *c += 1;
        }
        self.log(EventKind::Exception(e));
    }

    /// Accepts a hardware interrupt on `vector` (already acknowledged at the PIC).
    pub(crate) fn external_interrupt(&mut self, vector: u8) {
        if self.vmm_external(vector) {
            return;
        }
        if let Err(e) = self.deliver(vector, None, Source::External) {
            self.exception(e);
        }
    }

    /// Takes an interrupt posted to the running vCPU (APIC virtualization): the
    /// guest's IDT delivers it with no exit.
    pub(crate) fn posted_interrupt(&mut self, vector: u8) {
        if let Err(e) = self.deliver(vector, None, Source::External) {
            self.exception(e);
        }
    }

    /// INT n / INT3 / INTO: EIP already points past the instruction.
    pub(crate) fn software_interrupt(&mut self, vector: u8) -> Result<(), Exception> {
        self.counters.software_interrupts += 1;
        self.log(EventKind::SoftwareInterrupt { vector });
        if let Some(r) = self.vmm_software(vector) {
            return r;
        }
        self.deliver(vector, None, Source::Software)
    }

    /// Transfers control through the IVT/IDT entry for `vector`, pushing the return
    /// frame (and `error_code`). Nothing is committed when it fails.
    fn deliver(
        &mut self,
        vector: u8,
        error_code: Option<u32>,
        src: Source,
    ) -> Result<(), Exception> {
        self.cpu.halted = false;
        if self.cpu.cr0 & cr0::PE == 0 {
            return self.deliver_real(vector);
        }
        let ext: u16 = if src == Source::Software { 0 } else { 1 };
        let idt_err = Exception::GeneralProtection(vector as u16 * 8 + 2 + ext);
        let off = vector as u32 * 8;
        if off + 7 > self.cpu.idtr.limit as u32 {
            return Err(idt_err);
        }
        let base = self.cpu.idtr.base.wrapping_add(off);
        let lo = self.read_lin(base, 4, 0)?;
        let hi = self.read_lin(base.wrapping_add(4), 4, 0)?;
        let gate = crate::descriptor::Descriptor { lo, hi };
        if !gate.system() || !matches!(gate.typ(), 5 | 6 | 7 | 0xe | 0xf) {
            return Err(idt_err);
        }
        let cpl = self.cpu.cpl;
        if src == Source::Software && gate.dpl() < cpl {
            return Err(idt_err);
        }
        if !gate.present() {
            return Err(Exception::SegmentNotPresent(vector as u16 * 8 + 2 + ext));
        }
        if gate.typ() == 5 {
            let eip = self.cpu.eip;
            self.gate_task(gate.gate_selector(), TaskSource::Call, eip, ext)?;
            if let Some(code) = error_code {
                // A dword on a 32-bit task's stack, a word on an 80286 task's.
                let size = if self.cpu.tr.attrs & 8 != 0 { 4 } else { 2 };
                if let Err(e) = self.push(size, code) {
                    self.exception(e);
                }
            }
            return Ok(());
        }
        let tsel = gate.gate_selector();
        if tsel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(ext));
        }
        let terr = Exception::GeneralProtection((tsel & 0xfffc) | ext);
        let (cd, caddr) = self.read_descriptor_or(tsel, terr)?;
        if !cd.is_code() || cd.dpl() > cpl {
            return Err(terr);
        }
        if !cd.present() {
            return Err(Exception::SegmentNotPresent((tsel & 0xfffc) | ext));
        }
        let gate32 = gate.typ() & 8 != 0;
        let gsize: u8 = if gate32 { 4 } else { 2 };
        let target = if gate32 {
            gate.gate_offset()
        } else {
            gate.gate_offset() & 0xffff
        };
        if target > cd.limit() {
            return Err(Exception::GeneralProtection(ext));
        }
        let fl = self.eflags();
        let old_cs = self.cpu.seg[CS].selector as u32;
        let old_eip = self.cpu.eip;
        let new_cpl;
        let mut st;
        let from_v86 = self.cpu.v86();
        if from_v86 && (cd.conforming() || cd.dpl() != 0) {
            return Err(terr);
        }
        if !cd.conforming() && cd.dpl() < cpl {
            new_cpl = cd.dpl();
            st = self.inner_stack(new_cpl, ext)?;
            if from_v86 {
                self.v86_push_data_segments(&mut st, gsize)?;
            }
            let old_ss = self.cpu.seg[SS].selector as u32;
            let old_esp = self.cpu.gpr[ESP];
            self.push_new(&mut st, gsize, old_ss)?;
            self.push_new(&mut st, gsize, old_esp)?;
        } else {
            new_cpl = cpl;
            st = NewStack {
                seg: self.cpu.seg[SS],
                sp: self.sp(),
                err: ext,
                acc: self.user_acc(),
            };
        }
        self.push_new(&mut st, gsize, fl)?;
        self.push_new(&mut st, gsize, old_cs)?;
        self.push_new(&mut st, gsize, old_eip)?;
        if let Some(code) = error_code {
            self.push_new(&mut st, gsize, code)?;
        }
        self.set_accessed(&cd, caddr)?;
        // Commit.
        self.cpu.cpl = new_cpl;
        self.cpu.seg[SS] = st.seg;
        self.set_sp(st.sp);
        self.cpu.seg[CS] = cd.segment((tsel & 0xfffc) | new_cpl as u16);
        self.cpu.eip = target;
        let mut clear = flags::TF | flags::NT | flags::RF | flags::VM;
        if gate.typ() & 1 == 0 {
            clear |= flags::IF;
        }
        self.cpu.eflags &= !clear;
        if from_v86 {
            self.v86_null_data_segments();
        }
        Ok(())
    }

    fn deliver_real(&mut self, vector: u8) -> Result<(), Exception> {
        let off = vector as u32 * 4;
        if off + 3 > self.cpu.idtr.limit as u32 {
            return Err(Exception::GeneralProtection(0));
        }
        let entry = self.read_lin(self.cpu.idtr.base.wrapping_add(off), 4, 0)?;
        let fl = self.eflags();
        let sp0 = self.sp();
        let frame = [fl, self.cpu.seg[CS].selector as u32, self.cpu.eip];
        for v in frame {
            if let Err(e) = self.push(2, v) {
                self.set_sp(sp0);
                return Err(e);
            }
        }
        let cs = (entry >> 16) as u16;
        let s = &mut self.cpu.seg[CS];
        s.selector = cs;
        s.base = (cs as u32) << 4;
        self.cpu.eip = entry & 0xffff;
        self.cpu.eflags &= !(flags::IF | flags::TF | flags::AC | flags::RF);
        Ok(())
    }
}
