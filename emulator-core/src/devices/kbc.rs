//! The 8042 keyboard controller (ports 0x60 and 0x64) and System Control Port A (0x92),
//! as far as guests touch them without a keyboard: self-tests, the command byte, the
//! output port's A20 bit, and keyboard commands that are acknowledged.
//!
//! No keyboard is attached: no scan codes arrive and IRQ 1 is never raised. The A20
//! gate is recorded (port 0x92 bit 1 and output-port bit 1 read back what was written)
//! but the memory bus always passes address line 20. Reset requests (command 0xFE,
//! port 0x92 bit 0) are ignored.

use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

use super::PortDevice;

/// Status register bits.
const STATUS_OBF: u8 = 0x01;
const STATUS_SYS: u8 = 0x04;
const STATUS_CMD: u8 = 0x08;
const STATUS_UNLOCKED: u8 = 0x10;

/// Bytes the controller can queue for the guest; more are dropped.
const OUTPUT_DEPTH: usize = 16;

/// The controller's registers.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KbcState {
    /// Bytes waiting in the output buffer, oldest first.
    pub output: VecDeque<u8>,
    /// The command byte (controller configuration).
    pub command_byte: u8,
    /// The output port (bit 1: A20 gate).
    pub output_port: u8,
    /// System Control Port A (port 0x92; bit 1: fast A20 gate).
    pub port_a: u8,
    /// A command that takes a parameter byte through port 0x60 (0x60 or 0xD1).
    pub pending: Option<u8>,
    /// The last byte written to port 0x64 was a command (status bit 3).
    pub last_was_command: bool,
}

impl Default for KbcState {
    fn default() -> Self {
        KbcState {
            output: VecDeque::new(),
            command_byte: 0x45,
            output_port: 0x03,
            port_a: 0x02,
            pending: None,
            last_was_command: false,
        }
    }
}

/// The 8042, addressed at offsets 0 (port 0x60, data) and 4 (port 0x64, status and
/// command); port 0x92 is [`Kbc::read_port_a`] and [`Kbc::write_port_a`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Kbc {
    s: KbcState,
}

impl Kbc {
    /// A controller after its power-on self-test.
    pub fn new() -> Self {
        Kbc::default()
    }

    /// The registers, for snapshots.
    pub fn state(&self) -> &KbcState {
        &self.s
    }

    /// Restores the registers.
    pub fn restore(&mut self, s: &KbcState) {
        self.s = s.clone();
    }

    /// The A20 gate as the guest last set it (through either port).
    pub fn a20_enabled(&self) -> bool {
        self.s.output_port & 2 != 0 || self.s.port_a & 2 != 0
    }

    /// Reads System Control Port A.
    pub fn read_port_a(&self) -> u8 {
        self.s.port_a
    }

    /// Writes System Control Port A (bit 0, fast reset, is ignored).
    pub fn write_port_a(&mut self, value: u8) {
        self.s.port_a = value & !1;
    }

    fn reply(&mut self, byte: u8) {
        if self.s.output.len() < OUTPUT_DEPTH {
            self.s.output.push_back(byte);
        }
    }

    fn status(&self) -> u8 {
        let obf = if self.s.output.is_empty() {
            0
        } else {
            STATUS_OBF
        };
        let cmd = if self.s.last_was_command {
            STATUS_CMD
        } else {
            0
        };
        obf | STATUS_SYS | STATUS_UNLOCKED | cmd
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            0x20 => self.reply(self.s.command_byte),
            0x60 | 0xd1 => self.s.pending = Some(cmd),
            0xa7 => self.s.command_byte |= 0x20,
            0xa8 => self.s.command_byte &= !0x20,
            0xa9 | 0xab => self.reply(0x00),
            0xaa => self.reply(0x55),
            0xad => self.s.command_byte |= 0x10,
            0xae => self.s.command_byte &= !0x10,
            0xd0 => self.reply(self.s.output_port),
            _ => {} // 0xFE (reset) and the rest: no effect
        }
    }

    fn data(&mut self, value: u8) {
        match self.s.pending.take() {
            Some(0x60) => self.s.command_byte = value,
            Some(_) => self.s.output_port = value | 1,
            None => match value {
                // Keyboard reset: acknowledge, then the self-test passed.
                0xff => {
                    self.reply(0xfa);
                    self.reply(0xaa);
                }
                // Echo.
                0xee => self.reply(0xee),
                // Everything else (LEDs, typematic rate, enable scanning…) is acknowledged.
                _ => self.reply(0xfa),
            },
        }
    }
}

impl PortDevice for Kbc {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        let v = match offset {
            0 => self.s.output.pop_front().unwrap_or(0),
            4 => self.status(),
            _ => 0xff,
        };
        u32::from(v)
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        match offset {
            0 => {
                self.s.last_was_command = false;
                self.data(value as u8);
            }
            4 => {
                self.s.last_was_command = true;
                self.command(value as u8);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(k: &mut Kbc) -> u8 {
        k.read(4, 1) as u8
    }

    #[test]
    fn idle_controller_is_ready_for_input() {
        let mut k = Kbc::new();
        assert_eq!(status(&mut k) & 0x03, 0, "input and output buffers empty");
        assert_eq!(status(&mut k) & STATUS_SYS, STATUS_SYS);
        assert_eq!(k.read(0, 1), 0);
        assert_eq!(k.read(1, 1), 0xff);
    }

    #[test]
    fn self_tests_and_command_byte() {
        let mut k = Kbc::new();
        k.write(4, 1, 0xaa);
        assert_eq!(
            status(&mut k) & (STATUS_OBF | STATUS_CMD),
            STATUS_OBF | STATUS_CMD
        );
        assert_eq!(k.read(0, 1), 0x55);
        assert_eq!(status(&mut k) & STATUS_OBF, 0);
        k.write(4, 1, 0xab);
        assert_eq!(k.read(0, 1), 0x00);
        k.write(4, 1, 0x60);
        k.write(0, 1, 0x47);
        assert_eq!(status(&mut k) & STATUS_CMD, 0);
        k.write(4, 1, 0x20);
        assert_eq!(k.read(0, 1), 0x47);
        k.write(4, 1, 0xad);
        k.write(4, 1, 0x20);
        assert_eq!(k.read(0, 1), 0x57);
    }

    #[test]
    fn a20_through_the_output_port_and_port_a() {
        let mut k = Kbc::new();
        k.write_port_a(0);
        k.write(4, 1, 0xd1);
        k.write(0, 1, 0xdd);
        assert!(!k.a20_enabled());
        k.write(4, 1, 0xd0);
        assert_eq!(k.read(0, 1), 0xdd);
        k.write(4, 1, 0xd1);
        k.write(0, 1, 0xdf);
        assert!(k.a20_enabled());
        k.write(4, 1, 0xd1);
        k.write(0, 1, 0xdd);
        k.write_port_a(0x03);
        assert_eq!(k.read_port_a(), 0x02, "fast reset bit is not kept");
        assert!(k.a20_enabled());
    }

    #[test]
    fn keyboard_commands_are_acknowledged() {
        let mut k = Kbc::new();
        k.write(0, 1, 0xff);
        assert_eq!(k.read(0, 1), 0xfa);
        assert_eq!(k.read(0, 1), 0xaa);
        k.write(0, 1, 0xf4);
        assert_eq!(k.read(0, 1), 0xfa);
        k.write(0, 1, 0xee);
        assert_eq!(k.read(0, 1), 0xee);
        for _ in 0..40 {
            k.write(0, 1, 0xf4);
        }
        assert_eq!(k.state().output.len(), OUTPUT_DEPTH, "bounded");
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut k = Kbc::new();
        k.write(4, 1, 0xaa);
        let mut j = Kbc::new();
        j.restore(k.state());
        assert_eq!(j, k);
        assert_eq!(j.read(0, 1), 0x55);
    }
}
