//! Tagged TLB (VPID on VT-x, ASID on AMD-V): whether the TLB's entries survive a VM
//! exit and the entry back, and how many flushes the exits cost.

use serde::{Deserialize, Serialize};

/// How the TLB treats a VM exit and the VM entry after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TlbTagging {
    /// Entries carry the VM's tag (VPID or ASID): the VMM's and the guest's
    /// translations live side by side, and an exit and entry flush nothing.
    #[default]
    Tagged,
    /// No tags (VT-x before VPID): every exit and entry switches address space,
    /// so the TLB is flushed and the guest refills it by page walks after each exit.
    Flush,
}

impl TlbTagging {
    /// Both settings, tagged first.
    pub const ALL: [TlbTagging; 2] = [TlbTagging::Tagged, TlbTagging::Flush];

    /// `tagged` or `flush`.
    pub const fn name(self) -> &'static str {
        match self {
            TlbTagging::Tagged => "tagged",
            TlbTagging::Flush => "flush",
        }
    }
}

crate::named::by_name!(TlbTagging, "TLB tagging");

/// The TLB counters of the VMM (`vmlab run --json`, the lab's counters).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TlbTagStats {
    /// The setting the run used.
    pub tagging: TlbTagging,
    /// TLB flushes caused by VM exits and entries (0 when tagged).
    pub exit_flushes: u64,
}
