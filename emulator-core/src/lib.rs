//! vmlab's machine: an IA-32 (i486-class integer core) emulator with devices, loaders
//! and a VMM model, for teaching virtual machines.
//!
//! `no_std` + `alloc`: the same core runs in the browser (Wasm) and natively.
//! Guest faults go to the guest through the IDT; host failures are [`HostError`]s;
//! nothing a guest does makes the core panic, and every run is bounded by a budget.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
// The translation lab's API and reference solution are compiled here as the translating
// tier's ALU family, under the names the lab's files use.
extern crate self as assignments;

/// The component-lab API the translating tier shares with the translation lab.
mod component {
    pub use crate::cpu::translate::alu_family::api as xlate_alu;
}

pub mod bus;
pub mod config;
pub mod counters;
mod cpu;
pub mod descriptor;
pub mod devices;
pub mod error;
pub mod events;
pub mod history;
pub mod loader;
pub mod machine;
pub mod memory;
mod migration;
mod mmio;
pub mod mmu;
mod named;
pub mod platform;
pub mod smp;
pub mod snapshot;
pub mod state;
pub mod stop;
pub mod vmm;

/// The ALU primitives with lazy flags; public only so the host-CPU differential test
/// (`tests/alu_vs_host.rs`) can reach them. Not part of the stable API.
#[doc(hidden)]
pub mod alu {
    pub use crate::cpu::alu::*;
}

/// The x87 FPU's state and its soft 80-bit arithmetic (checked against the host's
/// x87 by `tests/x87_vs_host.rs`).
pub mod x87 {
    pub use crate::cpu::x87::f80::{exc, Class, Ctx, Format, Round, Rounded, F80};
    pub use crate::cpu::x87::{sw, Fpu, Tag};
}

/// The translating tier: regions, their IR and the passes.
pub mod translate {
    pub use crate::cpu::translate::*;
}

pub use config::{ExecMode, GuestPaging, GuestRing, MachineConfig};
pub use counters::Counters;
pub use cpu::Cpu;
pub use devices::{PostWrite, VgaText};
pub use error::{Exception, HostError};
pub use events::{Event, EventKind, EventRing};
pub use history::{History, HistoryLimits};
pub use machine::{FlatEntry, Machine};
pub use mmu::{PageWalk, PdeView, PteView, TlbEntryView, WalkStep};
pub use named::UnknownName;
pub use platform::{IoEffect, Platform, PlatformState};
pub use snapshot::Snapshot;
pub use state::{CpuState, Gpr, SegReg, Segment, TableReg};
pub use stop::StopReason;
