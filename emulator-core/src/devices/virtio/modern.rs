//! virtio's modern PCI interface (virtio 1.x §4.1.4): the vendor-specific capabilities
//! and the memory BAR holding the common configuration, notify, ISR and device
//! configuration structures, over the same [`Transport`] the legacy block drives.

use alloc::format;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::transport::{reg, status, Transport};
use crate::devices::PciFunction;

/// The memory BAR holding the structures (a 32-bit BAR; BAR 0 stays the legacy block).
pub const BAR: usize = 4;
/// Its size.
pub const BAR_SIZE: u32 = 0x1000;
/// Feature bit 32: the driver follows virtio 1.x (independent ring addresses).
pub const F_VERSION_1: u64 = 1 << 32;
/// The PCI capability ID of a vendor-specific capability.
pub const CAP_VNDR: u8 = 0x09;
/// The multiplier from a queue's notify offset to its notify address.
pub const NOTIFY_MULTIPLIER: u32 = 4;

/// Capability types (`cfg_type`).
pub mod cfg {
    /// Common configuration.
    pub const COMMON: u8 = 1;
    /// Notifications.
    pub const NOTIFY: u8 = 2;
    /// ISR status.
    pub const ISR: u8 = 3;
    /// Device-specific configuration.
    pub const DEVICE: u8 = 4;
}

/// `(cfg_type, offset in the BAR, length)` of each structure, in list order.
pub const STRUCTURES: [(u8, u32, u32); 4] = [
    (cfg::COMMON, 0x000, 0x38),
    (cfg::ISR, 0x100, 4),
    (cfg::DEVICE, 0x200, 0x100),
    (cfg::NOTIFY, 0x300, 0x100),
];

/// Common configuration offsets (§4.1.4.3).
pub mod common {
    /// Which half of the device features `DEVICE_FEATURE` shows (0 or 1).
    pub const DEVICE_FEATURE_SELECT: u32 = 0x00;
    /// Device features, the selected half (read-only).
    pub const DEVICE_FEATURE: u32 = 0x04;
    /// Which half of the driver features `DRIVER_FEATURE` writes.
    pub const DRIVER_FEATURE_SELECT: u32 = 0x08;
    /// Driver features, the selected half.
    pub const DRIVER_FEATURE: u32 = 0x0c;
    /// The configuration-change MSI-X vector (0xFFFF: none; there is no MSI-X).
    pub const MSIX_CONFIG: u32 = 0x10;
    /// The number of queues (read-only).
    pub const NUM_QUEUES: u32 = 0x12;
    /// Device status, 8 bits (0 resets the device).
    pub const DEVICE_STATUS: u32 = 0x14;
    /// Configuration generation, 8 bits (read-only).
    pub const CONFIG_GENERATION: u32 = 0x15;
    /// Queue select, 16 bits.
    pub const QUEUE_SELECT: u32 = 0x16;
    /// The selected queue's size (writable down to a power of two before enable).
    pub const QUEUE_SIZE: u32 = 0x18;
    /// The selected queue's MSI-X vector (0xFFFF: none).
    pub const QUEUE_MSIX_VECTOR: u32 = 0x1a;
    /// The selected queue's enable, 16 bits.
    pub const QUEUE_ENABLE: u32 = 0x1c;
    /// The selected queue's notify offset (read-only).
    pub const QUEUE_NOTIFY_OFF: u32 = 0x1e;
    /// The descriptor table's address, 64 bits.
    pub const QUEUE_DESC: u32 = 0x20;
    /// The driver (available) area's address, 64 bits.
    pub const QUEUE_DRIVER: u32 = 0x28;
    /// The device (used) area's address, 64 bits.
    pub const QUEUE_DEVICE: u32 = 0x30;
}

/// The modern interface's own registers (the rest is the shared [`Transport`]).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Modern {
    /// The driver used this interface since the last reset.
    pub active: bool,
    /// `DEVICE_FEATURE_SELECT`.
    pub device_feature_select: u32,
    /// `DRIVER_FEATURE_SELECT`.
    pub driver_feature_select: u32,
    /// The 64 feature bits the driver wrote (checked at `FEATURES_OK`).
    pub driver_features: u64,
    /// Each queue's modern registers.
    pub queues: Vec<ModernQueue>,
}

/// One queue's modern registers.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ModernQueue {
    /// The device's queue size (the driver may choose a smaller power of two).
    pub max_size: u16,
    /// The three parts' addresses as written: descriptor table, driver, device area.
    pub addrs: [u64; 3],
    /// `QUEUE_ENABLE`.
    pub enabled: bool,
}

/// The vendor-specific capabilities (`struct virtio_pci_cap`, and the notify
/// multiplier after the notify one), for [`crate::devices::PciFunction::with_capabilities`].
pub fn capabilities() -> Vec<Vec<u8>> {
    STRUCTURES
        .iter()
        .map(|&(kind, offset, length)| {
            let mut c = alloc::vec![CAP_VNDR, 0, 16, kind, BAR as u8, 0, 0, 0];
            c.extend_from_slice(&offset.to_le_bytes());
            c.extend_from_slice(&length.to_le_bytes());
            if kind == cfg::NOTIFY {
                c[2] = 20;
                c.extend_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
            }
            c
        })
        .collect()
}

/// The vendor-specific capabilities of `f` as a driver reads them from configuration
/// space: `(cfg_type, bar, offset, length)` in list order.
pub fn read_capabilities(f: &PciFunction) -> Vec<(u8, u8, u32, u32)> {
    f.capabilities()
        .into_iter()
        .filter(|&(_, id)| id == CAP_VNDR)
        .map(|(at, _)| {
            let at = at & 0xfc;
            let byte = |i: u8| f.read(at.wrapping_add(i), 1) as u8;
            (
                byte(3),
                byte(4),
                f.read(at.wrapping_add(8), 4),
                f.read(at.wrapping_add(12), 4),
            )
        })
        .collect()
}

/// A capability type's name.
pub fn cfg_name(kind: u8) -> &'static str {
    match kind {
        cfg::COMMON => "common",
        cfg::NOTIFY => "notify",
        cfg::ISR => "ISR",
        cfg::DEVICE => "device",
        5 => "PCI",
        _ => "other",
    }
}

/// The structure `offset` of the BAR falls in: `(cfg_type, offset inside it)`.
fn structure(offset: u32) -> Option<(u8, u32)> {
    STRUCTURES
        .iter()
        .find(|&&(_, at, len)| offset.wrapping_sub(at) < len)
        .map(|&(kind, at, _)| (kind, offset - at))
}

impl Modern {
    /// The registers of a device with queues of these sizes, at power-on.
    pub fn new(sizes: &[u16]) -> Modern {
        let queues = sizes.iter().map(|&max_size| ModernQueue {
            max_size,
            ..ModernQueue::default()
        });
        Modern {
            queues: queues.collect(),
            ..Modern::default()
        }
    }

    /// Back to power-on: the queue sizes return to the device's.
    pub fn reset(&mut self, queues: &mut [super::QueueState]) {
        for (q, m) in queues.iter_mut().zip(&self.queues) {
            q.size = m.max_size;
        }
        let sizes = self.queues.iter().map(|m| m.max_size);
        let queues = sizes
            .map(|max_size| ModernQueue {
                max_size,
                ..ModernQueue::default()
            })
            .collect();
        *self = Modern {
            queues,
            ..Modern::default()
        };
    }
}

impl Modern {
    /// After a snapshot's restore: the queue list and sizes are the device's own.
    pub fn restore(&mut self, sizes: &[u16]) {
        self.queues.resize(sizes.len(), ModernQueue::default());
        for (m, &size) in self.queues.iter_mut().zip(sizes) {
            m.max_size = size;
        }
    }
}

impl Transport {
    /// The interface the driver uses: `"modern"` or `"legacy"`.
    pub fn interface(&self) -> &'static str {
        if self.modern.active {
            "modern"
        } else {
            "legacy"
        }
    }

    /// The 64 feature bits the modern interface offers.
    pub fn modern_features(&self) -> u64 {
        u64::from(self.host_features) | F_VERSION_1
    }

    /// Makes the per-queue modern registers exist (recording the device's sizes).
    fn modern_queues(&mut self) {
        if self.modern.queues.len() != self.queues.len() {
            self.modern.queues = self
                .queues
                .iter()
                .map(|q| ModernQueue {
                    max_size: q.size,
                    ..ModernQueue::default()
                })
                .collect();
        }
    }

    /// The common configuration's bytes as the driver reads them.
    fn common_bytes(&mut self) -> [u8; 0x38] {
        self.modern_queues();
        let m = &self.modern;
        let sel = usize::from(self.queue_sel);
        let mut r = [0u8; 0x38];
        let feats = self.modern_features();
        let half = |f: u64, s: u32| match s {
            0 => f as u32,
            1 => (f >> 32) as u32,
            _ => 0,
        };
        let put = |r: &mut [u8; 0x38], at: u32, b: &[u8]| {
            r[at as usize..at as usize + b.len()].copy_from_slice(b);
        };
        put(&mut r, 0x00, &m.device_feature_select.to_le_bytes());
        put(
            &mut r,
            0x04,
            &half(feats, m.device_feature_select).to_le_bytes(),
        );
        put(&mut r, 0x08, &m.driver_feature_select.to_le_bytes());
        let drv = half(m.driver_features, m.driver_feature_select);
        put(&mut r, 0x0c, &drv.to_le_bytes());
        put(&mut r, 0x10, &0xffffu16.to_le_bytes());
        put(&mut r, 0x12, &(self.queues.len() as u16).to_le_bytes());
        r[0x14] = self.status;
        put(&mut r, 0x16, &self.queue_sel.to_le_bytes());
        if let (Some(q), Some(mq)) = (self.queues.get(sel), m.queues.get(sel)) {
            put(&mut r, 0x18, &q.size.to_le_bytes());
            put(&mut r, 0x1a, &0xffffu16.to_le_bytes());
            put(&mut r, 0x1c, &u16::from(mq.enabled).to_le_bytes());
            put(&mut r, 0x1e, &(sel as u16).to_le_bytes());
            for (i, a) in mq.addrs.iter().enumerate() {
                put(&mut r, 0x20 + 8 * i as u32, &a.to_le_bytes());
            }
        }
        r
    }

    /// Reads `size` bytes at `offset` of the modern BAR; `config` is the device-specific
    /// configuration. Reading the ISR clears it.
    pub fn modern_read(&mut self, offset: u32, size: u8, config: &[u8]) -> u32 {
        let Some((kind, off)) = structure(offset) else {
            return 0;
        };
        let bytes: Vec<u8> = match kind {
            cfg::COMMON => self.common_bytes().to_vec(),
            cfg::ISR => {
                let v = self.isr;
                if off == 0 {
                    self.isr = 0;
                }
                alloc::vec![v]
            }
            cfg::DEVICE => config.to_vec(),
            _ => Vec::new(),
        };
        (0..u32::from(size.clamp(1, 4))).fold(0, |v, i| {
            let b = bytes.get((off + i) as usize).copied().unwrap_or(0);
            v | u32::from(b) << (8 * i)
        })
    }

    /// Writes `size` bytes at `offset` of the modern BAR. Only whole-field writes (both
    /// 32-bit halves of the 64-bit addresses) take effect; notifications go to the
    /// queue whose notify address `offset` is.
    pub fn modern_write(&mut self, offset: u32, size: u8, value: u32) {
        match structure(offset) {
            Some((cfg::COMMON, off)) => {
                self.modern_queues();
                self.common_write(off, size, value);
                self.modern.active = true;
            }
            Some((cfg::NOTIFY, off)) if size >= 2 && off % NOTIFY_MULTIPLIER == 0 => {
                self.write(reg::QUEUE_NOTIFY, 2, off / NOTIFY_MULTIPLIER);
            }
            _ => {}
        }
    }

    fn common_write(&mut self, off: u32, size: u8, value: u32) {
        let sel = usize::from(self.queue_sel);
        let m = &mut self.modern;
        match (off, size) {
            (common::DEVICE_FEATURE_SELECT, 4) => m.device_feature_select = value,
            (common::DRIVER_FEATURE_SELECT, 4) => m.driver_feature_select = value,
            (common::DRIVER_FEATURE, 4) => {
                let shift = match m.driver_feature_select {
                    0 => 0,
                    1 => 32,
                    _ => return,
                };
                m.driver_features =
                    m.driver_features & !(0xffff_ffff << shift) | u64::from(value) << shift;
                self.guest_features = m.driver_features as u32 & self.host_features;
            }
            (common::DEVICE_STATUS, 1) => self.modern_status(value as u8),
            (common::QUEUE_SELECT, 2) => self.queue_sel = value as u16,
            (common::QUEUE_SIZE, 2) => {
                let n = value as u16;
                if let (Some(q), Some(mq)) = (self.queues.get_mut(sel), m.queues.get(sel)) {
                    if !mq.enabled && n.is_power_of_two() && n <= mq.max_size {
                        q.size = n;
                    }
                }
            }
            (common::QUEUE_ENABLE, 2) if value & 1 == 1 => self.enable_queue(sel),
            (off @ common::QUEUE_DESC..=0x37, 4) if off % 4 == 0 => {
                if let Some(mq) = m.queues.get_mut(sel).filter(|q| !q.enabled) {
                    let part = &mut mq.addrs[(off - common::QUEUE_DESC) as usize / 8];
                    let shift = if off % 8 == 0 { 0 } else { 32 };
                    *part = *part & !(0xffff_ffff << shift) | u64::from(value) << shift;
                }
            }
            _ => {}
        }
    }

    /// A device-status write: 0 resets; `FEATURES_OK` sticks only when the driver
    /// accepted `VIRTIO_F_VERSION_1` and nothing the device did not offer; a driver's
    /// write never clears `NEEDS_RESET` (only a reset does).
    fn modern_status(&mut self, value: u8) {
        let mut v = value;
        if v & status::FEATURES_OK != 0 && self.status & status::FEATURES_OK == 0 {
            let asked = self.modern.driver_features;
            if asked & !self.modern_features() != 0 || asked & F_VERSION_1 == 0 {
                v &= !status::FEATURES_OK;
            }
        }
        let stopped = self.status & status::NEEDS_RESET;
        self.write(reg::STATUS, 1, u32::from(v));
        if v != 0 {
            self.status |= stopped;
        }
    }

    /// `QUEUE_ENABLE` := 1: the queue runs at the three addresses the driver wrote, each
    /// part aligned and wholly below 4 GiB; otherwise the device needs a reset.
    fn enable_queue(&mut self, sel: usize) {
        let (Some(q), Some(mq)) = (self.queues.get(sel), self.modern.queues.get(sel)) else {
            return;
        };
        let n = u64::from(q.size);
        let [desc, driver, device] = mq.addrs;
        let parts = [
            ("descriptor table", desc, 16 * n, 16),
            ("driver area", driver, 6 + 2 * n, 2),
            ("device area", device, 6 + 8 * n, 4),
        ];
        for (what, at, len, align) in parts {
            if at % align != 0 || at.saturating_add(len) > 1 << 32 {
                self.device_error(format!(
                    "queue {sel}: the {what} at {at:#x} ({len} bytes) is not {align}-byte aligned below 4 GiB"
                ));
                return;
            }
        }
        if let (Some(q), Some(mq)) = (self.queues.get_mut(sel), self.modern.queues.get_mut(sel)) {
            q.addrs = Some([desc as u32, driver as u32, device as u32]);
            q.pfn = 0;
            mq.enabled = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio::queue::Dma;
    use crate::memory::Memory;

    /// Common-configuration write at `off`.
    fn put(t: &mut Transport, off: u32, size: u8, v: u32) {
        t.modern_write(off, size, v);
    }

    fn get(t: &mut Transport, off: u32, size: u8) -> u32 {
        t.modern_read(off, size, &[0xaa, 0xbb])
    }

    #[test]
    fn features_ok_is_refused_for_what_was_not_offered() {
        let mut t = Transport::new(1 << 9, &[128]);
        put(&mut t, common::DEVICE_STATUS, 1, 0);
        put(&mut t, common::DEVICE_FEATURE_SELECT, 4, 1);
        assert_eq!(get(&mut t, common::DEVICE_FEATURE, 4), 1, "VERSION_1");
        put(&mut t, common::DEVICE_FEATURE_SELECT, 4, 0);
        assert_eq!(get(&mut t, common::DEVICE_FEATURE, 4), 1 << 9);
        // Bit 33 was not offered: FEATURES_OK does not stick.
        put(&mut t, common::DRIVER_FEATURE_SELECT, 4, 1);
        put(&mut t, common::DRIVER_FEATURE, 4, 3);
        put(&mut t, common::DEVICE_STATUS, 1, 1 | 2 | 8);
        assert_eq!(get(&mut t, common::DEVICE_STATUS, 1), 3, "refused");
        // Without VERSION_1 the modern interface refuses too.
        put(&mut t, common::DRIVER_FEATURE, 4, 0);
        put(&mut t, common::DEVICE_STATUS, 1, 1 | 2 | 8);
        assert_eq!(get(&mut t, common::DEVICE_STATUS, 1), 3);
        // VERSION_1 and flush: accepted.
        put(&mut t, common::DRIVER_FEATURE, 4, 1);
        put(&mut t, common::DRIVER_FEATURE_SELECT, 4, 0);
        put(&mut t, common::DRIVER_FEATURE, 4, 1 << 9 | 1 << 3);
        assert_eq!(get(&mut t, common::DRIVER_FEATURE, 4), 1 << 9 | 1 << 3);
        put(&mut t, common::DEVICE_STATUS, 1, 1 | 2 | 8);
        assert_eq!(
            get(&mut t, common::DEVICE_STATUS, 1),
            3,
            "bit 3 not offered"
        );
        put(&mut t, common::DRIVER_FEATURE, 4, 1 << 9);
        put(&mut t, common::DEVICE_STATUS, 1, 1 | 2 | 8);
        assert_eq!(get(&mut t, common::DEVICE_STATUS, 1), 0xb, "accepted");
        assert_eq!(t.guest_features, 1 << 9);
        assert_eq!(t.interface(), "modern");
        // Legacy sees no bit 32 and reading the ISR through either clears it.
        assert_eq!(t.read(reg::HOST_FEATURES, 4, &[]), 1 << 9);
        assert_eq!(get(&mut t, common::NUM_QUEUES, 2), 1);
        assert_eq!(get(&mut t, common::MSIX_CONFIG, 2), 0xffff);
        assert_eq!(get(&mut t, 0x200, 2), 0xbbaa, "device configuration");
        t.used(false);
        assert_eq!(get(&mut t, 0x100, 1), 1);
        assert_eq!(get(&mut t, 0x100, 1), 0, "read-to-clear");
        // A reset through the legacy block ends the modern session.
        t.write(reg::STATUS, 1, 0);
        assert_eq!(t.interface(), "legacy");
    }

    #[test]
    fn queues_take_independent_64_bit_addresses_and_sizes() {
        let mut t = Transport::new(0, &[128, 128]);
        put(&mut t, common::QUEUE_SELECT, 2, 1);
        assert_eq!(get(&mut t, common::QUEUE_SIZE, 2), 128);
        assert_eq!(get(&mut t, common::QUEUE_NOTIFY_OFF, 2), 1);
        put(&mut t, common::QUEUE_SIZE, 2, 48);
        assert_eq!(get(&mut t, common::QUEUE_SIZE, 2), 128, "not a power of 2");
        put(&mut t, common::QUEUE_SIZE, 2, 256);
        assert_eq!(get(&mut t, common::QUEUE_SIZE, 2), 128, "above the maximum");
        put(&mut t, common::QUEUE_SIZE, 2, 16);
        put(&mut t, common::QUEUE_DESC, 4, 0x5000);
        put(&mut t, common::QUEUE_DRIVER, 4, 0x7002);
        put(&mut t, common::QUEUE_DEVICE, 4, 0x9004);
        put(&mut t, common::QUEUE_ENABLE, 2, 1);
        assert_eq!(get(&mut t, common::QUEUE_ENABLE, 2), 1);
        assert_eq!(get(&mut t, common::QUEUE_DRIVER, 4), 0x7002);
        let l = t.queues[1].layout().expect("enabled");
        assert_eq!((l.desc, l.avail, l.used), (0x5000, 0x7002, 0x9004));
        assert_eq!(t.queues[1].size, 16);
        assert_eq!(t.queues[0].layout(), None, "queue 0 untouched");
        // The notify structure: queue 1 at 0x300 + 1 × 4.
        put(&mut t, 0x304, 2, 1);
        assert_eq!(t.take_pending(), Some(1));
        put(&mut t, 0x300 + 4 * 9, 2, 9);
        assert_eq!(t.take_pending(), None, "no queue 9");
        // Reset: sizes and addresses go back to power-on.
        put(&mut t, common::DEVICE_STATUS, 1, 0);
        assert_eq!((t.queues[1].size, t.queues[1].layout()), (128, None));
        assert_eq!(get(&mut t, common::QUEUE_DESC, 4), 0);
    }

    #[test]
    fn a_damaged_snapshot_cannot_place_a_queue_across_4_gib() {
        let mut t = Transport::new(0, &[128]);
        put(&mut t, common::QUEUE_SIZE, 2, 16);
        let mut bad = t.clone();
        bad.queues[0].addrs = Some([0xffff_fff0, 0, 0]);
        bad.modern.queues.clear(); // as an older snapshot has it
        t.restore(&bad);
        assert_eq!(t.queues[0].size, 16, "the driver's choice");
        assert_eq!(t.queues[0].layout(), None, "the table would cross 4 GiB");
        put(&mut t, common::DEVICE_STATUS, 1, 0);
        assert_eq!(
            t.queues[0].size, 128,
            "the device's size, not the snapshot's"
        );
    }

    #[test]
    fn a_queue_above_4_gib_or_guest_ram_needs_a_reset() {
        let mut t = Transport::new(0, &[8]);
        put(&mut t, common::DEVICE_STATUS, 1, 1 | 2);
        put(&mut t, common::QUEUE_DESC, 4, 0x1000);
        put(&mut t, common::QUEUE_DESC + 4, 4, 1);
        put(&mut t, common::QUEUE_ENABLE, 2, 1);
        assert_ne!(t.status & status::NEEDS_RESET, 0);
        assert_eq!(
            t.isr & super::super::transport::ISR_CONFIG,
            2,
            "config interrupt"
        );
        assert!(t.irq_level());
        assert!(t.error.as_deref().unwrap_or("").contains("0x100001000"));
        put(&mut t, common::DEVICE_STATUS, 1, 0xf);
        assert_eq!(
            t.status, 0x47,
            "no FEATURES_OK (no VERSION_1); NEEDS_RESET stays"
        );
        assert!(!t.live());
        assert_eq!(t.queues[0].layout(), None);
        // A table whose end passes 4 GiB, and a misaligned one.
        for desc in [0xffff_ff90u32, 0x1008] {
            put(&mut t, common::DEVICE_STATUS, 1, 0);
            put(&mut t, common::QUEUE_DESC, 4, desc);
            put(&mut t, common::QUEUE_ENABLE, 2, 1);
            assert_ne!(t.status & status::NEEDS_RESET, 0, "{desc:#x}");
        }
        // Below 4 GiB but above RAM: the first use stops the device.
        put(&mut t, common::DEVICE_STATUS, 1, 0);
        put(&mut t, common::QUEUE_DESC, 4, 0x8000_0000);
        put(&mut t, common::QUEUE_DRIVER, 4, 0x8000_1000);
        put(&mut t, common::QUEUE_DEVICE, 4, 0x8000_2000);
        put(&mut t, common::QUEUE_ENABLE, 2, 1);
        assert_eq!(t.status & status::NEEDS_RESET, 0);
        let mut mem = Memory::new(1 << 20);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        let mut q = t.queues[0].clone();
        let e = super::super::queue::pop(&mut dma, &mut q).expect_err("outside RAM");
        assert!(e.contains("outside guest RAM"), "{e}");
    }
}
