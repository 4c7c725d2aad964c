//! What a demo step's pictures and log filter show, checked on the step's view: a
//! focused picture has something to draw from the machine, and a step's log filter
//! leaves entries in the log.

use lab_ui::components::pictures::{cost, nested, shadow, walk};
use lab_ui::protocol::{ModeRun, View};
use vmlab_demos::manifest::log_passes;
use vmlab_demos::{Panel, Step};

/// What is wrong with the step's pictures and log filter, one line each.
pub fn broken(step: &Step, v: &View, compared: Option<&[ModeRun]>) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(filter) = &step.log {
        let kinds = filter.kinds();
        if !v.new_events.iter().any(|e| log_passes(&kinds, &e.reason)) {
            bad.push(format!("log: no entry of {kinds:?} in the log"));
        }
    }
    for panel in &step.focus {
        match panel {
            Panel::Walk => {
                let drawn = v.walk.as_ref().and_then(|w| walk::picture(w, true));
                if drawn.is_none() {
                    bad.push(format!("walk: nothing to draw from {:?}", v.walk));
                }
            }
            Panel::Shadow => match (&v.guest_tables, &v.vmm_tables) {
                (Some(g), Some(s)) => {
                    let rows = shadow::rows(g, s, v.walk.as_ref().map(|w| w.linear), &v.new_events);
                    if rows.is_empty() {
                        bad.push("shadow: no page to draw".into());
                    }
                }
                _ => bad.push("shadow: no guest or shadow tables".into()),
            },
            Panel::Nested => match v.walk.as_ref().and_then(|w| w.nested.as_ref()) {
                Some(n) => {
                    let (cells, m) = nested::places(n);
                    let guest = cells.iter().filter(|c| c.1 == m).count();
                    if n.steps.len() != nested::textbook(guest, m) || n.host_physical.is_none() {
                        bad.push(format!(
                            "nested: {} references for {guest} × {m} levels",
                            n.steps.len()
                        ));
                    }
                }
                None => bad.push("nested: no two-dimensional walk".into()),
            },
            Panel::Cost => {
                let bars: Vec<cost::Bar> = match compared {
                    Some(runs) => runs
                        .iter()
                        .map(|r| cost::bar(r.mode, &r.counters))
                        .collect(),
                    None => vec![cost::bar(v.mode, &v.counters)],
                };
                for b in &bars {
                    let (names, exits) = (
                        b.segments
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>(),
                        v.counters.vmm.as_ref().map(|c| c.exits.by_reason.clone()),
                    );
                    if b.segments.first().is_none_or(|s| s.cycles == 0) {
                        bad.push(format!("cost: {} has no guest work", b.mode.name()));
                    }
                    if compared.is_none() {
                        for reason in exits.unwrap_or_default().keys() {
                            if !names.contains(&reason.name()) {
                                bad.push(format!("cost: no segment for {}", reason.name()));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    bad
}
