//! The I/O APIC: an index/data window onto its ID, version and 24-entry
//! redirection table, which turns an interrupt input into a message to local APICs.

use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::devices::{IrqSink, PicPair};

/// Interrupt inputs (redirection entries).
pub const PINS: usize = 24;
/// The index register's offset.
pub const IOREGSEL: u32 = 0x00;
/// The data window's offset.
pub const IOWIN: u32 = 0x10;
/// The version register: version 0x11, 24 entries.
pub const VERSION: u32 = 0x0017_0011;

/// A redirection entry's mask bit (bit 16).
const MASKED: u64 = 1 << 16;
/// Remote IRR (bit 14): a level-triggered interrupt was sent and not yet EOI'd.
const REMOTE_IRR: u64 = 1 << 14;
/// Trigger mode level (bit 15).
const LEVEL: u64 = 1 << 15;

/// The I/O APIC input ISA IRQ `irq` arrives on.
pub fn isa_pin(irq: u8) -> usize {
    if irq == 0 {
        2
    } else {
        irq as usize
    }
}

/// The platform's interrupt lines: each level goes to the 8259 pair and to the
/// I/O APIC.
#[derive(Debug)]
pub struct IrqLines<'a> {
    /// The 8259 pair.
    pub pic: &'a mut PicPair,
    /// The I/O APIC.
    pub io: &'a mut IoApic,
}

impl IrqSink for IrqLines<'_> {
    fn set_irq(&mut self, irq: u8, level: bool) {
        self.pic.set_irq(irq, level);
        self.io.set_isa_irq(irq, level);
    }
}

/// A redirected interrupt: where and how one input goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Redirect {
    /// The vector.
    pub vector: u8,
    /// Delivery mode bits (0: fixed, 1: lowest priority, 4: NMI, 7: ExtINT).
    pub delivery: u8,
    /// Logical destination mode.
    pub logical: bool,
    /// Level-triggered.
    pub level: bool,
    /// The destination APIC ID (or logical mask).
    pub dest: u8,
}

/// The I/O APIC's registers and input levels.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct IoApic {
    /// The ID register's value (bits 24–27).
    pub id: u8,
    /// The selected register.
    pub select: u8,
    /// The redirection table, one 64-bit entry per input.
    pub table: Vec<u64>,
    /// The level last seen on each input.
    pub levels: Vec<bool>,
    /// Interrupts sent to local APICs.
    pub delivered: u64,
    /// Interrupts sent by device lines and not yet delivered by the machine.
    #[serde(skip)]
    pub(crate) outbox: Vec<Redirect>,
}

impl Default for IoApic {
    fn default() -> Self {
        IoApic::new()
    }
}

impl IoApic {
    /// Power-on: every entry masked.
    pub fn new() -> IoApic {
        IoApic {
            id: 0,
            select: 0,
            table: vec![MASKED; PINS],
            levels: vec![false; PINS],
            delivered: 0,
            outbox: Vec::new(),
        }
    }

    /// Input `pin`'s entry is masked.
    pub fn masked(&self, pin: usize) -> bool {
        self.entry(pin) & MASKED != 0
    }

    /// ISA IRQ `irq` went to `level`: its input is the same number but IRQ 0 (the
    /// PIT), which arrives on input 2 as the MP table says. What it sends waits in
    /// the outbox for the machine.
    pub fn set_isa_irq(&mut self, irq: u8, level: bool) {
        if let Some(r) = self.set_irq(isa_pin(irq), level) {
            self.outbox.push(r);
        }
    }

    fn entry(&self, pin: usize) -> u64 {
        self.table.get(pin).copied().unwrap_or(MASKED)
    }

    fn register(&self, index: u8) -> u32 {
        match index {
            0 => (self.id as u32) << 24,
            1 => VERSION,
            2 => (self.id as u32) << 24,
            i @ 0x10..=0x3f => {
                let e = self.entry(((i - 0x10) / 2) as usize);
                if i & 1 == 0 {
                    e as u32
                } else {
                    (e >> 32) as u32
                }
            }
            _ => 0,
        }
    }

    /// Reads at `offset` in the window.
    pub fn read(&self, offset: u32) -> u32 {
        match offset {
            IOREGSEL => self.select as u32,
            IOWIN => self.register(self.select),
            _ => 0,
        }
    }

    /// Writes at `offset`; returns an interrupt an unmasked entry now sends (a level
    /// input held high whose entry was just unmasked).
    pub fn write(&mut self, offset: u32, value: u32) -> Option<Redirect> {
        match offset {
            IOREGSEL => self.select = value as u8,
            IOWIN => match self.select {
                0 => self.id = ((value >> 24) & 0xf) as u8,
                i @ 0x10..=0x3f => {
                    let pin = ((i - 0x10) / 2) as usize;
                    let e = self.table.get_mut(pin)?;
                    *e = if i & 1 == 0 {
                        // remote IRR and delivery status are read-only
                        (*e & !0xffff_afff) | (value as u64 & 0xffff_afff)
                    } else {
                        (*e & 0xffff_ffff) | ((value as u64 & 0xff00_0000) << 32)
                    };
                    if self.levels.get(pin) == Some(&true) {
                        return self.fire(pin);
                    }
                }
                _ => {}
            },
            _ => {}
        }
        None
    }

    /// Input `pin` goes to `level`: a rising edge (or a held level with no
    /// interrupt outstanding) sends the entry's interrupt unless it is masked.
    pub fn set_irq(&mut self, pin: usize, level: bool) -> Option<Redirect> {
        let was = core::mem::replace(self.levels.get_mut(pin)?, level);
        let e = self.entry(pin);
        if !level || (was && e & LEVEL == 0) {
            return None;
        }
        self.fire(pin)
    }

    fn fire(&mut self, pin: usize) -> Option<Redirect> {
        let e = self.table.get_mut(pin)?;
        if *e & MASKED != 0 || *e & REMOTE_IRR != 0 {
            return None;
        }
        let level = *e & LEVEL != 0;
        if level {
            *e |= REMOTE_IRR;
        }
        self.delivered += 1;
        Some(Redirect {
            vector: *e as u8,
            delivery: ((*e >> 8) & 7) as u8,
            logical: *e & (1 << 11) != 0,
            level,
            dest: (*e >> 56) as u8,
        })
    }

    /// A local APIC's EOI of level-triggered `vector`: entries on it may fire again.
    pub fn eoi(&mut self, vector: u8) -> Vec<Redirect> {
        let mut again = Vec::new();
        for pin in 0..self.table.len() {
            let e = &mut self.table[pin];
            if *e & REMOTE_IRR != 0 && *e as u8 == vector {
                *e &= !REMOTE_IRR;
                if self.levels.get(pin) == Some(&true) {
                    again.extend(self.fire(pin));
                }
            }
        }
        again
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(io: &mut IoApic, pin: u8, low: u32, high: u32) {
        io.write(IOREGSEL, 0x10 + 2 * pin as u32);
        io.write(IOWIN, low);
        io.write(IOREGSEL, 0x11 + 2 * pin as u32);
        io.write(IOWIN, high);
    }

    #[test]
    fn an_unmasked_edge_entry_sends_on_each_rising_edge() {
        let mut io = IoApic::new();
        io.write(IOREGSEL, 1);
        assert_eq!(io.read(IOWIN), VERSION);
        assert_eq!(io.set_irq(2, true), None, "masked at power-on");
        io.set_irq(2, false);
        program(&mut io, 2, 0x30, 1 << 24);
        io.write(IOREGSEL, 0x15);
        assert_eq!(io.read(IOWIN), 1 << 24);
        let r = io.set_irq(2, true).expect("sent");
        assert_eq!((r.vector, r.dest, r.level), (0x30, 1, false));
        assert_eq!(io.set_irq(2, true), None, "no new edge");
        io.set_irq(2, false);
        assert!(io.set_irq(2, true).is_some());
        assert_eq!(io.set_irq(99, true), None, "no such pin");
    }

    #[test]
    fn a_level_entry_waits_for_the_eoi() {
        let mut io = IoApic::new();
        program(&mut io, 5, 0x8000 | 0x41, 0);
        assert!(io.set_irq(5, true).is_some());
        assert_eq!(io.set_irq(5, true), None, "remote IRR is set");
        let again = io.eoi(0x41);
        assert_eq!(again.len(), 1, "still asserted: sent again");
        io.set_irq(5, false);
        assert!(io.eoi(0x41).is_empty());
    }
}
