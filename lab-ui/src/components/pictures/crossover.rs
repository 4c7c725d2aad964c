//! The crossover picture: for each phase of a guest, one bar per mode of the VM-exit
//! cycles that phase cost, stacked by exit reason on one scale, with a table of the
//! figures as its text alternative.

use emulator_core::ExecMode;

use super::cost::{self, cycles_label, tick_step, Bar, Segment};
use super::svg::{esc, Legend, Svg};
use crate::protocol::CounterSet;

const W: f64 = 800.0;
const BAR_X: f64 = 250.0;
/// Room is left right of the longest bar for its total.
const BAR_W: f64 = W - BAR_X - 120.0;
const BAR_H: f64 = 30.0;
const BAR_GAP: f64 = 40.0;
const PHASE_HEAD: f64 = 34.0;
const TOP: f64 = 10.0;
/// The narrowest segment drawn for a reason that cost anything, so it stays visible.
const MIN_SEGMENT: f64 = 3.0;

/// One phase of the guest: its name and one bar per mode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Phase {
    /// What the phase does (`CR3 switches`, `TLB misses`).
    pub name: String,
    /// One bar of exit cycles per mode.
    pub bars: Vec<Bar>,
}

/// The exit cycles a run in `mode` spent between `before` and `after`, by reason
/// (the segments of [`cost::bar`] without the guest's own work).
pub fn exit_bar(mode: ExecMode, before: &CounterSet, after: &CounterSet) -> Bar {
    let earlier = cost::bar(mode, before);
    let segments = cost::bar(mode, after)
        .segments
        .into_iter()
        .skip(1)
        .filter_map(|s| {
            let was = earlier
                .segments
                .iter()
                .skip(1)
                .find(|e| e.name == s.name)
                .map_or(0, |e| e.cycles);
            let cycles = s.cycles.saturating_sub(was);
            (cycles > 0).then_some(Segment { cycles, ..s })
        })
        .collect();
    Bar { mode, segments }
}

/// The phases named `names` of the runs `runs` (per run, its mode and the counters
/// at each stop): phase `k` lies between stop `k - 1` (or the start) and stop `k`.
pub fn phases(names: &[String], runs: &[(ExecMode, Vec<CounterSet>)]) -> Vec<Phase> {
    let none = CounterSet::default();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| Phase {
            name: name.clone(),
            bars: runs
                .iter()
                .filter_map(|(mode, at)| {
                    let before = if k == 0 { &none } else { at.get(k - 1)? };
                    Some(exit_bar(*mode, before, at.get(k)?))
                })
                .collect(),
        })
        .collect()
}

/// The mode whose bar is lowest in `phase` (the first of equal ones).
pub fn cheapest(phase: &Phase) -> Option<ExecMode> {
    phase.bars.iter().min_by_key(|b| b.total()).map(|b| b.mode)
}

/// The picture of `phases`: an SVG and a visually hidden table with its figures.
pub fn picture(phases: &[Phase]) -> String {
    let all: Vec<Bar> = phases.iter().flat_map(|p| p.bars.clone()).collect();
    let coloured = cost::colour_reasons(&all);
    let max = all.iter().map(Bar::total).max().unwrap_or(0).max(1);
    let step = tick_step(max);
    let scale_max = max.div_ceil(step) * step;
    let px = |c: u64| c as f64 / scale_max as f64 * BAR_W;
    let mut legend = Legend::default();
    for seg in coloured.iter().flat_map(|b| &b.segments) {
        legend.add(&seg.name, seg.colour);
    }
    let rows: f64 = phases
        .iter()
        .map(|p| PHASE_HEAD + p.bars.len() as f64 * BAR_GAP)
        .sum();
    let axis_y = TOP + rows + 4.0;
    let legend_y = axis_y + 62.0;
    let height = legend_y + legend.rows(W) as f64 * Legend::ROW + 8.0;
    let desc = phases
        .iter()
        .map(|p| {
            let bars: Vec<String> = p
                .bars
                .iter()
                .map(|b| format!("{} {} cycles", b.mode.name(), b.total()))
                .collect();
            let best = cheapest(p).map_or("none", |m| m.name());
            format!("{}: {} (cheapest: {best})", p.name, bars.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut s = Svg::new(
        "crossover-picture",
        W,
        height,
        "VM-exit cycles per phase and mode",
        &desc,
    );
    let mut t = 0;
    while t <= scale_max {
        let x = BAR_X + px(t);
        s.raw(&format!(
            r#"<line class="tick" x1="{x:.1}" y1="{TOP:.1}" x2="{x:.1}" y2="{axis_y:.1}"/>"#
        ));
        s.text(x, axis_y + 24.0, "middle", "dim", &cycles_label(t));
        t += step;
    }
    s.text(BAR_X + BAR_W, axis_y + 50.0, "end", "dim", "exit cycles");
    let mut y = TOP;
    let mut bars = coloured.iter();
    for p in phases {
        let best = cheapest(p);
        s.raw(&format!(
            r#"<g class="phase" data-phase="{}">"#,
            esc(&p.name)
        ));
        s.text(8.0, y + 24.0, "start", "head", &p.name);
        y += PHASE_HEAD;
        for b in bars.by_ref().take(p.bars.len()) {
            s.raw(&format!(
                r#"<g class="bar" data-mode="{}" data-total="{}" data-cheapest="{}">"#,
                esc(b.mode.name()),
                b.total(),
                Some(b.mode) == best
            ));
            s.text(16.0, y + 22.0, "start", "label", b.mode.name());
            let mut x = BAR_X;
            for seg in &b.segments {
                let w = px(seg.cycles).max(MIN_SEGMENT);
                s.raw(&format!(
                    r#"<rect class="segment" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{}" data-name="{}" data-cycles="{}"><title>{}: {} cycles</title></rect>"#,
                    seg.colour,
                    esc(&seg.name),
                    seg.cycles,
                    esc(&seg.name),
                    seg.cycles
                ));
                x += w;
            }
            s.text(x + 6.0, y + 22.0, "start", "num", &cycles_label(b.total()));
            s.group_close();
            y += BAR_GAP;
        }
        s.group_close();
    }
    legend.draw(&mut s, W, legend_y);
    format!(
        r#"<div class="crossover">{}{}</div>"#,
        s.finish(),
        table(phases)
    )
}

/// The figures as a visually hidden table: phase, mode, exit cycles by reason. The
/// table sits in a clipped box, as a table never shrinks below its content.
fn table(phases: &[Phase]) -> String {
    let mut out = String::from(
        r#"<div class="visually-hidden"><table data-testid="crossover-table"><caption>VM-exit cycles per phase and mode</caption><tr><th>Phase</th><th>Mode</th><th>Exit cycles</th><th>By reason</th></tr>"#,
    );
    for p in phases {
        for b in &p.bars {
            let parts: Vec<String> = b
                .segments
                .iter()
                .map(|s| format!("{} {}", s.name, s.cycles))
                .collect();
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.name),
                esc(b.mode.name()),
                b.total(),
                esc(&parts.join(", "))
            ));
        }
    }
    out.push_str("</table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::VmmCounters;
    use emulator_core::vmm::ExitReason;

    fn counters(exits: &[(ExitReason, u64)]) -> CounterSet {
        let mut v = VmmCounters::default();
        for &(r, cycles) in exits {
            v.exits.cycles_by_reason.insert(r, cycles);
            v.exits.cycles += cycles;
        }
        CounterSet {
            vmm: Some(v),
            ..CounterSet::default()
        }
    }

    #[test]
    fn a_phase_bar_is_the_difference_of_two_counter_sets() {
        let before = counters(&[(ExitReason::Cr3Write, 3000)]);
        let after = counters(&[(ExitReason::Cr3Write, 9000), (ExitReason::Hlt, 1000)]);
        let b = exit_bar(ExecMode::TRAP_EMULATE, &before, &after);
        assert_eq!(
            b.segments
                .iter()
                .map(|s| (s.name.as_str(), s.cycles))
                .collect::<Vec<_>>(),
            [("hlt", 1000), ("cr3-write", 6000)]
        );
        assert_eq!(exit_bar(ExecMode::HW_ASSIST, &after, &after).total(), 0);
    }

    #[test]
    fn the_picture_draws_every_bar_with_its_figures_in_a_table() {
        let none = CounterSet::default();
        let phases = [
            Phase {
                name: "CR3 switches".into(),
                bars: vec![
                    exit_bar(
                        ExecMode::TRAP_EMULATE,
                        &none,
                        &counters(&[(ExitReason::Cr3Write, 8000)]),
                    ),
                    exit_bar(
                        ExecMode::HW_ASSIST,
                        &none,
                        &counters(&[(ExitReason::Hlt, 500)]),
                    ),
                ],
            },
            Phase {
                name: "TLB misses".into(),
                bars: vec![
                    exit_bar(ExecMode::TRAP_EMULATE, &none, &counters(&[])),
                    exit_bar(
                        ExecMode::HW_ASSIST,
                        &none,
                        &counters(&[(ExitReason::Hlt, 900)]),
                    ),
                ],
            },
        ];
        assert_eq!(cheapest(&phases[0]), Some(ExecMode::HW_ASSIST));
        assert_eq!(cheapest(&phases[1]), Some(ExecMode::TRAP_EMULATE));
        let out = picture(&phases);
        assert_eq!(out.matches(r#"class="bar""#).count(), 4);
        assert_eq!(out.matches(r#"data-cheapest="true""#).count(), 2);
        // 8000 fills the 8k scale (2k ticks); 900 is 900 / 8000 × 430
        assert!(out.contains(r#"width="430.0" height="30""#), "{out}");
        assert!(out.contains(r#"width="48.4" height="30""#), "{out}");
        assert!(out.contains("<td>CR3 switches</td><td>trap-emulate</td><td>8000</td>"));
        assert!(
            out.contains(">8k</text>")
                && out.contains(">2k</text>")
                && out.contains(">exit cycles</text>")
        );
        assert!(out.contains("role=\"img\""));
    }
}
