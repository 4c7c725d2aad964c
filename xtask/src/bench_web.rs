//! The lab's own figures for `cargo xtask bench --web`, in headless Chromium: how long
//! a Step takes to show (the first after the page loads, and the median of 20), and how
//! fast Run goes at full speed on a loop, on the mixed workload (in the fast tier and
//! in the translating tier, its regions compiled to WebAssembly in the worker) and on a
//! loop printing to COM1.

use crate::browser::Browser;
use crate::ui_tests::{counter, load_program, open, select_and_wait};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Steps timed after the first.
const STEPS: usize = 20;
/// How long Run is left to warm up before it is timed, and how long it is timed.
const RUN_WARMUP: Duration = Duration::from_secs(1);
const RUN_TIMED: Duration = Duration::from_secs(3);
/// A loop for Run.
const LOOP: &str = "bits 32\norg 0x10000\nstart:\n    inc eax\n    dec ebx\n    jmp start\n";
/// A loop that prints to COM1 without end (one OUT in four instructions).
const PRINT: &str =
    "bits 32\norg 0x10000\nstart:\n    mov dx, 0x3f8\n    mov al, 'x'\n    out dx, al\n    jmp start\n";
/// ITER of the mixed workload in the lab (long enough to outlast the timing).
const MIX_ITER: u32 = 1_000_000;
/// At least this many timed windows of Run on the mixed workload, whose median is
/// the figure (one slow window, when the machine is busy, does not move it).
const MIX_WINDOWS: usize = 5;

/// What the lab measured.
#[derive(Clone, Debug)]
pub struct LabFigures {
    /// Milliseconds from the first Step's click after the page loaded to the frame
    /// showing its result (median over page loads).
    pub first_step_ms: f64,
    /// The median of [`STEPS`] later Steps.
    pub step_ms: f64,
    /// Run at full speed on a three-instruction loop.
    pub loop_mips: f64,
    /// Run at full speed on the mixed workload (the fast tier, the lab's default).
    pub mix_mips: f64,
    /// The same in the translating tier at its default threshold, or why it could not
    /// be measured.
    pub mix_translate_mips: Result<f64, String>,
    /// Run at full speed on a loop printing to COM1.
    pub print_mips: f64,
}

/// Clicks Step and answers how many milliseconds passed until the frame after the
/// instruction count changed on the page.
const TIME_STEP: &str = "
const icount = () => document.querySelector('[data-testid=reg-icount]').textContent;
const before = icount();
window.__vmlabStepMs = null;
const t0 = performance.now();
const obs = new MutationObserver(() => {
    if (icount() !== before) {
        obs.disconnect();
        requestAnimationFrame(() => { window.__vmlabStepMs = performance.now() - t0; });
    }
});
obs.observe(document.body, { childList: true, subtree: true, characterData: true });
document.querySelector('[data-testid=btn-step]').click();
";

fn time_step(b: &Browser) -> Result<f64> {
    b.execute(TIME_STEP, Vec::new())?;
    let mut ms = None;
    b.wait_until("the Step to show", Duration::from_secs(10), |s| {
        ms = s
            .execute("return window.__vmlabStepMs;", Vec::new())?
            .as_f64();
        Ok(ms.is_some())
    })?;
    ms.context("no Step time")
}

/// Step latency: the first Step after each of `loads` page loads, then [`STEPS`] more.
fn step_latency(b: &Browser, loads: usize) -> Result<(f64, f64)> {
    let mut first = Vec::new();
    for _ in 0..loads.max(1) {
        open(b, "demo=fetch-decode-execute")?;
        first.push(time_step(b)?);
    }
    let mut later = Vec::new();
    for _ in 0..STEPS {
        later.push(time_step(b)?);
    }
    Ok((crate::bench::median(first), crate::bench::median(later)))
}

/// The instruction count on the page and the page's clock, read together.
fn sample(b: &Browser) -> Result<(f64, f64)> {
    let v: Value = b.execute(
        "return [document.querySelector('[data-testid=reg-icount] td').textContent, performance.now()];",
        Vec::new(),
    )?;
    let icount = v[0]
        .as_str()
        .and_then(|n| n.trim().parse::<f64>().ok())
        .with_context(|| format!("no instruction count in {v}"))?;
    Ok((icount, v[1].as_f64().context("performance.now()")?))
}

/// MIPS of Run at full speed on `source` (starting at `entry`), timed on the page's own
/// instruction count: the median of `windows` back-to-back windows of [`RUN_TIMED`] in one
/// Run, as the Node.js figure is the median of its runs.
fn run_mips(b: &Browser, source: &str, entry: &str, windows: usize) -> Result<f64> {
    load_program(b, source, entry)?;
    timed_run(b, windows)
}

/// Run at full speed on the program loaded: the median MIPS of `windows` windows.
fn timed_run(b: &Browser, windows: usize) -> Result<f64> {
    b.click_testid("btn-run")?;
    std::thread::sleep(RUN_WARMUP);
    let start = Instant::now();
    let mut mips = Vec::new();
    let mut last = sample(b)?;
    for _ in 0..windows.max(1) {
        std::thread::sleep(RUN_TIMED);
        let now = sample(b)?;
        mips.push((now.0 - last.0) / (now.1 - last.1) / 1e3);
        last = now;
    }
    let status = b.text_testid("status")?;
    b.click_testid("btn-run")?;
    if !status.contains("running") {
        bail!(
            "the guest stopped before {:.1} s of timing ended ({status})",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(crate::bench::median(mips))
}

/// The mixed workload as a lab program: its flat 32-bit part (the ROM's real-mode
/// start and reset vector left out) at 1 MiB, where the lab starts it directly.
pub fn mix_source(iter: u32) -> Result<String> {
    let path = crate::workspace_root().join("guests/bench/mix.asm");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.trim_start().starts_with(needle))
            .with_context(|| format!("{} has no `{needle}` line", path.display()))
    };
    let (org, bits32, rom_end) = (at("org 0")?, at("bits 32")?, at("times 0xFFF0")?);
    let mut out = format!("%define ITER {iter}\n");
    for l in &lines[..org] {
        if !l.trim_start().starts_with("bits") {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("        bits 32\n        org 0x100000\n");
    for l in &lines[bits32 + 1..rom_end] {
        out.push_str(&l.replace("0xF0000 + ", ""));
        out.push('\n');
    }
    Ok(out)
}

/// Measures the lab served from `site_url` (a release build of the site).
pub fn measure(site_url: &str, loads: usize) -> Result<LabFigures> {
    let b = Browser::launch(site_url)?;
    let (first_step_ms, step_ms) = step_latency(&b, loads)?;
    println!("step: first after load {first_step_ms:.1} ms, median of {STEPS} {step_ms:.1} ms");
    let loop_mips = run_mips(&b, LOOP, "00010000", 1)?;
    println!("run, loop: {loop_mips:.1} MIPS");
    let mix_mips = run_mips(
        &b,
        &mix_source(MIX_ITER)?,
        "00100000",
        loads.max(MIX_WINDOWS),
    )?;
    println!("run, mix: {mix_mips:.1} MIPS");
    let print_mips = run_mips(&b, PRINT, "00010000", 1)?;
    println!("run, printing to COM1: {print_mips:.2} MIPS");
    let mix_translate_mips =
        translate_mix_mips(&b, loads.max(MIX_WINDOWS)).map_err(|e| format!("{e:#}"));
    Ok(LabFigures {
        first_step_ms,
        step_ms,
        loop_mips,
        mix_mips,
        mix_translate_mips,
        print_mips,
    })
}

/// Run on the mixed workload with the tier switch on `translate`: MIPS as
/// [`run_mips`] times them, after checking that the worker compiled regions to
/// WebAssembly and ran most of the instructions in them (else the figure would be the
/// IR interpreter's or another tier's).
fn translate_mix_mips(b: &Browser, windows: usize) -> Result<f64> {
    load_program(b, &mix_source(MIX_ITER)?, "00100000")?;
    select_and_wait(b, "tier-select", "translate")?;
    let mips = timed_run(b, windows)?;
    let summary = b.text_testid("xlate-summary")?;
    let (regions, in_regions) = (
        counter(b, "translate.regions")?,
        counter(b, "translate.instructions")?,
    );
    let icount = sample(b)?.0;
    println!(
        "run, mix, translating tier: {mips:.1} MIPS ({regions} regions, {:.1}% of {icount:.0} instructions in them)",
        in_regions as f64 * 100.0 / icount.max(1.0)
    );
    if !summary.contains("Wasm modules compiled in the background in the worker") {
        bail!("the translating tier did not compile to WebAssembly: {summary}");
    }
    if regions == 0 || (in_regions as f64) < 0.5 * icount {
        bail!(
            "the translating tier ran {in_regions} of {icount:.0} instructions in {regions} regions"
        );
    }
    Ok(mips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_source_assembles_as_a_flat_32_bit_program() {
        let src = mix_source(3).expect("mix.asm has its landmarks");
        assert!(!src.contains("0xF0000"), "no ROM addresses left");
        assert!(!src.contains("bits 16"));
        let out = vmlab_asm::assemble("mix.asm", &src, &vmlab_asm::Options::default())
            .expect("assembles");
        assert!(out.bytes.len() > 100 && out.bytes.len() < 0x1_0000);
    }
}
