//! The VMM ratios of `cargo xtask bench`: the trap-heavy guest (`guests/bench/vmm.asm`)
//! bare, under trap-emulate and under hw-assist, sized so that the bare run takes at
//! least a second, repeated in rounds until the ratios settle.
//!
//! A round runs the three modes one after the other, so a change in the machine's load
//! touches all three; a round's ratio is its MIPS per CPU second under the VMM over
//! bare. Rounds go on until the last [`WINDOW`] rounds agree: every ratio's spread,
//! (max - min) / median, at most [`SETTLED`] (or [`MAX_ROUNDS`] rounds have run). The
//! figures are the medians of those last rounds, shown with their spread.

use std::path::Path;

use anyhow::{bail, Result};

use crate::bench::{assemble, median, native, num, Row};

/// Processes, system calls per process, work loop iterations between two calls, and
/// the PIT divisor (timer interrupts, so context switches, every PIT_DIV / 1.19 µs of
/// virtual time: 200 per millisecond of guest at 100 virtual MIPS).
const PROCS: u32 = 4;
const WORK: u32 = 20;
const PIT_DIV: u32 = 239;
/// System calls per process of the sizing run.
const PROBE_CALLS: u32 = 20_000;
/// The bare run's target length.
const BARE_SECONDS: f64 = 1.2;
const SETTLED: f64 = 0.05;
const WINDOW: usize = 3;
const MAX_ROUNDS: usize = 10;
const MODES: [&str; 3] = ["bare", "trap-emulate", "hw-assist"];
/// The share of bare speed each VMM mode is held to.
const TARGETS: [f64; 2] = [0.30, 0.60];

fn build(calls: u32) -> Result<std::path::PathBuf> {
    let defines = [
        ("PROCS", PROCS.to_string()),
        ("CALLS", calls.to_string()),
        ("WORK", WORK.to_string()),
        ("PIT_DIV", PIT_DIV.to_string()),
    ];
    assemble("bench/vmm.asm", &defines, &format!("vmm{calls}.rom"))
}

/// The last [`WINDOW`] values.
fn window(v: &[f64]) -> &[f64] {
    &v[v.len().saturating_sub(WINDOW)..]
}

/// (max - min) / median.
fn spread(v: &[f64]) -> f64 {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (hi - lo) / median(v.to_vec())
}

/// The rows for the VMM ratios.
pub fn rows(runner: &Path) -> Result<Vec<Row>> {
    // Size the guest: the bare run of the probe, scaled to BARE_SECONDS of CPU time.
    let probe = native(runner, &build(PROBE_CALLS)?, &["--mode", "bare"])?;
    let secs = num(&probe, "cpu_seconds")?.max(1e-3);
    let calls = ((PROBE_CALLS as f64 * BARE_SECONDS / secs) as u32).next_multiple_of(10_000);
    let rom = build(calls)?;
    println!(
        "vmm.asm: PROCS={PROCS} CALLS={calls} WORK={WORK} PIT_DIV={PIT_DIV} \
         (the sizing run: {secs:.3} s bare at CALLS={PROBE_CALLS})"
    );
    let mut mips: [Vec<f64>; 3] = Default::default();
    let mut ratios: [Vec<f64>; 2] = Default::default();
    let mut exits = [0.0; 3];
    let mut seconds = [0.0f64; 3];
    let mut serial = None;
    for round in 1..=MAX_ROUNDS {
        let mut this = [0.0; 3];
        for (i, mode) in MODES.iter().enumerate() {
            let v = native(runner, &rom, &["--mode", mode])?;
            let out = v.get("serial").and_then(|s| s.as_str()).unwrap_or("");
            if !out.starts_with("vmm bench: calls")
                || v.get("stop").and_then(|s| s.as_str()) != Some("DebugExit(0)")
            {
                bail!("vmm.asm under {mode} did not finish: {v}");
            }
            match &serial {
                None => serial = Some(out.to_string()),
                Some(s) if s != out => bail!("vmm.asm prints {out:?} under {mode}, {s:?} bare"),
                Some(_) => {}
            }
            this[i] = num(&v, "cpu_mips")?;
            mips[i].push(this[i]);
            exits[i] = num(&v, "exits")? / num(&v, "instructions")? * 1e6;
            seconds[i] = seconds[i].max(num(&v, "cpu_seconds")?);
        }
        for k in 0..2 {
            ratios[k].push(this[k + 1] / this[0]);
        }
        let spreads: Vec<String> = ratios
            .iter()
            .map(|r| format!("{:.1}%", spread(window(r)) * 100.0))
            .collect();
        println!(
            "round {round}: {:.1} / {:.1} / {:.1} MIPS per CPU second; ratio spreads over the last {WINDOW} rounds {}",
            this[0],
            this[1],
            this[2],
            spreads.join(", ")
        );
        if round >= WINDOW && ratios.iter().all(|r| spread(window(r)) <= SETTLED) {
            break;
        }
    }
    let rounds = ratios[0].len();
    let bare = median(window(&mips[0]).to_vec());
    let mut rows = vec![Row::new(
        "vmm guest: bare",
        format!(
            "{bare:.1} MIPS per CPU s (spread {:.1}%; {rounds} rounds, the last {WINDOW} shown; longest run {:.2} s)",
            spread(window(&mips[0])) * 100.0,
            seconds[0]
        ),
        ">= 1 s per run",
        Some(seconds[0] >= 1.0),
    )];
    for (k, target) in TARGETS.iter().enumerate() {
        let share = median(window(&ratios[k]).to_vec());
        rows.push(Row::new(
            &format!("vmm guest: {} / bare", MODES[k + 1]),
            format!(
                "{:.0}% (spread {:.1}%, {:.1} MIPS, {:.0} exits per M instructions)",
                share * 100.0,
                spread(window(&ratios[k])) * 100.0,
                median(window(&mips[k + 1]).to_vec()),
                exits[k + 1]
            ),
            &format!(">= {:.0}%", target * 100.0),
            Some(share >= *target),
        ));
    }
    Ok(rows)
}
