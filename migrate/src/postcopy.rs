//! Post-copy live migration (Hines and Gopalan, VEE 2009): the guest stops, only its
//! CPU and device state go over, and it resumes on the destination at once. Its pages
//! follow: pushed in the background at the link's rate, pre-paged around each fault,
//! and demand-faulted over the link when the guest touches one not yet there, which
//! stalls it for a round trip.
//!
//! The destination runs in slices with its touch log on and a checkpoint before each
//! ([`emulator_core::History`]). A slice that touched a page not yet arrived is rolled
//! back and shortened until it is a few instructions long; the pages it touched are
//! then the guest's demand faults: they (and their neighbours) are fetched and the
//! slice runs again, so the guest never sees a page before it arrives.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use emulator_core::{History, HistoryLimits, Machine, StopReason};
use serde::{Deserialize, Serialize};

use crate::clock::{run_until, Budget};
use crate::link::{Link, PAGE_BYTES, STATE_BYTES};
use crate::transfer::{copy_page, move_state};
use crate::MigrateError;

/// How post-copy runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostcopyOptions {
    /// Pages pre-paged on each side of a faulted page.
    pub prepage: u32,
    /// Guest cycles of a slice between checks for missing pages.
    pub slice_cycles: u64,
    /// Slices no longer than this are short enough to blame their missing pages
    /// (guest cycles).
    pub fault_cycles: u64,
}

impl Default for PostcopyOptions {
    fn default() -> Self {
        PostcopyOptions {
            prepage: 8,
            slice_cycles: 20_000,
            fault_cycles: 16,
        }
    }
}

/// What a post-copy migration did.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PostcopyReport {
    /// The link.
    pub link: Link,
    /// Pages of guest memory.
    pub memory_pages: u64,
    /// Guest cycles from the stop to the resume (the state alone).
    pub downtime_cycles: u64,
    /// Pages the guest touched before they arrived: each a fault over the link.
    pub demand_faults: u64,
    /// Pages sent as neighbours of a faulted page.
    pub prepaged: u64,
    /// Pages pushed in the background.
    pub pushed: u64,
    /// Guest cycles the guest stood waiting for faulted pages.
    pub stall_cycles: u64,
    /// Guest cycles the guest ran on the destination until the last page arrived.
    pub run_cycles: u64,
    /// Slices rerun after a missing page (host work, not guest time).
    pub rollbacks: u64,
    /// Bytes sent in all.
    pub bytes_sent: u64,
}

/// Which pages the destination has, and the background push's next candidate.
struct Arrivals {
    present: Vec<bool>,
    missing: usize,
    cursor: usize,
}

impl Arrivals {
    fn send(&mut self, src: &Machine, dst: &mut Machine, page: u32) -> Result<bool, MigrateError> {
        match self.present.get_mut(page as usize) {
            Some(p) if !*p => {
                *p = true;
                self.missing -= 1;
                copy_page(src, dst, page)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn next_missing(&mut self) -> Option<u32> {
        while self.cursor < self.present.len() {
            if !self.present[self.cursor] {
                return Some(self.cursor as u32);
            }
            self.cursor += 1;
        }
        None
    }
}

/// Migrates the running `src` into `dst` (same configuration, zeroed RAM) by
/// post-copy over `link`, and runs the guest on `dst` until all its pages are there.
pub fn postcopy(
    src: &mut Machine,
    dst: &mut Machine,
    link: Link,
    opts: PostcopyOptions,
    budget: &mut Budget,
) -> Result<PostcopyReport, MigrateError> {
    if opts.slice_cycles == 0 || opts.fault_cycles == 0 {
        return Err(MigrateError::BadSetting(
            "post-copy slices must be at least one cycle".into(),
        ));
    }
    let pages = src.ram_pages();
    move_state(src, dst)?;
    let downtime_cycles = link.transfer_cycles(STATE_BYTES);
    let mut arr = Arrivals {
        present: vec![false; pages],
        missing: pages,
        cursor: 0,
    };
    let mut history = History::new(
        dst,
        HistoryLimits {
            checkpoints: 2,
            page_bytes: usize::MAX,
        },
    );
    let mut rep = PostcopyReport {
        link,
        memory_pages: pages as u64,
        downtime_cycles,
        demand_faults: 0,
        prepaged: 0,
        pushed: 0,
        stall_cycles: 0,
        run_cycles: 0,
        rollbacks: 0,
        bytes_sent: STATE_BYTES,
    };
    // bytes the link may still carry in the background (negative: behind)
    let mut credit: i128 = 0;
    let mut slice = opts.slice_cycles;
    let mut stopped = false;
    dst.start_touch_log();
    while arr.missing > 0 {
        let t0 = dst.cpu().tsc;
        if !stopped {
            dst.take_touch_log();
            let r = run_until(dst, t0.saturating_add(slice), budget, "post-copy")?;
            let touched = dst.take_touch_log();
            let missing: BTreeSet<u32> = touched
                .into_iter()
                .filter(|&p| arr.present.get(p as usize) == Some(&false))
                .collect();
            if !missing.is_empty() {
                history
                    .restore(dst, history.current())
                    .map_err(|e| MigrateError::Restore(alloc::format!("{e}")))?;
                rep.rollbacks += 1;
                if slice > opts.fault_cycles {
                    slice = (slice / 4).max(opts.fault_cycles);
                    continue;
                }
                // a slice of a few instructions: its missing pages are the faults
                let mut neighbours = 0u64;
                for &p in &missing {
                    arr.send(src, dst, p)?;
                }
                for &p in &missing {
                    let lo = p.saturating_sub(opts.prepage);
                    for q in lo..=p.saturating_add(opts.prepage) {
                        neighbours += arr.send(src, dst, q)? as u64;
                    }
                }
                let n = missing.len() as u64;
                rep.demand_faults += n;
                rep.prepaged += neighbours;
                rep.stall_cycles += 2 * link.latency_cycles() + link.wire_cycles(n * PAGE_BYTES);
                credit -= i128::from(neighbours * PAGE_BYTES);
                rep.bytes_sent += (n + neighbours) * PAGE_BYTES;
                history.record(dst);
                continue;
            }
            stopped = matches!(r, Some(s) if s != StopReason::BudgetExhausted);
            slice = opts.slice_cycles;
        }
        let ran = dst.cpu().tsc.saturating_sub(t0);
        rep.run_cycles += ran;
        // the background push: what the link carried while the guest ran (all the
        // rest at once when it stopped: nothing can touch the pages any more)
        credit += i128::from(link.bytes_in(if stopped { u64::MAX / 2 } else { ran }));
        while credit >= i128::from(PAGE_BYTES) {
            let Some(p) = arr.next_missing() else { break };
            arr.send(src, dst, p)?;
            rep.pushed += 1;
            rep.bytes_sent += PAGE_BYTES;
            credit -= i128::from(PAGE_BYTES);
        }
        history.record(dst);
    }
    dst.stop_touch_log();
    Ok(rep)
}
