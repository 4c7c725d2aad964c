//! The cost picture: one stacked bar per mode, the guest's own work beside the
//! cycles its VM exits cost by reason, on an absolute scale of cycles.

use emulator_core::ExecMode;

use super::svg::{esc, Legend, Svg};
use crate::protocol::CounterSet;

const W: f64 = 800.0;
const BAR_X: f64 = 190.0;
const BAR_W: f64 = W - BAR_X - 20.0;
const ROW_H: f64 = 66.0;
const TOP: f64 = 30.0;
/// The narrowest segment drawn for a reason that cost anything, so it stays visible.
const MIN_SEGMENT: f64 = 3.0;

/// The colour of the guest's own work.
const GUEST: &str = "#5b8def";
/// The colour of nested-walk references charged outside any exit.
const NESTED: &str = "#8d6e63";
/// Exit reasons' colours, given in the order the reasons first appear in a picture.
const PALETTE: [&str; 12] = [
    "#e53935", "#fdd835", "#43a047", "#00acc1", "#8e24aa", "#fb8c00", "#d81b60", "#c0ca33",
    "#3949ab", "#f48fb1", "#80cbc4", "#ffffff",
];

/// One segment of a bar: what, its colour, its cycles.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Segment {
    /// `guest work`, an exit reason's name, or `nested walks`.
    pub name: String,
    /// Its fill (an exit reason's is given by the picture that draws it).
    pub colour: &'static str,
    /// Cycles.
    pub cycles: u64,
}

/// One mode's bar.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Bar {
    /// The mode.
    pub mode: ExecMode,
    /// Its segments, guest work first.
    pub segments: Vec<Segment>,
}

impl Bar {
    /// All its cycles.
    pub fn total(&self) -> u64 {
        self.segments.iter().map(|s| s.cycles).sum()
    }
}

/// The bar of a run in `mode` with `counters`: guest work at one cycle per
/// instruction, then each exit reason's cycles, then nested-walk cycles (charged to
/// the exits' total but to no reason).
pub fn bar(mode: ExecMode, counters: &CounterSet) -> Bar {
    let mut segments = vec![Segment {
        name: "guest work".into(),
        colour: GUEST,
        cycles: counters.machine.instructions,
    }];
    if let Some(v) = &counters.vmm {
        let mut by_reason = 0;
        for (reason, cycles) in &v.exits.cycles_by_reason {
            by_reason += cycles;
            if *cycles > 0 {
                segments.push(Segment {
                    name: reason.name().to_string(),
                    colour: "",
                    cycles: *cycles,
                });
            }
        }
        let rest = v.exits.cycles.saturating_sub(by_reason);
        if rest > 0 {
            segments.push(Segment {
                name: "nested walks".into(),
                colour: NESTED,
                cycles: rest,
            });
        }
    }
    Bar { mode, segments }
}

/// A round tick step for a scale up to `max`: 1, 2 or 5 × 10^k, about 4 ticks.
pub fn tick_step(max: u64) -> u64 {
    let rough = (max / 4).max(1);
    let mut p = 1u64;
    while p.saturating_mul(10) <= rough {
        p *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|k| k * p)
        .find(|s| *s >= rough)
        .unwrap_or(10 * p)
}

/// `12345` as `12 345`, `12000` as `12k`.
pub fn cycles_label(v: u64) -> String {
    if v >= 1_000_000 && v.is_multiple_of(1_000_000) {
        format!("{}M", v / 1_000_000)
    } else if v >= 1000 && v.is_multiple_of(1000) {
        format!("{}k", v / 1000)
    } else {
        let digits = v.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }
}

/// Gives each exit reason in `bars` its colour: the reasons in the order they first
/// appear take the palette's colours in turn, so no two share one.
pub fn colour_reasons(bars: &[Bar]) -> Vec<Bar> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = bars.to_vec();
    for seg in out.iter_mut().flat_map(|b| &mut b.segments) {
        if !seg.colour.is_empty() {
            continue;
        }
        let i = match seen.iter().position(|n| *n == seg.name) {
            Some(i) => i,
            None => {
                seen.push(seg.name.clone());
                seen.len() - 1
            }
        };
        seg.colour = PALETTE[i % PALETTE.len()];
    }
    out
}

/// The picture of `bars`.
pub fn picture(bars: &[Bar]) -> String {
    let bars = &colour_reasons(bars)[..];
    let max = bars.iter().map(Bar::total).max().unwrap_or(0).max(1);
    let step = tick_step(max);
    let scale_max = max.div_ceil(step) * step;
    let px = |c: u64| c as f64 / scale_max as f64 * BAR_W;
    // The legend: every segment name that occurs, in first-seen order.
    let mut legend = Legend::default();
    for seg in bars.iter().flat_map(|b| &b.segments) {
        legend.add(&seg.name, seg.colour);
    }
    let axis_y = TOP + bars.len() as f64 * ROW_H + 6.0;
    let legend_y = axis_y + 62.0;
    let height = legend_y + legend.rows(W) as f64 * Legend::ROW + 8.0;
    let desc = bars
        .iter()
        .map(|b| {
            let parts: Vec<String> = b
                .segments
                .iter()
                .map(|s| format!("{} {} cycles", s.name, s.cycles))
                .collect();
            format!(
                "{}: {} cycles ({})",
                b.mode.name(),
                b.total(),
                parts.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut s = Svg::new(
        "cost-picture",
        W,
        height,
        "Guest work and VM-exit cycles per mode",
        &format!("{desc}. Guest work counts one cycle per instruction."),
    );
    // The scale.
    let mut t = 0;
    while t <= scale_max {
        let x = BAR_X + px(t);
        s.raw(&format!(
            r#"<line class="tick" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{axis_y:.1}"/>"#,
            TOP - 4.0
        ));
        s.text(x, axis_y + 24.0, "middle", "dim", &cycles_label(t));
        t += step;
    }
    s.text(BAR_X + BAR_W, axis_y + 50.0, "end", "dim", "cycles");
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + i as f64 * ROW_H;
        s.raw(&format!(
            r#"<g class="bar" data-mode="{}" data-total="{}">"#,
            esc(b.mode.name()),
            b.total()
        ));
        s.text(8.0, y + 46.0, "start", "head", b.mode.name());
        let exits: u64 = b.segments.iter().skip(1).map(|s| s.cycles).sum();
        s.text(
            BAR_X,
            y + 17.0,
            "start",
            "dim",
            &format!(
                "guest {} + exits {} = {} cycles",
                cycles_label(b.segments.first().map_or(0, |s| s.cycles)),
                cycles_label(exits),
                cycles_label(b.total())
            ),
        );
        let mut x = BAR_X;
        for seg in &b.segments {
            let w = if seg.cycles == 0 {
                0.0
            } else {
                px(seg.cycles).max(MIN_SEGMENT)
            };
            s.raw(&format!(
                r#"<rect class="segment" x="{x:.1}" y="{:.1}" width="{w:.1}" height="32" fill="{}" data-name="{}" data-cycles="{}"><title>{}: {} cycles</title></rect>"#,
                y + 24.0,
                seg.colour,
                esc(&seg.name),
                seg.cycles,
                esc(&seg.name),
                seg.cycles
            ));
            x += w;
        }
        s.group_close();
    }
    legend.draw(&mut s, W, legend_y);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::VmmCounters;
    use emulator_core::vmm::ExitReason;

    fn counters(instructions: u64, exits: &[(ExitReason, u64)], extra: u64) -> CounterSet {
        let mut c = CounterSet::default();
        c.machine.instructions = instructions;
        if !exits.is_empty() || extra > 0 {
            let mut v = VmmCounters::default();
            for &(r, cycles) in exits {
                v.exits.cycles_by_reason.insert(r, cycles);
                v.exits.by_reason.insert(r, 1);
                v.exits.total += 1;
                v.exits.cycles += cycles;
            }
            v.exits.cycles += extra;
            c.vmm = Some(v);
        }
        c
    }

    #[test]
    fn bars_stack_guest_work_and_each_reason_on_one_scale() {
        let bare = bar(ExecMode::Bare, &counters(15, &[], 0));
        let te = bar(
            ExecMode::TRAP_EMULATE,
            &counters(15, &[(ExitReason::Io, 2600), (ExitReason::Hlt, 1000)], 0),
        );
        let hw = bar(
            ExecMode::HW_ASSIST,
            &counters(15, &[(ExitReason::Io, 1400)], 60),
        );
        assert_eq!(bare.total(), 15);
        assert_eq!(te.total(), 3615);
        assert_eq!(
            hw.segments
                .iter()
                .map(|s| (s.name.as_str(), s.cycles))
                .collect::<Vec<_>>(),
            [("guest work", 15), ("io", 1400), ("nested walks", 60)]
        );
        let svg = picture(&[bare, te, hw]);
        // io keeps one colour in both bars, hlt has another
        let fill_of = |name: &str| {
            let before = svg.split(&format!("\" data-name=\"{name}\"")).next()?;
            before.rsplit("fill=\"").next().map(str::to_string)
        };
        let (io, hlt) = (fill_of("io").expect("io"), fill_of("hlt").expect("hlt"));
        assert_ne!(io, hlt);
        assert_eq!(
            svg.matches(&format!("fill=\"{io}\" data-name=\"io\""))
                .count(),
            2
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        // 15 guest cycles on a 4000-cycle scale still show.
        assert!(svg.contains(
            r##"width="3.0" height="32" fill="#5b8def" data-name="guest work" data-cycles="15""##
        ));
        // io: 2600 / 4000 × 590
        assert!(
            svg.contains(r##"width="383.5" height="32" fill="#"##),
            "{svg}"
        );
        assert!(
            svg.contains(">4k</text>") && svg.contains(">guest 15 + exits 3 600 = 3 615 cycles<")
        );
    }

    #[test]
    fn scales_and_labels_are_round() {
        assert_eq!(tick_step(3615), 1000);
        assert_eq!(tick_step(96_400), 50_000);
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(9), 2);
        assert_eq!(cycles_label(96_415), "96 415");
        assert_eq!(cycles_label(50_000), "50k");
        assert_eq!(cycles_label(2_000_000), "2M");
        assert_eq!(cycles_label(7), "7");
    }
}
