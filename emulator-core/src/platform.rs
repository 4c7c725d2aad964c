//! The devices on the port bus, as the CPU sees them (a minimal serial/POST/debug-exit set).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::config::MachineConfig;
use crate::error::HostError;

/// What an OUT did beyond the device write itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IoEffect {
    /// Nothing the machine must act on.
    None,
    /// The guest wrote to the debug-exit port.
    DebugExit(u8),
}

/// One write to a POST port (0x80 or 0x190).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PostWrite {
    /// The port written.
    pub port: u16,
    /// The value written.
    pub value: u32,
    /// Virtual time of the write.
    pub icount: u64,
}

/// The devices' state, for snapshots.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PlatformState {
    /// Serial bytes sent by the guest and not yet taken.
    pub serial_out: Vec<u8>,
    /// Serial bytes waiting for the guest.
    pub serial_in: Vec<u8>,
    /// POST writes so far.
    pub post: Vec<PostWrite>,
}

/// The port bus with its devices.
#[derive(Clone, Debug)]
pub struct Platform {
    serial_out: Vec<u8>,
    serial_in: VecDeque<u8>,
    serial_capacity: usize,
    post: Vec<PostWrite>,
}

impl Platform {
    /// Builds the devices for `cfg`.
    pub fn new(cfg: &MachineConfig) -> Result<Platform, HostError> {
        Ok(Platform {
            serial_out: Vec::new(),
            serial_in: VecDeque::new(),
            serial_capacity: cfg.serial_capacity,
            post: Vec::new(),
        })
    }
    /// Device reset.
    pub fn reset(&mut self) {}
    /// IN from `port`; unclaimed ports read all-ones.
    pub fn io_read(&mut self, port: u16, size: u8, _now: u64) -> u32 {
        match port {
            0x3f8 => self.serial_in.pop_front().unwrap_or(0) as u32,
            0x3fd => 0x60 | (!self.serial_in.is_empty()) as u32,
            _ => match size {
                1 => 0xff,
                2 => 0xffff,
                _ => 0xffff_ffff,
            },
        }
    }
    /// OUT to `port`.
    pub fn io_write(&mut self, port: u16, _size: u8, value: u32, now: u64) -> IoEffect {
        match port {
            0x3f8 => {
                if self.serial_out.len() >= self.serial_capacity {
                    self.serial_out.remove(0);
                }
                self.serial_out.push(value as u8);
            }
            0x80 | 0x190 => self.post.push(PostWrite {
                port,
                value,
                icount: now,
            }),
            0xf4 => return IoEffect::DebugExit(value as u8),
            _ => {}
        }
        IoEffect::None
    }
    /// Runs timers up to virtual time `now`.
    pub fn advance(&mut self, _now: u64) {}
    /// The next virtual time a timer fires.
    pub fn next_deadline(&self) -> Option<u64> {
        None
    }
    /// The PIC's INTR line.
    pub fn interrupt_pending(&self) -> bool {
        false
    }
    /// The interrupt-acknowledge cycle: vector and IRQ.
    pub fn acknowledge_interrupt(&mut self) -> Option<(u8, u8)> {
        None
    }
    /// Serial output so far.
    pub fn serial_output(&self) -> Vec<u8> {
        self.serial_out.clone()
    }
    /// Serial output so far, emptying the buffer.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.serial_out)
    }
    /// Bytes for the guest to read from the serial port.
    pub fn push_serial_input(&mut self, b: &[u8]) {
        self.serial_in.extend(b.iter().copied());
    }
    /// Every POST write.
    pub fn post_writes(&self) -> &[PostWrite] {
        &self.post
    }
    /// The devices' state.
    pub fn snapshot(&self) -> PlatformState {
        PlatformState {
            serial_out: self.serial_out.clone(),
            serial_in: self.serial_in.iter().copied().collect(),
            post: self.post.clone(),
        }
    }
    /// Restores the devices' state.
    pub fn restore(&mut self, s: &PlatformState) {
        self.serial_out = s.serial_out.clone();
        self.serial_in = s.serial_in.iter().copied().collect();
        self.post = s.post.clone();
    }
}
