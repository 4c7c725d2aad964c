//! The PCI memory BARs the platform decodes (each virtio function's modern structures
//! in BAR 4) and the physical accesses that land in them.

use super::{Platform, VIRTIO_BLK_SLOT, VIRTIO_NET_SLOT};
use crate::devices::apic::IO_APIC_BASE;
use crate::devices::pci::MMIO_WINDOW;
use crate::devices::virtio::modern::{BAR, BAR_SIZE};

/// The functions with a modern memory BAR, in `Platform::virtio_mmio` order.
const SLOTS: [(u8, u8); 2] = [VIRTIO_BLK_SLOT, VIRTIO_NET_SLOT];

impl Platform {
    /// Decodes each virtio function's memory BAR where the guest put it, while its
    /// memory space is enabled and the BAR lies inside the MMIO window below the I/O
    /// APIC; two BARs at the same place: the first (virtio-blk) wins.
    pub(super) fn sync_mem_bars(&mut self) {
        let present = [self.virtio_blk.is_some(), self.virtio_net.is_some()];
        for (i, slot) in SLOTS.into_iter().enumerate() {
            self.virtio_mmio[i] = self.pci.as_ref().and_then(|p| {
                let f = p
                    .functions
                    .iter()
                    .find(|f| (f.device, f.function) == slot)?;
                let base = f.bar(BAR);
                (present[i]
                    && f.mem_enabled()
                    && base >= MMIO_WINDOW
                    && base.checked_add(BAR_SIZE)? <= IO_APIC_BASE)
                    .then_some(base)
            });
        }
    }

    /// The decoded BAR `addr` falls in: `(index, offset)`.
    fn mmio_target(&self, addr: u32) -> Option<(usize, u32)> {
        self.virtio_mmio.iter().enumerate().find_map(|(i, b)| {
            let off = addr.wrapping_sub((*b)?);
            (off < BAR_SIZE).then_some((i, off))
        })
    }

    /// Whether `addr` lies in a decoded memory BAR.
    pub fn mmio_decodes(&self, addr: u32) -> bool {
        self.mmio_target(addr).is_some()
    }

    /// A read of `size` bytes at physical `addr`, when a memory BAR decodes it.
    pub(crate) fn mmio_read(&mut self, addr: u32, size: u8) -> Option<u32> {
        let v = match self.mmio_target(addr)? {
            (0, off) => self.virtio_blk.as_mut()?.modern_read(off, size),
            (_, off) => self.virtio_net.as_mut()?.modern_read(off, size),
        };
        self.sync_virtio_irq();
        Some(v)
    }

    /// A write of `size` bytes at physical `addr`; false when no memory BAR decodes it.
    pub(crate) fn mmio_write(&mut self, addr: u32, size: u8, value: u32) -> bool {
        match self.mmio_target(addr) {
            Some((0, off)) => {
                if let Some(v) = self.virtio_blk.as_mut() {
                    v.modern_write(off, size, value);
                }
            }
            Some((_, off)) => {
                if let Some(v) = self.virtio_net.as_mut() {
                    v.modern_write(off, size, value);
                }
            }
            None => return false,
        }
        self.sync_virtio_irq();
        true
    }
}
