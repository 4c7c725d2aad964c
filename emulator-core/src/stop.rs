//! Why `run` returned.

use serde::{Deserialize, Serialize};

/// The reason a call to `run` or `step` stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum StopReason {
    /// The instruction budget was used up; call `run` again to continue.
    BudgetExhausted,
    /// EIP reached a breakpoint (linear address); the instruction there has not run.
    Breakpoint(u32),
    /// HLT with interrupts disabled (or no interrupt source that can wake it).
    Halted,
    /// The guest wrote this value to the debug-exit port (0xF4).
    DebugExit(u8),
    /// An exception while delivering a double fault: the CPU would reset.
    TripleFault,
    /// The VMM took a VM exit that the run asked to stop on (see `RunOptions`).
    VmExit,
    /// One instruction retired (from `step`).
    Stepped,
    /// An exception, interrupt or VM exit was logged and the run was asked to stop on
    /// one (`Machine::set_stop_on_trap`); the machine stands where the trap took it.
    Trap,
}

impl StopReason {
    /// A short name for reports (`halted`, `triple-fault`, …).
    pub const fn name(&self) -> &'static str {
        match self {
            StopReason::BudgetExhausted => "budget-exhausted",
            StopReason::Breakpoint(_) => "breakpoint",
            StopReason::Halted => "halted",
            StopReason::DebugExit(_) => "debug-exit",
            StopReason::TripleFault => "triple-fault",
            StopReason::VmExit => "vm-exit",
            StopReason::Stepped => "stepped",
            StopReason::Trap => "trap",
        }
    }
}
