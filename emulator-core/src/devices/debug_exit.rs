//! The debug-exit port (like QEMU's isa-debug-exit): a write stops the machine.

use super::PortDevice;

/// A one-port device; a write of `v` asks the machine to stop with
/// `StopReason::DebugExit(v)` (QEMU's process exits with `(v << 1) | 1`, `vmlab run`
/// with `v`). It holds no state, so it has nothing to snapshot.
#[derive(Clone, Debug, Default)]
pub struct DebugExit {
    requested: Option<u8>,
}

impl DebugExit {
    /// The value of the last write not yet collected by [`DebugExit::take_request`].
    pub fn take_request(&mut self) -> Option<u8> {
        self.requested.take()
    }
}

impl PortDevice for DebugExit {
    /// The port is write-only: reads float high.
    fn read(&mut self, _offset: u16, size: u8) -> u32 {
        match size {
            1 => 0xff,
            2 => 0xffff,
            _ => 0xffff_ffff,
        }
    }
    fn write(&mut self, _offset: u16, _size: u8, value: u32) {
        self.requested = Some(value as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_requests_exit_once() {
        let mut d = DebugExit::default();
        assert_eq!(d.take_request(), None);
        d.write(0, 1, 0x31);
        assert_eq!(d.take_request(), Some(0x31));
        assert_eq!(d.take_request(), None);
        d.write(0, 4, 0x1234_5600);
        assert_eq!(d.take_request(), Some(0));
        assert_eq!(d.read(0, 1), 0xff);
        assert_eq!(d.read(0, 2), 0xffff);
    }
}
