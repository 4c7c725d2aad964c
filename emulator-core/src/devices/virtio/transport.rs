//! The virtio PCI transport's legacy register block in I/O BAR 0 (virtio 1.x §4.1.4.8):
//! features, queue selection and PFN, notify, device status and the ISR, followed by
//! the device-specific configuration.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::queue::{self, Dma, QueueState, F_RING_EVENT_IDX};

/// Register offsets in BAR 0.
pub mod reg {
    /// Device features, 32 bits (read-only).
    pub const HOST_FEATURES: u16 = 0x00;
    /// Driver features, 32 bits.
    pub const GUEST_FEATURES: u16 = 0x04;
    /// The selected queue's ring page frame number, 32 bits (0 disables it).
    pub const QUEUE_PFN: u16 = 0x08;
    /// The selected queue's size, 16 bits (read-only).
    pub const QUEUE_SIZE: u16 = 0x0c;
    /// Queue select, 16 bits.
    pub const QUEUE_SEL: u16 = 0x0e;
    /// Queue notify, 16 bits: the driver writes a queue's index.
    pub const QUEUE_NOTIFY: u16 = 0x10;
    /// Device status, 8 bits (0 resets the device).
    pub const STATUS: u16 = 0x12;
    /// ISR status, 8 bits: reading returns it and clears it, lowering INTx.
    pub const ISR: u16 = 0x13;
    /// The device-specific configuration starts here (no MSI-X).
    pub const CONFIG: u16 = 0x14;
}

/// Device status bits (§2.1).
pub mod status {
    /// The guest found the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u8 = 2;
    /// The driver is ready: the device may use the queues.
    pub const DRIVER_OK: u8 = 4;
    /// The driver accepted the features.
    pub const FEATURES_OK: u8 = 8;
    /// The device hit an error it cannot recover from without a reset.
    pub const NEEDS_RESET: u8 = 0x40;
    /// The guest gave up on the device.
    pub const FAILED: u8 = 0x80;
}

/// ISR bit: the device used buffers.
pub const ISR_QUEUE: u8 = 1;
/// ISR bit: the configuration changed (set with `NEEDS_RESET` on a device error).
pub const ISR_CONFIG: u8 = 2;

/// The transport's registers and queues.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Transport {
    /// The features the device offers.
    pub host_features: u32,
    /// The features the driver accepted (always a subset of the offer).
    pub guest_features: u32,
    /// Device status.
    pub status: u8,
    /// ISR status.
    pub isr: u8,
    /// The queue the queue registers address.
    pub queue_sel: u16,
    /// Every queue.
    pub queues: Vec<QueueState>,
    /// Queues notified and not yet serviced (bit per queue).
    pub pending: u32,
    /// Interrupts raised (used-buffer notifications sent).
    pub interrupts: u64,
    /// Used-buffer notifications the driver suppressed, with `AVAIL_F_NO_INTERRUPT` or,
    /// once `VIRTIO_F_RING_EVENT_IDX` is negotiated, with a `used_event` not yet reached.
    pub suppressed: u64,
    /// Completions an interrupt announced (several when one interrupt covers a batch):
    /// `announced / interrupts` is the requests per interrupt.
    #[serde(default)]
    pub announced: u64,
    /// Chains the device took without a notification of their own: the driver put
    /// several on the available ring before one notify.
    #[serde(default)]
    pub unkicked: u64,
    /// Completions held back by `used_event`, which the next interrupt announces.
    #[serde(default)]
    pub held: u64,
    /// Why the device stopped (it sets `NEEDS_RESET`), for the UI.
    pub error: Option<String>,
    /// The modern interface's registers (see [`super::modern`]).
    #[serde(default)]
    pub modern: super::modern::Modern,
}

impl Transport {
    /// A device offering `features` with queues of these sizes.
    pub fn new(features: u32, sizes: &[u16]) -> Transport {
        Transport {
            host_features: features,
            queues: sizes.iter().map(|&s| QueueState::new(s)).collect(),
            modern: super::modern::Modern::new(sizes),
            ..Transport::default()
        }
    }

    /// Device reset: the driver's settings and the queues' progress go; the counters stay.
    pub fn reset(&mut self) {
        self.modern.reset(&mut self.queues);
        self.guest_features = 0;
        self.status = 0;
        self.isr = 0;
        self.queue_sel = 0;
        self.pending = 0;
        self.held = 0;
        self.error = None;
        for q in &mut self.queues {
            *q = QueueState {
                notifies: q.notifies,
                completed: q.completed,
                ..QueueState::new(q.size)
            };
        }
    }

    /// Whether the device may use its queues.
    pub fn live(&self) -> bool {
        self.status & status::DRIVER_OK != 0 && self.status & status::NEEDS_RESET == 0
    }

    /// The level of the INTx line.
    pub fn irq_level(&self) -> bool {
        self.isr != 0
    }

    /// Reads `size` bytes at `offset`; `config` is the device-specific configuration.
    pub fn read(&mut self, offset: u16, size: u8, config: &[u8]) -> u32 {
        let sel = self.queues.get(usize::from(self.queue_sel));
        let mut regs = [0u8; reg::CONFIG as usize];
        regs[0..4].copy_from_slice(&self.host_features.to_le_bytes());
        regs[4..8].copy_from_slice(&self.guest_features.to_le_bytes());
        regs[8..12].copy_from_slice(&sel.map_or(0, |q| q.pfn).to_le_bytes());
        regs[12..14].copy_from_slice(&sel.map_or(0, |q| q.size).to_le_bytes());
        regs[14..16].copy_from_slice(&self.queue_sel.to_le_bytes());
        regs[18] = self.status;
        regs[19] = self.isr;
        let mut v = 0u32;
        for i in 0..u16::from(size.clamp(1, 4)) {
            let at = usize::from(offset.wrapping_add(i));
            let b = regs
                .get(at)
                .or_else(|| config.get(at.wrapping_sub(regs.len())))
                .copied()
                .unwrap_or(0);
            v |= u32::from(b) << (8 * i);
            if at == usize::from(reg::ISR) {
                self.isr = 0;
            }
        }
        v
    }

    /// Writes a register. Only whole-register writes take effect.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        match (offset, size) {
            (reg::GUEST_FEATURES, 4) => self.guest_features = value & self.host_features,
            (reg::QUEUE_PFN, 4) => {
                if let Some(q) = self.queues.get_mut(usize::from(self.queue_sel)) {
                    *q = QueueState {
                        pfn: value & 0x000f_ffff,
                        notifies: q.notifies,
                        completed: q.completed,
                        ..QueueState::new(q.size)
                    };
                }
            }
            (reg::QUEUE_SEL, 2) => self.queue_sel = value as u16,
            (reg::QUEUE_NOTIFY, 2) => {
                if let Some(q) = self.queues.get_mut(value as usize) {
                    q.notifies += 1;
                    self.pending |= 1 << (value & 31);
                }
            }
            (reg::STATUS, 1) if value == 0 => self.reset(),
            (reg::STATUS, 1) => self.status = value as u8 & !status::NEEDS_RESET,
            _ => {}
        }
    }

    /// Takes the lowest notified queue not yet serviced.
    pub fn take_pending(&mut self) -> Option<u16> {
        if self.pending == 0 {
            return None;
        }
        let q = self.pending.trailing_zeros();
        self.pending &= !(1 << q);
        Some(q as u16)
    }

    /// The device used buffers: an interrupt unless the driver suppressed it.
    pub fn used(&mut self, suppressed: bool) {
        if suppressed {
            self.suppressed += 1;
        } else {
            self.isr |= ISR_QUEUE;
            self.interrupts += 1;
        }
    }

    /// Whether the driver accepted `VIRTIO_F_RING_EVENT_IDX`.
    pub fn event_idx(&self) -> bool {
        self.guest_features & F_RING_EVENT_IDX != 0
    }

    /// The device finished serving `q`, whose used index stood at `old_used` before
    /// `served` completions: one interrupt for the whole batch unless the driver
    /// suppressed it (by the ring flag, or by `used_event` under event indexes, when the
    /// device also publishes `avail_event`). An interrupt announces its batch and, under
    /// event indexes, the completions `used_event` held back before it.
    pub fn finish(
        &mut self,
        dma: &mut Dma,
        q: &QueueState,
        old_used: u16,
        served: u32,
    ) -> Result<(), String> {
        if self.event_idx() {
            queue::put_avail_event(dma, q)?;
        }
        if served == 0 {
            return Ok(());
        }
        let quiet = if self.event_idx() {
            !queue::need_event(queue::used_event(dma, q)?, q.used_idx, old_used)
        } else {
            queue::no_interrupt(dma, q)?
        };
        self.used(quiet);
        if !quiet {
            self.announced += u64::from(served) + core::mem::take(&mut self.held);
        } else if self.event_idx() {
            self.held += u64::from(served);
        }
        Ok(())
    }

    /// The device hit an error in what the driver gave it: it stops until reset.
    pub fn device_error(&mut self, why: String) {
        self.status |= status::NEEDS_RESET;
        self.isr |= ISR_CONFIG;
        self.pending = 0;
        self.error = Some(why);
    }

    /// Cuts a restored snapshot's queue list to the device's own sizes.
    pub fn restore(&mut self, s: &Transport) {
        let max =
            |(i, q): (usize, &QueueState)| self.modern.queues.get(i).map_or(q.size, |m| m.max_size);
        let sizes: Vec<u16> = self.queues.iter().enumerate().map(max).collect();
        *self = s.clone();
        self.queues.resize(sizes.len(), QueueState::default());
        for (q, &size) in self.queues.iter_mut().zip(&sizes) {
            // A modern driver may have picked a smaller power of two.
            if !(q.size.is_power_of_two() && q.size < size && q.addrs.is_some()) {
                q.size = size;
            }
        }
        self.modern.restore(&sizes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_masked_and_isr_clears_on_read() {
        let mut t = Transport::new(1 << 9, &[128]);
        assert_eq!(t.read(reg::HOST_FEATURES, 4, &[]), 1 << 9);
        t.write(reg::GUEST_FEATURES, 4, u32::MAX);
        assert_eq!(t.guest_features, 1 << 9, "only offered features stick");
        assert_eq!(t.read(reg::QUEUE_SIZE, 2, &[]), 128);
        t.write(reg::QUEUE_SEL, 2, 5);
        assert_eq!(t.read(reg::QUEUE_SIZE, 2, &[]), 0, "no queue 5");
        t.used(false);
        assert!(t.irq_level());
        assert_eq!(t.read(reg::ISR, 1, &[]), 1);
        assert!(!t.irq_level(), "reading the ISR lowers the line");
        t.used(true);
        assert!(!t.irq_level());
        assert_eq!((t.interrupts, t.suppressed), (1, 1));
        assert_eq!(t.read(reg::CONFIG, 4, &[1, 2, 3, 4]), 0x0403_0201);
        t.write(reg::QUEUE_NOTIFY, 2, 0);
        t.write(reg::QUEUE_NOTIFY, 2, 7);
        assert_eq!(t.take_pending(), Some(0));
        assert_eq!(t.take_pending(), None, "queue 7 does not exist");
        t.write(reg::STATUS, 1, 0xf);
        t.device_error("bad".into());
        assert!(!t.live());
        t.write(reg::STATUS, 1, 0);
        assert_eq!((t.status, t.error.as_deref()), (0, None));
    }

    #[test]
    fn event_indexes_decide_the_interrupt_and_publish_avail_event() {
        use crate::memory::Memory;
        let mut mem = Memory::new(1 << 20);
        let mut t = Transport::new(F_RING_EVENT_IDX, &[8]);
        t.write(reg::QUEUE_PFN, 4, 1);
        let l = t.queues[0].layout().expect("set up");
        let (used_event, avail_event) = (l.avail + 4 + 2 * 8, l.used + 4 + 8 * 8);
        // Not negotiated: the ring flag decides, the device leaves avail_event alone.
        let mut q = t.queues[0].clone();
        q.last_avail = 3;
        q.used_idx = 3;
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        t.finish(&mut dma, &q, 0, 3).expect("in RAM");
        assert_eq!(
            (t.interrupts, t.announced),
            (1, 3),
            "one for the batch of 3"
        );
        assert_eq!(dma.u16(avail_event, "").ok(), Some(0));
        // Negotiated: interrupt only when the used index passes used_event.
        t.write(reg::GUEST_FEATURES, 4, F_RING_EVENT_IDX);
        assert!(t.event_idx());
        dma.put_u16(used_event, 5, "").expect("in RAM");
        q.used_idx = 5;
        q.last_avail = 5;
        t.finish(&mut dma, &q, 3, 2).expect("in RAM");
        assert_eq!(
            (t.interrupts, t.suppressed),
            (1, 1),
            "3 → 5 does not pass 5"
        );
        assert_eq!(
            dma.u16(avail_event, "").ok(),
            Some(5),
            "avail_event published"
        );
        q.used_idx = 6;
        t.finish(&mut dma, &q, 5, 1).expect("in RAM");
        assert_eq!((t.interrupts, t.suppressed), (2, 1), "5 → 6 passes 5");
        assert!(t.irq_level());
        // Nothing served: no interrupt, nothing counted.
        t.finish(&mut dma, &q, 6, 0).expect("in RAM");
        assert_eq!(
            (t.interrupts, t.suppressed, t.announced),
            (2, 1, 6),
            "the interrupt at 6 announced the 2 held back by used_event"
        );
    }
}
