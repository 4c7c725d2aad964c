//! virtio-net (virtio 1.x §5.1): frames the guest puts on the transmit queue go to
//! the host, frames the host delivers fill the receive queue's buffers; each frame
//! carries the 10-byte legacy `virtio_net_hdr` in front.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::busy::{Busy, ServiceTime};
use super::queue::{self, Desc, Dma, QueueState};
use super::transport::Transport;

/// The legacy PCI device ID of a network device.
pub const DEVICE_ID: u16 = 0x1000;
/// The virtio device type (the PCI subsystem ID of a legacy device).
pub const DEVICE_TYPE: u16 = 1;
/// Feature bit: the configuration holds the MAC address.
pub const F_MAC: u32 = 1 << 5;
/// The features the device offers: the MAC address and event indexes.
pub const FEATURES: u32 = F_MAC | queue::F_RING_EVENT_IDX;
/// Each queue's size.
pub const QUEUE_SIZE: u16 = 64;
/// The receive queue.
pub const RX: u16 = 0;
/// The transmit queue.
pub const TX: u16 = 1;
/// The legacy header's length (no mergeable receive buffers).
pub const HDR_LEN: usize = 10;
/// The largest frame carried (a 1500-byte MTU: 1514 bytes without the FCS).
pub const MAX_FRAME: usize = 1514;
/// Frames held in each direction before new ones are dropped.
pub const HELD: usize = 64;

/// The device's registers, queues, frames in flight and counters.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VirtioNetState {
    /// The PCI transport.
    pub transport: Transport,
    /// The MAC address the configuration reports.
    pub mac: [u8; 6],
    /// Frames the guest sent that the host has not taken.
    pub to_host: VecDeque<Vec<u8>>,
    /// Frames for the guest waiting for receive buffers.
    pub to_guest: VecDeque<Vec<u8>>,
    /// Frames the guest sent.
    pub sent: u64,
    /// Frames delivered into the guest's buffers.
    pub received: u64,
    /// Frames dropped: too long, too many held, or cut to fit a buffer.
    pub dropped: u64,
    /// The transmit queue's service-time model, round in progress and counters.
    #[serde(default)]
    pub busy: Busy,
}

/// A virtio network device.
#[derive(Clone, Debug)]
pub struct VirtioNet {
    state: VirtioNetState,
}

impl VirtioNet {
    /// A device with `mac`, reset.
    pub fn new(mac: [u8; 6]) -> VirtioNet {
        VirtioNet {
            state: VirtioNetState {
                transport: Transport::new(FEATURES, &[QUEUE_SIZE, QUEUE_SIZE]),
                mac,
                ..VirtioNetState::default()
            },
        }
    }

    /// The registers and counters.
    pub fn state(&self) -> &VirtioNetState {
        &self.state
    }

    /// Device reset: frames in flight are dropped.
    pub fn reset(&mut self) {
        self.state.transport.reset();
        self.state.to_guest.clear();
    }

    /// Restores from a snapshot.
    pub fn restore(&mut self, s: &VirtioNetState) {
        let mut t = self.state.transport.clone();
        t.restore(&s.transport);
        self.state = s.clone();
        self.state.transport = t;
    }

    /// The configuration: MAC, then a status word, link up.
    fn config(&self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c[..6].copy_from_slice(&self.state.mac);
        c[6] = 1;
        c
    }

    /// A read of BAR 0.
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        let c = self.config();
        self.state.transport.read(offset, size, &c)
    }

    /// A write to BAR 0; a reset drops the frames in service.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        self.state.transport.write(offset, size, value);
        self.state.busy.after_write(&self.state.transport);
    }

    /// Sets the service time of each transmitted frame (zero: sent at the notify).
    pub fn set_service(&mut self, service: ServiceTime) {
        self.state.busy.service = service;
    }

    /// When the frames in service complete.
    pub fn deadline(&self) -> Option<u64> {
        self.state.busy.deadline()
    }

    /// A read of the modern interface's memory BAR.
    pub fn modern_read(&mut self, offset: u32, size: u8) -> u32 {
        let c = self.config();
        self.state.transport.modern_read(offset, size, &c)
    }

    /// A write to the modern interface's memory BAR; a reset drops the requests in
    /// service.
    pub fn modern_write(&mut self, offset: u32, size: u8, value: u32) {
        self.state.transport.modern_write(offset, size, value);
        self.state.busy.after_write(&self.state.transport);
    }

    /// The INTx level.
    pub fn irq_level(&self) -> bool {
        self.state.transport.irq_level()
    }

    /// Whether a notified queue or a finished transmit round waits for
    /// [`VirtioNet::service`] at guest cycle `now`.
    pub fn has_pending(&self, now: u64) -> bool {
        self.state.transport.pending != 0 || self.state.busy.due(now)
    }

    /// Takes the frames the guest sent, oldest first.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        self.state.to_host.drain(..).collect()
    }

    /// Queues a frame for the guest; it lands when the receive queue has a buffer
    /// (the next [`VirtioNet::service`]).
    pub fn deliver(&mut self, frame: &[u8]) {
        if frame.len() > MAX_FRAME || self.state.to_guest.len() >= HELD {
            self.state.dropped += 1;
            return;
        }
        self.state.to_guest.push_back(frame.to_vec());
        self.state.transport.pending |= 1 << RX;
    }

    /// Serves every notified queue and ends a transmit round due at `now`; an error
    /// in the rings stops the device.
    pub fn service(&mut self, dma: &mut Dma, now: u64) {
        let mut busy = core::mem::take(&mut self.state.busy);
        let mut t = core::mem::take(&mut self.state.transport);
        let mut send = |dma: &mut Dma, head: u16, chain: Vec<Desc>| self.send(dma, head, chain);
        if t.live() {
            if let Err(e) = busy.tick(&mut t, dma, now, &mut send) {
                t.device_error(format!("queue {TX}: {e}"));
            }
        }
        let mut rx = false;
        while let Some(qi) = t.take_pending() {
            if !t.live() {
                continue;
            }
            if qi == TX {
                if let Err(e) = busy.notified(&mut t, dma, qi, now, &mut send) {
                    t.device_error(format!("queue {qi}: {e}"));
                }
            } else {
                rx = true;
            }
        }
        if !t.live() {
            busy.round = None;
        }
        self.state.busy = busy;
        self.state.transport = t;
        if rx {
            self.serve_receive(dma);
        }
    }

    /// Fills the receive queue with the frames waiting.
    fn serve_receive(&mut self, dma: &mut Dma) {
        let Some(mut q) = self.state.transport.queues.get(usize::from(RX)).cloned() else {
            return;
        };
        let old_used = q.used_idx;
        let served = self.receive(dma, &mut q);
        if let Some(s) = self.state.transport.queues.get_mut(usize::from(RX)) {
            *s = q.clone();
        }
        let done = served.and_then(|n| self.state.transport.finish(dma, &q, old_used, n));
        if let Err(e) = done {
            self.state
                .transport
                .device_error(format!("queue {RX}: {e}"));
        }
    }

    /// Takes one frame off the transmit queue: `(0 bytes written, frame bytes)`.
    fn send(&mut self, dma: &mut Dma, head: u16, chain: Vec<Desc>) -> Result<(u32, u64), String> {
        let len: u64 = chain.iter().map(|d| u64::from(d.len)).sum();
        if chain.iter().any(|d| d.writable()) {
            return Err(format!(
                "transmit chain {head} has a device-writable buffer"
            ));
        }
        if len < HDR_LEN as u64 || len > (HDR_LEN + MAX_FRAME) as u64 {
            self.state.dropped += 1;
        } else {
            let mut bytes = vec![0u8; len as usize];
            let mut at = 0;
            for d in &chain {
                let end = at + d.len as usize;
                dma.read(d.addr, &mut bytes[at..end], "a transmit buffer")?;
                at = end;
            }
            self.state.sent += 1;
            if self.state.to_host.len() >= HELD {
                self.state.dropped += 1;
            } else {
                self.state.to_host.push_back(bytes.split_off(HDR_LEN));
            }
        }
        Ok((0, len))
    }

    /// Fills receive buffers with the frames waiting: how many.
    fn receive(&mut self, dma: &mut Dma, q: &mut QueueState) -> Result<u32, String> {
        let mut n = 0;
        while !self.state.to_guest.is_empty() {
            let Some((head, chain)) = queue::pop(dma, q)? else {
                break;
            };
            if chain.iter().any(|d| !d.writable()) {
                return Err(format!("receive chain {head} has a device-readable buffer"));
            }
            let frame = self.state.to_guest.pop_front().unwrap_or_default();
            let mut data = vec![0u8; HDR_LEN];
            data.extend_from_slice(&frame);
            let room: usize = chain.iter().map(|d| d.len as usize).sum();
            if room < data.len() {
                self.state.dropped += 1;
                data.truncate(room);
            }
            let mut at = 0;
            for d in &chain {
                let take = (d.len as usize).min(data.len() - at);
                dma.write(d.addr, &data[at..at + take], "a receive buffer")?;
                at += take;
            }
            queue::complete(dma, q, head, data.len() as u32)?;
            self.state.received += 1;
            n += 1;
        }
        Ok(n)
    }
}
