//! The lab's multiprocessor machine: its options (CPUs, quantum, the host's schedule)
//! and what the page draws of each CPU (run state, host state, EIP, instructions,
//! local APIC, TLB, next instructions).

use emulator_core::smp::{HostSchedule, HostState};
use serde::{Deserialize, Serialize};

use crate::protocol::DisasmLine;

/// The most CPUs the toolbar offers.
pub const MAX_CPUS: u32 = 4;
/// The quanta the toolbar offers (instructions per turn), smallest first.
pub const QUANTA: [u64; 5] = [1, 10, 100, 1_000, 10_000];

/// The machine options of a multiprocessor machine (kept across reloads).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Smp {
    /// CPUs in the machine (1 to [`MAX_CPUS`]).
    pub cpus: u32,
    /// Instructions each CPU runs before the next one's turn.
    pub quantum: u64,
    /// How the host schedules the vCPUs under a VMM (none by default); the parts a
    /// machine's mode cannot apply are left out ([`HostSchedule::refusal`]).
    #[serde(default)]
    pub host: HostSchedule,
    /// Under a VMM: what the host does with a descheduled vCPU's TSC.
    #[serde(default)]
    pub tsc: emulator_core::smp::TscPolicy,
}

impl Default for Smp {
    fn default() -> Smp {
        let c = emulator_core::MachineConfig::default();
        Smp {
            cpus: 1,
            quantum: c.quantum,
            host: HostSchedule::default(),
            tsc: Default::default(),
        }
    }
}

impl Smp {
    /// The options brought into range: 1 to [`MAX_CPUS`] CPUs, a quantum of at least 1.
    pub fn clamped(self) -> Smp {
        Smp {
            cpus: self.cpus.clamp(1, MAX_CPUS),
            quantum: self.quantum.max(1),
            ..self
        }
    }
}

/// Where a CPU is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum RunState {
    /// It runs (or will at its next turn).
    Running,
    /// HLT: it waits for an interrupt.
    Halted,
    /// Held after RESET or INIT until a start-up IPI (SIPI) arrives.
    WaitSipi,
}

impl RunState {
    /// The name the strip and the demo claims use.
    pub const fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Halted => "halted",
            RunState::WaitSipi => "wait-sipi",
        }
    }
}

/// The operating mode a CPU is in, from CR0.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum CpuMode {
    /// CR0.PE clear.
    Real,
    /// CR0.PE set, paging off.
    Protected,
    /// CR0.PE and CR0.PG set.
    Paging,
}

impl CpuMode {
    /// The mode of CR0 value `cr0`.
    pub const fn of(cr0: u32) -> CpuMode {
        if cr0 & 1 == 0 {
            CpuMode::Real
        } else if cr0 & 0x8000_0000 == 0 {
            CpuMode::Protected
        } else {
            CpuMode::Paging
        }
    }

    /// The name the strip and the demo claims use.
    pub const fn name(self) -> &'static str {
        match self {
            CpuMode::Real => "real",
            CpuMode::Protected => "protected",
            CpuMode::Paging => "paging",
        }
    }
}

/// A local APIC's timer as the APIC panel shows it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TimerView {
    /// Periodic (else one-shot).
    pub periodic: bool,
    /// The LVT entry's mask bit.
    pub masked: bool,
    /// The vector it raises.
    pub vector: u8,
    /// The initial count (0: stopped).
    pub initial: u32,
    /// The current count.
    pub current: u32,
    /// Interrupts it raised so far.
    pub fired: u64,
}

/// One CPU as the CPU strip and the APIC panel show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CpuView {
    /// Its index (CPU 0 is the bootstrap processor).
    pub index: usize,
    /// It is the CPU that runs now (the registers and disassembly panels show it).
    pub current: bool,
    /// Running, halted or waiting for SIPI.
    pub state: RunState,
    /// Real, protected or paging.
    pub mode: CpuMode,
    /// CS selector and EIP.
    pub cs: u16,
    /// EIP.
    pub eip: u32,
    /// The linear address of its next instruction.
    pub linear_eip: u32,
    /// Its general registers (EAX … EDI).
    pub gpr: [u32; 8],
    /// EFLAGS.
    pub eflags: u32,
    /// Instructions it retired.
    pub instructions: u64,
    /// Its local APIC's ID.
    pub apic_id: u8,
    /// The APIC is software-enabled.
    pub apic_enabled: bool,
    /// Task priority.
    pub tpr: u8,
    /// Vectors requested (IRR).
    pub irr: Vec<u8>,
    /// Vectors in service (ISR).
    pub isr: Vec<u8>,
    /// Interrupts its APIC accepted from IPIs.
    pub ipis_received: u64,
    /// Its APIC timer.
    pub timer: TimerView,
    /// The linear pages its own TLB holds.
    pub tlb: Vec<u32>,
    /// Its next instructions.
    pub disasm: Vec<DisasmLine>,
    /// Its time stamp counter as its guest reads it, and its VMM's offset.
    #[serde(default)]
    pub tsc: emulator_core::smp::TscView,
    /// Where the host has it: running, descheduled or spinning.
    pub host: HostState,
    /// Instructions it spent in PAUSE loops.
    pub spin: u64,
}

/// The machine's CPUs for the page.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct SmpView {
    /// The machine's options.
    pub options: Smp,
    /// Each CPU, in index order.
    pub cpus: Vec<CpuView>,
    /// IPIs sent in all.
    pub ipis: u64,
    /// The largest difference between two CPUs' time stamp counters.
    #[serde(default)]
    pub tsc_drift: u64,
    /// Instructions spent in PAUSE loops, every CPU's.
    pub spin_instructions: u64,
}

impl SmpView {
    /// CPU `i`.
    pub fn cpu(&self, i: usize) -> Option<&CpuView> {
        self.cpus.get(i)
    }
}

/// The vectors whose bits are set in a 256-bit APIC register.
pub fn vectors(bits: &[u32; 8]) -> Vec<u8> {
    (0..=255u8)
        .filter(|&v| bits[usize::from(v >> 5)] & (1 << (v & 31)) != 0)
        .collect()
}

/// Vectors as `0x40 0x50`, or `—` when none.
pub fn vector_list(v: &[u8]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    v.iter()
        .map(|x| format!("{x:#04x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_follow_the_bits_and_options_stay_in_range() {
        let mut bits = [0u32; 8];
        bits[2] = 1; // vector 0x40
        bits[7] = 1 << 31; // vector 0xff
        assert_eq!(vectors(&bits), [0x40, 0xff]);
        assert_eq!(vector_list(&[0x40, 0xff]), "0x40 0xff");
        assert_eq!(vector_list(&[]), "—");
        let s = Smp {
            cpus: 99,
            quantum: 0,
            ..Smp::default()
        }
        .clamped();
        assert_eq!((s.cpus, s.quantum), (MAX_CPUS, 1));
        assert_eq!(CpuMode::of(0x11).name(), "protected");
        assert_eq!(CpuMode::of(0x8000_0011), CpuMode::Paging);
        assert_eq!(CpuMode::of(0x10), CpuMode::Real);
    }
}
