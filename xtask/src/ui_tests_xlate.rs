//! Browser tests of the translating tier in the lab: the tier switch (regions compiled
//! to WebAssembly in the worker, MIPS per tier), the translation-cache panel and a
//! region's detail, and the four translation demos, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{
    counter, load_program, open, select, select_and_wait, stopped, tid, wait_text, WAIT,
};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// Scrolls panel `id` into view.
fn show(b: &Browser, id: &str) -> Result<()> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView();",
        vec![json!(tid(id))],
    )?;
    Ok(())
}

/// The MIPS the counters show for `tier` (`None` before it ran at full speed).
fn mips(b: &Browser, tier: &str) -> Result<Option<f64>> {
    let v = b.execute(
        "const e = document.querySelector(`[data-testid=tier-mips-value][data-tier=\"${arguments[0]}\"]`);
         return e ? e.dataset.mips : null;",
        vec![json!(tier)],
    )?;
    Ok(v.as_str().and_then(|s| s.parse().ok()))
}

/// The strings a script returns as an array (none when it returns something else).
fn strings(b: &Browser, script: &str, args: Vec<serde_json::Value>) -> Result<Vec<String>> {
    let v = b.execute(script, args)?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// The rows of the cache panel: entry addresses.
fn regions(b: &Browser) -> Result<Vec<String>> {
    strings(
        b,
        "return [...document.querySelectorAll('[data-testid=xlate-region]')].map(r => r.dataset.entry);",
        vec![],
    )
}

/// The texts of the events of `kind` the cache panel lists.
fn event_texts(b: &Browser, kind: &str) -> Result<Vec<String>> {
    strings(
        b,
        "return [...document.querySelectorAll(`[data-testid=xlate-event][data-kind=\"${arguments[0]}\"]`)].map(e => e.textContent);",
        vec![json!(kind)],
    )
}

/// An endless loop of arithmetic, for timing the tiers.
const SPIN: &str = "bits 32\norg 0x10000\nstart:\n    mov ecx, 1000\nagain:\n    add eax, ecx\n    xor ebx, eax\n    dec ecx\n    jnz again\n    jmp start\n";

/// The tier switch: each tier runs the loop at full speed for a while and the counters
/// show its MIPS; in the translating tier the worker compiles regions to WebAssembly.
pub fn tier_switch(b: &Browser) -> Result<()> {
    load_program(b, SPIN, "00010000")?;
    select(b, "speed-select", "full")?;
    let mut figures = Vec::new();
    for tier in ["interp", "fast", "translate"] {
        select_and_wait(b, "tier-select", tier)?;
        b.click_testid("btn-run")?;
        std::thread::sleep(std::time::Duration::from_millis(1500));
        b.click_testid("btn-run")?;
        stopped(b)?;
        let m = b
            .wait_until(&format!("MIPS for {tier}"), WAIT, |_| {
                Ok(mips(b, tier)?.is_some_and(|m| m > 0.0))
            })
            .and_then(|_| mips(b, tier))?
            .unwrap_or(0.0);
        figures.push(format!("{tier} {m:.1} MIPS"));
    }
    println!("lab tiers on the spin loop: {}", figures.join(", "));
    ensure!(
        counter(b, "translate.regions")? >= 1,
        "nothing was translated"
    );
    ensure!(
        counter(b, "translate.instructions")? > 0,
        "no instruction ran in a region"
    );
    let summary = b.text_testid("xlate-summary")?;
    ensure!(
        summary.contains("Wasm modules compiled in the background in the worker")
            && !summary.ends_with("; 0 compiled to Wasm"),
        "the regions were not compiled to Wasm: {summary:?}"
    );
    let line = b.text_testid("tier-mips")?;
    ensure!(
        line.contains("interpreter") && line.contains("fast tier") && line.contains("translate"),
        "MIPS per tier reads {line:?}"
    );
    show(b, "panel-counters")?;
    b.screenshot("lab-xlate-tier-switch")?;
    Ok(())
}

/// The cache panel lists the regions with their chained successors and events; a
/// click shows the region's x86, IR before and after, and Wasm text side by side.
pub fn cache_panel(b: &Browser) -> Result<()> {
    open(b, "demo=xlate-cache")?;
    stopped(b)?;
    b.wait_for(&tid("xlate-empty"))?;
    for i in 2..=3 {
        b.click_testid("demo-next")?;
        wait_text(b, "demo-step-count", &format!("step {i} of 3"))?;
    }
    stopped(b)?;
    // Compiled regions loop and chain inside their modules, so fewer entries reach
    // the run loop than natively: at least the loop and the functions' regions.
    b.wait_until("the regions", WAIT, |_| Ok(regions(b)?.len() >= 3))?;
    ensure!(
        !event_texts(b, "chain")?.is_empty(),
        "no chain event: {:?}",
        b.text_testid("xlate-events")?
    );
    ensure!(
        event_texts(b, "translate")?.len() >= regions(b)?.len(),
        "a translate event per region"
    );
    show(b, "panel-xlate")?;
    b.screenshot("lab-xlate-cache-panel")?;
    let first = regions(b)?.first().cloned().context("a region")?;
    b.execute(
        "document.querySelector(`[data-testid=xlate-region][data-entry=\"${arguments[0]}\"]`).click();",
        vec![json!(first)],
    )?;
    b.wait_for(&format!("{}[data-entry=\"{first}\"]", tid("xlate-detail")))?;
    // The page fetches the printer (`pkg/region_text.wasm`) and prints the module with
    // wasmprinter: the whole module, its function's operators among it.
    let mut wasm = String::new();
    b.wait_until("the Wasm column's text from the printer", WAIT * 3, |s| {
        wasm = s.text_testid("xlate-wasm")?;
        Ok(!wasm.contains("printing…"))
    })
    .with_context(|| format!("the Wasm column reads {wasm:?}"))?;
    ensure!(
        ["(module", "(func ", "(export \"run\"", "local.get ", "i32."]
            .iter()
            .all(|s| wasm.contains(s)),
        "the Wasm column shows the module's text (wasmprinter): {wasm:?}"
    );
    for col in [
        "xlate-x86",
        "xlate-ir-before",
        "xlate-ir-after",
        "xlate-wasm",
    ] {
        let text = b.text_testid(col)?;
        ensure!(text.lines().count() >= 2, "{col} reads {text:?}");
    }
    show(b, "xlate-detail")?;
    b.screenshot("lab-xlate-region-detail")?;
    Ok(())
}

/// Steps through a demo to its end with a screenshot of each step.
fn step_through(b: &Browser, id: &str, total: usize) -> Result<()> {
    open(b, &format!("demo={id}"))?;
    stopped(b)?;
    b.screenshot(&format!("lab-xlate-demo-{id}-1"))?;
    for i in 2..=total {
        b.click_testid("demo-next")?;
        wait_text(b, "demo-step-count", &format!("step {i} of {total}"))?;
        stopped(b)?;
        b.screenshot(&format!("lab-xlate-demo-{id}-{i}"))?;
    }
    Ok(())
}

/// The four demos, each to its end: the tiers agree, the cache fills, a write
/// invalidates with its address, and the passes shrink the loop's IR.
pub fn demos(b: &Browser) -> Result<()> {
    step_through(b, "xlate-tiers", 4)?;
    wait_text(b, "serial-output", "hot loop done")?;

    step_through(b, "xlate-cache", 3)?;
    ensure!(
        regions(b)?.len() >= 3,
        "the cache holds the loop's and the functions' regions"
    );

    step_through(b, "xlate-smc", 2)?;
    wait_text(b, "serial-output", "AB")?;
    let inval = event_texts(b, "invalidate")?;
    ensure!(
        !inval.is_empty() && inval.iter().all(|t| t.contains("written at")),
        "invalidate events: {inval:?}"
    );

    step_through(b, "xlate-passes", 3)?;
    let first = regions(b)?.first().cloned().context("the loop's region")?;
    b.execute(
        "document.querySelector(`[data-testid=xlate-region][data-entry=\"${arguments[0]}\"]`).click();",
        vec![json!(first)],
    )?;
    b.wait_for(&tid("xlate-detail"))?;
    let flags = |id: &str| -> Result<usize> { Ok(b.text_testid(id)?.matches("flags = ").count()) };
    let (before, after) = (flags("xlate-ir-before")?, flags("xlate-ir-after")?);
    ensure!(
        after < before,
        "dead-flag elimination left {after} of {before} flag records"
    );
    show(b, "xlate-detail")?;
    b.screenshot("lab-xlate-demo-xlate-passes-detail")?;
    Ok(())
}
