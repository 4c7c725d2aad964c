//! Hardware task switching (Intel SDM Vol. 3 §7.3): JMP/CALL to a TSS descriptor or a
//! task gate, interrupts and exceptions through task gates, and IRET with EFLAGS.NT.
//! 32-bit TSSs only; a 16-bit TSS as a target raises #TS(selector).

use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, flags, Segment};

use super::segment::Descriptor;
use super::{CS, DS, ES, FS, GS, SS};

/// What started a task switch; it decides the busy bits, NT and the back link.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TaskSource {
    /// JMP: the old task is no longer busy, no link.
    Jmp,
    /// CALL, INT n, exception or interrupt: the new task links back to the old one.
    Call,
    /// IRET with NT set: return to the task in the back link.
    Iret,
}

/// Offsets in a 32-bit TSS.
mod tss {
    pub const LINK: u32 = 0x00;
    pub const CR3: u32 = 0x1c;
    pub const EIP: u32 = 0x20;
    pub const EFLAGS: u32 = 0x24;
    pub const GPR: u32 = 0x28;
    pub const SEG: u32 = 0x48;
    pub const LDT: u32 = 0x60;
    /// The smallest valid limit of a 32-bit TSS.
    pub const MIN_LIMIT: u32 = 0x67;
}

/// TSS descriptor types (system descriptors).
const TSS32_AVAILABLE: u8 = 0x9;
const TSS32_BUSY: u8 = 0xb;
const BUSY_BIT: u32 = 0x200;

impl Machine {
    /// Switches to the task whose TSS descriptor (in the GDT) is `sel`/`d`. `ret_eip` is the EIP saved in the old task. The caller has done the
    /// privilege checks of the instruction or gate. Returns after the new task's state
    /// is loaded; a fault while loading the new segments is raised in the new task.
    pub(crate) fn task_switch(
        &mut self,
        sel: u16,
        d: Descriptor,
        src: TaskSource,
        ret_eip: u32,
    ) -> Result<(), Exception> {
        let ts_err = Exception::InvalidTss(sel & 0xfffc);
        if sel & 4 != 0 {
            return Err(Exception::GeneralProtection(sel & 0xfffc));
        }
        let want = if src == TaskSource::Iret {
            TSS32_BUSY
        } else {
            TSS32_AVAILABLE
        };
        if !d.system() || d.typ() != want {
            return Err(if src == TaskSource::Iret {
                ts_err
            } else {
                Exception::GeneralProtection(sel & 0xfffc)
            });
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        if d.limit() < tss::MIN_LIMIT {
            return Err(ts_err);
        }
        let new_base = d.base();
        // Read the whole new state first so that nothing is committed on a fault.
        let mut regs = [0u32; 8];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = self.read_lin(new_base + tss::GPR + 4 * i as u32, 4, 0)?;
        }
        let mut sels = [0u16; 6];
        for (i, s) in sels.iter_mut().enumerate() {
            *s = self.read_lin(new_base + tss::SEG + 4 * i as u32, 2, 0)? as u16;
        }
        let new_cr3 = self.read_lin(new_base + tss::CR3, 4, 0)?;
        let new_eip = self.read_lin(new_base + tss::EIP, 4, 0)?;
        let mut new_flags = self.read_lin(new_base + tss::EFLAGS, 4, 0)?;
        let new_ldt = self.read_lin(new_base + tss::LDT, 2, 0)? as u16;

        // Save the old task.
        let old = self.cpu.tr;
        if old.limit < tss::MIN_LIMIT {
            return Err(Exception::InvalidTss(old.selector & 0xfffc));
        }
        let mut old_flags = self.eflags();
        if src == TaskSource::Iret {
            old_flags &= !flags::NT;
        }
        self.write_lin(old.base + tss::EIP, 4, ret_eip, 0)?;
        self.write_lin(old.base + tss::EFLAGS, 4, old_flags, 0)?;
        let gpr = self.cpu.gpr;
        for (i, v) in gpr.iter().enumerate() {
            self.write_lin(old.base + tss::GPR + 4 * i as u32, 4, *v, 0)?;
        }
        let segs = self.cpu.seg;
        for (i, s) in segs.iter().enumerate() {
            self.write_lin(old.base + tss::SEG + 4 * i as u32, 2, s.selector as u32, 0)?;
        }
        if src != TaskSource::Call {
            self.set_tss_busy(old.selector, false)?;
        }
        if src == TaskSource::Call {
            self.write_lin(new_base + tss::LINK, 2, old.selector as u32, 0)?;
            new_flags |= flags::NT;
        }
        if src != TaskSource::Iret {
            self.set_tss_busy(sel, true)?;
        }

        // Commit the switch: TR, CR0.TS, CR3, registers and selectors.
        self.cpu.tr = Segment {
            selector: sel,
            base: new_base,
            limit: d.limit(),
            attrs: d.attrs() | (BUSY_BIT >> 8) as u16,
        };
        self.cpu.cr0 |= cr0::TS;
        if self.cpu.cr0 & cr0::PG != 0 && new_cr3 != self.cpu.cr3 {
            self.cpu.cr3 = new_cr3;
            self.mmu.flush();
        }
        self.cpu.gpr = regs;
        self.set_eflags(new_flags);
        self.cpu.eip = new_eip;
        for (i, s) in sels.iter().enumerate() {
            self.cpu.seg[i] = Segment {
                selector: *s,
                base: 0,
                limit: 0,
                attrs: 0,
            };
        }
        self.cpu.ldtr = Segment {
            selector: new_ldt,
            base: 0,
            limit: 0,
            attrs: 0,
        };
        // A fault while loading the new task's segments belongs to the new task: it
        // is delivered here, from the new task's state.
        if let Err(e) = self.load_task_segments(new_ldt, &sels) {
            self.exception(e);
        }
        Ok(())
    }

    /// Loads LDTR and the segment registers of the task just switched to, with the
    /// checks of a task switch (#TS on a bad selector, #NP/#SS when not present).
    fn load_task_segments(&mut self, ldt: u16, sels: &[u16; 6]) -> Result<(), Exception> {
        if self.cpu.v86() {
            for (i, s) in sels.iter().enumerate() {
                self.cpu.seg[i] = Segment {
                    selector: *s,
                    base: (*s as u32) << 4,
                    limit: 0xffff,
                    attrs: if i == CS { 0xfb } else { 0xf3 },
                };
            }
            self.cpu.cpl = 3;
        }
        if ldt & 0xfffc != 0 {
            let err = Exception::InvalidTss(ldt & 0xfffc);
            if ldt & 4 != 0 {
                return Err(err);
            }
            let (d, _) = self.read_descriptor_or(ldt, err)?;
            if !d.system() || d.typ() != 2 {
                return Err(err);
            }
            if !d.present() {
                return Err(err);
            }
            self.cpu.ldtr = d.segment(ldt);
        }
        if self.cpu.v86() {
            return Ok(());
        }
        // CS decides the new CPL.
        let cs = sels[CS];
        let err = Exception::InvalidTss(cs & 0xfffc);
        if cs & 0xfffc == 0 {
            return Err(err);
        }
        let (d, addr) = self.read_descriptor_or(cs, err)?;
        let rpl = (cs & 3) as u8;
        if !d.is_code() || (!d.conforming() && d.dpl() != rpl) || (d.conforming() && d.dpl() > rpl)
        {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(cs & 0xfffc));
        }
        self.set_accessed(&d, addr)?;
        self.cpu.seg[CS] = d.segment(cs);
        self.cpu.cpl = rpl;
        // SS: a writable data segment at exactly the new CPL.
        let ss = sels[SS];
        let err = Exception::InvalidTss(ss & 0xfffc);
        if ss & 0xfffc == 0 {
            return Err(err);
        }
        let (d, addr) = self.read_descriptor_or(ss, err)?;
        if !d.writable_data() || d.dpl() != rpl || (ss & 3) as u8 != rpl {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::StackFault(ss & 0xfffc));
        }
        self.set_accessed(&d, addr)?;
        self.cpu.seg[SS] = d.segment(ss);
        for seg in [DS, ES, FS, GS] {
            let s = sels[seg];
            if s & 0xfffc == 0 {
                continue;
            }
            let err = Exception::InvalidTss(s & 0xfffc);
            let (d, addr) = self.read_descriptor_or(s, err)?;
            if !d.readable() {
                return Err(err);
            }
            if !d.conforming() && (d.dpl() < rpl || d.dpl() < (s & 3) as u8) {
                return Err(err);
            }
            if !d.present() {
                return Err(Exception::SegmentNotPresent(s & 0xfffc));
            }
            self.set_accessed(&d, addr)?;
            self.cpu.seg[seg] = d.segment(s);
        }
        Ok(())
    }

    /// Sets or clears the busy bit of the TSS descriptor `sel` in the GDT.
    fn set_tss_busy(&mut self, sel: u16, busy: bool) -> Result<(), Exception> {
        let addr = self.cpu.gdtr.base.wrapping_add((sel & 0xfff8) as u32 + 4);
        let hi = self.read_lin(addr, 4, 0)?;
        let hi = if busy { hi | BUSY_BIT } else { hi & !BUSY_BIT };
        self.write_lin(addr, 4, hi, 0)
    }

    /// JMP/CALL to a system descriptor that names a task: a TSS descriptor or a task
    /// gate. `None` when the descriptor is neither.
    pub(crate) fn far_task(
        &mut self,
        sel: u16,
        d: &Descriptor,
        src: TaskSource,
        ret_eip: u32,
    ) -> Option<Result<(), Exception>> {
        if !d.system() || !matches!(d.typ(), 1 | 3 | 5 | 9 | 0xb) {
            return None;
        }
        Some(self.far_task_inner(sel, d, src, ret_eip))
    }

    fn far_task_inner(
        &mut self,
        sel: u16,
        d: &Descriptor,
        src: TaskSource,
        ret_eip: u32,
    ) -> Result<(), Exception> {
        let err = Exception::GeneralProtection(sel & 0xfffc);
        let cpl = self.cpu.cpl;
        if d.dpl() < cpl || d.dpl() < (sel & 3) as u8 {
            return Err(err);
        }
        if d.typ() != 5 {
            if d.typ() != TSS32_AVAILABLE {
                return Err(err);
            }
            let (d, _) = self.read_descriptor(sel)?;
            return self.task_switch(sel, d, src, ret_eip);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        self.gate_task(d.gate_selector(), src, ret_eip, 0)
    }

    /// Switches through a task gate whose TSS selector is `tsel`; `ext` is the EXT bit
    /// of error codes (1 for events not caused by the instruction).
    pub(crate) fn gate_task(
        &mut self,
        tsel: u16,
        src: TaskSource,
        ret_eip: u32,
        ext: u16,
    ) -> Result<(), Exception> {
        let err = Exception::GeneralProtection((tsel & 0xfffc) | ext);
        if tsel & 4 != 0 || tsel & 0xfffc == 0 {
            return Err(err);
        }
        let (td, _) = self.read_descriptor_or(tsel, err)?;
        if !td.system() || td.typ() != TSS32_AVAILABLE {
            return Err(err);
        }
        self.task_switch(tsel, td, src, ret_eip)
    }

    /// IRET with NT set: returns to the task named by the back link of the current TSS.
    pub(crate) fn iret_task(&mut self) -> Result<(), Exception> {
        let link = self.read_lin(self.cpu.tr.base + tss::LINK, 2, 0)? as u16;
        let err = Exception::InvalidTss(link & 0xfffc);
        if link & 4 != 0 || link & 0xfffc == 0 {
            return Err(err);
        }
        let (d, _) = self.read_descriptor_or(link, err)?;
        let eip = self.cpu.eip;
        self.task_switch(link, d, TaskSource::Iret, eip)
    }
}
