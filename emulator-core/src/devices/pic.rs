//! The 8259A programmable interrupt controller, and the cascaded master/slave pair of a PC.
//!
//! ICW1–ICW4, OCW1–OCW3, IRR/ISR/IMR, rotating and fixed priority, specific and
//! non-specific EOI, automatic EOI, special mask mode, special fully nested mode,
//! poll mode, edge- and level-triggered inputs, and spurious IRQ 7/15.

use serde::{Deserialize, Serialize};

use super::IrqSink;

/// The registers of one 8259A.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PicState {
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register (OCW1).
    pub imr: u8,
    /// Current input line levels (for edge detection).
    pub lines: u8,
    /// Level-triggered inputs (ICW1.LTIM sets all eight).
    pub level_triggered: u8,
    /// Bit 0 of the lowest-priority-plus-one rotation: IRQ `priority_add` has top priority.
    pub priority_add: u8,
    /// Vector base from ICW2 (bits 7..3).
    pub vector_base: u8,
    /// OCW3 RR/RIS: a read of offset 0 returns the ISR (true) or the IRR (false).
    pub read_isr: bool,
    /// OCW3 poll command pending for the next read.
    pub poll: bool,
    /// OCW3 special mask mode.
    pub special_mask: bool,
    /// ICW4 special fully nested mode.
    pub special_fully_nested: bool,
    /// ICW4 automatic EOI.
    pub auto_eoi: bool,
    /// OCW2 rotate in automatic EOI mode.
    pub rotate_on_auto_eoi: bool,
    /// ICW1 SNGL: no cascade, so no ICW3.
    pub single: bool,
    /// ICW1 IC4: an ICW4 follows.
    pub icw4_needed: bool,
    /// Initialization step: 0 = operational, 1/2/3 = expecting ICW2/ICW3/ICW4.
    pub init_step: u8,
}

/// One 8259A, addressed at offsets 0 (command) and 1 (data).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pic {
    s: PicState,
}

impl Pic {
    /// A PIC in its power-on state (all inputs unmasked, vector base 0).
    pub fn new() -> Self {
        Pic::default()
    }

    /// The registers, for snapshots and the UI.
    pub fn state(&self) -> &PicState {
        &self.s
    }

    /// Restores the registers.
    pub fn restore(&mut self, s: &PicState) {
        self.s = s.clone();
    }

    /// Drives input line `line` (0–7).
    pub fn set_line(&mut self, line: u8, level: bool) {
        let mask = 1u8 << (line & 7);
        if self.s.level_triggered & mask != 0 {
            if level {
                self.s.irr |= mask;
            } else {
                self.s.irr &= !mask;
            }
        } else if level && self.s.lines & mask == 0 {
            self.s.irr |= mask;
        }
        if level {
            self.s.lines |= mask;
        } else {
            self.s.lines &= !mask;
        }
    }

    /// Priority (0 = highest) of the highest-priority bit in `mask`, 8 if none.
    fn priority(&self, mask: u8) -> u8 {
        if mask == 0 {
            return 8;
        }
        let mut p = 0;
        while mask & (1 << ((p + self.s.priority_add) & 7)) == 0 {
            p += 1;
        }
        p
    }

    /// The input line the PIC would signal now, if any (`is_master` enables the special
    /// fully nested treatment of the cascade input 2).
    fn pending(&self, is_master: bool) -> Option<u8> {
        let p = self.priority(self.s.irr & !self.s.imr);
        if p == 8 {
            return None;
        }
        let mut in_service = self.s.isr;
        if self.s.special_mask {
            in_service &= !self.s.imr;
        }
        if self.s.special_fully_nested && is_master {
            in_service &= !(1 << 2);
        }
        (p < self.priority(in_service)).then_some((p + self.s.priority_add) & 7)
    }

    /// The INTA cycle for `line`: set ISR (unless automatic EOI), clear an edge request.
    fn intack(&mut self, line: u8) {
        let mask = 1u8 << line;
        if self.s.auto_eoi {
            if self.s.rotate_on_auto_eoi {
                self.s.priority_add = (line + 1) & 7;
            }
        } else {
            self.s.isr |= mask;
        }
        if self.s.level_triggered & mask == 0 {
            self.s.irr &= !mask;
        }
    }

    /// ICW1: starts initialization (SDM-era 8259A datasheet behaviour).
    fn icw1(&mut self, value: u8) {
        let lines = self.s.lines;
        self.s = PicState {
            lines,
            level_triggered: if value & 0x08 != 0 { 0xff } else { 0 },
            single: value & 0x02 != 0,
            icw4_needed: value & 0x01 != 0,
            init_step: 1,
            ..PicState::default()
        };
    }

    /// OCW2: EOI and rotation commands.
    fn ocw2(&mut self, value: u8) {
        let level = value & 7;
        match value >> 5 {
            0 => self.s.rotate_on_auto_eoi = false,
            4 => self.s.rotate_on_auto_eoi = true,
            cmd @ (1 | 5) => {
                let p = self.priority(self.s.isr);
                if p != 8 {
                    let line = (p + self.s.priority_add) & 7;
                    self.s.isr &= !(1 << line);
                    if cmd == 5 {
                        self.s.priority_add = (line + 1) & 7;
                    }
                }
            }
            3 => self.s.isr &= !(1 << level),
            6 => self.s.priority_add = (level + 1) & 7,
            7 => {
                self.s.isr &= !(1 << level);
                self.s.priority_add = (level + 1) & 7;
            }
            _ => {} // 2: no operation
        }
    }

    /// Poll command read: acknowledges the highest request like INTA.
    fn poll_read(&mut self, is_master: bool) -> u8 {
        match self.pending(is_master) {
            Some(line) => {
                self.intack(line);
                0x80 | line
            }
            None => 0,
        }
    }

    fn read_reg(&mut self, offset: u16, is_master: bool) -> u8 {
        if self.s.poll {
            self.s.poll = false;
            return self.poll_read(is_master);
        }
        match offset & 1 {
            0 if self.s.read_isr => self.s.isr,
            0 => self.s.irr,
            _ => self.s.imr,
        }
    }

    fn write_reg(&mut self, offset: u16, value: u8) {
        if offset & 1 == 0 {
            if value & 0x10 != 0 {
                self.icw1(value);
            } else if value & 0x08 != 0 {
                if value & 0x04 != 0 {
                    self.s.poll = true;
                }
                if value & 0x02 != 0 {
                    self.s.read_isr = value & 1 != 0;
                }
                if value & 0x40 != 0 {
                    self.s.special_mask = value & 0x20 != 0;
                }
            } else {
                self.ocw2(value);
            }
            return;
        }
        match self.s.init_step {
            1 => {
                self.s.vector_base = value & 0xf8;
                self.s.init_step = match (self.s.single, self.s.icw4_needed) {
                    (false, _) => 2,
                    (true, true) => 3,
                    (true, false) => 0,
                };
            }
            2 => self.s.init_step = if self.s.icw4_needed { 3 } else { 0 },
            3 => {
                self.s.special_fully_nested = value & 0x10 != 0;
                self.s.auto_eoi = value & 0x02 != 0;
                self.s.init_step = 0;
            }
            _ => self.s.imr = value,
        }
    }
}

/// The PC's two 8259As: the master at 0x20 (IRQ 0–7) and the slave at 0xA0 (IRQ 8–15)
/// cascaded into the master's input 2.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PicPair {
    /// The master PIC.
    pub master: Pic,
    /// The slave PIC.
    pub slave: Pic,
}

impl PicPair {
    /// Both PICs in their power-on state.
    pub fn new() -> Self {
        PicPair::default()
    }

    /// Propagates the slave's INT output to the master's cascade input.
    fn cascade(&mut self) {
        let slave_int = self.slave.pending(false).is_some();
        self.master.set_line(2, slave_int);
    }

    /// The master's INT output: an interrupt should be delivered to the CPU.
    pub fn interrupt_pending(&self) -> bool {
        self.master.pending(true).is_some()
    }

    /// The INTA cycle: the vector to deliver and the IRQ it came from.
    ///
    /// When the request went away between INT and INTA the PIC answers with a
    /// spurious IRQ 7 (master) or 15 (slave), whose ISR bit is not set.
    pub fn acknowledge(&mut self) -> (u8, u8) {
        let result = match self.master.pending(true) {
            Some(2) if !self.master.s.single => {
                let (vector, irq) = match self.slave.pending(false) {
                    Some(line) => {
                        self.slave.intack(line);
                        (self.slave.s.vector_base | line, 8 + line)
                    }
                    None => (self.slave.s.vector_base | 7, 15),
                };
                self.master.intack(2);
                (vector, irq)
            }
            Some(line) => {
                self.master.intack(line);
                (self.master.s.vector_base | line, line)
            }
            None => (self.master.s.vector_base | 7, 7),
        };
        self.cascade();
        result
    }

    /// A read of the master (`slave == false`) or the slave PIC at `offset`.
    pub fn read_chip(&mut self, slave: bool, offset: u16) -> u8 {
        let v = if slave {
            self.slave.read_reg(offset, false)
        } else {
            self.master.read_reg(offset, true)
        };
        self.cascade();
        v
    }

    /// A write to the master or the slave PIC at `offset`.
    pub fn write_chip(&mut self, slave: bool, offset: u16, value: u8) {
        if slave {
            self.slave.write_reg(offset, value);
        } else {
            self.master.write_reg(offset, value);
        }
        self.cascade();
    }

    /// Back to the power-on state.
    pub fn reset(&mut self) {
        *self = PicPair::default();
    }

    /// Both chips' registers (master, slave).
    pub fn snapshot(&self) -> [PicState; 2] {
        [self.master.s.clone(), self.slave.s.clone()]
    }

    /// Restores both chips.
    pub fn restore(&mut self, s: &[PicState; 2]) {
        self.master.s = s[0].clone();
        self.slave.s = s[1].clone();
    }
}

impl IrqSink for PicPair {
    fn set_irq(&mut self, irq: u8, level: bool) {
        match irq {
            0..=7 => self.master.set_line(irq, level),
            8..=15 => self.slave.set_line(irq - 8, level),
            _ => return,
        }
        self.cascade();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usual PC initialization: master at 0x20, slave at 0x28, cascade on IRQ 2.
    fn pc_init(p: &mut PicPair, icw4: u8) {
        p.write_chip(false, 0, 0x11);
        p.write_chip(false, 1, 0x20);
        p.write_chip(false, 1, 0x04);
        p.write_chip(false, 1, icw4);
        p.write_chip(true, 0, 0x11);
        p.write_chip(true, 1, 0x28);
        p.write_chip(true, 1, 0x02);
        p.write_chip(true, 1, icw4);
        p.write_chip(false, 1, 0);
        p.write_chip(true, 1, 0);
    }

    fn pulse(p: &mut PicPair, irq: u8) {
        p.set_irq(irq, true);
        p.set_irq(irq, false);
    }

    #[test]
    fn init_sequence_sets_vector_bases() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        assert_eq!(p.master.state().vector_base, 0x20);
        assert_eq!(p.slave.state().vector_base, 0x28);
        assert_eq!(p.master.state().init_step, 0);
        assert!(!p.master.state().auto_eoi);
        p.write_chip(false, 1, 0xa5);
        assert_eq!(p.read_chip(false, 1), 0xa5);
    }

    #[test]
    fn single_mode_without_icw4_skips_icw3() {
        let mut p = PicPair::new();
        p.write_chip(false, 0, 0x12); // single, no ICW4
        p.write_chip(false, 1, 0x40);
        assert_eq!(p.master.state().init_step, 0);
        p.write_chip(false, 1, 0x3c); // now OCW1
        assert_eq!(p.read_chip(false, 1), 0x3c);
    }

    #[test]
    fn edge_triggered_request_is_acknowledged_and_eoi_clears_isr() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        assert!(!p.interrupt_pending());
        pulse(&mut p, 0);
        assert!(p.interrupt_pending());
        assert_eq!(p.read_chip(false, 0), 0x01, "IRR");
        assert_eq!(p.acknowledge(), (0x20, 0));
        assert!(!p.interrupt_pending());
        p.write_chip(false, 0, 0x0b); // OCW3: read ISR
        assert_eq!(p.read_chip(false, 0), 0x01, "ISR");
        // A second edge while in service is latched but blocked by priority.
        pulse(&mut p, 0);
        assert!(!p.interrupt_pending());
        p.write_chip(false, 0, 0x20); // non-specific EOI
        assert_eq!(p.read_chip(false, 0), 0x00, "ISR after EOI");
        assert!(p.interrupt_pending());
        // A held-high line does not retrigger an edge input.
        assert_eq!(p.acknowledge(), (0x20, 0));
        p.write_chip(false, 0, 0x20);
        p.set_irq(1, true);
        assert_eq!(p.acknowledge(), (0x21, 1));
        p.write_chip(false, 0, 0x20);
        p.set_irq(1, true);
        assert!(!p.interrupt_pending());
    }

    #[test]
    fn priority_nesting_and_specific_eoi() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        pulse(&mut p, 3);
        assert_eq!(p.acknowledge(), (0x23, 3));
        pulse(&mut p, 5);
        assert!(!p.interrupt_pending(), "lower priority waits");
        pulse(&mut p, 1);
        assert_eq!(p.acknowledge(), (0x21, 1), "higher priority nests");
        p.write_chip(false, 0, 0x63); // specific EOI for IRQ 3
        p.write_chip(false, 0, 0x0b);
        assert_eq!(p.read_chip(false, 0), 0x02);
        assert!(!p.interrupt_pending(), "IRQ 1 still in service");
        p.write_chip(false, 0, 0x20);
        assert_eq!(p.acknowledge(), (0x25, 5));
    }

    #[test]
    fn masked_lines_wait_in_irr() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        p.write_chip(false, 1, 0x01);
        pulse(&mut p, 0);
        assert!(!p.interrupt_pending());
        assert_eq!(p.read_chip(false, 0), 0x01);
        p.write_chip(false, 1, 0x00);
        assert!(p.interrupt_pending());
    }

    #[test]
    fn cascade_delivers_slave_vectors_and_needs_two_eois() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        pulse(&mut p, 12);
        assert!(p.interrupt_pending());
        assert_eq!(p.acknowledge(), (0x2c, 12));
        p.write_chip(false, 0, 0x0b);
        p.write_chip(true, 0, 0x0b);
        assert_eq!(p.read_chip(false, 0), 0x04, "master ISR has the cascade");
        assert_eq!(p.read_chip(true, 0), 0x10, "slave ISR has line 4");
        pulse(&mut p, 9);
        assert!(!p.interrupt_pending());
        p.write_chip(true, 0, 0x20);
        // The slave now requests again, but the master still has IRQ 2 in service.
        assert!(!p.interrupt_pending());
        p.write_chip(false, 0, 0x20);
        assert_eq!(p.acknowledge(), (0x29, 9));
        // Masking the cascade input on the master hides the slave.
        p.write_chip(true, 0, 0x20);
        p.write_chip(false, 0, 0x20);
        p.write_chip(false, 1, 0x04);
        pulse(&mut p, 15);
        assert!(!p.interrupt_pending());
    }

    #[test]
    fn spurious_interrupts_report_irq7_and_irq15() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        assert_eq!(p.acknowledge(), (0x27, 7));
        p.write_chip(false, 0, 0x0b);
        assert_eq!(p.read_chip(false, 0), 0, "spurious IRQ 7 sets no ISR bit");
        // A slave request that disappears before INTA.
        p.master.s.irr |= 0x04;
        assert_eq!(p.acknowledge(), (0x2f, 15));
        p.write_chip(true, 0, 0x0b);
        assert_eq!(p.read_chip(true, 0), 0);
    }

    #[test]
    fn level_triggered_requests_follow_the_line() {
        let mut p = PicPair::new();
        p.write_chip(false, 0, 0x19); // LTIM, cascade, ICW4
        p.write_chip(false, 1, 0x08);
        p.write_chip(false, 1, 0x04);
        p.write_chip(false, 1, 0x01);
        p.write_chip(false, 1, 0xfb);
        p.set_irq(2, false);
        p.master.set_line(2, false);
        p.master.s.imr = 0;
        p.master.set_line(3, true);
        assert!(p.master.pending(true).is_some());
        p.master.set_line(3, false);
        assert!(p.master.pending(true).is_none());
    }

    #[test]
    fn auto_eoi_and_rotation() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x03); // auto EOI
        pulse(&mut p, 4);
        assert_eq!(p.acknowledge(), (0x24, 4));
        p.write_chip(false, 0, 0x0b);
        assert_eq!(p.read_chip(false, 0), 0, "no ISR bit in auto-EOI mode");
        // Rotate in auto-EOI: the serviced line becomes lowest priority.
        p.write_chip(false, 0, 0x80);
        pulse(&mut p, 4);
        assert_eq!(p.acknowledge(), (0x24, 4));
        assert_eq!(p.master.state().priority_add, 5);
        pulse(&mut p, 4);
        pulse(&mut p, 6);
        assert_eq!(p.acknowledge(), (0x26, 6), "line 6 now outranks line 4");
        // Set priority: line 1 lowest, so line 2.. highest.
        p.write_chip(false, 0, 0xc1);
        assert_eq!(p.master.state().priority_add, 2);
    }

    #[test]
    fn rotate_on_non_specific_eoi() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        pulse(&mut p, 0);
        assert_eq!(p.acknowledge(), (0x20, 0));
        p.write_chip(false, 0, 0xa0); // rotate on non-specific EOI
        assert_eq!(p.master.state().priority_add, 1);
        pulse(&mut p, 0);
        pulse(&mut p, 7);
        assert_eq!(p.acknowledge(), (0x27, 7));
        p.write_chip(false, 0, 0xe7); // rotate on specific EOI 7
        assert_eq!(p.master.state().priority_add, 0);
    }

    #[test]
    fn special_mask_mode_allows_lower_priority() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        pulse(&mut p, 1);
        assert_eq!(p.acknowledge(), (0x21, 1));
        p.write_chip(false, 1, 0x02); // mask the in-service line
        p.write_chip(false, 0, 0x68); // set special mask
        pulse(&mut p, 5);
        assert_eq!(p.acknowledge(), (0x25, 5));
        p.write_chip(false, 0, 0x48); // reset special mask
        assert!(!p.master.state().special_mask);
    }

    #[test]
    fn poll_command_reads_and_acknowledges() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        p.write_chip(false, 0, 0x0c);
        assert_eq!(p.read_chip(false, 0), 0x00, "nothing pending");
        pulse(&mut p, 6);
        p.write_chip(false, 0, 0x0c);
        assert_eq!(p.read_chip(false, 0), 0x86);
        p.write_chip(false, 0, 0x0b);
        assert_eq!(p.read_chip(false, 0), 0x40);
    }

    #[test]
    fn special_fully_nested_lets_slave_interrupt_nest() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x11);
        pulse(&mut p, 10);
        assert_eq!(p.acknowledge(), (0x2a, 10));
        pulse(&mut p, 8);
        assert!(
            p.interrupt_pending(),
            "higher slave request passes the master"
        );
        assert_eq!(p.acknowledge(), (0x28, 8));
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut p = PicPair::new();
        pc_init(&mut p, 0x01);
        pulse(&mut p, 3);
        let s = p.snapshot();
        let mut q = PicPair::new();
        q.restore(&s);
        assert_eq!(p, q);
        assert_eq!(q.acknowledge(), (0x23, 3));
    }
}
