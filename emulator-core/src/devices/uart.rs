//! The 16550A UART on COM1 (ports 0x3F8–0x3FF, IRQ 4): the serial console.
//!
//! Registers: RBR/THR, IER, IIR/FCR, LCR (with DLAB and the divisor latch), MCR, LSR,
//! MSR, SCR; 16-byte receive FIFO with trigger levels; receive-data, THR-empty,
//! line-status and modem-status interrupts; loopback.
//!
//! Transmission is instantaneous in virtual time: a byte written to THR leaves at
//! once, so LSR.THRE and LSR.TEMT always read 1 and the THR-empty interrupt is raised
//! right after each write. Output goes into a bounded buffer that keeps the newest
//! bytes and counts the dropped ones. Host input waits in a queue and enters the
//! receive FIFO as space frees up, so the host never overruns the guest. In FIFO mode
//! a receive FIFO filled below its trigger level reports a character timeout at once.
//! As in QEMU, MCR.OUT2 does not gate the interrupt line, and the word length in LCR
//! does not truncate the bytes sent (a guest that never programs LCR still prints
//! 8-bit text).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::PortDevice;

const IER_ERBFI: u8 = 0x01;
const IER_ETBEI: u8 = 0x02;
const IER_ELSI: u8 = 0x04;
const IER_EDSSI: u8 = 0x08;

const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_ERRORS: u8 = 0x1e;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;

const LCR_DLAB: u8 = 0x80;
const MCR_LOOP: u8 = 0x10;
const FCR_ENABLE: u8 = 0x01;

const IIR_NONE: u8 = 0x01;
const IIR_THRE: u8 = 0x02;
const IIR_RDA: u8 = 0x04;
const IIR_RLS: u8 = 0x06;
const IIR_TIMEOUT: u8 = 0x0c;
const IIR_MSI: u8 = 0x00;

/// Depth of the receive FIFO.
const FIFO_DEPTH: usize = 16;

/// The UART's registers and its console buffers.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UartState {
    /// Interrupt enable register (low four bits).
    pub ier: u8,
    /// Line control register.
    pub lcr: u8,
    /// Modem control register (low five bits).
    pub mcr: u8,
    /// Line status error bits (OE, PE, FE, BI), cleared by reading LSR.
    pub lsr_errors: u8,
    /// Modem status register: delta bits 0–3, line states 4–7.
    pub msr: u8,
    /// Scratch register.
    pub scr: u8,
    /// Divisor latch low byte.
    pub dll: u8,
    /// Divisor latch high byte.
    pub dlm: u8,
    /// FIFO control: bit 0 enable, bits 6–7 receive trigger level.
    pub fcr: u8,
    /// A THR-empty interrupt is pending (cleared by reading IIR or writing THR).
    pub thr_pending: bool,
    /// The receive FIFO (a single holding register when FIFOs are off).
    pub rx: VecDeque<u8>,
    /// Bytes transmitted to the console, newest kept.
    pub output: VecDeque<u8>,
    /// Bytes dropped from the front of `output` because it was full.
    pub output_dropped: u64,
    /// Bytes from the host waiting to enter the receive FIFO.
    pub input: VecDeque<u8>,
    /// Host input bytes refused because the input queue was full.
    pub input_dropped: u64,
}

impl Default for UartState {
    fn default() -> Self {
        UartState {
            ier: 0,
            lcr: 0,
            mcr: 0,
            lsr_errors: 0,
            msr: 0xb0,
            scr: 0,
            dll: 0x0c,
            dlm: 0,
            fcr: 0,
            thr_pending: false,
            rx: VecDeque::new(),
            output: VecDeque::new(),
            output_dropped: 0,
            input: VecDeque::new(),
            input_dropped: 0,
        }
    }
}

/// A 16550A, addressed at offsets 0–7.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Uart {
    s: UartState,
    output_capacity: usize,
}

impl Uart {
    /// Most host bytes queued for input; more are dropped and counted.
    pub const INPUT_CAPACITY: usize = 1 << 20;

    /// A UART whose console buffer keeps the newest `output_capacity` bytes.
    pub fn new(output_capacity: usize) -> Self {
        Uart {
            s: UartState::default(),
            output_capacity,
        }
    }

    /// The registers and buffers, for snapshots.
    pub fn state(&self) -> &UartState {
        &self.s
    }

    /// Restores registers and buffers.
    pub fn restore(&mut self, s: &UartState) {
        self.s = s.clone();
    }

    /// Resets the registers (MR pin); console output and host input not yet read by
    /// the guest (including bytes in the receive FIFO) are kept.
    pub fn reset(&mut self) {
        let output = core::mem::take(&mut self.s.output);
        let mut input = core::mem::take(&mut self.s.rx);
        input.append(&mut self.s.input);
        self.s = UartState {
            output,
            output_dropped: self.s.output_dropped,
            input,
            input_dropped: self.s.input_dropped,
            ..UartState::default()
        };
        self.refill();
    }

    /// The console output held (newest `output_capacity` bytes).
    pub fn output(&self) -> Vec<u8> {
        self.s.output.iter().copied().collect()
    }

    /// Takes the console output held, leaving the buffer empty.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.s.output).into()
    }

    /// Console bytes dropped because the buffer was full.
    pub fn output_dropped(&self) -> u64 {
        self.s.output_dropped
    }

    /// Queues bytes typed by the host on the serial line.
    pub fn push_input(&mut self, bytes: &[u8]) {
        let room = Self::INPUT_CAPACITY.saturating_sub(self.s.input.len());
        let taken = bytes.len().min(room);
        self.s.input.extend(bytes.iter().take(taken));
        self.s.input_dropped += (bytes.len() - taken) as u64;
        self.refill();
    }

    /// The interrupt line: some enabled interrupt condition is pending.
    pub fn irq_level(&self) -> bool {
        self.iir_id() != IIR_NONE
    }

    fn fifo_enabled(&self) -> bool {
        self.s.fcr & FCR_ENABLE != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            FIFO_DEPTH
        } else {
            1
        }
    }

    fn rx_trigger(&self) -> usize {
        [1, 4, 8, 14][usize::from(self.s.fcr >> 6)]
    }

    fn loopback(&self) -> bool {
        self.s.mcr & MCR_LOOP != 0
    }

    /// Moves host input into the receive FIFO while it has room (not in loopback,
    /// where the serial input pin is disconnected).
    fn refill(&mut self) {
        if self.loopback() {
            return;
        }
        while self.s.rx.len() < self.rx_capacity() {
            match self.s.input.pop_front() {
                Some(b) => self.s.rx.push_back(b),
                None => break,
            }
        }
    }

    fn lsr(&self) -> u8 {
        let dr = if self.s.rx.is_empty() { 0 } else { LSR_DR };
        let fifo_error = if self.fifo_enabled() && self.s.lsr_errors & 0x1c != 0 {
            0x80
        } else {
            0
        };
        dr | self.s.lsr_errors | LSR_THRE | LSR_TEMT | fifo_error
    }

    fn iir_id(&self) -> u8 {
        let ier = self.s.ier;
        if ier & IER_ELSI != 0 && self.s.lsr_errors & LSR_ERRORS != 0 {
            IIR_RLS
        } else if ier & IER_ERBFI != 0 && !self.s.rx.is_empty() {
            if self.fifo_enabled() && self.s.rx.len() < self.rx_trigger() {
                IIR_TIMEOUT
            } else {
                IIR_RDA
            }
        } else if ier & IER_ETBEI != 0 && self.s.thr_pending {
            IIR_THRE
        } else if ier & IER_EDSSI != 0 && self.s.msr & 0x0f != 0 {
            IIR_MSI
        } else {
            IIR_NONE
        }
    }

    /// Sends one character: to the console, or back into the receiver in loopback.
    fn transmit(&mut self, value: u8) {
        let byte = value;
        if self.loopback() {
            if self.s.rx.len() < self.rx_capacity() {
                self.s.rx.push_back(byte);
            } else {
                self.s.lsr_errors |= LSR_OE;
            }
        } else if self.output_capacity == 0 {
            self.s.output_dropped += 1;
        } else {
            if self.s.output.len() >= self.output_capacity {
                self.s.output.pop_front();
                self.s.output_dropped += 1;
            }
            self.s.output.push_back(byte);
        }
        self.s.thr_pending = true;
    }

    /// Recomputes the modem status lines from MCR (loopback) or the idle line, and
    /// sets the delta bits for lines that changed.
    fn update_msr(&mut self) {
        let old = self.s.msr;
        let lines = if self.loopback() {
            let m = self.s.mcr;
            ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
        } else {
            0xb0
        };
        let changed = (old ^ lines) & 0xf0;
        let mut delta = old & 0x0f;
        delta |= (changed >> 4) & 0x0b; // DCTS, DDSR, DDCD
        if old & 0x40 != 0 && lines & 0x40 == 0 {
            delta |= 0x04; // TERI: trailing edge of RI
        }
        self.s.msr = lines | delta;
    }

    fn write_fcr(&mut self, value: u8) {
        if (value ^ self.s.fcr) & FCR_ENABLE != 0 || value & 0x02 != 0 {
            self.s.rx.clear();
        }
        self.s.fcr = value & 0xc1;
        self.refill();
    }
}

impl PortDevice for Uart {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        let dlab = self.s.lcr & LCR_DLAB != 0;
        let v = match offset {
            0 if dlab => self.s.dll,
            0 => {
                let b = self.s.rx.pop_front().unwrap_or(0);
                self.refill();
                b
            }
            1 if dlab => self.s.dlm,
            1 => self.s.ier,
            2 => {
                let id = self.iir_id();
                if id == IIR_THRE {
                    self.s.thr_pending = false;
                }
                id | if self.fifo_enabled() { 0xc0 } else { 0 }
            }
            3 => self.s.lcr,
            4 => self.s.mcr,
            5 => {
                let v = self.lsr();
                self.s.lsr_errors = 0;
                v
            }
            6 => {
                let v = self.s.msr;
                self.s.msr &= 0xf0;
                v
            }
            7 => self.s.scr,
            _ => 0xff,
        };
        u32::from(v)
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        let value = value as u8;
        let dlab = self.s.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.s.dll = value,
            0 => {
                self.s.thr_pending = false;
                self.transmit(value);
            }
            1 if dlab => self.s.dlm = value,
            1 => {
                let old = self.s.ier;
                self.s.ier = value & 0x0f;
                if (old ^ self.s.ier) & IER_ETBEI != 0 {
                    // THR is always empty: enabling the interrupt raises it at once.
                    self.s.thr_pending = self.s.ier & IER_ETBEI != 0;
                }
            }
            2 => self.write_fcr(value),
            3 => self.s.lcr = value,
            4 => {
                let was_loop = self.loopback();
                self.s.mcr = value & 0x1f;
                self.update_msr();
                if was_loop && !self.loopback() {
                    self.refill();
                }
            }
            7 => self.s.scr = value,
            _ => {} // LSR and MSR writes are factory-test only
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(u: &mut Uart, off: u16) -> u8 {
        u.read(off, 1) as u8
    }
    fn wr(u: &mut Uart, off: u16, v: u8) {
        u.write(off, 1, u32::from(v));
    }

    #[test]
    fn power_on_registers() {
        let mut u = Uart::new(64);
        assert_eq!(rd(&mut u, 1), 0);
        assert_eq!(rd(&mut u, 2), 0x01);
        assert_eq!(rd(&mut u, 5), 0x60);
        assert_eq!(rd(&mut u, 6), 0xb0);
        assert!(!u.irq_level());
    }

    #[test]
    fn dlab_selects_divisor_latch() {
        let mut u = Uart::new(64);
        wr(&mut u, 3, 0x83);
        wr(&mut u, 0, 0x01);
        wr(&mut u, 1, 0x00);
        assert_eq!(rd(&mut u, 0), 0x01);
        assert_eq!(rd(&mut u, 1), 0x00);
        wr(&mut u, 3, 0x03);
        assert_eq!(rd(&mut u, 3), 0x03);
        assert_eq!(u.state().dll, 1);
        assert_eq!(rd(&mut u, 1), 0, "IER untouched by divisor writes");
        assert!(u.output().is_empty(), "divisor writes transmit nothing");
    }

    #[test]
    fn transmit_goes_to_console_whole_bytes() {
        let mut u = Uart::new(64);
        for b in b"hi\n" {
            wr(&mut u, 0, *b);
        }
        assert_eq!(u.output(), b"hi\n");
        wr(&mut u, 3, 0x02); // 7 data bits
        wr(&mut u, 0, 0xc1);
        assert_eq!(u.take_output(), b"hi\n\xc1");
        assert!(u.output().is_empty());
    }

    #[test]
    fn console_keeps_newest_bytes_and_counts_drops() {
        let mut u = Uart::new(4);
        wr(&mut u, 3, 0x03);
        for b in b"abcdefg" {
            wr(&mut u, 0, *b);
        }
        assert_eq!(u.output(), b"defg");
        assert_eq!(u.output_dropped(), 3);
        let mut z = Uart::new(0);
        wr(&mut z, 0, b'x');
        assert_eq!(z.output_dropped(), 1);
    }

    #[test]
    fn thr_empty_interrupt() {
        let mut u = Uart::new(64);
        wr(&mut u, 3, 0x03);
        wr(&mut u, 1, IER_ETBEI);
        assert!(u.irq_level(), "enabling with THR empty raises it");
        assert_eq!(rd(&mut u, 2), IIR_THRE);
        assert!(!u.irq_level(), "reading IIR clears it");
        assert_eq!(rd(&mut u, 2), IIR_NONE);
        wr(&mut u, 0, b'x');
        assert!(u.irq_level(), "raised again once the byte is sent");
        wr(&mut u, 1, 0);
        assert!(!u.irq_level());
    }

    #[test]
    fn receive_without_fifo_holds_one_byte() {
        let mut u = Uart::new(64);
        u.push_input(b"ab");
        assert_eq!(rd(&mut u, 5) & LSR_DR, LSR_DR);
        assert!(!u.irq_level(), "not enabled");
        wr(&mut u, 1, IER_ERBFI);
        assert!(u.irq_level());
        assert_eq!(rd(&mut u, 2), IIR_RDA);
        assert_eq!(rd(&mut u, 0), b'a');
        assert_eq!(rd(&mut u, 0), b'b');
        assert_eq!(rd(&mut u, 5) & LSR_DR, 0);
        assert!(!u.irq_level());
        assert_eq!(rd(&mut u, 0), 0, "empty RBR");
    }

    #[test]
    fn fifo_trigger_levels_and_timeout() {
        let mut u = Uart::new(64);
        wr(&mut u, 2, 0x81); // enable, trigger 8
        wr(&mut u, 1, IER_ERBFI);
        assert_eq!(rd(&mut u, 2), 0xc1);
        u.push_input(&[1, 2, 3]);
        assert_eq!(rd(&mut u, 2), 0xc0 | IIR_TIMEOUT);
        u.push_input(&[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
        assert_eq!(u.state().rx.len(), 16);
        assert_eq!(u.state().input.len(), 2);
        assert_eq!(rd(&mut u, 2), 0xc0 | IIR_RDA);
        let got: Vec<u8> = (0..18).map(|_| rd(&mut u, 0)).collect();
        assert_eq!(got, (1..=18).collect::<Vec<u8>>());
        // Clearing the receive FIFO discards its bytes.
        u.push_input(&[9, 9]);
        wr(&mut u, 2, 0x83);
        assert_eq!(rd(&mut u, 5) & LSR_DR, 0);
        // Disabling FIFOs goes back to IIR without the FIFO bits.
        wr(&mut u, 2, 0x00);
        assert_eq!(rd(&mut u, 2) & 0xc0, 0);
    }

    #[test]
    fn loopback_echoes_and_overruns() {
        let mut u = Uart::new(64);
        wr(&mut u, 3, 0x03);
        wr(&mut u, 4, MCR_LOOP | 0x0f);
        assert_eq!(rd(&mut u, 6) & 0xf0, 0xf0, "outputs looped to inputs");
        wr(&mut u, 0, b'Q');
        assert!(u.output().is_empty(), "nothing reaches the console");
        wr(&mut u, 0, b'R'); // no FIFO: overruns the holding register
        let lsr = rd(&mut u, 5);
        assert_eq!(lsr & (LSR_DR | LSR_OE), LSR_DR | LSR_OE);
        assert_eq!(rd(&mut u, 5) & LSR_OE, 0, "reading LSR clears OE");
        assert_eq!(rd(&mut u, 0), b'Q');
        // Host input waits while in loopback.
        u.push_input(b"z");
        assert_eq!(rd(&mut u, 5) & LSR_DR, 0);
        wr(&mut u, 4, 0x00);
        assert_eq!(rd(&mut u, 0), b'z');
    }

    #[test]
    fn line_status_and_modem_status_interrupts() {
        let mut u = Uart::new(64);
        wr(&mut u, 1, IER_ELSI | IER_EDSSI);
        wr(&mut u, 4, MCR_LOOP);
        wr(&mut u, 0, 1);
        wr(&mut u, 0, 2);
        assert_eq!(rd(&mut u, 2), IIR_RLS);
        rd(&mut u, 5);
        // Entering loopback dropped CTS, DSR and DCD: their delta bits are set.
        assert_eq!(rd(&mut u, 2), IIR_MSI);
        assert_eq!(rd(&mut u, 6), 0x0b);
        assert_eq!(rd(&mut u, 2), IIR_NONE);
        // RI's trailing edge.
        wr(&mut u, 4, MCR_LOOP | 0x04);
        rd(&mut u, 6);
        wr(&mut u, 4, MCR_LOOP);
        assert_eq!(rd(&mut u, 6) & 0x04, 0x04);
    }

    #[test]
    fn scratch_and_reset() {
        let mut u = Uart::new(64);
        wr(&mut u, 7, 0x5a);
        assert_eq!(rd(&mut u, 7), 0x5a);
        wr(&mut u, 0, b'k');
        u.push_input(b"xy");
        u.reset();
        assert_eq!(rd(&mut u, 7), 0);
        assert_eq!(u.output(), b"k", "console output survives reset");
        assert_eq!(rd(&mut u, 0), b'x', "host input survives reset");
        assert_eq!(rd(&mut u, 8), 0xff);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut u = Uart::new(8);
        wr(&mut u, 2, 0x01);
        u.push_input(b"abc");
        wr(&mut u, 0, b'o');
        let mut v = Uart::new(8);
        v.restore(u.state());
        assert_eq!(u, v);
        assert_eq!(rd(&mut v, 0), b'a');
    }
}
