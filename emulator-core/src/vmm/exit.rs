//! VM exits: their reasons, the cost model, and the per-reason counters.

use alloc::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Declares [`ExitReason`], its [`ExitReason::ALL`] list, its [`ExitReason::name`] and its
/// [`ExitReason::handler_cycles`] from one table: a reason is one row.
macro_rules! exit_reasons {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, $cycles:literal; )*) => {
        /// Why the guest left direct execution and the VMM ran.
        ///
        /// Written and read (serde, `FromStr`) by its [`name`](ExitReason::name).
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
        pub enum ExitReason {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ExitReason {
            /// Every reason, in display order.
            pub const ALL: [ExitReason; [$($name),*].len()] = [$(ExitReason::$variant),*];

            /// A short kebab-case name (`cr3-write`, `shadow-fill`, ...).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ExitReason::$variant => $name,)*
                }
            }

            /// The VMM's work for this reason, in cycles, on top of the exit round trip
            /// (see [`CostModel`]).
            pub const fn handler_cycles(self) -> u32 {
                match self {
                    $(ExitReason::$variant => $cycles,)*
                }
            }
        }
    };
}

exit_reasons! {
    /// CLI or STI (the virtual interrupt flag).
    InterruptFlag = "interrupt-flag", 40;
    /// HLT.
    Hlt = "hlt", 100;
    /// IN, OUT, INS or OUTS, emulated against the devices.
    Io = "io", 600;
    /// MOV to CR3: a new guest address space.
    Cr3Write = "cr3-write", 2000;
    /// MOV to CR0 or CR4, CLTS, LMSW.
    CrWrite = "cr-write", 400;
    /// MOV from a control register.
    CrRead = "cr-read", 40;
    /// MOV to or from a debug register.
    DrAccess = "dr-access", 60;
    /// INVLPG.
    Invlpg = "invlpg", 300;
    /// LGDT, LIDT, LLDT or LTR.
    DescriptorTable = "descriptor-table", 300;
    /// A segment load that ring compression made fault (a DPL-0 descriptor at ring 1).
    SegmentLoad = "segment-load", 250;
    /// A far JMP/CALL/RET into the deprivileged kernel's code (at guest ring 3, also
    /// every far RET of the kernel).
    FarTransfer = "far-transfer", 300;
    /// IRET back into the guest kernel (at guest ring 3, every IRET of the kernel).
    Iret = "iret", 350;
    /// WBINVD or INVD.
    Cache = "cache", 50;
    /// CPUID (always exits, so the VMM can announce itself).
    Cpuid = "cpuid", 100;
    /// RDTSC while the guest has set CR4.TSD.
    Rdtsc = "rdtsc", 60;
    /// VMCALL: a hypercall.
    Hypercall = "hypercall", 150;
    /// A hidden page fault: the guest's tables allow the access, the shadow is filled.
    ShadowFill = "shadow-fill", 1200;
    /// A guest store to its own page tables, write-protected in the shadow: the VMM
    /// lets the store land and drops the shadow entries built from what it changed.
    PtWrite = "pt-write", 1000;
    /// The first write in a dirty-log round to a frame the VMM write-protected for
    /// migration: the frame is logged and its entry made writable.
    DirtyLog = "dirty-log", 300;
    /// A guest store to a frame the host merged with another (content-based page
    /// sharing), write-protected in its P2M entry: the VMM copies the frame into a
    /// machine frame of the VM's own and makes the entry writable.
    ShareBreak = "share-break", 1500;
    /// A true page fault: the guest's tables forbid the access; injected into the guest.
    PageFault = "page-fault", 900;
    /// Another exception, reflected into the guest through its IDT.
    Exception = "exception", 700;
    /// A software interrupt (INT n), delivered through the guest's IDT.
    SoftwareInterrupt = "software-interrupt", 700;
    /// An external interrupt from the PIC, injected through the guest's IDT.
    ExternalInterrupt = "external-interrupt", 800;
    /// The guest became able to take a pending external interrupt (IF set, no STI
    /// or MOV SS shadow) while interrupt-window exiting was on; the VMM injects it.
    InterruptWindow = "interrupt-window", 200;
    /// The guest switched the processor into protected mode (CR0.PE).
    ModeSwitch = "mode-switch", 2000;
    /// A read or write of the local APIC's page (not EOI or the ICR): the VMM
    /// emulates the register.
    ApicAccess = "apic-access", 500;
    /// A write to the local APIC's EOI register: the VMM ends the interrupt in
    /// service in its virtual APIC.
    Eoi = "eoi", 300;
    /// A write to the ICR: the VMM sends the IPI (INIT and SIPI included) to the
    /// target vCPUs.
    Ipi = "ipi", 1000;
    /// PAUSE-loop exiting: a vCPU ran PAUSE in a loop longer than the window (it
    /// spins on a lock whose holder may be descheduled); the host gives its slice
    /// to the next vCPU.
    PauseLoop = "pause-loop", 400;
    /// A read or write of a PCI memory BAR (virtio's modern structures), emulated
    /// against the device.
    Mmio = "mmio", 600;
}

crate::named::by_name!(ExitReason, "exit reason");

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` is generated from the same rows as the enum, so it cannot miss a variant;
    /// this checks that it holds every discriminant from 0 up once, in declaration
    /// order, and that names and costs are usable.
    #[test]
    fn all_lists_every_reason_once_with_a_distinct_name() {
        for (i, r) in ExitReason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i, "{r} is listed out of order or twice");
            assert_eq!(r.name().parse::<ExitReason>(), Ok(r));
            assert!(r.handler_cycles() > 0, "{r} costs nothing");
        }
        let names: alloc::collections::BTreeSet<_> =
            ExitReason::ALL.into_iter().map(ExitReason::name).collect();
        assert_eq!(names.len(), ExitReason::ALL.len());
        assert!("cr3".parse::<ExitReason>().is_err());
    }

    #[test]
    fn serde_uses_the_names() {
        let mut c = ExitCounters::default();
        c.record(ExitReason::Cr3Write, 10);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["by_reason"]["cr3-write"], 1);
        assert_eq!(serde_json::from_value::<ExitCounters>(json).unwrap(), c);
    }
}
