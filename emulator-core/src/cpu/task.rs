//! Hardware task switching (Intel SDM Vol. 3 §7.3): JMP/CALL to a TSS descriptor or a
//! task gate, interrupts and exceptions through task gates, and IRET with EFLAGS.NT.
//! Both TSS formats: the 32-bit one and the 80286 one (16-bit registers, no CR3, FS,
//! GS; entering a 16-bit task sets the upper halves of the general registers to FFFFh
//! and FS/GS to null, as Bochs does, since the SDM leaves them undefined).

use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, flags, Segment};

use super::{CS, DS, ES, FS, GS, SS};
use crate::descriptor::{self, Descriptor};

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

/// Where the fields of a TSS are, by format.
#[derive(Clone, Copy)]
struct Layout {
    big: bool,
}

impl Layout {
    fn of_type(typ: u8) -> Layout {
        Layout { big: typ & 8 != 0 }
    }
    const fn eip(self) -> u32 {
        if self.big {
            0x20
        } else {
            0x0e
        }
    }
    const fn eflags(self) -> u32 {
        if self.big {
            0x24
        } else {
            0x10
        }
    }
    /// General register `i` (EAX..EDI order).
    const fn gpr(self, i: u32) -> u32 {
        if self.big {
            0x28 + 4 * i
        } else {
            0x12 + 2 * i
        }
    }
    /// Segment register `i` (ES, CS, SS, DS, FS, GS order); the 16-bit TSS has four.
    const fn seg(self, i: u32) -> u32 {
        if self.big {
            0x48 + 4 * i
        } else {
            0x22 + 2 * i
        }
    }
    const fn segs(self) -> usize {
        if self.big {
            6
        } else {
            4
        }
    }
    const fn ldt(self) -> u32 {
        if self.big {
            0x60
        } else {
            0x2a
        }
    }
    const fn min_limit(self) -> u32 {
        if self.big {
            0x67
        } else {
            0x2b
        }
    }
    const fn size(self) -> u8 {
        if self.big {
            4
        } else {
            2
        }
    }
    const fn available(self) -> u8 {
        if self.big {
            0x9
        } else {
            0x1
        }
    }
}

/// The back link field (both formats).
const LINK: u32 = 0x00;
/// CR3 in a 32-bit TSS.
const CR3: u32 = 0x1c;
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
        let new = Layout::of_type(d.typ());
        let want = if src == TaskSource::Iret {
            new.available() | 2
        } else {
            new.available()
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
        if d.limit() < new.min_limit() {
            return Err(ts_err);
        }
        let new_base = d.base();
        let nsz = new.size();
        // Read the whole new state first so that nothing is committed on a fault.
        let mut regs = [0u32; 8];
        for (i, r) in regs.iter_mut().enumerate() {
            let v = self.read_lin(new_base + new.gpr(i as u32), nsz, 0)?;
            *r = if new.big { v } else { 0xffff_0000 | v };
        }
        let mut sels = [0u16; 6];
        for (i, s) in sels.iter_mut().enumerate().take(new.segs()) {
            *s = self.read_lin(new_base + new.seg(i as u32), 2, 0)? as u16;
        }
        let new_cr3 = if new.big {
            Some(self.read_lin(new_base + CR3, 4, 0)?)
        } else {
            None
        };
        let new_eip = self.read_lin(new_base + new.eip(), nsz, 0)?;
        let mut new_flags = self.read_lin(new_base + new.eflags(), nsz, 0)?;
        let new_ldt = self.read_lin(new_base + new.ldt(), 2, 0)? as u16;

        // Save the old task.
        let old = self.cpu.tr;
        let ol = Layout::of_type((old.attrs & descriptor::attr::TYPE) as u8);
        if old.limit < ol.min_limit() {
            return Err(Exception::InvalidTss(old.selector & 0xfffc));
        }
        let mut old_flags = self.eflags();
        if src == TaskSource::Iret {
            old_flags &= !flags::NT;
        }
        let osz = ol.size();
        self.write_lin(old.base + ol.eip(), osz, ret_eip, 0)?;
        self.write_lin(old.base + ol.eflags(), osz, old_flags, 0)?;
        let gpr = self.cpu.gpr;
        for (i, v) in gpr.iter().enumerate() {
            self.write_lin(old.base + ol.gpr(i as u32), osz, *v, 0)?;
        }
        let segs = self.cpu.seg;
        for (i, sg) in segs.iter().enumerate().take(ol.segs()) {
            self.write_lin(old.base + ol.seg(i as u32), 2, sg.selector as u32, 0)?;
        }
        if src != TaskSource::Call {
            self.set_tss_busy(old.selector, false)?;
        }
        if src == TaskSource::Call {
            self.write_lin(new_base + LINK, 2, old.selector as u32, 0)?;
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
        if let Some(cr3) = new_cr3 {
            if self.cpu.cr0 & cr0::PG != 0 && cr3 != self.cpu.cr3 {
                self.cpu.cr3 = cr3;
                self.cpu.mmu.flush();
            }
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
                self.cpu.seg[i] = descriptor::selector_x16(*s, i == CS, 3);
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
            if !matches!(d.typ(), 1 | 9) {
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
        if !td.system() || !matches!(td.typ(), 1 | 9) {
            return Err(err);
        }
        self.task_switch(tsel, td, src, ret_eip)
    }

    /// IRET with NT set: returns to the task named by the back link of the current TSS.
    pub(crate) fn iret_task(&mut self) -> Result<(), Exception> {
        let link = self.read_lin(self.cpu.tr.base + LINK, 2, 0)? as u16;
        let err = Exception::InvalidTss(link & 0xfffc);
        if link & 4 != 0 || link & 0xfffc == 0 {
            return Err(err);
        }
        let (d, _) = self.read_descriptor_or(link, err)?;
        let eip = self.cpu.eip;
        self.task_switch(link, d, TaskSource::Iret, eip)
    }
}
