//! The I/O port bus: maps port ranges to devices and refuses overlapping ranges.

use alloc::vec::Vec;

use crate::error::HostError;

/// One claimed port range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Mapping<D> {
    start: u16,
    end: u16,
    device: D,
}

/// A port bus: each device claims a range of ports and sees accesses relative to its
/// first port. Ranges never overlap; lookups are a binary search.
#[derive(Clone, Debug)]
pub struct PortBus<D> {
    mappings: Vec<Mapping<D>>,
}

impl<D: Copy> Default for PortBus<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Copy> PortBus<D> {
    /// An empty bus: every port is unclaimed.
    pub fn new() -> Self {
        PortBus {
            mappings: Vec::new(),
        }
    }

    /// Claims `len` ports starting at `start` for `device`.
    ///
    /// Fails with [`HostError::BusOverlap`] when any of them is already claimed, and
    /// with [`HostError::BadConfig`] when the range is empty or runs past port 0xFFFF.
    pub fn insert(&mut self, start: u16, len: u16, device: D) -> Result<(), HostError> {
        let end = len
            .checked_sub(1)
            .and_then(|l| start.checked_add(l))
            .ok_or_else(|| {
                HostError::BadConfig(alloc::format!(
                    "port range at {start:#x} with length {len} is empty or leaves the port space"
                ))
            })?;
        let at = self.mappings.partition_point(|m| m.end < start);
        if let Some(next) = self.mappings.get(at) {
            if next.start <= end {
                return Err(HostError::BusOverlap {
                    start: u32::from(start),
                    end: u32::from(end),
                });
            }
        }
        self.mappings.insert(at, Mapping { start, end, device });
        Ok(())
    }

    /// The device claiming `port` and the port's offset inside the device's range.
    #[inline]
    pub fn lookup(&self, port: u16) -> Option<(D, u16)> {
        let at = self.mappings.partition_point(|m| m.end < port);
        let m = self.mappings.get(at)?;
        (m.start <= port).then(|| (m.device, port - m.start))
    }

    /// Releases every range `device` claims (a PCI BAR moving or turned off).
    pub fn remove(&mut self, device: D)
    where
        D: PartialEq,
    {
        self.mappings.retain(|m| m.device != device);
    }

    /// Every claimed range as `(first port, last port, device)`, lowest first.
    pub fn ranges(&self) -> impl Iterator<Item = (u16, u16, D)> + '_ {
        self.mappings.iter().map(|m| (m.start, m.end, m.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_gives_device_and_offset() {
        let mut bus = PortBus::new();
        bus.insert(0x3f8, 8, 'u').unwrap();
        bus.insert(0x20, 2, 'p').unwrap();
        bus.insert(0x80, 1, 'd').unwrap();
        assert_eq!(bus.lookup(0x3f8), Some(('u', 0)));
        assert_eq!(bus.lookup(0x3ff), Some(('u', 7)));
        assert_eq!(bus.lookup(0x400), None);
        assert_eq!(bus.lookup(0x3f7), None);
        assert_eq!(bus.lookup(0x21), Some(('p', 1)));
        assert_eq!(bus.lookup(0x22), None);
        assert_eq!(bus.lookup(0x80), Some(('d', 0)));
        assert_eq!(bus.lookup(0), None);
        assert_eq!(bus.lookup(0xffff), None);
        let starts: Vec<u16> = bus.ranges().map(|r| r.0).collect();
        assert_eq!(starts, [0x20, 0x80, 0x3f8]);
    }

    #[test]
    fn overlaps_are_refused() {
        let mut bus = PortBus::new();
        bus.insert(0x40, 4, 1).unwrap();
        for (start, len) in [(0x40, 1), (0x43, 1), (0x3c, 5), (0x41, 1), (0x30, 0x20)] {
            assert_eq!(
                bus.insert(start, len, 2),
                Err(HostError::BusOverlap {
                    start: u32::from(start),
                    end: u32::from(start + len - 1)
                }),
                "{start:#x}+{len}"
            );
        }
        // Adjacent ranges are fine.
        bus.insert(0x3c, 4, 3).unwrap();
        bus.insert(0x44, 1, 4).unwrap();
        assert_eq!(bus.lookup(0x3f), Some((3, 3)));
        assert_eq!(bus.lookup(0x44), Some((4, 0)));
    }

    #[test]
    fn empty_or_wrapping_ranges_are_refused() {
        let mut bus: PortBus<u8> = PortBus::new();
        assert!(matches!(
            bus.insert(0x10, 0, 0),
            Err(HostError::BadConfig(_))
        ));
        assert!(matches!(
            bus.insert(0xfffe, 3, 0),
            Err(HostError::BadConfig(_))
        ));
        bus.insert(0xfffe, 2, 0).unwrap();
        assert_eq!(bus.lookup(0xffff), Some((0, 1)));
    }

    #[test]
    fn removed_ranges_can_be_claimed_again() {
        let mut bus = PortBus::new();
        bus.insert(0xc000, 16, 'b').unwrap();
        bus.insert(0x3f8, 8, 'u').unwrap();
        bus.remove('b');
        assert_eq!(bus.lookup(0xc000), None);
        assert_eq!(bus.lookup(0x3f8), Some(('u', 0)));
        bus.insert(0xc008, 16, 'b').unwrap();
        assert_eq!(bus.lookup(0xc010), Some(('b', 8)));
    }
}
