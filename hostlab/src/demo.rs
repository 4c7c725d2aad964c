//! Host demos (`kind = "host"` in `demos/`): their scenario started, each step's actions done to the host (restart with a time policy, balloon, run to a time or a timeline entry, migrate, kill the primary), and each claim checked against the figures.

use vmlab_demos::manifest::kind_host::HostStep;
use vmlab_demos::{Demo, Kind};
use vmlab_host::time::TimePolicy;

use crate::figures::figure;
use crate::moves;
use crate::session::HostLab;

/// The host demos, in lecture order.
pub fn all() -> Vec<&'static Demo> {
    vmlab_demos::of_kind(Kind::Host).collect()
}

/// The host demo with this id.
pub fn find(id: &str) -> Option<&'static Demo> {
    all().into_iter().find(|d| d.id == id)
}

pub use vmlab_demos::manifest::kind_host::Checked;

/// The demo's scenario at time 0.
pub fn start(demo: &Demo) -> Result<HostLab, String> {
    HostLab::parse(
        &format!("demos/{}/{}", demo.id, demo.manifest.guest),
        demo.source,
    )
}

/// Does step `s` to `lab`: a restart first, then a balloon request, the run, a
/// migration, a killed primary.
pub fn step(lab: &mut HostLab, s: &HostStep) -> Result<(), String> {
    if s.time.is_some() || s.restart {
        let time = match &s.time {
            Some(t) => {
                Some(TimePolicy::from_name(t).ok_or_else(|| format!("time: {t:?} is no policy"))?)
            }
            None => None,
        };
        let migration = lab.migration.take();
        let ft = lab.ft.take();
        *lab = lab.restart(time)?;
        lab.migration = migration;
        lab.ft = ft;
    }
    for b in &s.balloon {
        lab.balloon(&b.vm, b.mib)?;
    }
    if let Some(ms) = s.to_ms {
        lab.advance_to(ms)?;
    }
    if let Some(text) = &s.to_event {
        if !lab.advance_to_event(text)? {
            return Err(format!(
                "to-event: no timeline entry containing {text:?} before the scenario's end"
            ));
        }
    }
    if let Some(m) = &s.migrate {
        lab.migration = Some(moves::migrate(&m.mode, &m.workload)?);
    }
    if let Some(at) = s.kill_primary {
        lab.ft = Some(moves::kill_primary(at)?);
    }
    Ok(())
}

/// Step `s`'s claims against `lab` as it stands.
pub fn check(lab: &HostLab, s: &HostStep) -> Vec<Checked> {
    s.expect
        .iter()
        .map(|(name, claim)| {
            let (shown, value) = figure(lab, name).unwrap_or_default();
            Checked {
                figure: name.clone(),
                holds: claim.holds(&shown, value) && !shown.is_empty(),
                shown,
            }
        })
        .collect()
}

/// The demo played from its start to step `upto` (0-based), and that step's claims checked.
pub fn play(demo: &Demo, upto: usize) -> Result<(HostLab, Vec<Checked>), String> {
    let mut lab = start(demo)?;
    let mut checked = Vec::new();
    for (i, s) in demo.steps().iter().enumerate().take(upto.saturating_add(1)) {
        let h = s
            .host
            .as_ref()
            .ok_or_else(|| format!("step[{i}]: no [step.host] table"))?;
        step(&mut lab, h).map_err(|e| format!("step[{i}].host.{e}"))?;
        checked = check(&lab, h);
    }
    Ok((lab, checked))
}
