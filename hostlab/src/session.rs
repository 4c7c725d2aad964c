//! A host scenario run a step at a time, as the Host view drives it: timed events applied as host time passes them (migrations and fail-overs between the scenario's hosts included), the view's own balloon requests, and the last migration and fault-tolerant run shown beside it.

use vmlab_host::cluster::Cluster;
use vmlab_host::host::CYCLES_PER_MS;
use vmlab_host::scenario::{Report, Scenario};
use vmlab_host::scenario_file;
use vmlab_host::time::TimePolicy;

use crate::moves::{FtView, MigrationView};

/// The hosts the view shows, with where they are in their scenario.
#[derive(Debug)]
pub struct HostLab {
    /// The scenario it runs.
    pub scenario: Scenario,
    /// The hosts now.
    pub cluster: Cluster,
    /// The last live migration run from the view.
    pub migration: Option<MigrationView>,
    /// The last fault-tolerant run from the view.
    pub ft: Option<FtView>,
}

impl HostLab {
    /// The scenario's hosts at time 0.
    pub fn new(scenario: Scenario) -> Result<HostLab, String> {
        let cluster = scenario.start()?;
        Ok(HostLab {
            scenario,
            cluster,
            migration: None,
            ft: None,
        })
    }

    /// Reads scenario file `file` (its `text`) and starts it; errors name the file, line and key.
    pub fn parse(file: &str, text: &str) -> Result<HostLab, String> {
        let s = scenario_file::parse(file, text).map_err(|e| e.to_string())?;
        HostLab::new(s)
    }

    /// The same scenario from time 0, with the time policy `time` on every host if
    /// one is given.
    pub fn restart(&self, time: Option<TimePolicy>) -> Result<HostLab, String> {
        let mut s = self.scenario.clone();
        if let Some(t) = time {
            for h in &mut s.hosts {
                h.config.time = t;
            }
        }
        HostLab::new(s)
    }

    /// Host time now, in ms.
    pub fn now_ms(&self) -> u64 {
        self.cluster.now() / CYCLES_PER_MS
    }

    /// The scenario's length, in ms.
    pub fn end_ms(&self) -> u64 {
        self.scenario.duration_ms
    }

    /// Whether the scenario has run to its end.
    pub fn finished(&self) -> bool {
        self.now_ms() >= self.end_ms()
    }

    /// Runs the hosts to `ms` (at most the scenario's end), applying each timed event
    /// when host time reaches it.
    pub fn advance_to(&mut self, ms: u64) -> Result<(), String> {
        self.cluster.advance_to_ms(ms.min(self.end_ms()))
    }

    /// Runs the hosts a millisecond at a time until a timeline entry newer than now
    /// contains `text`, at most to the scenario's end; whether one did.
    pub fn advance_to_event(&mut self, text: &str) -> Result<bool, String> {
        let seen: Vec<usize> = self.cluster.hosts.iter().map(|h| h.events.len()).collect();
        while !self.finished() {
            let next = self.now_ms() + 1;
            self.advance_to(next)?;
            let found = self.cluster.hosts.iter().zip(&seen).any(|(h, &n)| {
                h.events[n.min(h.events.len())..]
                    .iter()
                    .any(|e| e.what.contains(text))
            });
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sets VM `vm`'s balloon target to `mib` MiB now.
    pub fn balloon(&mut self, vm: &str, mib: u32) -> Result<(), String> {
        let (h, _) = self
            .cluster
            .locate(vm)
            .ok_or_else(|| format!("no VM called {vm}"))?;
        self.cluster.hosts[h].balloon(vm, mib)
    }

    /// The figures of the hosts now, with the scenario's migrations and fail-overs.
    pub fn report(&self) -> Report {
        self.cluster.report()
    }
}
