//! Interrupt-window exiting (hardware assistance): an external interrupt that
//! arrives while the guest cannot take it is held, and the guest exits as soon
//! as it can, for the VMM to inject it.

use alloc::format;
use alloc::string::String;

use crate::state::CpuState;

use super::{ExitReason, Vmm};

impl Vmm {
    /// The INTR line is up but the guest cannot take the interrupt (IF clear, or an
    /// STI or MOV SS shadow). Under hardware assistance with interrupt-window
    /// exiting on, the first such boundary is the external-interrupt exit (when that
    /// control is on): the VMM finds the guest's IF clear, leaves the interrupt
    /// pending and sets interrupt-window exiting.
    pub fn interrupt_held(&mut self, cpu: &CpuState) {
        if !self.arms_window() {
            return;
        }
        self.vcpu.window_armed = true;
        if self.controls.external_interrupts {
            let why = if cpu.interrupt_shadow {
                "an STI or MOV SS shadow holds"
            } else {
                "the guest's IF is clear"
            };
            self.exit(
                cpu,
                ExitReason::ExternalInterrupt,
                String::from("(interrupt request)"),
                format!("{why}: interrupt left pending, interrupt-window exiting set"),
            );
        }
    }

    /// Whether a held interrupt would set interrupt-window exiting now (it is not set
    /// yet, the control is on, the guest runs under hardware assistance).
    pub(crate) fn arms_window(&self) -> bool {
        !self.trap_emulate() && self.controls.interrupt_window && !self.vcpu.window_armed
    }

    /// The window opened and the machine acknowledged interrupt `vector`: when
    /// interrupt-window exiting was set this is the `interrupt-window` exit, the VMM
    /// clears the control and injects the interrupt on VM entry (`true`).
    pub(crate) fn take_window(&mut self, cpu: &CpuState, vector: u8) -> bool {
        if !core::mem::take(&mut self.vcpu.window_armed) {
            return false;
        }
        self.exit(
            cpu,
            ExitReason::InterruptWindow,
            String::from("(interrupt window open)"),
            format!(
                "interrupt-window exiting cleared; injected vector {vector:#04x} through the guest's IDT on VM entry"
            ),
        );
        true
    }
}
