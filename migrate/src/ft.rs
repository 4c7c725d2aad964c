//! Fault tolerance by deterministic record/replay (as VMware FT): the primary runs in
//! epochs and ships a log of its nondeterministic events (the instruction counts at
//! which interrupts were delivered, and the input bytes the outside world gave it
//! with the instruction count they arrived at) to a backup that replays them and
//! checks its own interrupts against the log. Output commit: the primary's serial
//! output of an epoch is released only once the backup has the log up to its end.
//! When the primary dies the backup, at the last acknowledged epoch, goes live; the
//! world sees the output it already got, then the backup's from there on.

use alloc::vec::Vec;

use emulator_core::{EventKind, Machine, StopReason};
use serde::{Deserialize, Serialize};

use crate::clock::Budget;
use crate::transfer::destination_for;
use crate::MigrateError;

/// One nondeterministic event of the primary.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LogEntry {
    /// An external interrupt delivered when `icount` instructions had retired.
    Interrupt {
        /// Instructions retired when it was delivered.
        icount: u64,
        /// Its vector.
        vector: u8,
    },
    /// Bytes the outside world put in COM1's receive queue at instruction `icount`.
    Input {
        /// Instructions retired when they arrived.
        icount: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// A fault-tolerant run: the epoch length, when the primary dies, and what the
/// outside world types.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FaultTolerance {
    /// Instructions per epoch (the log is shipped and output released at its end).
    pub epoch: u64,
    /// The primary dies when it has retired this many instructions (`None`: never).
    pub kill_at: Option<u64>,
    /// The run ends after this many instructions (or when the guest stops).
    pub end: u64,
    /// Serial input: bytes and the instruction count at which they arrive.
    pub inputs: Vec<(u64, Vec<u8>)>,
}

/// What a fault-tolerant run did.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FtReport {
    /// Epochs the primary completed and the backup acknowledged.
    pub epochs: u64,
    /// Interrupt deliveries logged.
    pub logged_interrupts: u64,
    /// Inputs logged.
    pub logged_inputs: u64,
    /// Where the primary died (instructions retired), if it did.
    pub killed_at: Option<u64>,
    /// Where the backup went live (instructions retired), if it did.
    pub takeover_at: Option<u64>,
    /// Primary output held back at its death (never released; the backup makes it
    /// again).
    pub withheld_bytes: u64,
    /// Output bytes released by the primary.
    pub released_by_primary: u64,
    /// Output bytes released by the backup after it took over.
    pub released_by_backup: u64,
    /// Instructions retired at the end.
    pub icount: u64,
    /// Why the run ended (`budget-exhausted` when it reached its end).
    pub stop: &'static str,
    /// The log, in order.
    pub log: Vec<LogEntry>,
    /// What the outside world saw on COM1.
    pub output: Vec<u8>,
}

/// Runs `m` until it has retired `target` instructions, pushing each input whose
/// time has come; `Some(reason)` when the guest stopped for good first. Inputs pushed
/// are appended to `log` when given.
fn run_to(
    m: &mut Machine,
    target: u64,
    inputs: &[(u64, Vec<u8>)],
    mut log: Option<&mut Vec<LogEntry>>,
    budget: &mut Budget,
) -> Result<Option<StopReason>, MigrateError> {
    loop {
        let now = m.icount();
        for (at, bytes) in inputs.iter().filter(|(at, _)| *at == now) {
            m.push_serial_input(bytes);
            if let Some(l) = log.as_deref_mut() {
                l.push(LogEntry::Input {
                    icount: *at,
                    bytes: bytes.clone(),
                });
            }
        }
        let next_input = inputs
            .iter()
            .map(|(at, _)| *at)
            .filter(|&at| at > now)
            .min()
            .unwrap_or(u64::MAX);
        let stop = target.min(next_input);
        if now >= target {
            return Ok(None);
        }
        if budget.left() == 0 {
            return Err(MigrateError::BudgetExhausted("a fault-tolerant run"));
        }
        let r = m.run((stop - now).min(budget.left()));
        budget.spend(m.icount().saturating_sub(now).max(1));
        if r != StopReason::BudgetExhausted {
            return Ok(Some(r));
        }
    }
}

/// The interrupts `m` delivered since event number `seen`, as log entries.
fn interrupts_since(m: &Machine, seen: u64) -> Vec<LogEntry> {
    m.events()
        .since(seen)
        .filter_map(|e| match e.kind {
            EventKind::Interrupt { vector, .. } => Some(LogEntry::Interrupt {
                icount: e.icount,
                vector,
            }),
            _ => None,
        })
        .collect()
}

impl FaultTolerance {
    /// Runs `primary` with a backup made from it as it stands.
    pub fn run(&self, primary: Machine, budget: &mut Budget) -> Result<FtReport, MigrateError> {
        self.run_live(primary, budget).map(|(r, _)| r)
    }

    /// Runs `primary` with a backup made from it as it stands; returns the report and
    /// the machine live at the end (the backup when the primary died).
    pub fn run_live(
        &self,
        mut primary: Machine,
        budget: &mut Budget,
    ) -> Result<(FtReport, Machine), MigrateError> {
        if self.epoch == 0 {
            return Err(MigrateError::BadSetting(
                "the epoch must be at least one instruction".into(),
            ));
        }
        let mut backup = destination_for(&primary)?;
        backup
            .restore(&primary.snapshot())
            .map_err(|e| MigrateError::Restore(alloc::format!("{e}")))?;
        let mut rep = FtReport {
            epochs: 0,
            logged_interrupts: 0,
            logged_inputs: 0,
            killed_at: None,
            takeover_at: None,
            withheld_bytes: 0,
            released_by_primary: 0,
            released_by_backup: 0,
            icount: 0,
            stop: "budget-exhausted",
            log: Vec::new(),
            output: Vec::new(),
        };
        // serial bytes ever released to the world
        let mut released = primary.serial_output_since(0).1;
        let (mut p_seen, mut b_seen) = (primary.events().total(), backup.events().total());
        let kill = self.kill_at.unwrap_or(u64::MAX);
        let mut stopped = None;
        while primary.icount() < self.end {
            let epoch_end = primary
                .icount()
                .saturating_add(self.epoch)
                .min(self.end)
                .min(kill);
            let mut epoch_log = Vec::new();
            stopped = run_to(
                &mut primary,
                epoch_end,
                &self.inputs,
                Some(&mut epoch_log),
                budget,
            )?;
            if primary.icount() >= kill {
                // the primary dies: its epoch's log never reaches the backup, and
                // its output since the last release is never released
                rep.killed_at = Some(primary.icount());
                rep.withheld_bytes = primary.serial_output_since(released).1 - released;
                break;
            }
            let interrupts = interrupts_since(&primary, p_seen);
            p_seen = primary.events().total();
            rep.logged_inputs += epoch_log.len() as u64;
            rep.logged_interrupts += interrupts.len() as u64;
            // the backup replays the epoch from the log alone and checks its interrupts
            let logged_inputs: Vec<(u64, Vec<u8>)> = epoch_log
                .iter()
                .filter_map(|e| match e {
                    LogEntry::Input { icount, bytes } => Some((*icount, bytes.clone())),
                    LogEntry::Interrupt { .. } => None,
                })
                .collect();
            let end_here = primary.icount();
            run_to(&mut backup, end_here, &logged_inputs, None, budget)?;
            let replayed = interrupts_since(&backup, b_seen);
            b_seen = backup.events().total();
            if replayed != interrupts || backup.icount() != end_here {
                return Err(MigrateError::Diverged(alloc::format!(
                    "in the epoch ending at instruction {end_here}: the primary logged {} interrupts, the backup delivered {} and reached instruction {}",
                    interrupts.len(),
                    replayed.len(),
                    backup.icount()
                )));
            }
            epoch_log.extend(interrupts);
            rep.log.extend(epoch_log);
            rep.epochs += 1;
            // output commit: the backup has the log up to here
            let (out, total) = primary.serial_output_since(released);
            rep.released_by_primary += out.len() as u64;
            rep.output.extend_from_slice(&out);
            released = total;
            if stopped.is_some() {
                break;
            }
        }
        let live = match rep.killed_at {
            None => primary,
            Some(_) => {
                // the backup, at the last acknowledged epoch, goes live; the world
                // gets its output from the first byte not yet released
                rep.takeover_at = Some(backup.icount());
                stopped = run_to(&mut backup, self.end, &self.inputs, None, budget)?;
                let (out, _) = backup.serial_output_since(released);
                rep.released_by_backup += out.len() as u64;
                rep.output.extend_from_slice(&out);
                backup
            }
        };
        rep.icount = live.icount();
        if let Some(s) = stopped {
            rep.stop = s.name();
        }
        Ok((rep, live))
    }
}
