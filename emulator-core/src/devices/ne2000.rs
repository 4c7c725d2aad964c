//! An NE2000-compatible NIC (the RTL8029 on PCI): the DP8390's register pages 0–2,
//! 32 KiB of packet memory the driver reaches by remote DMA through the data port, the
//! receive ring (PSTART/PSTOP/BNRY/CURR), transmit from the TX buffer, ISR/IMR and the
//! reset port. Every register access is one port access, so one exit under a VMM.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The RTL8029's PCI vendor ID (Realtek).
pub const VENDOR: u16 = 0x10ec;
/// The RTL8029's PCI device ID.
pub const DEVICE_ID: u16 = 0x8029;
/// The I/O BAR's size: 16 DP8390 registers, the data port at 0x10, reset at 0x1F.
pub const BAR0_SIZE: u16 = 32;
/// The data port's offset (remote DMA).
pub const DATA_PORT: u16 = 0x10;
/// The reset port's offset: a read resets the chip.
pub const RESET_PORT: u16 = 0x1f;
/// The packet memory: 16 KiB words at 0x4000–0x7FFF (pages 0x40–0x7F).
pub const MEM_START: usize = 0x4000;
/// One past the packet memory.
pub const MEM_END: usize = 0x8000;
/// The largest frame carried (without the FCS).
pub const MAX_FRAME: usize = 1514;
/// Frames the guest sent that the host holds at most.
pub const HELD: usize = 64;

/// Command register bits.
pub const CR_STP: u8 = 0x01;
/// Start.
pub const CR_STA: u8 = 0x02;
/// Transmit packet.
pub const CR_TXP: u8 = 0x04;
/// Interrupt status bits: packet received.
pub const ISR_PRX: u8 = 0x01;
/// Packet transmitted.
pub const ISR_PTX: u8 = 0x02;
/// Receive ring overwrite warning (a frame was dropped: no room).
pub const ISR_OVW: u8 = 0x10;
/// Remote DMA complete.
pub const ISR_RDC: u8 = 0x40;
/// Reset status.
pub const ISR_RST: u8 = 0x80;
/// Receive configuration: accept broadcast.
pub const RCR_AB: u8 = 0x04;
/// Accept multicast (through the MAR hash).
pub const RCR_AM: u8 = 0x08;
/// Promiscuous.
pub const RCR_PRO: u8 = 0x10;

/// The chip's registers, packet memory and counters.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Ne2000State {
    /// Command register (page select, remote DMA command, start/stop).
    pub cr: u8,
    /// First receive page.
    pub pstart: u8,
    /// One past the last receive page.
    pub pstop: u8,
    /// Boundary: the last page the driver has read.
    pub bnry: u8,
    /// Current page: where the next received frame goes.
    pub curr: u8,
    /// Transmit page start.
    pub tpsr: u8,
    /// Transmit byte count.
    pub tbcr: u16,
    /// Interrupt status.
    pub isr: u8,
    /// Interrupt mask.
    pub imr: u8,
    /// Remote DMA start address (moves as the driver reads or writes the data port).
    pub rsar: u16,
    /// Remote DMA bytes left.
    pub rbcr: u16,
    /// Receive configuration.
    pub rcr: u8,
    /// Transmit configuration.
    pub tcr: u8,
    /// Data configuration.
    pub dcr: u8,
    /// Transmit status.
    pub tsr: u8,
    /// Receive status of the last frame.
    pub rsr: u8,
    /// Physical address registers (page 1).
    pub par: [u8; 6],
    /// Multicast address hash registers (page 1).
    pub mar: [u8; 8],
    /// The address PROM (station address, each byte twice) and packet memory,
    /// addressed as remote DMA addresses 0x0000–0x7FFF.
    pub mem: Vec<u8>,
    /// Frames the guest sent that the host has not taken.
    pub to_host: VecDeque<Vec<u8>>,
    /// Frames the guest sent.
    pub sent: u64,
    /// Frames written into the receive ring.
    pub received: u64,
    /// Frames dropped: stopped, filtered out, no room in the ring, or too long.
    pub dropped: u64,
    /// Rising edges of the interrupt line (ISR & IMR becoming non-zero).
    pub interrupts: u64,
    /// Bytes moved through the data port by remote DMA.
    pub dma_bytes: u64,
}

impl Default for Ne2000State {
    fn default() -> Ne2000State {
        Ne2000State {
            cr: CR_STP | 0x20,
            pstart: 0x46,
            pstop: 0x80,
            bnry: 0x46,
            curr: 0x47,
            tpsr: 0x40,
            tbcr: 0,
            isr: ISR_RST,
            imr: 0,
            rsar: 0,
            rbcr: 0,
            rcr: 0,
            tcr: 0,
            dcr: 0,
            tsr: 0,
            rsr: 0,
            par: [0; 6],
            mar: [0; 8],
            mem: vec![0; MEM_END],
            to_host: VecDeque::new(),
            sent: 0,
            received: 0,
            dropped: 0,
            interrupts: 0,
            dma_bytes: 0,
        }
    }
}

/// An NE2000 (RTL8029) network card.
#[derive(Clone, Debug)]
pub struct Ne2000 {
    state: Ne2000State,
    mac: [u8; 6],
}

impl Ne2000 {
    /// A card whose PROM holds `mac`, reset.
    pub fn new(mac: [u8; 6]) -> Ne2000 {
        let mut n = Ne2000 {
            state: Ne2000State::default(),
            mac,
        };
        n.reset();
        n
    }

    /// The registers and counters.
    pub fn state(&self) -> &Ne2000State {
        &self.state
    }

    /// Hardware reset (the reset port, or the machine's): registers to their power-on
    /// values, the PROM rewritten; the counters and held frames stay.
    pub fn reset(&mut self) {
        let s = &mut self.state;
        let keep = (core::mem::take(&mut s.mem), core::mem::take(&mut s.to_host));
        let counters = (s.sent, s.received, s.dropped, s.interrupts, s.dma_bytes);
        *s = Ne2000State {
            mem: keep.0,
            to_host: keep.1,
            ..Ne2000State::default()
        };
        (s.sent, s.received, s.dropped, s.interrupts, s.dma_bytes) = counters;
        s.mem.resize(MEM_END, 0);
        for (i, b) in self.mac.iter().enumerate() {
            s.mem[2 * i] = *b;
            s.mem[2 * i + 1] = *b;
        }
        // Bytes 0x1C–0x1F: 'W' 'W' marks a word-wide NE2000 card.
        s.mem[0x1c] = 0x57;
        s.mem[0x1d] = 0x57;
        s.mem[0x1e] = 0x57;
        s.mem[0x1f] = 0x57;
    }

    /// Restores from a snapshot (packet memory cut or padded to its size).
    pub fn restore(&mut self, s: &Ne2000State) {
        self.state = s.clone();
        self.state.mem.resize(MEM_END, 0);
    }

    /// The INTx level: an unmasked interrupt status bit is set.
    pub fn irq_level(&self) -> bool {
        self.state.isr & self.state.imr & 0x7f != 0
    }

    /// Takes the frames the guest sent, oldest first.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        self.state.to_host.drain(..).collect()
    }

    /// A read of the I/O BAR at `offset`, `size` bytes.
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        match offset {
            DATA_PORT => self.data_read(size),
            RESET_PORT => {
                self.with_irq(Ne2000::reset);
                0
            }
            0 => u32::from(self.state.cr),
            1..=0x0f => u32::from(self.register(offset as u8)),
            _ => 0xff,
        }
    }

    /// A write to the I/O BAR at `offset`.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        match offset {
            DATA_PORT => self.data_write(size, value),
            0 => self.with_irq(|n| n.command(value as u8)),
            1..=0x0f => self.with_irq(|n| n.set_register(offset as u8, value as u8)),
            _ => {}
        }
    }

    /// Runs `f`, counting a rising edge of the interrupt line.
    fn with_irq(&mut self, f: impl FnOnce(&mut Ne2000)) {
        let before = self.irq_level();
        f(self);
        if !before && self.irq_level() {
            self.state.interrupts += 1;
        }
    }

    /// The page the command register selects.
    fn page(&self) -> u8 {
        self.state.cr >> 6
    }

    /// A register read on the selected page.
    fn register(&self, r: u8) -> u8 {
        let s = &self.state;
        match (self.page(), r) {
            (0, 0x03) | (2, 0x03) => s.bnry,
            (0, 0x04) => s.tsr,
            (0, 0x07) => s.isr,
            (0, 0x08) => s.rsar as u8,
            (0, 0x09) => (s.rsar >> 8) as u8,
            // The RTL8029's ID registers: 'P', 'C'.
            (0, 0x0a) => 0x50,
            (0, 0x0b) => 0x43,
            (0, 0x0c) => s.rsr,
            (0, _) => 0,
            (1, 0x01..=0x06) => s.par[usize::from(r - 1)],
            (1, 0x07) => s.curr,
            (1, _) => s.mar[usize::from(r - 8)],
            (2, 0x01) => s.pstart,
            (2, 0x02) => s.pstop,
            (2, 0x04) => s.tpsr,
            (2, 0x0c) => s.rcr,
            (2, 0x0d) => s.tcr,
            (2, 0x0e) => s.dcr,
            (2, 0x0f) => s.imr,
            _ => 0,
        }
    }

    /// A register write on the selected page (page 2 is read-only on the RTL8029).
    fn set_register(&mut self, r: u8, v: u8) {
        let page = self.page();
        let s = &mut self.state;
        match (page, r) {
            (0, 0x01) => s.pstart = v,
            (0, 0x02) => s.pstop = v,
            (0, 0x03) => s.bnry = v,
            (0, 0x04) => s.tpsr = v,
            (0, 0x05) => s.tbcr = (s.tbcr & 0xff00) | u16::from(v),
            (0, 0x06) => s.tbcr = (s.tbcr & 0x00ff) | u16::from(v) << 8,
            (0, 0x07) => s.isr &= !(v & 0x7f),
            (0, 0x08) => s.rsar = (s.rsar & 0xff00) | u16::from(v),
            (0, 0x09) => s.rsar = (s.rsar & 0x00ff) | u16::from(v) << 8,
            (0, 0x0a) => s.rbcr = (s.rbcr & 0xff00) | u16::from(v),
            (0, 0x0b) => s.rbcr = (s.rbcr & 0x00ff) | u16::from(v) << 8,
            (0, 0x0c) => s.rcr = v,
            (0, 0x0d) => s.tcr = v,
            (0, 0x0e) => s.dcr = v,
            (0, 0x0f) => s.imr = v,
            (1, 0x01..=0x06) => s.par[usize::from(r - 1)] = v,
            (1, 0x07) => s.curr = v,
            (1, _) => s.mar[usize::from(r - 8)] = v,
            _ => {}
        }
    }

    /// A write of the command register: stop/start, remote DMA, transmit.
    fn command(&mut self, v: u8) {
        let s = &mut self.state;
        s.cr = v & !CR_TXP | (s.cr & CR_TXP);
        if v & CR_STP != 0 {
            s.cr = v & !(CR_TXP | CR_STA);
            s.isr |= ISR_RST;
            return;
        }
        s.isr &= !ISR_RST;
        // A remote read or write of zero bytes completes at once.
        if matches!((v >> 3) & 7, 1 | 2) && s.rbcr == 0 {
            s.isr |= ISR_RDC;
        }
        if v & CR_TXP != 0 && v & CR_STA != 0 {
            self.transmit();
        }
    }

    /// Sends TBCR bytes from the transmit page: the frame goes to the host.
    fn transmit(&mut self) {
        let s = &mut self.state;
        let start = usize::from(s.tpsr) << 8;
        let len = usize::from(s.tbcr);
        if len > MAX_FRAME || start + len > MEM_END || start < MEM_START {
            s.dropped += 1;
            s.tsr = 0x08; // aborted
            s.isr |= 0x08; // TXE
        } else {
            s.sent += 1;
            if s.to_host.len() >= HELD {
                s.dropped += 1;
            } else {
                s.to_host.push_back(s.mem[start..start + len].to_vec());
            }
            s.tsr = 0x01; // PTX
            s.isr |= ISR_PTX;
        }
        s.cr &= !CR_TXP;
    }

    /// The packet-memory address after `a`, wrapping from PSTOP back to PSTART.
    fn next_addr(&self, a: u16) -> u16 {
        let s = &self.state;
        let a = a.wrapping_add(1);
        if s.pstop > s.pstart && a == u16::from(s.pstop) << 8 {
            u16::from(s.pstart) << 8
        } else {
            a
        }
    }

    /// Reads `size` bytes through the data port (a remote read), little-endian.
    fn data_read(&mut self, size: u8) -> u32 {
        let mut v = 0u32;
        for i in 0..u32::from(size.min(4)) {
            let a = usize::from(self.state.rsar);
            let b = self.state.mem.get(a).copied().unwrap_or(0xff);
            v |= u32::from(b) << (8 * i);
            self.dma_step();
        }
        v
    }

    /// Writes `size` bytes through the data port (a remote write).
    fn data_write(&mut self, size: u8, value: u32) {
        for i in 0..u32::from(size.min(4)) {
            let a = usize::from(self.state.rsar);
            if (MEM_START..MEM_END).contains(&a) {
                self.state.mem[a] = (value >> (8 * i)) as u8;
            }
            self.dma_step();
        }
    }

    /// One byte of remote DMA done: the address moves on, the count goes down, and at
    /// zero the remote DMA completes.
    fn dma_step(&mut self) {
        self.state.rsar = self.next_addr(self.state.rsar);
        self.state.dma_bytes += 1;
        if self.state.rbcr > 0 {
            self.state.rbcr -= 1;
            if self.state.rbcr == 0 {
                self.with_irq(|n| n.state.isr |= ISR_RDC);
            }
        }
    }

    /// Whether the receive filter takes a frame to `dst`.
    fn accepts(&self, dst: &[u8]) -> bool {
        let s = &self.state;
        if s.rcr & RCR_PRO != 0 {
            return true;
        }
        if dst == [0xff; 6] {
            return s.rcr & RCR_AB != 0;
        }
        if dst[0] & 1 != 0 {
            let bit = crc32_be(dst) >> 26;
            return s.rcr & RCR_AM != 0 && s.mar[(bit >> 3) as usize] & (1 << (bit & 7)) != 0;
        }
        dst == s.par
    }

    /// A frame from the host: written into the receive ring at CURR behind its 4-byte
    /// header (status, next page, length), or dropped when the chip is stopped, the
    /// filter refuses it or the ring has no room.
    pub fn deliver(&mut self, frame: &[u8]) {
        self.with_irq(|n| n.receive(frame));
    }

    fn receive(&mut self, frame: &[u8]) {
        let (start, stop, curr, bnry) = {
            let s = &self.state;
            (s.pstart, s.pstop, s.curr, s.bnry)
        };
        let ring_ok = start >= 0x40 && stop <= 0x80 && start < stop;
        let in_ring = |p: u8| (start..stop).contains(&p);
        if self.state.cr & CR_STP != 0
            || !ring_ok
            || !in_ring(curr)
            || !in_ring(bnry)
            || frame.len() < 6
            || frame.len() > MAX_FRAME
            || !self.accepts(&frame[..6])
        {
            self.state.dropped += 1;
            return;
        }
        let mut data = frame.to_vec();
        data.resize(data.len().max(60), 0);
        let total = data.len() + 4;
        let pages = total.div_ceil(256) as u8;
        // Free pages from CURR up to BNRY (all of them when CURR is at BNRY); CURR
        // may not catch up with BNRY, or the ring would look empty.
        let free = if curr < bnry {
            bnry - curr
        } else {
            (stop - start) - (curr - bnry)
        };
        if free <= pages {
            self.state.dropped += 1;
            self.state.isr |= ISR_OVW;
            return;
        }
        let mut next = curr + pages;
        if next >= stop {
            next = next - stop + start;
        }
        let status = 0x01 | if frame[0] & 1 != 0 { 0x20 } else { 0 };
        let mut bytes = vec![status, next, total as u8, (total >> 8) as u8];
        bytes.extend_from_slice(&data);
        let mut a = u16::from(curr) << 8;
        for b in bytes {
            self.state.mem[usize::from(a)] = b;
            a = self.next_addr(a);
        }
        let s = &mut self.state;
        s.curr = next;
        s.rsr = status;
        s.isr |= ISR_PRX;
        s.received += 1;
    }
}

/// The Ethernet CRC-32 of `bytes`, bit-reversed input as the DP8390's multicast hash
/// takes it (its top six bits index MAR).
fn crc32_be(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        let mut b = b;
        for _ in 0..8 {
            let carry = (crc >> 31) ^ u32::from(b & 1);
            crc <<= 1;
            b >>= 1;
            if carry != 0 {
                crc ^= 0x04c1_1db7;
            }
        }
    }
    crc
}

#[cfg(test)]
mod tests;
