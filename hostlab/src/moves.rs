//! Moving a guest, as the Host view shows it: a live migration (pre-copy or post-copy) of one of the migration workloads (`guests/migrate/`) over a 1 Gbit/s link, and a fault-tolerant pair whose primary is killed, checked against a run that never failed.

use emulator_core::devices::pit::CPU_HZ;
use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};
use vmlab_migrate::clock::{run_until, Budget};
use vmlab_migrate::transfer::destination_for;
use vmlab_migrate::{postcopy, precopy, FaultTolerance, Link, PostcopyOptions, XenPolicy};

/// The migrated guest's RAM, in MiB.
pub const RAM_MIB: u32 = 4;
/// Timer ticks the workloads run before they halt.
pub const END_TICKS: u32 = 256;
/// The link: 1 Gbit/s, 100 us one way.
pub const BANDWIDTH: u64 = 125_000_000;
/// The link's one-way latency, in microseconds.
pub const LATENCY_US: u64 = 100;
/// Guest time the workload runs on the source before the migration starts (2 ms).
const WARMUP: u64 = CPU_HZ / 500;
/// Guest time it runs on the destination afterwards (50 ms).
const AFTER: u64 = CPU_HZ / 20;
/// Most instructions one migration or fault-tolerant run may take.
const BUDGET: u64 = 400_000_000;
/// Instructions per fault-tolerance epoch.
pub const EPOCH: u64 = 2_000;

/// Microseconds of `cycles` of guest time.
fn us(cycles: u64) -> u64 {
    cycles.saturating_mul(1_000_000) / CPU_HZ
}

/// The workload `name` assembled, ending after [`END_TICKS`] ticks.
pub fn workload(name: &str) -> Result<Vec<u8>, String> {
    workload_of(name, END_TICKS)
}

/// The workload `name` assembled, ending after `end_ticks` ticks (a multiple of 64).
pub fn workload_of(name: &str, end_ticks: u32) -> Result<Vec<u8>, String> {
    vmlab_host::guest::assemble_migrate(name, end_ticks).map(|o| o.bytes)
}

/// A machine under `mode` with workload `name` loaded.
pub fn machine(name: &str, mode: ExecMode) -> Result<Machine, String> {
    machine_of(name, mode, RAM_MIB, END_TICKS)
}

/// A machine of `ram_mib` MiB under `mode` with workload `name` loaded, ending after
/// `end_ticks` ticks.
pub fn machine_of(
    name: &str,
    mode: ExecMode,
    ram_mib: u32,
    end_ticks: u32,
) -> Result<Machine, String> {
    let mut m = Machine::new(MachineConfig {
        ram_mib,
        mode,
        ..MachineConfig::default()
    })
    .map_err(|e| format!("a {ram_mib} MiB machine: {e}"))?;
    m.load_flat(
        0x10000,
        &workload_of(name, end_ticks)?,
        FlatEntry::Protected32,
    )
    .map_err(|e| format!("{name}.asm: {e}"))?;
    Ok(m)
}

/// One pre-copy round as the chart draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundBar {
    /// Pages sent in the round.
    pub sent: u64,
    /// Pages the guest dirtied meanwhile.
    pub dirtied: u64,
}

/// A live migration's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationView {
    /// `precopy` or `postcopy`.
    pub mode: String,
    /// The workload's name.
    pub workload: String,
    /// The guest's memory in pages.
    pub memory_pages: u64,
    /// Pre-copy's rounds (empty for post-copy).
    pub rounds: Vec<RoundBar>,
    /// Why pre-copy stopped its rounds (`converged`, `max-rounds`, `max-sent`), or
    /// `post-copy` for a post-copy migration.
    pub stop_rule: String,
    /// Pages the stop-and-copy phase sent (pre-copy).
    pub final_pages: u64,
    /// The guest stood still for this long, in microseconds of guest time.
    pub downtime_us: u64,
    /// Sending all memory at once would take this long (the bound a converged
    /// pre-copy beats).
    pub all_memory_us: u64,
    /// Pages sent in all.
    pub pages_sent: u64,
    /// Post-copy: pages the destination faulted in over the link.
    pub demand_faults: u64,
    /// Post-copy: pages pre-paged around the faults.
    pub prepaged: u64,
    /// Serial output on the source before the migration.
    pub serial_before: String,
    /// Serial output the destination added.
    pub serial_after: String,
    /// Whether the destination's run went on to the workload's end or its time, with
    /// the source's output as the start of its own.
    pub continued: bool,
}

/// Migrates workload `workload` under hardware assistance by `mode` (`precopy` or `postcopy`).
pub fn migrate(mode: &str, workload: &str) -> Result<MigrationView, String> {
    let mut src = machine(workload, ExecMode::HW_ASSIST)?;
    let link = Link::new(BANDWIDTH, LATENCY_US).map_err(|e| e.to_string())?;
    let mut budget = Budget::new(BUDGET);
    let t0 = src.cpu().tsc;
    run_until(&mut src, t0 + WARMUP, &mut budget, "the warm-up").map_err(|e| e.to_string())?;
    let before = src.serial_output();
    let mut dst = destination_for(&src).map_err(|e| e.to_string())?;
    let all_memory_us = us(link.transfer_cycles(u64::from(RAM_MIB) << 20));
    let mut view = MigrationView {
        mode: mode.into(),
        workload: workload.into(),
        memory_pages: 0,
        rounds: Vec::new(),
        stop_rule: "post-copy".into(),
        final_pages: 0,
        downtime_us: 0,
        all_memory_us,
        pages_sent: 0,
        demand_faults: 0,
        prepaged: 0,
        serial_before: String::from_utf8_lossy(&before).into_owned(),
        serial_after: String::new(),
        continued: false,
    };
    match mode {
        "precopy" => {
            let r = precopy(
                &mut src,
                &mut dst,
                link,
                &mut XenPolicy::default(),
                &mut budget,
            )
            .map_err(|e| e.to_string())?;
            view.memory_pages = r.memory_pages;
            view.rounds = r
                .rounds
                .iter()
                .map(|x| RoundBar {
                    sent: x.sent,
                    dirtied: x.dirtied,
                })
                .collect();
            view.stop_rule = r.stop_rule.name().into();
            view.final_pages = r.final_pages;
            view.downtime_us = us(r.downtime_cycles);
            view.all_memory_us = us(r.all_memory_cycles);
            view.pages_sent = r.pages_sent;
        }
        "postcopy" => {
            let r = postcopy(
                &mut src,
                &mut dst,
                link,
                PostcopyOptions::default(),
                &mut budget,
            )
            .map_err(|e| e.to_string())?;
            view.memory_pages = r.memory_pages;
            view.downtime_us = us(r.downtime_cycles);
            view.pages_sent = r.pushed + r.prepaged + r.demand_faults;
            view.demand_faults = r.demand_faults;
            view.prepaged = r.prepaged;
        }
        other => return Err(format!("mode {other:?}: not precopy or postcopy")),
    }
    let resumed = dst.cpu().tsc;
    let stop = run_until(
        &mut dst,
        resumed + AFTER,
        &mut budget,
        "the destination's run",
    )
    .map_err(|e| e.to_string())?;
    let out = dst.serial_output();
    let split = before.len().min(out.len());
    view.serial_after = String::from_utf8_lossy(&out[split..]).into_owned();
    view.continued = out.starts_with(&before)
        && matches!(stop, None | Some(StopReason::Halted))
        && out.len() > before.len();
    Ok(view)
}

/// A fault-tolerant run's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FtView {
    /// The instruction the primary died at.
    pub kill_at: u64,
    /// The instruction the backup took over at (the last acknowledged epoch).
    pub takeover_at: Option<u64>,
    /// Epochs acknowledged.
    pub epochs: u64,
    /// Interrupts the primary logged for the backup.
    pub logged_interrupts: u64,
    /// Output bytes released by the primary, and by the backup after the takeover.
    pub released_by_primary: u64,
    /// Released by the backup.
    pub released_by_backup: u64,
    /// Output the primary made but never released (the backup made it again).
    pub withheld_bytes: u64,
    /// What the outside world saw.
    pub output: String,
    /// What a run that never failed printed.
    pub reference: String,
}

impl FtView {
    /// Bytes of the reference output the world did not see (a gap).
    pub fn lost_bytes(&self) -> u64 {
        self.reference.len().saturating_sub(self.output.len()) as u64
    }

    /// Bytes the world saw beyond the reference (a duplicate).
    pub fn extra_bytes(&self) -> u64 {
        self.output.len().saturating_sub(self.reference.len()) as u64
    }
}

/// Runs the moderate workload as a fault-tolerant pair and kills the primary at
/// instruction `kill_at`; the reference is the same workload run plainly.
pub fn kill_primary(kill_at: u64) -> Result<FtView, String> {
    let mut reference = machine("moderate", ExecMode::Bare)?;
    let mut budget = Budget::new(BUDGET);
    let end = reference.cpu().tsc + CPU_HZ;
    let stop = run_until(&mut reference, end, &mut budget, "the reference run")
        .map_err(|e| e.to_string())?;
    if stop != Some(StopReason::Halted) {
        return Err("the reference run did not halt within a second of guest time".into());
    }
    let ft = FaultTolerance {
        epoch: EPOCH,
        kill_at: Some(kill_at),
        end: BUDGET,
        inputs: Vec::new(),
    };
    let r = ft
        .run(
            machine("moderate", ExecMode::Bare)?,
            &mut Budget::new(BUDGET),
        )
        .map_err(|e| e.to_string())?;
    Ok(FtView {
        kill_at,
        takeover_at: r.takeover_at,
        epochs: r.epochs,
        logged_interrupts: r.logged_interrupts,
        released_by_primary: r.released_by_primary,
        released_by_backup: r.released_by_backup,
        withheld_bytes: r.withheld_bytes,
        output: String::from_utf8_lossy(&r.output).into_owned(),
        reference: String::from_utf8_lossy(&reference.serial_output()).into_owned(),
    })
}

/// A scenario's migration event as the migration chart draws it (`serial` is the
/// VM's output at the end of the run, all of it on the destination's side).
pub fn view_of(
    m: &vmlab_host::scenario::MigrationRecord,
    workload: &str,
    serial: &str,
) -> MigrationView {
    let mut view = MigrationView {
        mode: m.mode.name().into(),
        workload: workload.into(),
        memory_pages: 0,
        rounds: Vec::new(),
        stop_rule: "post-copy".into(),
        final_pages: 0,
        downtime_us: us(m.downtime_cycles()),
        all_memory_us: 0,
        pages_sent: 0,
        demand_faults: 0,
        prepaged: 0,
        serial_before: String::new(),
        serial_after: serial.into(),
        continued: !serial.is_empty(),
    };
    if let Some(p) = &m.precopy {
        view.memory_pages = p.memory_pages;
        view.rounds = p
            .rounds
            .iter()
            .map(|x| RoundBar {
                sent: x.sent,
                dirtied: x.dirtied,
            })
            .collect();
        view.stop_rule = p.stop_rule.name().into();
        view.final_pages = p.final_pages;
        view.all_memory_us = us(p.all_memory_cycles);
        view.pages_sent = p.pages_sent;
    }
    if let Some(p) = &m.postcopy {
        view.memory_pages = p.memory_pages;
        view.demand_faults = p.demand_faults;
        view.prepaged = p.prepaged;
        view.pages_sent = p.demand_faults + p.prepaged + p.pushed;
    }
    view
}
