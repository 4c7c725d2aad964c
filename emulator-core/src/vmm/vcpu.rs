//! The virtual CPU of trap-and-emulate: the privileged state the guest believes
//! it has, kept by the VMM while the hardware runs with the VMM's values.

use serde::{Deserialize, Serialize};

use crate::descriptor::{attr, system};
use crate::mmu::PagingRegs;
use crate::state::{cr0, CpuState, Segment, TableReg};

/// Base the hardware IDTR shows while the VMM runs a guest (the VMM's own IDT,
/// high in the address space, where VMware kept its monitor).
pub const VMM_IDT_BASE: u32 = 0xffc0_0000;
/// Limit of the VMM's IDT.
pub const VMM_IDT_LIMIT: u16 = 0x7ff;
/// The hardware task register of a deprivileged guest: the guest's TR selector
/// with the RPL of the hardware `ring` the guest kernel runs at (a selector the
/// VMM loads at that ring carries it, so STR shows ring compression as MOV from
/// CS does) over the VMM's own TSS, which has no I/O permission bitmap, so every
/// IN and OUT of the guest kernel faults and exits.
pub fn vmm_task_register(guest_selector: u16, ring: u8) -> crate::state::Segment {
    let selector = if guest_selector & !3 == 0 {
        guest_selector
    } else {
        (guest_selector & !3) | (ring as u16 & 3)
    };
    crate::state::Segment {
        selector,
        base: 0,
        limit: 0,
        attrs: attr::PRESENT | system::TSS32_BUSY as u16,
    }
}
/// CR0 bits the VMM always sets in the hardware CR0 of a deprivileged guest:
/// its own paging (the shadow tables), write protection at ring 1, and NE.
pub const VMM_CR0_BITS: u32 = cr0::PE | cr0::NE | cr0::WP | cr0::PG;

/// The guest's view of the privileged state under trap-and-emulate.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VirtualCpu {
    /// The virtual interrupt flag (CLI/STI/IRET/interrupt gates change it).
    pub interrupt_flag: bool,
    /// The virtual I/O privilege level.
    pub iopl: u8,
    /// The guest's CR0.
    pub cr0: u32,
    /// The guest's CR2 (the last page fault injected).
    pub cr2: u32,
    /// The guest's CR3.
    pub cr3: u32,
    /// The guest's CR4.
    pub cr4: u32,
    /// The guest's GDTR.
    pub gdtr: TableReg,
    /// The guest's IDTR.
    pub idtr: TableReg,
    /// The guest's LDTR.
    pub ldtr: Segment,
    /// The guest's task register.
    pub tr: Segment,
    /// The guest is in protected mode and runs deprivileged (false: the VMM
    /// interprets the guest's real-mode code).
    pub deprivileged: bool,
    /// The virtual CPL at guest ring 3, where the hardware ring cannot tell the
    /// guest's kernel (0) from its user mode (3): set by every injection through
    /// the guest's IDT and every emulated IRET or far return.
    #[serde(default)]
    pub cpl: u8,
    /// Hardware assistance: an external interrupt is pending for a guest that
    /// cannot take it yet, and interrupt-window exiting is set.
    #[serde(default)]
    pub window_armed: bool,
    /// The TSC offset (as VT-x's field): the guest's RDTSC reads the machine's clock
    /// plus this (two's complement), see `smp/tsc.rs`.
    #[serde(default)]
    pub tsc_offset: u64,
    /// The machine's clock when the host last took this vCPU off its CPU.
    #[serde(default)]
    pub tsc_stopped_at: Option<u64>,
    /// The machine's clock when the host preempted this vCPU (took it off while it
    /// could run): under `drift` its APIC timer stands still until it is back.
    #[serde(default)]
    pub timer_stopped_at: Option<u64>,
}

impl VirtualCpu {
    /// Takes over the state the guest built while it was interpreted.
    pub fn capture(cpu: &CpuState) -> VirtualCpu {
        VirtualCpu {
            interrupt_flag: cpu.eflags & crate::state::flags::IF != 0,
            iopl: cpu.iopl(),
            cr0: cpu.cr0,
            cr2: cpu.cr2,
            cr3: cpu.cr3,
            cr4: cpu.cr4,
            gdtr: cpu.gdtr,
            idtr: cpu.idtr,
            ldtr: cpu.ldtr,
            tr: cpu.tr,
            deprivileged: false,
            cpl: cpu.cpl,
            window_armed: false,
            tsc_offset: 0,
            tsc_stopped_at: None,
            timer_stopped_at: None,
        }
    }

    /// Takes over the guest's state as [`VirtualCpu::capture`] does, keeping what the
    /// host set for this vCPU (its TSC offset).
    pub fn retake(&mut self, cpu: &CpuState) {
        *self = VirtualCpu {
            tsc_offset: self.tsc_offset,
            tsc_stopped_at: self.tsc_stopped_at,
            timer_stopped_at: self.timer_stopped_at,
            ..VirtualCpu::capture(cpu)
        };
    }

    /// The guest's paging registers.
    pub fn paging(&self) -> PagingRegs {
        PagingRegs {
            cr0: self.cr0,
            cr3: self.cr3,
            cr4: self.cr4,
        }
    }
}
