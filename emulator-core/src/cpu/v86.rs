//! Virtual-8086 mode: entering it with IRET from ring 0, IRET inside it (IOPL 3), and
//! the extra frame of an interrupt or exception that leaves it for ring 0.

use crate::descriptor;
use crate::error::Exception;
use crate::machine::Machine;
use crate::state::{flags, Segment};

use super::segment::NewStack;
use super::{CS, DS, ES, FS, GS, SS};

impl Machine {
    /// IRETD at CPL 0 whose EFLAGS image has VM set: pops EIP, CS, EFLAGS, ESP, SS, ES,
    /// DS, FS, GS (dwords) and continues in virtual-8086 mode at CPL 3.
    pub(crate) fn iret_to_v86(&mut self) -> Result<(), Exception> {
        let mut v = [0u32; 9];
        for (i, x) in v.iter_mut().enumerate() {
            *x = self.stack_peek(4 * i as u32, 4)?;
        }
        let [eip, cs, fl, esp, ss, es, ds, fs, gs] = v;
        if eip & 0xffff_0000 != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        self.set_eflags(fl | flags::VM);
        self.cpu.cpl = 3;
        self.cpu.eip = eip;
        for (seg, sel) in [(CS, cs), (SS, ss), (ES, es), (DS, ds), (FS, fs), (GS, gs)] {
            self.cpu.seg[seg] = descriptor::selector_x16(sel as u16, seg == CS, 3);
        }
        self.cpu.gpr[super::ESP] = esp;
        Ok(())
    }

    /// IRET inside virtual-8086 mode: allowed at IOPL 3 (a real-mode style return that
    /// keeps VM and IOPL), #GP(0) otherwise.
    pub(crate) fn iret_in_v86(&mut self, osize: u8) -> Result<(), Exception> {
        if self.cpu.iopl() < 3 {
            return Err(Exception::GeneralProtection(0));
        }
        let o = osize as u32;
        let eip = self.stack_peek(0, osize)?;
        let cs = self.stack_peek(o, osize)? as u16;
        let fl = self.stack_peek(2 * o, osize)?;
        if eip > 0xffff {
            return Err(Exception::GeneralProtection(0));
        }
        self.set_sp(self.sp_add(3 * o));
        self.cpu.seg[CS] = descriptor::selector_x16(cs, true, 3);
        self.cpu.eip = eip;
        self.write_eflags_checked(fl, osize, true);
        Ok(())
    }

    /// For an interrupt taken in virtual-8086 mode: pushes GS, FS, DS, ES on the ring-0
    /// stack under construction (before SS:ESP) and returns the selectors to null.
    pub(crate) fn v86_push_data_segments(
        &mut self,
        st: &mut NewStack,
        size: u8,
    ) -> Result<(), Exception> {
        for seg in [GS, FS, DS, ES] {
            let sel = self.cpu.seg[seg].selector as u32;
            self.push_new(st, size, sel)?;
        }
        Ok(())
    }

    /// After the interrupt frame is committed: the data segment registers are null in
    /// the protected-mode handler.
    pub(crate) fn v86_null_data_segments(&mut self) {
        for seg in [GS, FS, DS, ES] {
            self.cpu.seg[seg] = Segment {
                selector: 0,
                base: 0,
                limit: 0,
                attrs: 0,
            };
        }
    }
}
