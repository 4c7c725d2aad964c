//! How to build a machine: memory size, execution mode, devices.

use serde::{Deserialize, Serialize};

/// How the guest runs: on the bare machine or under one of the VMM models.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecMode {
    /// No VMM: the guest owns the CPU.
    #[default]
    Bare,
    /// Classic trap-and-emulate: the guest kernel runs deprivileged with shadow paging.
    TrapEmulate {
        /// The ring the guest kernel is pushed down to (1, or 3 as an option).
        guest_ring: u8,
    },
    /// Hardware-assisted: the guest runs at ring 0 in non-root mode.
    HwAssist {
        /// How guest-physical memory is virtualized.
        paging: GuestPaging,
    },
}

/// Memory virtualization under `hw-assist`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestPaging {
    /// A second-level table maps guest-physical to host-physical.
    #[default]
    Nested,
    /// The VMM keeps shadow tables, as under trap-and-emulate.
    Shadow,
}

/// Everything needed to build a [`crate::Machine`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MachineConfig {
    /// Guest RAM in MiB (1 to 3072).
    pub ram_mib: u32,
    /// Bare or under a VMM.
    pub mode: ExecMode,
    /// Capacity of the event ring (oldest events drop first).
    pub event_capacity: usize,
    /// Bytes of serial output kept (older output drops first); bounds a console flood.
    pub serial_capacity: usize,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            ram_mib: 16,
            mode: ExecMode::Bare,
            event_capacity: 4096,
            serial_capacity: 1 << 20,
        }
    }
}
