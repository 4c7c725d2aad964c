//! A whole-machine snapshot: one serializable value whose restore continues bit-exactly.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::config::MachineConfig;
use crate::devices::apic::LocalApic;
use crate::mmu::TlbEntry;
use crate::platform::PlatformState;
use crate::state::CpuState;

/// The machine's state: CPU, memory, devices and TLB. The decode cache and the
/// counters are not part of it (the cache is rebuilt from memory; counters are statistics).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) config: MachineConfig,
    pub(crate) cpu: CpuState,
    pub(crate) icount: u64,
    pub(crate) ram: Vec<u8>,
    pub(crate) rom: Vec<u8>,
    pub(crate) platform: PlatformState,
    pub(crate) tlb: Vec<TlbEntry>,
    /// The VMM's state (virtual CPU, shadow tables, records), when the machine has one.
    #[serde(default)]
    pub(crate) vmm: Option<crate::vmm::Vmm>,
    /// The CPUs that were not running, in index order (none for one CPU).
    #[serde(default)]
    pub(crate) parked: Vec<ParkedCpu>,
    /// The index of the running CPU (`cpu`).
    #[serde(default)]
    pub(crate) running: usize,
    /// The running CPU's local APIC (absent from older snapshots).
    #[serde(default)]
    pub(crate) apic: Option<LocalApic>,
    /// Instructions left in the running CPU's quantum.
    #[serde(default)]
    pub(crate) slice_left: u64,
    /// How the host schedules the vCPUs, and its spin accounting (absent from older
    /// snapshots).
    #[serde(default)]
    pub(crate) host: Option<crate::smp::HostSched>,
}

/// A CPU that was not running at the snapshot: its state and TLB.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct ParkedCpu {
    pub(crate) cpu: CpuState,
    pub(crate) tlb: Vec<TlbEntry>,
    /// Its local APIC (absent from older snapshots).
    #[serde(default)]
    pub(crate) apic: Option<LocalApic>,
}

impl Snapshot {
    /// The CPU state at the snapshot.
    pub fn cpu(&self) -> &CpuState {
        &self.cpu
    }
    /// The number of CPUs at the snapshot.
    pub fn cpu_count(&self) -> usize {
        self.parked.len() + 1
    }
    /// Instructions retired at the snapshot.
    pub fn icount(&self) -> u64 {
        self.icount
    }
    /// Guest RAM at the snapshot.
    pub fn ram(&self) -> &[u8] {
        &self.ram
    }
}

impl core::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Snapshot")
            .field("cpu", &self.cpu)
            .field("icount", &self.icount)
            .field("ram_bytes", &self.ram.len())
            .field("rom_bytes", &self.rom.len())
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}
