//! A host scenario run a step at a time, as the Host view drives it: timed events applied as host time passes them, the view's own balloon requests, and the last migration and fault-tolerant run shown beside it.

use vmlab_host::host::CYCLES_PER_MS;
use vmlab_host::scenario::{self, Report, Scenario, TimedEvent};
use vmlab_host::scenario_file;
use vmlab_host::time::TimePolicy;
use vmlab_host::Host;

use crate::moves::{FtView, MigrationView};

/// The host the view shows, with where it is in its scenario.
#[derive(Debug)]
pub struct HostLab {
    /// The scenario it runs.
    pub scenario: Scenario,
    /// The host now.
    pub host: Host,
    events: Vec<TimedEvent>,
    next_event: usize,
    /// The last live migration run from the view.
    pub migration: Option<MigrationView>,
    /// The last fault-tolerant run from the view.
    pub ft: Option<FtView>,
}

impl HostLab {
    /// The scenario's host at time 0.
    pub fn new(scenario: Scenario) -> Result<HostLab, String> {
        let host = scenario.start()?;
        let events = scenario.timeline();
        Ok(HostLab {
            scenario,
            host,
            events,
            next_event: 0,
            migration: None,
            ft: None,
        })
    }

    /// Reads scenario file `file` (its `text`) and starts it; errors name the file, line and key.
    pub fn parse(file: &str, text: &str) -> Result<HostLab, String> {
        let s = scenario_file::parse(file, text).map_err(|e| e.to_string())?;
        HostLab::new(s)
    }

    /// The same scenario from time 0, with the time policy `time` if one is given.
    pub fn restart(&self, time: Option<TimePolicy>) -> Result<HostLab, String> {
        let mut s = self.scenario.clone();
        if let Some(t) = time {
            s.host.time = t;
        }
        HostLab::new(s)
    }

    /// Host time now, in ms.
    pub fn now_ms(&self) -> u64 {
        self.host.now / CYCLES_PER_MS
    }

    /// The scenario's length, in ms.
    pub fn end_ms(&self) -> u64 {
        self.scenario.duration_ms
    }

    /// Whether the scenario has run to its end.
    pub fn finished(&self) -> bool {
        self.now_ms() >= self.end_ms()
    }

    /// Runs the host to `ms` (at most the scenario's end), applying each timed event
    /// when host time reaches it.
    pub fn advance_to(&mut self, ms: u64) -> Result<(), String> {
        let ms = ms.min(self.end_ms());
        while let Some(e) = self.events.get(self.next_event) {
            if e.at_ms > ms {
                break;
            }
            let e = e.clone();
            self.host.run_until(e.at_ms.saturating_mul(CYCLES_PER_MS));
            self.next_event += 1;
            e.apply(&mut self.host).map_err(|m| {
                format!(
                    "{}: {} of {} at {} ms: {m}",
                    self.scenario.name,
                    e.action.name(),
                    e.vm,
                    e.at_ms
                )
            })?;
        }
        self.host.run_until(ms.saturating_mul(CYCLES_PER_MS));
        Ok(())
    }

    /// Runs the host a millisecond at a time until a timeline entry newer than now
    /// contains `text`, at most to the scenario's end; whether one did.
    pub fn advance_to_event(&mut self, text: &str) -> Result<bool, String> {
        let seen = self.host.events.len();
        while !self.finished() {
            let next = self.now_ms() + 1;
            self.advance_to(next)?;
            if self.host.events[seen.min(self.host.events.len())..]
                .iter()
                .any(|e| e.what.contains(text))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sets VM `vm`'s balloon target to `mib` MiB now.
    pub fn balloon(&mut self, vm: &str, mib: u32) -> Result<(), String> {
        self.host.balloon(vm, mib)
    }

    /// The figures of the host now.
    pub fn report(&self) -> Report {
        scenario::report(&self.scenario.name, &self.host)
    }
}
