//! A scenario's hosts run side by side in host time: timed events applied as time reaches them, VMs live-migrated between hosts over a link (vmlab-migrate's pre-copy and post-copy) and fault-tolerant VMs failed over to their backup host.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use emulator_core::{Machine, Snapshot};
use vmlab_migrate::clock::Budget;
use vmlab_migrate::{
    postcopy, precopy, FaultTolerance, FtReport, Link, PostcopyOptions, PostcopyReport,
    PrecopyReport, XenPolicy,
};

use crate::guest::GuestImage;
use crate::host::{Host, CYCLES_PER_MS};
use crate::scenario::{self, Action, MigrateMode, Report, Scenario, TimedEvent};
use crate::swap;
use crate::vm::{Vm, VmSpec, VmState};

/// Most instructions one migration or fail-over may execute.
pub const MOVE_BUDGET: u64 = 2_000_000_000;
/// Instructions per fault-tolerance epoch (the log is shipped and output released
/// at its end).
pub const FT_EPOCH: u64 = 2_000;

/// One migration event's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRecord {
    /// The VM.
    pub vm: String,
    /// The host it left and the one it went to.
    pub from: String,
    /// The destination host.
    pub to: String,
    /// When the event started, in ms of host time.
    pub at_ms: u64,
    /// When the VM ran again on the destination host, in cycles of host time.
    pub resumed_at: u64,
    /// Pre-copy or post-copy.
    pub mode: MigrateMode,
    /// Pre-copy's rounds and figures.
    pub precopy: Option<PrecopyReport>,
    /// Post-copy's figures.
    pub postcopy: Option<PostcopyReport>,
    /// Guest cycles the VM ran while its memory moved.
    pub ran_cycles: u64,
}

impl MigrationRecord {
    /// Guest cycles from the stop on the source to the resume on the destination.
    pub fn downtime_cycles(&self) -> u64 {
        match (&self.precopy, &self.postcopy) {
            (Some(p), _) => p.downtime_cycles,
            (_, Some(p)) => p.downtime_cycles,
            _ => 0,
        }
    }

    /// Guest cycles the VM stood still in all: its downtime, and post-copy's stalls
    /// waiting for faulted pages.
    pub fn still_cycles(&self) -> u64 {
        self.downtime_cycles() + self.postcopy.as_ref().map_or(0, |p| p.stall_cycles)
    }

    /// Bytes sent over the link in all.
    pub fn bytes_sent(&self) -> u64 {
        match (&self.precopy, &self.postcopy) {
            (Some(p), _) => p.bytes_sent,
            (_, Some(p)) => p.bytes_sent,
            _ => 0,
        }
    }
}

/// One kill of a primary: what the fault-tolerant pair did until then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRecord {
    /// The VM.
    pub vm: String,
    /// The host its primary died on.
    pub from: String,
    /// The host its backup took over on.
    pub to: String,
    /// When the primary was killed, in ms of host time.
    pub at_ms: u64,
    /// Instructions per epoch.
    pub epoch: u64,
    /// The pair's run from the start of fault tolerance to the kill (the log left out).
    pub ft: FtReport,
    /// Bytes of serial output the primary had made when it died.
    pub primary_output: u64,
    /// Bytes of that output the world never got (a gap).
    pub lost: u64,
    /// Bytes the world got that the primary had not made (a duplicate).
    pub duplicated: u64,
    /// The backup's RAM and serial output when it went live equal the primary's.
    pub same_state: bool,
}

impl FailoverRecord {
    /// The output the world saw has no gap and no duplicate.
    pub fn output_ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0
    }
}

/// A fault-tolerant VM not yet failed over.
#[derive(Clone, Debug)]
struct FtPair {
    vm: String,
    backup: usize,
    /// The machine as fault tolerance started (the backup began as its copy).
    start: Snapshot,
}

/// The scenario's hosts in host time.
#[derive(Debug)]
pub struct Cluster {
    /// The scenario's name.
    pub name: String,
    /// The hosts' names.
    pub names: Vec<String>,
    /// The hosts.
    pub hosts: Vec<Host>,
    links: Vec<crate::scenario::LinkSpec>,
    events: Vec<TimedEvent>,
    next_event: usize,
    /// VMs that moved and wait to run again: (host time in cycles, host, VM).
    arrivals: Vec<(u64, usize, String)>,
    pairs: Vec<FtPair>,
    images: Vec<(String, GuestImage)>,
    /// The migrations done, in order.
    pub migrations: Vec<MigrationRecord>,
    /// The fail-overs done, in order.
    pub failovers: Vec<FailoverRecord>,
}

impl Cluster {
    /// The scenario's hosts with its VMs created, at time 0.
    pub fn new(s: &Scenario) -> Result<Cluster, String> {
        if s.hosts.is_empty() {
            return Err(format!("{}: the scenario has no host", s.name));
        }
        let mut c = Cluster {
            name: s.name.clone(),
            names: s.hosts.iter().map(|h| h.name.clone()).collect(),
            hosts: s
                .hosts
                .iter()
                .map(|h| Host::new(h.config.clone()))
                .collect(),
            links: s.links.clone(),
            events: s.timeline(),
            next_event: 0,
            arrivals: Vec::new(),
            pairs: Vec::new(),
            images: Vec::new(),
            migrations: Vec::new(),
            failovers: Vec::new(),
        };
        for (i, spec) in s.vms.iter().enumerate() {
            let place = s
                .placement
                .get(i)
                .cloned()
                .unwrap_or_else(|| scenario::Placement::on(&c.names[0]));
            let h = c.host_index(&place.host)?;
            let host = &mut c.hosts[h];
            let v = match &place.migrate_workload {
                Some((w, end)) => {
                    let image = crate::guest::migrate_image(w, *end)
                        .map_err(|e| format!("vm {}: {e}", spec.name))?;
                    host.create_with_image(spec.clone(), image)?
                }
                None => host.create(spec.clone())?,
            };
            c.images
                .push((spec.name.clone(), host.vms[v].image.clone()));
            if let Some(b) = &place.ft_backup {
                let backup = c.host_index(b)?;
                let start = c.hosts[h].vms[v].machine.snapshot();
                c.pairs.push(FtPair {
                    vm: spec.name.clone(),
                    backup,
                    start,
                });
            }
        }
        Ok(c)
    }

    fn host_index(&self, name: &str) -> Result<usize, String> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("no host called {name}"))
    }

    /// The host VM `vm` lives on now and its index there.
    pub fn locate(&self, vm: &str) -> Option<(usize, usize)> {
        self.hosts
            .iter()
            .enumerate()
            .find_map(|(h, host)| host.live(vm).map(|i| (h, i)))
    }

    /// VM `vm` where it lives now.
    pub fn vm(&self, vm: &str) -> Option<&Vm> {
        self.locate(vm).map(|(h, i)| &self.hosts[h].vms[i])
    }

    /// Host time now, in cycles (the hosts run in step).
    pub fn now(&self) -> u64 {
        self.hosts.iter().map(|h| h.now).min().unwrap_or(0)
    }

    /// Runs every host to host time `ms`, applying each timed event and letting
    /// each moved VM run again when host time reaches it.
    pub fn advance_to_ms(&mut self, ms: u64) -> Result<(), String> {
        let until = ms.saturating_mul(CYCLES_PER_MS);
        loop {
            let event = self
                .events
                .get(self.next_event)
                .map(|e| e.at_ms.saturating_mul(CYCLES_PER_MS));
            let arrival = self.arrivals.iter().map(|a| a.0).min();
            let next = match (event, arrival) {
                (Some(e), Some(a)) => e.min(a),
                (e, a) => match e.or(a) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.run_hosts(next);
            if arrival == Some(next) {
                let k = self.arrivals.iter().position(|a| a.0 == next).unwrap_or(0);
                let (_, h, vm) = self.arrivals.remove(k);
                self.hosts[h].resume(&vm)?;
                continue;
            }
            let e = self.events[self.next_event].clone();
            self.next_event += 1;
            self.apply(&e).map_err(|m| {
                format!(
                    "{}: {} of {} at {} ms: {m}",
                    self.name,
                    e.action.name(),
                    e.vm,
                    e.at_ms
                )
            })?;
        }
        self.run_hosts(until);
        Ok(())
    }

    fn run_hosts(&mut self, until: u64) {
        for h in &mut self.hosts {
            h.run_until(until);
        }
    }

    /// Does `e` now.
    pub fn apply(&mut self, e: &TimedEvent) -> Result<(), String> {
        match &e.action {
            Action::Migrate { to, mode } => self.migrate(&e.vm, to, *mode, e.at_ms),
            Action::KillPrimary => self.kill_primary(&e.vm, e.at_ms),
            _ => {
                let (h, _) = self
                    .locate(&e.vm)
                    .ok_or_else(|| format!("no VM called {}", e.vm))?;
                e.apply(&mut self.hosts[h])
            }
        }
    }

    fn link(&self, a: usize, b: usize) -> Result<Link, String> {
        let (na, nb) = (&self.names[a], &self.names[b]);
        self.links
            .iter()
            .find(|l| {
                (&l.hosts[0] == na && &l.hosts[1] == nb) || (&l.hosts[0] == nb && &l.hosts[1] == na)
            })
            .map(|l| l.link)
            .ok_or_else(|| format!("no [[link]] between {na} and {nb}"))
    }

    /// A VM for host `to` that carries on `old` (its counters and balloon marks)
    /// with `machine`.
    fn successor(&self, old: &Vm, machine: Machine) -> Result<Vm, String> {
        let image = self
            .images
            .iter()
            .find(|(n, _)| *n == old.spec.name)
            .map(|(_, i)| i.clone())
            .unwrap_or_else(|| old.image.clone());
        let spec: VmSpec = old.spec.clone();
        let mut vm = Vm::with_image(spec, image)?;
        vm.machine = machine;
        vm.cpu = old.cpu;
        vm.mem = old.mem;
        vm.ballooned = old.ballooned.clone();
        vm.last_ran = old.last_ran;
        Ok(vm)
    }

    /// A machine like `m`'s with pooled RAM, all zero.
    fn pooled_like(m: &Machine) -> Result<Machine, String> {
        let mut dst = Machine::new(m.config().clone()).map_err(|e| e.to_string())?;
        dst.use_pooled_ram();
        Ok(dst)
    }

    fn migrate(&mut self, vm: &str, to: &str, mode: MigrateMode, at_ms: u64) -> Result<(), String> {
        let (s, i) = self
            .locate(vm)
            .ok_or_else(|| format!("no VM called {vm}"))?;
        let d = self.host_index(to)?;
        if s == d {
            return Err(format!("{vm} is on {to} already"));
        }
        if self.pairs.iter().any(|p| p.vm == vm) {
            return Err(format!("{vm} is fault tolerant; it does not migrate"));
        }
        let link = self.link(s, d)?;
        let now = self.hosts[s].now;
        let src = &mut self.hosts[s].vms[i];
        if src.state != VmState::Running {
            return Err(format!(
                "{vm} is {}; only a running VM migrates",
                src.state.name()
            ));
        }
        // pages the host swapped out come back first: the migration reads guest RAM
        swap::swap_in_all(src);
        let t0 = src.tsc();
        let mut dst = Self::pooled_like(&src.machine)?;
        let mut budget = Budget::new(MOVE_BUDGET);
        let (pre, post) = match mode {
            MigrateMode::Precopy => {
                let r = precopy(
                    &mut src.machine,
                    &mut dst,
                    link,
                    &mut XenPolicy::default(),
                    &mut budget,
                )
                .map_err(|e| e.to_string())?;
                (Some(r), None)
            }
            MigrateMode::Postcopy => {
                let r = postcopy(
                    &mut src.machine,
                    &mut dst,
                    link,
                    PostcopyOptions::default(),
                    &mut budget,
                )
                .map_err(|e| e.to_string())?;
                (None, Some(r))
            }
        };
        let ran = dst.cpu().tsc.saturating_sub(t0);
        let mut rec = MigrationRecord {
            vm: vm.into(),
            from: self.names[s].clone(),
            to: to.into(),
            at_ms,
            resumed_at: 0,
            mode,
            precopy: pre,
            postcopy: post,
            ran_cycles: ran,
        };
        // the VM ran `ran` cycles while its memory moved and stood still for its
        // downtime (and stalls): it runs again on the destination once all passed
        rec.resumed_at = now + ran + rec.still_cycles();
        let mut next = self.successor(&self.hosts[s].vms[i], dst)?;
        next.cpu.run += ran;
        next.state = VmState::Paused;
        let from = self.names[s].clone();
        self.hosts[s].depart(vm, format!("migrated to {to} ({})", mode.name()))?;
        self.hosts[d].adopt(
            next,
            format!(
                "arrived from {from} ({}); runs again at {:.1} ms",
                mode.name(),
                rec.resumed_at as f64 / CYCLES_PER_MS as f64
            ),
        )?;
        self.arrivals.push((rec.resumed_at, d, vm.into()));
        self.migrations.push(rec);
        Ok(())
    }

    fn kill_primary(&mut self, vm: &str, at_ms: u64) -> Result<(), String> {
        let k = self
            .pairs
            .iter()
            .position(|p| p.vm == vm)
            .ok_or_else(|| format!("{vm} is not fault tolerant"))?;
        let pair = self.pairs.remove(k);
        let (s, i) = self
            .locate(vm)
            .ok_or_else(|| format!("no VM called {vm}"))?;
        let primary = &self.hosts[s].vms[i].machine;
        let kill_at = primary.icount();
        if kill_at == 0 {
            return Err(format!("{vm} has not run yet"));
        }
        // the pair from the start of fault tolerance: the primary's run is recorded
        // epoch by epoch, the backup replays each acknowledged epoch, and takes over
        let mut start = Self::pooled_like(primary)?;
        start.restore(&pair.start).map_err(|e| e.to_string())?;
        let ft = FaultTolerance {
            epoch: FT_EPOCH,
            kill_at: Some(kill_at),
            end: kill_at,
            inputs: Vec::new(),
        };
        let (mut rep, backup) = ft
            .run_live(start, &mut Budget::new(MOVE_BUDGET))
            .map_err(|e| e.to_string())?;
        rep.log.clear();
        let made = primary.serial_output();
        let common = made
            .iter()
            .zip(&rep.output)
            .take_while(|(a, b)| a == b)
            .count();
        let same_state = backup.icount() == kill_at
            && backup.serial_output() == made
            && (0..primary.ram_pages() as u32).all(|p| backup.ram_page(p) == primary.ram_page(p));
        if !same_state {
            return Err(format!(
                "{vm}: the backup's replay does not reach the primary's state at instruction {kill_at}"
            ));
        }
        let rec = FailoverRecord {
            vm: vm.into(),
            from: self.names[s].clone(),
            to: self.names[pair.backup].clone(),
            at_ms,
            epoch: FT_EPOCH,
            primary_output: made.len() as u64,
            lost: (made.len() - common) as u64,
            duplicated: (rep.output.len() - common) as u64,
            same_state,
            ft: rep,
        };
        // the backup's machine, in RAM pooled on its host
        let mut live = Self::pooled_like(&backup)?;
        live.restore(&backup.snapshot())
            .map_err(|e| format!("{vm}: the backup's state: {e}"))?;
        let next = self.successor(&self.hosts[s].vms[i], live)?;
        let to = rec.to.clone();
        self.hosts[s].depart(vm, format!("primary killed; the backup on {to} takes over"))?;
        self.hosts[pair.backup].adopt(
            next,
            format!(
                "backup took over from {} at instruction {kill_at}",
                rec.from
            ),
        )?;
        self.failovers.push(rec);
        Ok(())
    }

    /// The figures of every host and VM now, with the moves done.
    pub fn report(&self) -> Report {
        let hosts = self
            .hosts
            .iter()
            .zip(&self.names)
            .map(|(h, n)| scenario::host_figures(n, h))
            .collect();
        let vms = self
            .hosts
            .iter()
            .zip(&self.names)
            .flat_map(|(h, n)| scenario::vm_reports(n, h, h.vms.iter().map(|v| v.cpu.run).sum()))
            .collect();
        let mut events: Vec<_> = self.hosts.iter().flat_map(|h| h.events.clone()).collect();
        events.sort_by_key(|e| e.at);
        let mut r = scenario::assemble(&self.name, hosts, vms, events);
        r.migrations = self.migrations.clone();
        r.failovers = self.failovers.clone();
        r
    }
}
