//! The network link between two hosts: a bandwidth and a one-way latency, turned
//! into guest cycles.

use emulator_core::devices::pit::CPU_HZ;
use serde::{Deserialize, Serialize};

use crate::MigrateError;

/// Bytes in a page sent over the link.
pub const PAGE_BYTES: u64 = 4096;
/// Bytes of CPU and device state sent when the guest stops (registers, TLB, devices,
/// VMM state: a fixed, generous figure).
pub const STATE_BYTES: u64 = 16 * 1024;

/// A link of `bandwidth` bytes a second and `latency_us` microseconds one way.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Link {
    /// Bytes a second.
    pub bandwidth: u64,
    /// One-way latency, microseconds.
    pub latency_us: u64,
}

impl Link {
    /// A link; the bandwidth must be at least 1 KB/s and the latency at most 10 s.
    pub fn new(bandwidth: u64, latency_us: u64) -> Result<Link, MigrateError> {
        if bandwidth < 1000 {
            return Err(MigrateError::BadSetting(alloc::format!(
                "bandwidth is {bandwidth} bytes/s; it must be at least 1000"
            )));
        }
        if latency_us > 10_000_000 {
            return Err(MigrateError::BadSetting(alloc::format!(
                "latency is {latency_us} us; it must be at most 10 s"
            )));
        }
        Ok(Link {
            bandwidth,
            latency_us,
        })
    }

    /// One-way latency in guest cycles.
    pub fn latency_cycles(&self) -> u64 {
        self.latency_us.saturating_mul(CPU_HZ / 1_000_000)
    }

    /// Cycles to put `bytes` on the wire (no latency).
    pub fn wire_cycles(&self, bytes: u64) -> u64 {
        let c = u128::from(bytes) * u128::from(CPU_HZ) / u128::from(self.bandwidth.max(1));
        u64::try_from(c).unwrap_or(u64::MAX)
    }

    /// Cycles from the first byte sent to the last received: latency plus wire time.
    pub fn transfer_cycles(&self, bytes: u64) -> u64 {
        self.latency_cycles()
            .saturating_add(self.wire_cycles(bytes))
    }

    /// Bytes the link carries in `cycles`.
    pub fn bytes_in(&self, cycles: u64) -> u64 {
        let b = u128::from(cycles) * u128::from(self.bandwidth) / u128::from(CPU_HZ);
        u64::try_from(b).unwrap_or(u64::MAX)
    }
}

/// Cycles as microseconds (for reports).
pub fn cycles_to_us(cycles: u64) -> u64 {
    cycles / (CPU_HZ / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_megabyte_at_a_megabyte_a_second_takes_a_second_plus_latency() {
        let l = Link::new(1_000_000, 500).expect("link");
        assert_eq!(l.transfer_cycles(1_000_000), CPU_HZ + CPU_HZ / 2000);
        assert_eq!(l.bytes_in(CPU_HZ), 1_000_000);
        assert!(Link::new(10, 0).is_err());
    }
}
