//! Scenarios as data: hosts, the links between them, their VMs and timed events (balloon, pause, resume, snapshot, destroy, migrate, kill the primary), run to a report of per-VM memory and CPU figures and of each move.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vmlab_migrate::Link;

use crate::cluster::Cluster;
use crate::host::{Host, HostConfig, HostEvent};
use crate::time;
use crate::vm::{CpuCounters, MemCounters, MemEvents, VmSpec};

pub use crate::cluster::{FailoverRecord, MigrationRecord};

/// How a migration moves the VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrateMode {
    /// Pre-copy rounds while the guest runs, then stop-and-copy.
    Precopy,
    /// Stop, move the state, resume at once; pages follow on demand.
    Postcopy,
}

impl MigrateMode {
    /// The mode's name in scenario files.
    pub const fn name(self) -> &'static str {
        match self {
            MigrateMode::Precopy => "precopy",
            MigrateMode::Postcopy => "postcopy",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<MigrateMode> {
        [MigrateMode::Precopy, MigrateMode::Postcopy]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

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
    /// Live-migrates the VM to the host called `to`.
    Migrate {
        /// The destination host's name.
        to: String,
        /// Pre-copy or post-copy.
        mode: MigrateMode,
    },
    /// Kills the primary copy of a fault-tolerant VM: its backup takes over.
    KillPrimary,
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
            Action::Migrate { .. } => "migrate",
            Action::KillPrimary => "kill-primary",
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

/// A host of the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// Its name (`host` in a file with a single `[host]`).
    pub name: String,
    /// How it is set up.
    pub config: HostConfig,
}

/// A network link between two hosts, which migrations use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSpec {
    /// The two hosts' names.
    pub hosts: [String; 2],
    /// Bandwidth and latency.
    pub link: Link,
}

/// Where a VM of the scenario lives and what it runs besides its [`VmSpec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The host it starts on.
    pub host: String,
    /// A migration workload (`guests/migrate/NAME.asm`) it runs instead of the
    /// balloon guest, and the timer ticks after which it halts.
    pub migrate_workload: Option<(String, u32)>,
    /// Fault tolerant: the host its backup runs on.
    pub ft_backup: Option<String>,
}

impl Placement {
    /// On host `host`, running the VM's own guest, not fault tolerant.
    pub fn on(host: &str) -> Placement {
        Placement {
            host: host.into(),
            migrate_workload: None,
            ft_backup: None,
        }
    }
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The hosts (at least one).
    pub hosts: Vec<HostSpec>,
    /// The links between hosts.
    pub links: Vec<LinkSpec>,
    /// The VMs, created at time 0.
    pub vms: Vec<VmSpec>,
    /// Where each VM of `vms` lives (same order).
    pub placement: Vec<Placement>,
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
    /// The host it is on at the end.
    pub host: String,
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
    /// Its guest's serial output (COM1).
    pub serial: String,
}

/// One host's figures at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFigures {
    /// Its name.
    pub name: String,
    /// Host time at the end, in cycles.
    pub now: u64,
    /// Cycles the CPU idled.
    pub idle: u64,
    /// The pool's size in frames.
    pub pool_frames: u64,
    /// Host frames in use at the end.
    pub frames_in_use: u64,
    /// The most host frames in use at once.
    pub peak_frames: u64,
    /// The most frames the guests would have used without sharing.
    pub peak_unshared: u64,
    /// Frames the scanner hashed.
    pub scanned: u64,
    /// Frames merged.
    pub merged: u64,
    /// The time policy's name.
    pub time_policy: &'static str,
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
    /// Every host's figures (the fields above are the first host's).
    pub hosts: Vec<HostFigures>,
    /// The migrations, in order.
    pub migrations: Vec<MigrationRecord>,
    /// The fail-overs of fault-tolerant VMs, in order.
    pub failovers: Vec<FailoverRecord>,
}

impl Scenario {
    /// A scenario of one host called `host` (as a file with a single `[host]` gives).
    pub fn one_host(name: &str, host: HostConfig, vms: Vec<VmSpec>, duration_ms: u64) -> Scenario {
        let placement = vms.iter().map(|_| Placement::on("host")).collect();
        Scenario {
            name: name.into(),
            hosts: alloc::vec![HostSpec {
                name: "host".into(),
                config: host,
            }],
            links: Vec::new(),
            vms,
            placement,
            events: Vec::new(),
            duration_ms,
        }
    }

    /// The first host's setup.
    pub fn host(&self) -> Option<&HostConfig> {
        self.hosts.first().map(|h| &h.config)
    }

    /// The hosts with the scenario's VMs created, at time 0 (no event applied yet).
    pub fn start(&self) -> Result<Cluster, String> {
        Cluster::new(self)
    }

    /// The events in time order.
    pub fn timeline(&self) -> Vec<TimedEvent> {
        let mut events = self.events.clone();
        events.sort_by_key(|e| e.at_ms);
        events
    }

    /// Builds the hosts and runs the scenario; returns the first host and the report.
    pub fn run(&self) -> Result<(Host, Report), String> {
        let (mut c, r) = self.run_all()?;
        if c.hosts.is_empty() {
            return Err("the scenario has no host".into());
        }
        Ok((c.hosts.swap_remove(0), r))
    }

    /// Builds the hosts and runs the scenario to its end.
    pub fn run_all(&self) -> Result<(Cluster, Report), String> {
        let mut c = self.start()?;
        c.advance_to_ms(self.duration_ms)?;
        let r = c.report();
        Ok((c, r))
    }
}

impl TimedEvent {
    /// Does the event's action to `host` now (the actions of one host; a migration
    /// or a kill of the primary needs the [`Cluster`]).
    pub fn apply(&self, host: &mut Host) -> Result<(), String> {
        match self.action {
            Action::Balloon(mib) => host.balloon(&self.vm, mib),
            Action::Pause => host.pause(&self.vm),
            Action::Resume => host.resume(&self.vm),
            Action::Snapshot => host.snapshot(&self.vm).map(|_| ()),
            Action::Destroy => host.destroy(&self.vm),
            Action::Migrate { .. } | Action::KillPrimary => Err(format!(
                "{} moves a VM between hosts: run it on the scenario's hosts",
                self.action.name()
            )),
        }
    }
}

/// The figures of `host` now.
pub fn host_figures(name: &str, host: &Host) -> HostFigures {
    HostFigures {
        name: name.into(),
        now: host.now,
        idle: host.idle,
        pool_frames: host.pool_frames(),
        frames_in_use: crate::pool::frames_in_use(&host.vms),
        peak_frames: host.peak_frames,
        peak_unshared: host.peak_unshared,
        scanned: host.scanner.scanned,
        merged: host.scanner.merged,
        time_policy: host.config.time.name(),
    }
}

/// The figures of `host`'s VMs now (those that left it for another host left out);
/// `total_run` is the CPU time of all VMs the shares are of.
pub fn vm_reports(host_name: &str, host: &Host, total_run: u64) -> Vec<VmReport> {
    host.vms
        .iter()
        .enumerate()
        .filter(|(i, _)| !host.departed.contains(i))
        .map(|(_, v)| {
            let tick = time::tick_cycles(v.spec.workload.tick_div);
            VmReport {
                name: v.spec.name.clone(),
                host: host_name.into(),
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
                serial: String::from_utf8_lossy(&v.machine.serial_output()).into_owned(),
            }
        })
        .collect()
}

/// The figures of `host` now, as a scenario of one host called `host`.
pub fn report(name: &str, host: &Host) -> Report {
    let total_run: u64 = host.vms.iter().map(|v| v.cpu.run).sum();
    assemble(
        name,
        alloc::vec![host_figures("host", host)],
        vm_reports("host", host, total_run),
        host.events.clone(),
    )
}

/// A report from its parts (the top-level host figures are the first host's).
pub fn assemble(
    name: &str,
    hosts: Vec<HostFigures>,
    vms: Vec<VmReport>,
    events: Vec<HostEvent>,
) -> Report {
    let first = hosts.first().cloned().unwrap_or(HostFigures {
        name: String::new(),
        now: 0,
        idle: 0,
        pool_frames: 0,
        frames_in_use: 0,
        peak_frames: 0,
        peak_unshared: 0,
        scanned: 0,
        merged: 0,
        time_policy: "",
    });
    Report {
        name: name.into(),
        now: first.now,
        idle: first.idle,
        pool_frames: first.pool_frames,
        frames_in_use: first.frames_in_use,
        peak_frames: first.peak_frames,
        peak_unshared: first.peak_unshared,
        scanned: first.scanned,
        merged: first.merged,
        vms,
        events,
        time_policy: first.time_policy,
        hosts,
        migrations: Vec::new(),
        failovers: Vec::new(),
    }
}
