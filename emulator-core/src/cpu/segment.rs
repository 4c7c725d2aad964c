//! Segmentation: descriptor loads with their checks, far JMP/CALL/RET and IRET across
//! privilege levels (call gates, TSS stack switch), EFLAGS write rules, LAR/LSL/VERR/VERW.
//!
//! Task gates and TSS descriptors as far-transfer targets go to `task`.

use crate::descriptor::{self, system, Descriptor};
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{cr0, flags, Segment};

use super::task::TaskSource;
use super::{CS, DS, ES, FS, GS, SS};

/// A stack being built during a far transfer, before it is committed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewStack {
    pub seg: Segment,
    pub sp: u32,
    /// Error code of a stack fault on it.
    pub err: u16,
    /// Access bits (supervisor or user).
    pub acc: u8,
}

impl Machine {
    /// Reads the descriptor for `sel` from the GDT or LDT; #GP(sel) when outside the table.
    pub(crate) fn read_descriptor(&mut self, sel: u16) -> Result<(Descriptor, u32), Exception> {
        self.read_descriptor_or(sel, Exception::GeneralProtection(sel & 0xfffc))
    }

    /// As [`read_descriptor`](Self::read_descriptor) with a chosen fault.
    pub(crate) fn read_descriptor_or(
        &mut self,
        sel: u16,
        fault: Exception,
    ) -> Result<(Descriptor, u32), Exception> {
        let (base, limit) = if sel & 4 != 0 {
            if !self.cpu.ldtr.present() || self.cpu.ldtr.selector & 0xfffc == 0 {
                return Err(fault);
            }
            (self.cpu.ldtr.base, self.cpu.ldtr.limit)
        } else {
            (self.cpu.gdtr.base, self.cpu.gdtr.limit as u32)
        };
        let off = (sel & 0xfff8) as u32;
        if off + 7 > limit {
            return Err(fault);
        }
        let addr = base.wrapping_add(off);
        let lo = self.read_lin(addr, 4, 0)?;
        let hi = self.read_lin(addr.wrapping_add(4), 4, 0)?;
        Ok((Descriptor { lo, hi }, addr))
    }

    /// Sets the accessed bit of a code/data descriptor in memory.
    pub(crate) fn set_accessed(&mut self, d: &Descriptor, addr: u32) -> Result<(), Exception> {
        if !d.system() && !d.accessed() {
            self.write_lin(addr.wrapping_add(4), 4, d.hi_accessed(), 0)?;
        }
        Ok(())
    }

    /// Real or virtual-8086 mode: segments are selector × 16.
    #[inline]
    pub(crate) fn real_like(&self) -> bool {
        self.cpu.cr0 & cr0::PE == 0 || self.cpu.v86()
    }

    /// MOV/POP/LxS to a data segment register or SS, with the protected-mode checks.
    pub(crate) fn load_seg(&mut self, seg: usize, sel: u16) -> Result<(), Exception> {
        if self.real_like() {
            let v86 = self.cpu.v86();
            let s = &mut self.cpu.seg[seg % 6];
            s.selector = sel;
            s.base = (sel as u32) << 4;
            if v86 {
                *s = descriptor::selector_x16(sel, seg % 6 == CS, 3);
            }
            if seg == SS {
                self.cpu.interrupt_shadow = true;
            }
            return Ok(());
        }
        let cpl = self.cpu.cpl;
        let rpl = (sel & 3) as u8;
        let err = Exception::GeneralProtection(sel & 0xfffc);
        if seg == SS {
            if sel & 0xfffc == 0 {
                return Err(Exception::GeneralProtection(0));
            }
            let (d, addr) = self.read_descriptor(sel)?;
            if rpl != cpl || !d.writable_data() || d.dpl() != cpl {
                return Err(err);
            }
            if !d.present() {
                return Err(Exception::StackFault(sel & 0xfffc));
            }
            self.set_accessed(&d, addr)?;
            self.cpu.seg[SS] = d.segment(sel);
            self.cpu.interrupt_shadow = true;
            return Ok(());
        }
        if sel & 0xfffc == 0 {
            self.cpu.seg[seg % 6] = Segment {
                selector: sel,
                base: 0,
                limit: 0,
                attrs: 0,
            };
            return Ok(());
        }
        let (d, addr) = self.read_descriptor(sel)?;
        if !d.readable() {
            return Err(err);
        }
        if !d.conforming() && (rpl > d.dpl() || cpl > d.dpl()) {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        self.set_accessed(&d, addr)?;
        self.cpu.seg[seg % 6] = d.segment(sel);
        Ok(())
    }

    /// Loads CS in real/V86 mode.
    fn load_cs_real(&mut self, sel: u16) {
        let v86 = self.cpu.v86();
        let s = &mut self.cpu.seg[CS];
        s.selector = sel;
        s.base = (sel as u32) << 4;
        if v86 {
            *s = descriptor::selector_x16(sel, true, 3);
        }
    }

    /// Checks a code-segment target of a direct far JMP/CALL; returns it as a segment.
    fn check_direct_code(
        &mut self,
        sel: u16,
        d: &Descriptor,
        addr: u32,
    ) -> Result<Segment, Exception> {
        let cpl = self.cpu.cpl;
        let err = Exception::GeneralProtection(sel & 0xfffc);
        if d.conforming() {
            if d.dpl() > cpl {
                return Err(err);
            }
        } else if (sel & 3) as u8 > cpl || d.dpl() != cpl {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        self.set_accessed(d, addr)?;
        Ok(d.segment((sel & 0xfffc) | cpl as u16))
    }

    /// Far JMP to `sel:off`.
    pub(crate) fn far_jump(&mut self, sel: u16, off: u32, osize: u8) -> Result<(), Exception> {
        let off = if osize == 2 { off & 0xffff } else { off };
        if self.real_like() {
            self.load_cs_real(sel);
            self.cpu.eip = off;
            return Ok(());
        }
        if sel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (d, addr) = self.read_descriptor(sel)?;
        let err = Exception::GeneralProtection(sel & 0xfffc);
        if d.is_code() {
            let seg = self.check_direct_code(sel, &d, addr)?;
            if off > seg.limit {
                return Err(Exception::GeneralProtection(0));
            }
            self.cpu.seg[CS] = seg;
            self.cpu.eip = off;
            return Ok(());
        }
        let eip = self.cpu.eip;
        if let Some(r) = self.far_task(sel, &d, TaskSource::Jmp, eip) {
            return r;
        }
        if !d.system() || !matches!(d.typ(), 4 | 0xc) {
            return Err(err);
        }
        // Call gate.
        let cpl = self.cpu.cpl;
        if d.dpl() < cpl || d.dpl() < (sel & 3) as u8 {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        let tsel = d.gate_selector();
        let toff = if d.typ() == 4 {
            d.gate_offset() & 0xffff
        } else {
            d.gate_offset()
        };
        if tsel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (cd, caddr) = self.read_descriptor(tsel)?;
        let terr = Exception::GeneralProtection(tsel & 0xfffc);
        if !cd.is_code()
            || (cd.conforming() && cd.dpl() > cpl)
            || (!cd.conforming() && cd.dpl() != cpl)
        {
            return Err(terr);
        }
        if !cd.present() {
            return Err(Exception::SegmentNotPresent(tsel & 0xfffc));
        }
        if toff > cd.limit() {
            return Err(Exception::GeneralProtection(0));
        }
        self.set_accessed(&cd, caddr)?;
        self.cpu.seg[CS] = cd.segment((tsel & 0xfffc) | cpl as u16);
        self.cpu.eip = toff;
        Ok(())
    }

    /// Pushes on a stack under construction; #SS(err) past its limit.
    pub(crate) fn push_new(
        &mut self,
        st: &mut NewStack,
        size: u8,
        v: u32,
    ) -> Result<(), Exception> {
        let sp = st.sp.wrapping_sub(size as u32);
        let sp = if st.seg.big() { sp } else { sp & 0xffff };
        let last = sp.wrapping_add(size as u32 - 1);
        let ok = if descriptor::expand_down_data(st.seg.attrs) {
            let top = if st.seg.big() { u32::MAX } else { 0xffff };
            sp > st.seg.limit && last >= sp && last <= top
        } else {
            last >= sp && last <= st.seg.limit
        };
        if !ok {
            return Err(Exception::StackFault(st.err));
        }
        self.write_lin(st.seg.base.wrapping_add(sp), size, v, st.acc)?;
        st.sp = sp;
        Ok(())
    }

    /// Reads the inner stack for privilege level `dpl` from the TSS and checks its SS
    /// (#TS on a bad one, #SS when not present). `ext` is the EXT bit for error codes.
    pub(crate) fn inner_stack(&mut self, dpl: u8, ext: u16) -> Result<NewStack, Exception> {
        let tr = self.cpu.tr;
        let ts = Exception::InvalidTss((tr.selector & 0xfffc) | ext);
        let big = descriptor::tss32(tr.attrs);
        let (esp_off, ss_off, sz) = if big {
            (4 + 8 * dpl as u32, 8 + 8 * dpl as u32, 4u8)
        } else {
            (2 + 4 * dpl as u32, 4 + 4 * dpl as u32, 2u8)
        };
        if ss_off + 1 > tr.limit || !tr.present() {
            return Err(ts);
        }
        let esp = self.read_lin(tr.base.wrapping_add(esp_off), sz, 0)?;
        let ss = self.read_lin(tr.base.wrapping_add(ss_off), 2, 0)? as u16;
        let sserr = Exception::InvalidTss((ss & 0xfffc) | ext);
        if ss & 0xfffc == 0 {
            return Err(Exception::InvalidTss(ext));
        }
        let (d, addr) = self.read_descriptor_or(ss, sserr)?;
        if (ss & 3) as u8 != dpl || d.dpl() != dpl || !d.writable_data() {
            return Err(sserr);
        }
        if !d.present() {
            return Err(Exception::StackFault((ss & 0xfffc) | ext));
        }
        self.set_accessed(&d, addr)?;
        Ok(NewStack {
            seg: d.segment(ss),
            sp: esp,
            err: (ss & 0xfffc) | ext,
            acc: if dpl == 3 {
                crate::mmu::access::USER
            } else {
                0
            },
        })
    }

    /// Far CALL to `sel:off`; `ret_eip` is the return offset.
    pub(crate) fn far_call(
        &mut self,
        sel: u16,
        off: u32,
        osize: u8,
        ret_eip: u32,
    ) -> Result<(), Exception> {
        let off = if osize == 2 { off & 0xffff } else { off };
        let old_cs = self.cpu.seg[CS].selector as u32;
        if self.real_like() {
            let sp0 = self.sp();
            self.push(osize, old_cs)?;
            if let Err(e) = self.push(osize, ret_eip) {
                self.set_sp(sp0);
                return Err(e);
            }
            self.load_cs_real(sel);
            self.cpu.eip = off;
            return Ok(());
        }
        if sel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (d, addr) = self.read_descriptor(sel)?;
        let err = Exception::GeneralProtection(sel & 0xfffc);
        let cpl = self.cpu.cpl;
        let mut st = NewStack {
            seg: self.cpu.seg[SS],
            sp: self.sp(),
            err: 0,
            acc: self.user_acc(),
        };
        if d.is_code() {
            let seg = self.check_direct_code(sel, &d, addr)?;
            if off > seg.limit {
                return Err(Exception::GeneralProtection(0));
            }
            self.push_new(&mut st, osize, old_cs)?;
            self.push_new(&mut st, osize, ret_eip)?;
            self.set_sp(st.sp);
            self.cpu.seg[CS] = seg;
            self.cpu.eip = off;
            return Ok(());
        }
        if let Some(r) = self.far_task(sel, &d, TaskSource::Call, ret_eip) {
            return r;
        }
        if !d.system() || !matches!(d.typ(), 4 | 0xc) {
            return Err(err);
        }
        if d.dpl() < cpl || d.dpl() < (sel & 3) as u8 {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(sel & 0xfffc));
        }
        let gate32 = d.typ() == 0xc;
        let gsize = if gate32 { 4 } else { 2 };
        let tsel = d.gate_selector();
        let toff = if gate32 {
            d.gate_offset()
        } else {
            d.gate_offset() & 0xffff
        };
        if tsel & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (cd, caddr) = self.read_descriptor(tsel)?;
        let terr = Exception::GeneralProtection(tsel & 0xfffc);
        if !cd.is_code() || cd.dpl() > cpl {
            return Err(terr);
        }
        if !cd.present() {
            return Err(Exception::SegmentNotPresent(tsel & 0xfffc));
        }
        if toff > cd.limit() {
            return Err(Exception::GeneralProtection(0));
        }
        if !cd.conforming() && cd.dpl() < cpl {
            // More privileged: switch to the inner stack and copy the parameters.
            let dpl = cd.dpl();
            let mut ns = self.inner_stack(dpl, 0)?;
            let old_ss = self.cpu.seg[SS].selector as u32;
            let old_sp = self.cpu.gpr[super::ESP];
            let count = d.gate_params();
            self.push_new(&mut ns, gsize, old_ss)?;
            self.push_new(&mut ns, gsize, old_sp)?;
            for i in (0..count).rev() {
                let v = self.stack_peek(i * gsize as u32, gsize)?;
                self.push_new(&mut ns, gsize, v)?;
            }
            self.push_new(&mut ns, gsize, old_cs)?;
            self.push_new(&mut ns, gsize, ret_eip)?;
            self.set_accessed(&cd, caddr)?;
            self.cpu.cpl = dpl;
            self.cpu.seg[SS] = ns.seg;
            self.set_sp(ns.sp);
            self.cpu.seg[CS] = cd.segment((tsel & 0xfffc) | dpl as u16);
            self.cpu.eip = toff;
            return Ok(());
        }
        self.push_new(&mut st, gsize, old_cs)?;
        self.push_new(&mut st, gsize, ret_eip)?;
        self.set_accessed(&cd, caddr)?;
        self.set_sp(st.sp);
        self.cpu.seg[CS] = cd.segment((tsel & 0xfffc) | cpl as u16);
        self.cpu.eip = toff;
        Ok(())
    }

    /// Checks the code segment a RET/IRET returns to; returns the descriptor.
    fn check_return_cs(&mut self, cs: u16) -> Result<(Descriptor, u32), Exception> {
        if cs & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (d, addr) = self.read_descriptor(cs)?;
        let rpl = (cs & 3) as u8;
        let err = Exception::GeneralProtection(cs & 0xfffc);
        if !d.is_code() || rpl < self.cpu.cpl {
            return Err(err);
        }
        if (d.conforming() && d.dpl() > rpl) || (!d.conforming() && d.dpl() != rpl) {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(cs & 0xfffc));
        }
        Ok((d, addr))
    }

    /// Checks the SS a return to an outer level loads.
    fn check_return_ss(&mut self, ss: u16, rpl: u8) -> Result<Segment, Exception> {
        if ss & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (d, addr) = self.read_descriptor(ss)?;
        let err = Exception::GeneralProtection(ss & 0xfffc);
        if (ss & 3) as u8 != rpl || d.dpl() != rpl || !d.writable_data() {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::StackFault(ss & 0xfffc));
        }
        self.set_accessed(&d, addr)?;
        Ok(d.segment(ss))
    }

    /// After a return to an outer level: data segments the new CPL may not use become null.
    fn null_inaccessible_segments(&mut self) {
        let cpl = self.cpu.cpl;
        for s in [ES, DS, FS, GS] {
            descriptor::null_for_outer_ring(&mut self.cpu.seg[s], cpl);
        }
    }

    /// Far RET with `imm` bytes of parameters to release.
    pub(crate) fn far_ret(&mut self, osize: u8, imm: u32) -> Result<(), Exception> {
        let o = osize as u32;
        let eip = self.stack_peek(0, osize)?;
        let cs = self.stack_peek(o, osize)? as u16;
        if self.real_like() {
            self.set_sp(self.sp_add(2 * o + imm));
            self.load_cs_real(cs);
            self.cpu.eip = eip;
            return Ok(());
        }
        let (d, addr) = self.check_return_cs(cs)?;
        let rpl = (cs & 3) as u8;
        if eip > d.limit() {
            return Err(Exception::GeneralProtection(0));
        }
        if rpl == self.cpu.cpl {
            self.set_accessed(&d, addr)?;
            self.set_sp(self.sp_add(2 * o + imm));
            self.cpu.seg[CS] = d.segment(cs);
            self.cpu.eip = eip;
            return Ok(());
        }
        let esp = self.stack_peek(2 * o + imm, osize)?;
        let ss = self.stack_peek(3 * o + imm, osize)? as u16;
        let ss_seg = self.check_return_ss(ss, rpl)?;
        self.set_accessed(&d, addr)?;
        self.cpu.cpl = rpl;
        self.cpu.seg[CS] = d.segment(cs);
        self.cpu.eip = eip;
        self.cpu.seg[SS] = ss_seg;
        let esp = esp.wrapping_add(imm);
        self.set_sp(if osize == 2 { esp & 0xffff } else { esp });
        self.null_inaccessible_segments();
        Ok(())
    }

    /// Writes EFLAGS from POPF or IRET with the privilege rules: IOPL changes only at
    /// CPL 0, IF only when CPL <= IOPL; VM and RF only through IRET, and VIF and VIP
    /// only through a protected-mode IRET at CPL 0.
    pub(crate) fn write_eflags_checked(&mut self, v: u32, osize: u8, iret: bool) {
        let mut changeable =
            flags::STATUS | flags::TF | flags::DF | flags::NT | flags::AC | flags::ID;
        let pm = self.cpu.cr0 & cr0::PE != 0;
        let cpl = self.cpu.cpl;
        if !pm || cpl == 0 {
            changeable |= flags::IOPL | flags::IF;
        } else if cpl <= self.cpu.iopl() {
            changeable |= flags::IF;
        }
        if iret {
            changeable |= flags::RF;
            if pm && cpl == 0 {
                changeable |= flags::VIF | flags::VIP;
            }
        }
        if osize == 2 {
            changeable &= 0xffff;
        }
        let old = self.eflags();
        self.set_eflags((old & !changeable) | (v & changeable));
    }

    /// IRET.
    pub(crate) fn iret(&mut self, osize: u8) -> Result<(), Exception> {
        let o = osize as u32;
        let eip = self.stack_peek(0, osize)?;
        let cs = self.stack_peek(o, osize)? as u16;
        let fl = self.stack_peek(2 * o, osize)?;
        if self.cpu.cr0 & cr0::PE == 0 {
            if eip > self.cpu.seg[CS].limit {
                return Err(Exception::GeneralProtection(0));
            }
            self.set_sp(self.sp_add(3 * o));
            self.load_cs_real(cs);
            self.cpu.eip = eip;
            self.write_eflags_checked(fl, osize, true);
            return Ok(());
        }
        if self.cpu.v86() {
            return self.iret_in_v86(osize);
        }
        if self.eflags() & flags::NT != 0 {
            return self.iret_task();
        }
        if osize == 4 && fl & flags::VM != 0 && self.cpu.cpl == 0 {
            return self.iret_to_v86();
        }
        let (d, addr) = self.check_return_cs(cs)?;
        let rpl = (cs & 3) as u8;
        if eip > d.limit() {
            return Err(Exception::GeneralProtection(0));
        }
        if rpl == self.cpu.cpl {
            self.set_accessed(&d, addr)?;
            self.set_sp(self.sp_add(3 * o));
            self.cpu.seg[CS] = d.segment(cs);
            self.cpu.eip = eip;
            self.write_eflags_checked(fl, osize, true);
            return Ok(());
        }
        let esp = self.stack_peek(3 * o, osize)?;
        let ss = self.stack_peek(4 * o, osize)? as u16;
        let ss_seg = self.check_return_ss(ss, rpl)?;
        self.set_accessed(&d, addr)?;
        self.write_eflags_checked(fl, osize, true);
        self.cpu.cpl = rpl;
        self.cpu.seg[CS] = d.segment(cs);
        self.cpu.eip = eip;
        self.cpu.seg[SS] = ss_seg;
        self.set_sp(if osize == 2 { esp & 0xffff } else { esp });
        self.null_inaccessible_segments();
        Ok(())
    }

    /// The descriptor LAR/LSL/VERR/VERW look at, or `None` (ZF=0) when the selector is
    /// null, outside its table, or not visible at CPL/RPL.
    pub(crate) fn visible_descriptor(
        &mut self,
        sel: u16,
        for_lsl: bool,
    ) -> Result<Option<Descriptor>, Exception> {
        if sel & 0xfffc == 0 {
            return Ok(None);
        }
        let d = match self.read_descriptor(sel) {
            Ok((d, _)) => d,
            Err(Exception::GeneralProtection(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if d.system() {
            let gate = matches!(
                d.typ(),
                system::CALL_GATE16 | system::TASK_GATE | system::CALL_GATE32
            );
            let ok = d.system_segment() || (gate && !for_lsl);
            if !ok {
                return Ok(None);
            }
        }
        if !d.conforming() {
            let rpl = (sel & 3) as u8;
            if d.dpl() < self.cpu.cpl || d.dpl() < rpl {
                return Ok(None);
            }
        }
        Ok(Some(d))
    }
}
