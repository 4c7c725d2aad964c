//! The translating tier's rows on guests other than the mix ROM: the paging-heavy ROM
//! and the teaching kernel under each `ExecMode` (translating / fast tier, warm, with
//! identical results), and the fetch–decode demo's first output, timed in the Wasm
//! build under Node.js by `bench/wasm/guests.mjs`.

use crate::bench::{median, Row};
use crate::bench_wasm::{build, node_script};
use anyhow::{bail, Result};
use emulator_core::ExecMode;
use serde_json::Value;
use std::path::Path;

/// ITER of the paging ROM for one run (the warm runs repeat it for [`WARM_SECONDS`]).
const PAGING_ITER: u32 = 1000;
/// Wall seconds of warm runs (fresh machines, one process) per measurement.
const WARM_SECONDS: &str = "1";
/// Processes timing the fetch demo's first output per tier, at the least.
const FIRST_OUTPUT_RUNS: usize = 60;

/// The rows, one per guest and mode; a guest that cannot be measured gets a missing row.
pub fn rows(runs: usize) -> Vec<Row> {
    crate::step::heading("paging ROM and teaching kernel: translating / fast tier (Wasm)");
    let module = match build() {
        Ok(m) => m,
        Err(e) => {
            return vec![Row::missing(
                "paging, kernel, fetch demo: translating / fast tier",
                &format!("{e:#}"),
                ">= 1x",
            )]
        }
    };
    let mut out = Vec::new();
    out.push(warm_row(
        &module,
        "paging: translating / fast tier (Wasm, warm)",
        "paging",
        0,
        runs,
    ));
    for (i, mode) in ExecMode::ALL.iter().enumerate() {
        out.push(warm_row(
            &module,
            &format!("kernel under {}: translating / fast tier", mode.name()),
            "kernel",
            i,
            runs,
        ));
    }
    crate::step::heading("fetch–decode demo: first serial byte per tier (Wasm)");
    out.extend(first_output_rows(&module, runs.max(FIRST_OUTPUT_RUNS)));
    out
}

/// Medians of one guest's warm runs in one tier, and its count and digest.
struct Warm {
    instructions: f64,
    digest: f64,
    seconds: f64,
    cpu_seconds: Option<f64>,
    /// Region runs, instructions retired in regions and regions invalidated (last run).
    region_runs: f64,
    region_instructions: f64,
    invalidated: f64,
}

impl Warm {
    fn mips(&self) -> f64 {
        self.instructions / self.seconds / 1e6
    }
}

/// `runs` processes of `guests.mjs` on `guest` under mode `mode` in `tier`.
fn warm(module: &Path, guest: &str, mode: usize, tier: &str, runs: usize) -> Result<Warm> {
    let (mut wall, mut cpu, mut last) = (Vec::new(), Vec::new(), Value::Null);
    for _ in 0..runs.max(1) {
        let iter = PAGING_ITER.to_string();
        let v = node_script(
            "guests.mjs",
            module,
            &[guest, &mode.to_string(), tier, &iter, WARM_SECONDS],
        )?;
        println!("{guest} {tier}: {v}");
        if last != Value::Null && (v["instructions"] != last["instructions"]) {
            bail!("{guest} in the {tier} tier ran a different count in another process");
        }
        wall.push(crate::bench::num(&v, "warm_seconds")?);
        if let Some(c) = v["warm_cpu_seconds"].as_f64().filter(|&c| c > 0.0) {
            cpu.push(c);
        }
        last = v;
    }
    let num = |k: &str| crate::bench::num(&last, k);
    Ok(Warm {
        instructions: num("instructions")?,
        digest: num("digest")?,
        seconds: median(wall),
        cpu_seconds: (!cpu.is_empty()).then(|| median(cpu)),
        region_runs: num("region_runs")?,
        region_instructions: num("region_instructions")?,
        invalidated: num("invalidated")?,
    })
}

/// The row of `guest` under mode `mode`: translating / fast tier warm speed, target
/// ">= 1x", failed too when the tiers' counts or digests differ.
fn warm_row(module: &Path, what: &str, guest: &str, mode: usize, runs: usize) -> Row {
    let tiers = ["interp", "fast", "translate"].map(|t| warm(module, guest, mode, t, runs));
    let [Ok(i), Ok(f), Ok(t)] = &tiers else {
        let why = tiers
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| format!("{e:#}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Row::missing(what, &why, ">= 1x, identical");
    };
    let same = [i, f]
        .iter()
        .all(|o| o.instructions == t.instructions && o.digest == t.digest);
    let r = f.seconds / t.seconds;
    let cpu = match (t.cpu_seconds, f.cpu_seconds) {
        (Some(tc), Some(fc)) => format!("; CPU {:.2}x", fc / tc),
        _ => String::new(),
    };
    Row::new(
        what,
        format!(
            "{r:.2}x ({:.0} / {:.0} MIPS, interp {:.0}{cpu}; {:.0}% in {} region runs, {} invalidated; {})",
            t.mips(),
            f.mips(),
            i.mips(),
            100.0 * t.region_instructions / t.instructions,
            t.region_runs,
            t.invalidated,
            if same { "identical" } else { "RESULTS DIFFER" },
        ),
        ">= 1x, identical",
        Some(r >= 1.0 && same),
    )
}

/// One tier's medians to the fetch demo's first serial byte: wall and main-thread CPU
/// seconds (`None` off Linux), and the wall seconds of preparing the machine.
#[derive(Clone, Copy, Debug)]
struct FirstOutput {
    wall: f64,
    cpu: Option<f64>,
    prepare: f64,
}

/// One tier's samples of [`FirstOutput`]'s figures.
#[derive(Debug, Default)]
struct Samples {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    prepare: Vec<f64>,
}

impl Samples {
    fn medians(self) -> FirstOutput {
        FirstOutput {
            wall: median(self.wall),
            cpu: (!self.cpu.is_empty()).then(|| median(self.cpu)),
            prepare: median(self.prepare),
        }
    }
}

/// Times the fetch demo's first output in each of `tiers` over `runs` rounds of one
/// process per tier, the tiers taking turns so that each round meets the machine's
/// load alike, and each round starting with the next tier so that no tier always
/// follows the same one; the medians per tier.
fn first_outputs<const N: usize>(
    module: &Path,
    tiers: [&str; N],
    runs: usize,
) -> Result<[FirstOutput; N]> {
    let mut samples: [Samples; N] = std::array::from_fn(|_| Samples::default());
    for round in 0..runs {
        for k in 0..N {
            let j = (round + k) % N;
            let (tier, s) = (tiers[j], &mut samples[j]);
            let v = node_script(
                "guests.mjs",
                module,
                &["fetch", "0", tier, "0", "first-output"],
            )?;
            println!("fetch {tier}: {v}");
            s.wall.push(crate::bench::num(&v, "first_output_seconds")?);
            s.prepare.push(crate::bench::num(&v, "prepare_seconds")?);
            if let Some(c) = v["first_output_cpu_seconds"].as_f64().filter(|&c| c > 0.0) {
                s.cpu.push(c);
            }
        }
    }
    Ok(samples.map(Samples::medians))
}

/// The fetch demo's first output: translating / fast tier (target "<= 1x") and the times.
fn first_output_rows(module: &Path, runs: usize) -> Vec<Row> {
    let what = "fetch-decode demo: first output, translating / fast tier";
    let [i, f, t] = match first_outputs(module, ["interp", "fast", "translate"], runs) {
        Ok(times) => times,
        Err(e) => return vec![Row::missing(what, &format!("{e:#}"), "<= 1x")],
    };
    let r = t.wall / f.wall;
    let cpu = match (t.cpu, f.cpu) {
        (Some(tc), Some(fc)) => format!(" (CPU {:.2}x)", tc / fc),
        _ => String::new(),
    };
    let ms = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{:.1}", s * 1e3));
    vec![
        Row::new(what, format!("{r:.2}x{cpu}"), "<= 1x", Some(r <= 1.0)),
        Row::new(
            "fetch-decode demo: first output ms, translating / fast / interp",
            format!(
                "{:.1} / {:.1} / {:.1} (CPU {} / {} / {}; preparing the machine {:.1} / {:.1} / {:.1})",
                t.wall * 1e3,
                f.wall * 1e3,
                i.wall * 1e3,
                ms(t.cpu),
                ms(f.cpu),
                ms(i.cpu),
                t.prepare * 1e3,
                f.prepare * 1e3,
                i.prepare * 1e3,
            ),
            "",
            None,
        ),
    ]
}
