//! Browser test of the TSC panel: the TSC synchronization check on four vCPUs under a
//! host slice finds the warp when the host lets the counters drift, which the panel's
//! bars and offsets show, and passes once the policy keeps them synchronized.

use crate::browser::Browser;
use crate::ui_tests::{open, select, set_source, stopped, tid, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// `guests/smp/tsc_sync.asm` with its SMP include written in (the lab's assembler
/// resolves only the shared `pc.inc`).
fn tsc_sync_source() -> Result<String> {
    let dir = crate::workspace_root().join("guests/smp");
    let src = std::fs::read_to_string(dir.join("tsc_sync.asm")).context("tsc_sync.asm")?;
    let inc = std::fs::read_to_string(dir.join("smp.inc")).context("smp.inc")?;
    Ok(src.replace("%include \"smp.inc\"", &inc))
}

/// Integer attribute `attr` of the element with test id `id`.
fn num_attr(b: &Browser, id: &str, attr: &str) -> Result<i64> {
    let v = b.execute(
        "const e = document.querySelector(arguments[0]); return e ? (e.getAttribute(arguments[1]) || '') : '';",
        vec![json!(tid(id)), json!(attr)],
    )?;
    let s = v.as_str().unwrap_or_default();
    s.parse()
        .with_context(|| format!("{id}'s {attr} is {s:?}, not a number"))
}

/// Scrolls the TSC panel into view and saves a screenshot `name`.
fn shot(b: &Browser, name: &str) -> Result<()> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![json!(tid("panel-tsc"))],
    )?;
    b.screenshot(name)?;
    Ok(())
}

/// Runs the loaded program to its end.
fn run_to_end(b: &Browser) -> Result<()> {
    b.click_testid("btn-run")?;
    stopped(b)
}

/// Drift: the guest prints a warp no larger than the time a vCPU was off (its offset),
/// and the panel's drift is the spread of its bars. Sync: no warp, no drift.
pub(crate) fn tsc_drift_and_sync(b: &Browser) -> Result<()> {
    open(b, "")?;
    select(b, "mode-select", "hw-assist")?;
    select(b, "cpus-select", "4")?;
    select(b, "quantum-select", "10")?;
    set_source(b, &tsc_sync_source()?)?;
    b.click_testid("btn-assemble")?;
    b.wait_for(&tid("tsc-slice-select"))?;
    select(b, "tsc-slice-select", "2000")?;
    select(b, "tsc-policy-select", "drift")?;
    wait_text(b, "tsc-drift", "TSC drift · host slice 2000")?;
    run_to_end(b)?;
    wait_text(b, "serial-output", "TSC unsynchronized, warp ")?;
    let out = b.text_testid("serial-output")?;
    let warp: i64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("TSC unsynchronized, warp "))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no warp in {out:?}"))?;
    let mut tscs = Vec::new();
    let mut offsets = Vec::new();
    for i in 0..4 {
        tscs.push(num_attr(b, &format!("tsc-cpu-{i}"), "data-tsc")?);
        offsets.push(num_attr(b, &format!("tsc-cpu-{i}"), "data-offset")?);
    }
    let spread = tscs.iter().max().unwrap_or(&0) - tscs.iter().min().unwrap_or(&0);
    let drift = num_attr(b, "tsc-drift", "data-drift")?;
    ensure!(
        drift == spread && drift > 0,
        "the drift {drift} is the bars' spread {spread}: {tscs:?}"
    );
    ensure!(
        offsets.iter().all(|&o| o < 0),
        "every vCPU was off for a while: {offsets:?}"
    );
    let most_off = offsets.iter().map(|o| o.abs()).max().unwrap_or(0);
    ensure!(
        warp > 0 && warp <= most_off,
        "warp {warp} within the time a vCPU was off ({offsets:?})"
    );
    shot(b, "tsc-drift-warp")?;

    select(b, "tsc-policy-select", "sync")?;
    wait_text(b, "tsc-drift", "TSC sync · host slice 2000")?;
    run_to_end(b)?;
    wait_text(b, "serial-output", "TSC synchronized")?;
    b.wait_until("no drift", WAIT, |_| {
        Ok(num_attr(b, "tsc-drift", "data-drift")? == 0)
    })?;
    for i in 0..4 {
        let o = num_attr(b, &format!("tsc-cpu-{i}"), "data-offset")?;
        ensure!(o == 0, "CPU {i}'s offset under sync is {o}");
    }
    shot(b, "tsc-synchronized")?;
    Ok(())
}
