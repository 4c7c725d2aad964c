//! Pre-copy live migration (Clark et al., NSDI 2005): round 0 sends all memory while
//! the guest runs, each later round the pages the dirty log caught in the one before,
//! until a stop policy says stop; then the guest stops, the last dirty pages and the
//! CPU and device state go over, and the destination resumes.

use alloc::vec::Vec;

use emulator_core::vmm::exit::ExitReason;
use emulator_core::{Machine, StopReason};
use serde::{Deserialize, Serialize};

use crate::clock::{run_until, Budget};
use crate::link::{Link, PAGE_BYTES, STATE_BYTES};
use crate::transfer::{all_pages, copy_pages, move_state};
use crate::MigrateError;

/// Why pre-copy stopped iterating.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopRule {
    /// Few pages were dirtied in the last round: the writable working set is small.
    Converged,
    /// The most rounds were done.
    MaxRounds,
    /// The pages sent reached the limit (a multiple of memory).
    MaxSent,
    /// The guest stopped by itself (halted for good, exited).
    GuestStopped,
}

impl StopRule {
    /// Its kebab-case name.
    pub const fn name(self) -> &'static str {
        match self {
            StopRule::Converged => "converged",
            StopRule::MaxRounds => "max-rounds",
            StopRule::MaxSent => "max-sent",
            StopRule::GuestStopped => "guest-stopped",
        }
    }
}

/// What a stop policy sees after each round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RoundStatus {
    /// Rounds done (1 after round 0).
    pub rounds: u32,
    /// Pages sent in the round just done.
    pub sent: u64,
    /// Pages the guest dirtied during it (the next round's pages).
    pub dirtied: u64,
    /// Pages sent in all rounds so far.
    pub sent_total: u64,
    /// Pages of guest memory.
    pub memory_pages: u64,
}

/// When to stop the rounds and do the stop-and-copy.
pub trait StopPolicy {
    /// After each round: `Some(rule)` to stop now.
    fn stop(&mut self, status: &RoundStatus) -> Option<StopRule>;
}

/// Xen's rules: fewer than `min_dirty` pages dirtied in a round, `max_rounds` rounds
/// done, or `max_sent_factor` times memory sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct XenPolicy {
    /// Converged below this many dirtied pages (50).
    pub min_dirty: u64,
    /// Most rounds (29).
    pub max_rounds: u32,
    /// Most pages sent, as a multiple of memory (3).
    pub max_sent_factor: u64,
}

impl Default for XenPolicy {
    fn default() -> Self {
        XenPolicy {
            min_dirty: 50,
            max_rounds: 29,
            max_sent_factor: 3,
        }
    }
}

impl StopPolicy for XenPolicy {
    fn stop(&mut self, s: &RoundStatus) -> Option<StopRule> {
        if s.dirtied < self.min_dirty {
            Some(StopRule::Converged)
        } else if s.rounds >= self.max_rounds {
            Some(StopRule::MaxRounds)
        } else if s.sent_total >= self.max_sent_factor.saturating_mul(s.memory_pages) {
            Some(StopRule::MaxSent)
        } else {
            None
        }
    }
}

/// One pre-copy round.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Round {
    /// Round number (0: all memory).
    pub index: u32,
    /// Pages sent.
    pub sent: u64,
    /// Pages the guest dirtied while they went.
    pub dirtied: u64,
    /// How long it took, guest cycles.
    pub cycles: u64,
}

/// What a pre-copy migration did.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PrecopyReport {
    /// The link.
    pub link: Link,
    /// Pages of guest memory.
    pub memory_pages: u64,
    /// The rounds, in order.
    pub rounds: Vec<Round>,
    /// Why the rounds stopped.
    pub stop_rule: StopRule,
    /// Pages sent in the stop-and-copy.
    pub final_pages: u64,
    /// Guest cycles from the stop to the resume on the destination.
    pub downtime_cycles: u64,
    /// The bound a non-live migration would take: all memory over the link.
    pub all_memory_cycles: u64,
    /// Guest cycles from the start to the resume.
    pub total_cycles: u64,
    /// Pages sent in all, the stop-and-copy included.
    pub pages_sent: u64,
    /// Bytes sent in all (pages and state).
    pub bytes_sent: u64,
    /// Dirty-log exits the source's VMM took (0 bare: the memory path logs).
    pub dirty_log_exits: u64,
}

fn dirty_log_exits(m: &Machine) -> u64 {
    m.vmm()
        .and_then(|v| v.exits.by_reason.get(&ExitReason::DirtyLog).copied())
        .unwrap_or(0)
}

/// Migrates the running `src` into `dst` (a machine of the same configuration) by
/// pre-copy over `link`, rounds stopped by `policy`. On return `dst` holds the guest,
/// ready to run on; `src` is stopped.
pub fn precopy(
    src: &mut Machine,
    dst: &mut Machine,
    link: Link,
    policy: &mut dyn StopPolicy,
    budget: &mut Budget,
) -> Result<PrecopyReport, MigrateError> {
    let memory_pages = src.ram_pages() as u64;
    let start = src.cpu().tsc;
    let exits_before = dirty_log_exits(src);
    let mut rounds = Vec::new();
    let mut to_send = all_pages(src);
    let mut sent_total = 0u64;
    src.start_dirty_log();
    let stop_rule = loop {
        let round_start = src.cpu().tsc;
        let sent = to_send.len() as u64;
        // each page leaves as it is now; a later write logs it for the next round
        copy_pages(src, dst, &to_send)?;
        let cycles = link.transfer_cycles(sent * PAGE_BYTES);
        let stopped = run_until(
            src,
            round_start.saturating_add(cycles),
            budget,
            "a pre-copy round",
        )?;
        to_send = src.take_dirty_log();
        sent_total += sent;
        let round = Round {
            index: rounds.len() as u32,
            sent,
            dirtied: to_send.len() as u64,
            cycles,
        };
        rounds.push(round);
        let status = RoundStatus {
            rounds: rounds.len() as u32,
            sent,
            dirtied: round.dirtied,
            sent_total,
            memory_pages,
        };
        match stopped {
            Some(StopReason::BudgetExhausted) | None => {}
            Some(_) => break StopRule::GuestStopped,
        }
        if let Some(rule) = policy.stop(&status) {
            break rule;
        }
    };
    // stop-and-copy: the guest stands still while the rest and its state go over
    src.stop_dirty_log();
    let exits = dirty_log_exits(src).saturating_sub(exits_before);
    copy_pages(src, dst, &to_send)?;
    move_state(src, dst)?;
    let final_pages = to_send.len() as u64;
    let downtime_cycles = link.transfer_cycles(final_pages * PAGE_BYTES + STATE_BYTES);
    let pages_sent = sent_total + final_pages;
    Ok(PrecopyReport {
        link,
        memory_pages,
        stop_rule,
        final_pages,
        downtime_cycles,
        all_memory_cycles: link.transfer_cycles(memory_pages * PAGE_BYTES + STATE_BYTES),
        total_cycles: src
            .cpu()
            .tsc
            .saturating_sub(start)
            .saturating_add(downtime_cycles),
        pages_sent,
        bytes_sent: pages_sent * PAGE_BYTES + STATE_BYTES,
        dirty_log_exits: exits,
        rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(rounds: u32, dirtied: u64, sent_total: u64) -> RoundStatus {
        RoundStatus {
            rounds,
            sent: 0,
            dirtied,
            sent_total,
            memory_pages: 1000,
        }
    }

    #[test]
    fn xen_rules_in_their_order() {
        let mut x = XenPolicy::default();
        assert_eq!(x.stop(&status(1, 49, 1000)), Some(StopRule::Converged));
        assert_eq!(x.stop(&status(1, 50, 1000)), None);
        assert_eq!(x.stop(&status(28, 500, 2999)), None);
        assert_eq!(x.stop(&status(29, 500, 2000)), Some(StopRule::MaxRounds));
        assert_eq!(x.stop(&status(5, 500, 3000)), Some(StopRule::MaxSent));
        // convergence wins over the limits reached in the same round
        assert_eq!(x.stop(&status(29, 10, 5000)), Some(StopRule::Converged));
    }
}
