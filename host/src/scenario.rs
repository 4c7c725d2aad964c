//! Scenarios as data: a host, its VMs and timed events (balloon, pause, resume, snapshot, destroy), run to a report of per-VM memory and CPU figures.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::host::{Host, HostConfig, HostEvent, CYCLES_PER_MS};
use crate::time;
use crate::vm::{CpuCounters, MemCounters, MemEvents, VmSpec};

/// What a timed event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sets the VM's balloon target, in MiB.
    Balloon(u32),
    /// Pauses the VM.
    Pause,
    /// Resumes the VM.
    Resume,
    /// Takes a snapshot of the VM.
    Snapshot,
    /// Destroys the VM.
    Destroy,
}

impl Action {
    /// The action's name in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Balloon(_) => "balloon",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Snapshot => "snapshot",
            Action::Destroy => "destroy",
        }
    }
}

/// A timed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedEvent {
    /// When, in ms of host time.
    pub at_ms: u64,
    /// The VM's name.
    pub vm: String,
    /// What.
    pub action: Action,
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The host.
    pub host: HostConfig,
    /// The VMs, created at time 0.
    pub vms: Vec<VmSpec>,
    /// The events, in time order.
    pub events: Vec<TimedEvent>,
    /// How long it runs, in ms of host time.
    pub duration_ms: u64,
}

/// One VM's figures at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmReport {
    /// Its name.
    pub name: String,
    /// Its state's name.
    pub state: &'static str,
    /// Its RAM in MiB.
    pub ram_mib: u32,
    /// Weight and cap.
    pub weight: u32,
    /// Cap in percent (0: none).
    pub cap: u32,
    /// Pages by kind.
    pub mem: MemCounters,
    /// Memory events.
    pub mem_events: MemEvents,
    /// CPU figures (cycles).
    pub cpu: CpuCounters,
    /// Its share of the CPU time the VMs used, in per mille.
    pub cpu_share_permille: u64,
    /// Timer ticks the guest counted.
    pub guest_ticks: u64,
    /// Timer ticks of host time since it started (what its clock should show).
    pub host_ticks: u64,
    /// Pages of its cache filled.
    pub filled_pages: u32,
    /// Pages in its balloon, by its own count, and the target.
    pub balloon_pages: u32,
    /// The balloon target in pages.
    pub balloon_target: u32,
    /// Work loop iterations done.
    pub work: u64,
    /// Its processes, read from outside (a VM that runs the teaching kernel).
    pub processes: Option<Result<crate::introspect::View, String>>,
}

/// The end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    /// Host time at the end, in cycles.
    pub now: u64,
    /// Cycles the CPU idled.
    pub idle: u64,
    /// The pool's size in frames.
    pub pool_frames: u64,
    /// Host frames in use at the end and at most.
    pub frames_in_use: u64,
    /// The most host frames in use at once.
    pub peak_frames: u64,
    /// The most frames the guests would have used without sharing.
    pub peak_unshared: u64,
    /// Frames the scanner hashed and merged.
    pub scanned: u64,
    /// Frames merged.
    pub merged: u64,
    /// Per VM.
    pub vms: Vec<VmReport>,
    /// The timeline.
    pub events: Vec<HostEvent>,
    /// The time policy's name.
    pub time_policy: &'static str,
}

impl Scenario {
    /// The host with the scenario's VMs created, at time 0 (no event applied yet).
    pub fn start(&self) -> Result<Host, String> {
        let mut host = Host::new(self.host.clone());
        for spec in &self.vms {
            host.create(spec.clone())?;
        }
        Ok(host)
    }

    /// The events in time order.
    pub fn timeline(&self) -> Vec<TimedEvent> {
        let mut events = self.events.clone();
        events.sort_by_key(|e| e.at_ms);
        events
    }

    /// Builds the host and runs the scenario.
    pub fn run(&self) -> Result<(Host, Report), String> {
        let mut host = self.start()?;
        for (i, e) in self.timeline().iter().enumerate() {
            host.run_until(e.at_ms.saturating_mul(CYCLES_PER_MS));
            e.apply(&mut host)
                .map_err(|m| format!("event[{i}] ({} at {} ms): {m}", e.action.name(), e.at_ms))?;
        }
        host.run_until(self.duration_ms.saturating_mul(CYCLES_PER_MS));
        let report = report(&self.name, &host);
        Ok((host, report))
    }
}

impl TimedEvent {
    /// Does the event's action to `host` now.
    pub fn apply(&self, host: &mut Host) -> Result<(), String> {
        match self.action {
            Action::Balloon(mib) => host.balloon(&self.vm, mib),
            Action::Pause => host.pause(&self.vm),
            Action::Resume => host.resume(&self.vm),
            Action::Snapshot => host.snapshot(&self.vm).map(|_| ()),
            Action::Destroy => host.destroy(&self.vm),
        }
    }
}

/// The figures of `host` now.
pub fn report(name: &str, host: &Host) -> Report {
    let total_run: u64 = host.vms.iter().map(|v| v.cpu.run).sum();
    let vms = host
        .vms
        .iter()
        .map(|v| {
            let tick = time::tick_cycles(v.spec.workload.tick_div);
            VmReport {
                name: v.spec.name.clone(),
                state: v.state.name(),
                ram_mib: v.spec.ram_mib,
                weight: v.spec.weight,
                cap: v.spec.cap,
                mem: v.mem_counters(),
                mem_events: v.mem,
                cpu: v.cpu,
                cpu_share_permille: (v.cpu.run * 1000).checked_div(total_run).unwrap_or(0),
                guest_ticks: u64::from(v.guest_ticks()),
                host_ticks: host.now.checked_div(tick).unwrap_or(0),
                filled_pages: v.guest_filled_pages(),
                balloon_pages: v.guest_balloon(),
                balloon_target: v.balloon_target(),
                work: u64::from(v.read_u32(v.image.work)),
                processes: v.processes(),
            }
        })
        .collect();
    Report {
        name: name.into(),
        now: host.now,
        idle: host.idle,
        pool_frames: host.pool_frames(),
        frames_in_use: crate::pool::frames_in_use(&host.vms),
        peak_frames: host.peak_frames,
        peak_unshared: host.peak_unshared,
        scanned: host.scanner.scanned,
        merged: host.scanner.merged,
        vms,
        events: host.events.clone(),
        time_policy: host.config.time.name(),
    }
}
