//! The translating tier in the lab: the tier switch's settings, and what the page shows
//! of the translation cache (regions, events, one region's x86, IR and Wasm module, MIPS
//! per tier), built from the machine in the worker.

use serde::{Deserialize, Serialize};

use emulator_core::translate::events::XlateEvent;
use emulator_core::translate::{self, RegionInfo};
use emulator_core::Machine;

/// The threshold the tier switch starts with (executions before an entry is translated).
pub const DEFAULT_THRESHOLD: u32 = translate::DEFAULT_THRESHOLD;
/// Events a view carries at most (the newest).
const EVENTS_PER_VIEW: usize = 200;
/// Regions a view lists at most (by entry).
const REGIONS_PER_VIEW: usize = 256;

/// How the machine runs instructions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Tier {
    /// The general interpreter: decode and dispatch, one instruction at a time.
    Interp,
    /// Pre-decoded operations with threaded dispatch (the machine's default).
    #[default]
    Fast,
    /// Hot regions translated to WebAssembly (the IR interpreter where no Wasm
    /// compiler is at hand).
    Translate,
}

impl Tier {
    /// Every tier, in the switch's order.
    pub const ALL: [Tier; 3] = [Tier::Interp, Tier::Fast, Tier::Translate];

    /// The name the switch, demos and share links use.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interp => "interp",
            Tier::Fast => "fast",
            Tier::Translate => "translate",
        }
    }

    /// A tier from its name.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What the switch's option says.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Interp => "interpreter",
            Tier::Fast => "fast tier",
            Tier::Translate => "translate",
        }
    }

    /// Sets the machine to run in this tier (translating after `threshold` executions;
    /// code not yet translated runs in the general interpreter, as `vmlab run --tier
    /// translate` does).
    pub fn apply(self, m: &mut Machine, threshold: u32) {
        m.set_fast_tier(self == Tier::Fast);
        m.set_translate((self == Tier::Translate).then_some(threshold.max(1)));
    }
}

/// The tier and threshold a demo's `tier` and `threshold` keys set, given the setting
/// before them (`None` when they set nothing).
pub fn tier_of(
    tier: Option<&str>,
    threshold: Option<u32>,
    before: Option<(Tier, u32)>,
) -> Option<(Tier, u32)> {
    let tier = Tier::parse(tier?)?;
    let threshold = threshold
        .or(before.map(|b| b.1))
        .unwrap_or(DEFAULT_THRESHOLD);
    Some((tier, threshold))
}

/// One region of the translation cache.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RegionRow {
    /// Linear entry.
    pub entry: u32,
    /// Its physical address.
    pub phys: u32,
    /// Guest linear range: the lowest and highest instruction address.
    pub range: (u32, u32),
    /// Guest instructions.
    pub instructions: u32,
    /// Times it was entered.
    pub runs: u64,
    /// Entries of the cached regions its exits go to.
    pub successors: Vec<u32>,
}

/// One event of the translation cache.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct XlateLine {
    /// Instructions retired when it happened.
    pub icount: u64,
    /// `translate`, `chain`, `invalidate` or `flush`.
    pub kind: String,
    /// One line.
    pub text: String,
}

/// A region in detail, side by side.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RegionDetail {
    /// Linear entry.
    pub entry: u32,
    /// The guest code, one instruction a line.
    pub x86: Vec<String>,
    /// The IR as lowered.
    pub ir_before: Vec<String>,
    /// The IR after the passes.
    pub ir_after: Vec<String>,
    /// The Wasm module the backend makes of it; the page prints it as text with the
    /// printer module it fetches when a region is first shown (`region_text.rs`).
    pub module: Vec<u8>,
}

/// The translating tier as the page shows it.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct XlateView {
    /// The tier the machine runs in.
    pub tier: Tier,
    /// Executions before an entry is translated.
    pub threshold: u32,
    /// What runs a translated region here.
    pub backend: String,
    /// Regions translated, region runs, instructions they retired, regions invalidated.
    pub stats: [u64; 4],
    /// Modules compiled to Wasm, modules that failed to compile.
    pub compiled: (u64, u64),
    /// The cached regions, by entry.
    pub regions: Vec<RegionRow>,
    /// Events after the previous view.
    pub new_events: Vec<XlateLine>,
    /// The page clears its event list first (reload).
    pub events_reset: bool,
    /// The region selected in the panel.
    pub detail: Option<RegionDetail>,
    /// Millions of instructions per second the worker measured last in each tier run.
    pub mips: Vec<(Tier, f64)>,
}

impl XlateView {
    /// Counter rows, as the counters panel and the demos' claims name them.
    pub fn rows(&self) -> Vec<(String, u64)> {
        let [translated, runs, instructions, invalidated] = self.stats;
        vec![
            ("translate.regions".into(), translated),
            ("translate.runs".into(), runs),
            ("translate.instructions".into(), instructions),
            ("translate.invalidated".into(), invalidated),
            ("translate.cached".into(), self.regions.len() as u64),
            (
                "translate.chained".into(),
                self.regions.iter().map(|r| r.successors.len() as u64).sum(),
            ),
        ]
    }
}

/// The cache's event as a line.
pub fn line(e: &XlateEvent) -> XlateLine {
    XlateLine {
        icount: e.icount,
        kind: e.name().into(),
        text: e.to_string(),
    }
}

/// A region's row.
pub fn row(r: &RegionInfo) -> RegionRow {
    let addrs = r.before.ops.iter().filter_map(|o| match *o {
        translate::ir::Op::Insn { eip, .. } => Some(eip),
        _ => None,
    });
    let lo = addrs.clone().min().unwrap_or(r.entry);
    let hi = addrs.max().unwrap_or(r.entry);
    RegionRow {
        entry: r.entry,
        phys: r.phys,
        range: (lo, hi),
        instructions: r.instructions,
        runs: r.runs,
        successors: r.successors.clone(),
    }
}

/// A region side by side: x86, IR before and after, and its Wasm module.
pub fn detail(r: &RegionInfo) -> RegionDetail {
    let lines = |s: String| s.lines().map(str::to_string).collect::<Vec<_>>();
    RegionDetail {
        entry: r.entry,
        x86: lines(r.x86.clone()),
        ir_before: lines(r.before.to_string()),
        ir_after: lines(r.after.to_string()),
        module: translate::wasm::encode(&r.after),
    }
}

/// The translating tier of `m`, in `tier` at `threshold`: its cache, the events with a
/// sequence number of at least `*seen` (moved past them), and region `selected` in
/// detail.
pub fn view(
    m: &Machine,
    tier: Tier,
    threshold: u32,
    seen: &mut u64,
    selected: Option<u32>,
) -> XlateView {
    let events = m.translate_events(*seen);
    if let Some(last) = events.last() {
        *seen = last.seq + 1;
    }
    let skip = events.len().saturating_sub(EVENTS_PER_VIEW);
    let regions = m.translated_regions();
    let s = m.translate_stats();
    let host = crate::worker::xlate_host::stats();
    let backend = if !crate::worker::xlate_host::AVAILABLE {
        "IR interpreter (natively no Wasm compiler)".to_string()
    } else if let (0, Some(e)) = (host.compiled, &host.last_error) {
        format!("IR interpreter: the worker could not compile a region ({e})")
    } else {
        "Wasm modules compiled in the background in the worker (a region runs through the IR interpreter until its module is ready)".to_string()
    };
    XlateView {
        tier,
        threshold,
        backend,
        stats: [s.translated, s.runs, s.instructions, s.invalidated],
        compiled: (host.compiled, host.failed),
        regions: regions.iter().take(REGIONS_PER_VIEW).map(row).collect(),
        new_events: events[skip..].iter().map(line).collect(),
        events_reset: false,
        detail: selected.and_then(|a| regions.iter().find(|r| r.entry == a).map(detail)),
        mips: Vec::new(),
    }
}
