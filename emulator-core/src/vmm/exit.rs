//! VM exits: their reasons, the cost model, and the per-reason counters.

use alloc::collections::BTreeMap;
use serde::{Deserialize, Serialize};

/// Why the guest left direct execution and the VMM ran.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitReason {
    /// CLI or STI (the virtual interrupt flag).
    InterruptFlag,
    /// HLT.
    Hlt,
    /// IN, OUT, INS or OUTS, emulated against the devices.
    Io,
    /// MOV to CR3: a new guest address space.
    Cr3Write,
    /// MOV to CR0 or CR4, CLTS, LMSW.
    CrWrite,
    /// MOV from a control register.
    CrRead,
    /// MOV to or from a debug register.
    DrAccess,
    /// INVLPG.
    Invlpg,
    /// LGDT, LIDT, LLDT or LTR.
    DescriptorTable,
    /// A segment load that ring compression made fault (a DPL-0 descriptor at ring 1).
    SegmentLoad,
    /// A far JMP/CALL/RET into the deprivileged kernel's code (at guest ring 3, also
    /// every far RET of the kernel).
    FarTransfer,
    /// IRET back into the guest kernel (at guest ring 3, every IRET of the kernel).
    Iret,
    /// WBINVD or INVD.
    Cache,
    /// CPUID (always exits, so the VMM can announce itself).
    Cpuid,
    /// RDTSC while the guest has set CR4.TSD.
    Rdtsc,
    /// VMCALL: a hypercall.
    Hypercall,
    /// A hidden page fault: the guest's tables allow the access, the shadow is filled.
    ShadowFill,
    /// A true page fault: the guest's tables forbid the access; injected into the guest.
    PageFault,
    /// Another exception, reflected into the guest through its IDT.
    Exception,
    /// A software interrupt (INT n), delivered through the guest's IDT.
    SoftwareInterrupt,
    /// An external interrupt from the PIC, injected through the guest's IDT.
    ExternalInterrupt,
    /// The guest switched the processor into protected mode (CR0.PE).
    ModeSwitch,
}

impl ExitReason {
    /// Every reason, in display order.
    pub const ALL: [ExitReason; 22] = [
        ExitReason::InterruptFlag,
        ExitReason::Hlt,
        ExitReason::Io,
        ExitReason::Cr3Write,
        ExitReason::CrWrite,
        ExitReason::CrRead,
        ExitReason::DrAccess,
        ExitReason::Invlpg,
        ExitReason::DescriptorTable,
        ExitReason::SegmentLoad,
        ExitReason::FarTransfer,
        ExitReason::Iret,
        ExitReason::Cache,
        ExitReason::Cpuid,
        ExitReason::Rdtsc,
        ExitReason::Hypercall,
        ExitReason::ShadowFill,
        ExitReason::PageFault,
        ExitReason::Exception,
        ExitReason::SoftwareInterrupt,
        ExitReason::ExternalInterrupt,
        ExitReason::ModeSwitch,
    ];

    /// A short kebab-case name (`cr3-write`, `shadow-fill`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ExitReason::InterruptFlag => "interrupt-flag",
            ExitReason::Hlt => "hlt",
            ExitReason::Io => "io",
            ExitReason::Cr3Write => "cr3-write",
            ExitReason::CrWrite => "cr-write",
            ExitReason::CrRead => "cr-read",
            ExitReason::DrAccess => "dr-access",
            ExitReason::Invlpg => "invlpg",
            ExitReason::DescriptorTable => "descriptor-table",
            ExitReason::SegmentLoad => "segment-load",
            ExitReason::FarTransfer => "far-transfer",
            ExitReason::Iret => "iret",
            ExitReason::Cache => "cache",
            ExitReason::Cpuid => "cpuid",
            ExitReason::Rdtsc => "rdtsc",
            ExitReason::Hypercall => "hypercall",
            ExitReason::ShadowFill => "shadow-fill",
            ExitReason::PageFault => "page-fault",
            ExitReason::Exception => "exception",
            ExitReason::SoftwareInterrupt => "software-interrupt",
            ExitReason::ExternalInterrupt => "external-interrupt",
            ExitReason::ModeSwitch => "mode-switch",
        }
    }

    /// The VMM's work for this reason, in cycles, on top of the exit round trip
    /// (see [`CostModel`]).
    pub const fn handler_cycles(self) -> u32 {
        match self {
            ExitReason::InterruptFlag => 40,
            ExitReason::Hlt => 100,
            ExitReason::Io => 600,
            ExitReason::Cr3Write => 2000,
            ExitReason::CrWrite => 400,
            ExitReason::CrRead => 40,
            ExitReason::DrAccess => 60,
            ExitReason::Invlpg => 300,
            ExitReason::DescriptorTable => 300,
            ExitReason::SegmentLoad => 250,
            ExitReason::FarTransfer => 300,
            ExitReason::Iret => 350,
            ExitReason::Cache => 50,
            ExitReason::Cpuid => 100,
            ExitReason::Rdtsc => 60,
            ExitReason::Hypercall => 150,
            ExitReason::ShadowFill => 1200,
            ExitReason::PageFault => 900,
            ExitReason::Exception => 700,
            ExitReason::SoftwareInterrupt => 700,
            ExitReason::ExternalInterrupt => 800,
            ExitReason::ModeSwitch => 2000,
        }
    }
}

/// The documented cost model: what one exit costs, in cycles of the nominal
/// 100 MHz virtual CPU.
///
/// An exit costs a fixed round trip (the hardware's trap into the VMM and the
/// return to the guest) plus the VMM's work for its reason
/// ([`ExitReason::handler_cycles`]). The round trips are of the order measured
/// by Adams and Agesen (ASPLOS 2006) for a trap through the IDT on a
/// deprivileged kernel (about 1000 cycles) and for a VT-x exit and VMRESUME on
/// the first VT-x processors (about 1500 cycles); a nested page walk costs each
/// of its extra memory references. These cycles are an account of overhead:
/// they are reported, not added to virtual time, so the guest's timer sees
/// the same instruction stream in every mode and its output stays comparable.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CostModel {
    /// A trap from the deprivileged guest into the VMM and back (trap-and-emulate).
    pub trap_round_trip: u32,
    /// A VM exit and VM entry (hardware assistance).
    pub vmexit_round_trip: u32,
    /// One extra memory reference of a two-dimensional (nested) page walk.
    pub nested_reference: u32,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            trap_round_trip: 1000,
            vmexit_round_trip: 1500,
            nested_reference: 20,
        }
    }
}

/// Exit counts and cycles, by reason.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ExitCounters {
    /// Exits per reason (reasons never taken are absent).
    pub by_reason: BTreeMap<ExitReason, u64>,
    /// Cycles charged per reason.
    pub cycles_by_reason: BTreeMap<ExitReason, u64>,
    /// All exits.
    pub total: u64,
    /// All cycles charged to exits and nested walks.
    pub cycles: u64,
}

impl ExitCounters {
    /// Counts one exit of `reason` costing `cycles`.
    pub fn record(&mut self, reason: ExitReason, cycles: u32) {
        *self.by_reason.entry(reason).or_insert(0) += 1;
        *self.cycles_by_reason.entry(reason).or_insert(0) += cycles as u64;
        self.total += 1;
        self.cycles += cycles as u64;
    }
    /// Exits of one reason.
    pub fn count(&self, reason: ExitReason) -> u64 {
        self.by_reason.get(&reason).copied().unwrap_or(0)
    }
}
