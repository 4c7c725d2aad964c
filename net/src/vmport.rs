//! A machine's port on the network: frames the network delivers wait here until the host hands them to the machine's NIC, and what the NIC sends enters the network here.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Frames that may wait for a machine at most; more are dropped and counted, as a
/// NIC with no free receive buffer drops them.
pub const MAX_WAITING: usize = 256;

/// The network side of one machine's NIC.
#[derive(Clone, Debug, Default)]
pub struct VmPort {
    waiting: VecDeque<Vec<u8>>,
    /// Frames the machine sent into the network.
    pub sent: u64,
    /// Frames the network delivered to the port.
    pub received: u64,
    /// Frames dropped because too many were waiting.
    pub dropped: u64,
}

impl VmPort {
    /// A port with nothing waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame from the network: it waits for the machine.
    pub(crate) fn receive(&mut self, frame: &[u8]) {
        if self.waiting.len() < MAX_WAITING {
            self.waiting.push_back(frame.to_vec());
            self.received += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// The frames waiting for the machine, oldest first; the port is then empty.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.waiting.drain(..).collect()
    }

    /// How many frames wait.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_wait_in_order_and_a_full_port_drops() {
        let mut p = VmPort::new();
        for i in 0..MAX_WAITING + 3 {
            p.receive(&[i as u8]);
        }
        assert_eq!((p.received, p.dropped), (MAX_WAITING as u64, 3));
        let got = p.take();
        assert_eq!(got.len(), MAX_WAITING);
        assert_eq!((got[0][0], got[1][0]), (0, 1));
        assert_eq!(p.waiting(), 0);
    }
}
