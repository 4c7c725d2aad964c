//! Statistics the UI and the benchmark show: instructions, exceptions, interrupts, I/O,
//! TLB and decode-cache behaviour. Not architectural state.

use serde::{Deserialize, Serialize};

/// Event and cache counts since the machine was built.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Instructions retired.
    pub instructions: u64,
    /// Of those, the instructions the pre-decoded fast tier retired (the rest went
    /// through the general interpreter).
    pub fast_instructions: u64,
    /// Exceptions delivered, by vector (0..32).
    pub exceptions: [u64; 32],
    /// Hardware interrupts accepted from the PIC.
    pub irqs: u64,
    /// Software interrupts (INT n, INT3, INTO).
    pub software_interrupts: u64,
    /// Port reads and writes (one per element for string I/O).
    pub io: u64,
    /// Translations served by the TLB.
    pub tlb_hits: u64,
    /// Translations that needed a page walk.
    pub tlb_misses: u64,
    /// Page-table walks.
    pub page_walks: u64,
    /// Instructions taken from the decode cache.
    pub decode_hits: u64,
    /// Instructions that had to be decoded.
    pub decode_misses: u64,
    /// Code pages whose decoded instructions a write invalidated.
    pub decode_invalidations: u64,
    /// Inter-processor interrupts sent through a local APIC's ICR.
    #[serde(default)]
    pub ipis: u64,
    /// TLB invalidations (INVLPG or a CR3 load) a CPU made while it served an
    /// interrupt that another CPU sent it: the remote halves of TLB shootdowns.
    #[serde(default)]
    pub shootdowns: u64,
    /// Instructions run in PAUSE loops (spin-waiting): from one PAUSE to the next
    /// when they are at most [`crate::smp::PAUSE_GAP`] instructions apart on one CPU.
    #[serde(default)]
    pub spin_instructions: u64,
}
