//! Pre-copy live migration (Clark et al., NSDI 2005): round 0 sends all memory while
//! the guest runs, each later round the pages the dirty log caught in the one before,
//! until a stop policy says stop; then the guest stops, the last dirty pages and the
//! CPU and device state go over, and the destination resumes.

use alloc::vec::Vec;

use emulator_core::devices::pit::CPU_HZ;
use emulator_core::vmm::exit::ExitReason;
use emulator_core::{Machine, StopReason};
use serde::{Deserialize, Serialize};

use crate::clock::{run_until, Budget};
use crate::link::{Link, PAGE_BYTES, STATE_BYTES};
use crate::transfer::{all_pages, copy_pages, move_state};
use crate::MigrateError;

pub use crate::stop_policy::{RoundFigures, RoundStatus, StopPolicy, StopRule, XenPolicy};

impl Serialize for StopRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for StopRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = alloc::string::String::deserialize(d)?;
        StopRule::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(alloc::format!("unknown stop rule {name:?}")))
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
    let mut history: Vec<RoundFigures> = Vec::new();
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
        history.push(RoundFigures {
            sent,
            dirtied: round.dirtied,
            cycles,
        });
        let status = RoundStatus {
            rounds: rounds.len() as u32,
            sent,
            dirtied: round.dirtied,
            round_cycles: cycles,
            sent_total,
            memory_pages,
            page_bytes: PAGE_BYTES,
            state_bytes: STATE_BYTES,
            bandwidth: link.bandwidth,
            latency_us: link.latency_us,
            cycles_per_second: CPU_HZ,
            history: &history,
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

    fn status(rounds: u32, dirtied: u64, sent_total: u64) -> RoundStatus<'static> {
        RoundStatus {
            rounds,
            sent: 0,
            dirtied,
            round_cycles: 0,
            sent_total,
            memory_pages: 1000,
            page_bytes: PAGE_BYTES,
            state_bytes: STATE_BYTES,
            bandwidth: 1_000_000,
            latency_us: 0,
            cycles_per_second: CPU_HZ,
            history: &[],
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
