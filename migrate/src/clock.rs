//! Running a guest for a stretch of its virtual time, within an instruction budget.

use emulator_core::{Machine, StopReason};

use crate::MigrateError;

/// Instructions a migration or fault-tolerant run may execute in all.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Budget {
    left: u64,
}

impl Budget {
    /// A budget of `instructions`.
    pub fn new(instructions: u64) -> Budget {
        Budget { left: instructions }
    }

    /// Instructions left.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// Counts `n` instructions as spent.
    pub fn spend(&mut self, n: u64) {
        self.left = self.left.saturating_sub(n);
    }
}

/// Runs `m` until its clock reaches `target` cycles. Returns `None` when it got
/// there, or the reason the guest stopped for good before (halted with interrupts
/// off, a debug exit, a triple fault): its clock then stands still. `phase` names
/// the work for the error when the budget runs out.
pub fn run_until(
    m: &mut Machine,
    target: u64,
    budget: &mut Budget,
    phase: &'static str,
) -> Result<Option<StopReason>, MigrateError> {
    m.set_time_limit(Some(target));
    let r = run_until_limited(m, target, budget, phase);
    m.set_time_limit(None);
    r
}

fn run_until_limited(
    m: &mut Machine,
    target: u64,
    budget: &mut Budget,
    phase: &'static str,
) -> Result<Option<StopReason>, MigrateError> {
    loop {
        let now = m.cpu().tsc;
        if now >= target {
            return Ok(None);
        }
        if budget.left == 0 {
            return Err(MigrateError::BudgetExhausted(phase));
        }
        let n = (target - now).min(budget.left);
        let before = m.icount();
        let r = m.run(n);
        budget.spend(m.icount().saturating_sub(before).max(1));
        match r {
            StopReason::BudgetExhausted | StopReason::Stepped => {}
            other => return Ok(Some(other)),
        }
    }
}
