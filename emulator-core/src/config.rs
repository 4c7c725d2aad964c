//! How to build a machine: memory size, execution mode, devices.

use serde::{Deserialize, Serialize};

/// How the guest runs: on the bare machine or under one of the VMM models.
///
/// Every mode has one name ([`ExecMode::name`], parsed back by `FromStr`); the CLI,
/// lab files, the lab page's worker protocol and URLs, and the bench all use it, and
/// serde reads and writes a mode as that name.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ExecMode {
    /// No VMM: the guest owns the CPU.
    #[default]
    Bare,
    /// Classic trap-and-emulate: the guest kernel runs deprivileged with shadow paging.
    TrapEmulate {
        /// The ring the guest kernel is pushed down to.
        guest_ring: GuestRing,
    },
    /// Hardware-assisted: the guest runs at ring 0 in non-root mode.
    HwAssist {
        /// How guest-physical memory is virtualized.
        paging: GuestPaging,
    },
}

/// The ring trap-and-emulate deprivileges the guest kernel to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum GuestRing {
    /// Ring 1 (VMware, 32-bit Xen).
    #[default]
    Ring1,
    /// Ring 2.
    Ring2,
    /// Ring 3 (64-bit Xen PV): the VMM tracks the virtual CPL and keeps a kernel-mode
    /// and a user-mode shadow root.
    Ring3,
}

impl GuestRing {
    /// The ring number (1 to 3).
    pub const fn number(self) -> u8 {
        match self {
            GuestRing::Ring1 => 1,
            GuestRing::Ring2 => 2,
            GuestRing::Ring3 => 3,
        }
    }

    /// The ring numbered `n`, if a guest kernel can be deprivileged to it.
    pub const fn from_number(n: u8) -> Option<GuestRing> {
        match n {
            1 => Some(GuestRing::Ring1),
            2 => Some(GuestRing::Ring2),
            3 => Some(GuestRing::Ring3),
            _ => None,
        }
    }
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

impl ExecMode {
    /// Trap-and-emulate with the guest kernel at ring 1 (`trap-emulate`).
    pub const TRAP_EMULATE: ExecMode = ExecMode::TrapEmulate {
        guest_ring: GuestRing::Ring1,
    };
    /// Hardware-assisted with nested paging (`hw-assist`).
    pub const HW_ASSIST: ExecMode = ExecMode::HwAssist {
        paging: GuestPaging::Nested,
    };

    /// Every mode, bare first, then by VMM.
    pub const ALL: [ExecMode; 6] = [
        ExecMode::Bare,
        ExecMode::TRAP_EMULATE,
        ExecMode::TrapEmulate {
            guest_ring: GuestRing::Ring2,
        },
        ExecMode::TrapEmulate {
            guest_ring: GuestRing::Ring3,
        },
        ExecMode::HW_ASSIST,
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ];

    /// The mode's name: `bare`, `trap-emulate` (ring 1), `trap-emulate-ring2`,
    /// `trap-emulate-ring3`, `hw-assist` (nested paging) or `hw-assist-shadow`.
    pub const fn name(self) -> &'static str {
        match self {
            ExecMode::Bare => "bare",
            ExecMode::TrapEmulate { guest_ring } => match guest_ring {
                GuestRing::Ring1 => "trap-emulate",
                GuestRing::Ring2 => "trap-emulate-ring2",
                GuestRing::Ring3 => "trap-emulate-ring3",
            },
            ExecMode::HwAssist { paging } => match paging {
                GuestPaging::Nested => "hw-assist",
                GuestPaging::Shadow => "hw-assist-shadow",
            },
        }
    }
}

crate::named::by_name!(ExecMode, "mode");

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
    /// Processors (1 to [`MAX_CPUS`]); CPU 0 starts, the others wait for INIT and SIPI.
    #[serde(default = "one")]
    pub cpus: u32,
    /// Instructions each CPU runs before the next one's turn (round robin, at least 1).
    #[serde(default = "default_quantum")]
    pub quantum: u64,
}

/// The most CPUs a machine has (APIC IDs 0–15; the I/O APIC takes the next ID).
pub const MAX_CPUS: u32 = 15;

fn one() -> u32 {
    1
}

fn default_quantum() -> u64 {
    1000
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            ram_mib: 16,
            mode: ExecMode::Bare,
            event_capacity: 4096,
            serial_capacity: 1 << 20,
            cpus: 1,
            quantum: default_quantum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FlatEntry;

    #[test]
    fn every_mode_and_entry_parses_back_from_its_name() {
        for m in ExecMode::ALL {
            assert_eq!(m.name().parse::<ExecMode>(), Ok(m));
        }
        for e in FlatEntry::ALL {
            assert_eq!(e.name().parse::<FlatEntry>(), Ok(e));
        }
        let names: alloc::collections::BTreeSet<_> = ExecMode::ALL.map(ExecMode::name).into();
        assert_eq!(names.len(), ExecMode::ALL.len(), "names are distinct");
        assert!("trap".parse::<ExecMode>().is_err());
        assert_eq!("real16".parse::<FlatEntry>(), Ok(FlatEntry::Real16));
        assert_eq!("flat32".parse::<FlatEntry>(), Ok(FlatEntry::Protected32));
        assert!("pm16".parse::<FlatEntry>().is_err());
        for n in 0..=u8::MAX {
            let ring = GuestRing::from_number(n);
            assert_eq!(
                ring.map(GuestRing::number),
                (1..=3).contains(&n).then_some(n)
            );
        }
    }

    #[test]
    fn serde_writes_and_reads_the_names() {
        let cfg = MachineConfig {
            mode: ExecMode::TrapEmulate {
                guest_ring: GuestRing::Ring3,
            },
            ..MachineConfig::default()
        };
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["mode"], "trap-emulate-ring3");
        assert_eq!(serde_json::from_value::<MachineConfig>(json).unwrap(), cfg);
        assert_eq!(
            serde_json::to_value(FlatEntry::Protected32).unwrap(),
            "pm32"
        );
        let err = serde_json::from_str::<ExecMode>("\"hw\"").unwrap_err();
        assert!(
            alloc::format!("{err}").contains("hw-assist-shadow"),
            "{err}"
        );
    }
}
