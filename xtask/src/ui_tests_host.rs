//! Browser tests of the Host view: a scenario run in steps and to its end with its memory bars, cards and timeline, the balloon, migrate and kill controls with their charts, a VM opened in the lab's panels, and every host demo step by step with its claims, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{open, reg, select, tid, wait_reg, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// Scrolls `css` to the top of the window (for a screenshot of it).
pub(crate) fn show(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(css)?;
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' });",
        vec![json!(css)],
    )?;
    Ok(())
}

/// Sets input `id` to `value` as a user would (the view reads it on change).
fn type_value(b: &Browser, id: &str, value: &str) -> Result<()> {
    b.wait_for(&tid(id))?;
    b.execute(
        "const i = document.querySelector(arguments[0]);
         i.value = arguments[1];
         i.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![json!(tid(id)), json!(value)],
    )?;
    Ok(())
}

/// Clicks control `id` after scrolling it into the middle of the window.
pub(crate) fn press(b: &Browser, id: &str) -> Result<()> {
    let css = tid(id);
    b.wait_for(&css)?;
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![json!(css)],
    )?;
    b.click(&css)
}

/// How many elements match `css`.
fn count(b: &Browser, css: &str) -> Result<usize> {
    Ok(b.find_all(css)?.len())
}

/// The number after `label` in the text of `id` (`"… 407 merged …"`).
fn number_before(b: &Browser, id: &str, label: &str) -> Result<u64> {
    let text = b.text_testid(id)?;
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_end_matches([',', '·']) == label)
        .and_then(|w| w[0].parse().ok())
        .with_context(|| format!("{id} has no number before {label:?}: {text:?}"))
}

/// A scenario in the Host view: run in steps and to its end; its cards, memory bars
/// and timeline; a balloon request from the controls.
pub fn host_view(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "host-source", "scenario:esx-memory")?;
    wait_text(b, "host-status", "0 of 400 ms")?;
    for vm in ["a", "b", "c", "d"] {
        b.wait_for(&tid(&format!("host-vm-{vm}")))?;
    }
    press(b, "host-run-step")?;
    wait_text(b, "host-status", "10 of 400 ms")?;
    ensure!(
        count(b, "[data-testid=host-memory-bars] rect.mem-private")? == 4,
        "every VM has private pages after 10 ms"
    );
    press(b, "host-run-end")?;
    wait_text(b, "host-status", "400 of 400 ms")?;
    let merged = number_before(b, "host-memory-summary", "merged")?;
    let shared = number_before(b, "host-memory-summary", "shared")?;
    ensure!(merged > 1000, "the scanner merged only {merged} frames");
    ensure!(shared > 2000, "only {shared} pages shared");
    // "… N share breaks …": the guests' rewrites of their shared pages exited
    let breaks = number_before(b, "host-memory-summary", "share")?;
    ensure!(breaks > 0, "no share-break exits");
    let card = b.text_testid("host-vm-a-sharing")?;
    ensure!(card.contains("share breaks"), "a's card: {card:?}");
    ensure!(
        count(b, "[data-testid=host-memory-bars] rect.mem-shared")? == 4,
        "every identical guest shows shared pages"
    );
    ensure!(
        count(b, "[data-testid=host-memory-bars] rect.mem-ballooned")? >= 1,
        "the scenario ballooned d"
    );
    wait_text(b, "host-events", "balloon target 4 MiB")?;
    let share = b.text_testid("host-vm-a-cpu")?;
    ensure!(share.contains("CPU 2"), "a's share of four: {share:?}");
    show(b, &tid("host-memory-part"))?;
    b.screenshot("lab-host-memory")?;
    show(b, &tid("host-cards-part"))?;
    b.screenshot("lab-host-cards-timeline")?;

    // a balloon request of our own, after a restart
    press(b, "host-restart")?;
    wait_text(b, "host-status", "0 of 400 ms")?;
    select(b, "host-balloon-vm", "b")?;
    type_value(b, "host-balloon-mib", "5")?;
    press(b, "host-balloon")?;
    wait_text(b, "host-events", "balloon target 5 MiB")?;
    for _ in 0..3 {
        press(b, "host-run-step")?;
    }
    wait_text(b, "host-status", "30 of 400 ms")?;
    wait_text(b, "host-events", "pages reclaimed")?;
    ensure!(
        b.text_testid("host-vm-b")?.contains("balloon ")
            && count(b, "[data-testid=host-memory-bars] rect.mem-ballooned")? == 1,
        "b's balloon shows in its bar"
    );
    b.screenshot("lab-host-balloon")?;
    Ok(())
}

/// The migrate and kill controls: pre-copy converging and not, post-copy going on,
/// and a fault-tolerant pair whose output matches a run that never failed.
pub fn host_migration_and_ft(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "host-source", "scenario:credit-time")?;
    wait_text(b, "host-status", "0 of 120 ms")?;
    select(b, "host-migrate-mode", "precopy")?;
    select(b, "host-migrate-workload", "moderate")?;
    press(b, "host-migrate")?;
    wait_text(b, "host-migration-summary", "stopped by converged")?;
    let rounds = count(b, "[data-testid=host-migration-chart] rect.round-sent")?;
    ensure!(rounds >= 2, "{rounds} pre-copy rounds drawn");
    ensure!(
        count(b, "[data-testid=host-migration-chart] rect.round-final")? == 1,
        "the stop-and-copy phase is drawn"
    );
    wait_text(b, "host-migration-continued", "went on")?;
    show(b, &tid("host-migration-part"))?;
    b.screenshot("lab-host-migration-precopy")?;

    select(b, "host-migrate-workload", "diabolical")?;
    press(b, "host-migrate")?;
    wait_text(b, "host-migration-summary", "stopped by max-sent")?;
    let diabolical = count(b, "[data-testid=host-migration-chart] rect.round-sent")?;
    ensure!(
        diabolical > rounds,
        "the diabolical writer takes more rounds ({diabolical}) than the moderate one ({rounds})"
    );
    show(b, &tid("host-migration-part"))?;
    b.screenshot("lab-host-migration-diabolical")?;

    select(b, "host-migrate-mode", "postcopy")?;
    press(b, "host-migrate")?;
    wait_text(b, "host-migration-summary", "post-copy of the diabolical")?;
    wait_text(b, "host-migration-continued", "went on")?;
    ensure!(
        number_before(b, "host-migration-summary", "demand")? > 0,
        "post-copy took demand faults"
    );
    b.screenshot("lab-host-migration-postcopy")?;

    type_value(b, "host-kill-at", "9000")?;
    press(b, "host-kill")?;
    wait_text(b, "host-ft-summary", "primary killed at instruction 9000")?;
    wait_text(b, "host-ft-verdict", "no gap, no duplicate")?;
    wait_text(b, "host-ft-output", "done")?;
    show(b, &tid("host-ft-part"))?;
    b.screenshot("lab-host-ft")?;
    Ok(())
}

/// A VM of the host opens in the lab's panels: its machine, mid-run.
pub fn host_vm_in_panels(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    ensure!(reg(b, "icount")? == "0", "the demo starts fresh");
    select(b, "host-source", "scenario:credit-time")?;
    press(b, "host-run-step")?;
    wait_text(b, "host-status", "10 of 120 ms")?;
    press(b, "host-open-heavy")?;
    machine_in_panels(b, "lab-host-vm-in-panels")
}

/// Waits for a machine that ran a guest loaded at 0x10000 to be loaded in the lab's
/// panels (more than 1000 instructions, EIP in the guest), and takes screenshot
/// `name` of its registers.
pub(crate) fn machine_in_panels(b: &Browser, name: &str) -> Result<()> {
    let icount = wait_reg(b, "icount", "the machine in the panels", |v| {
        v.parse::<u64>().is_ok_and(|n| n > 1000)
    })?;
    let eip = reg(b, "eip")?;
    let eip = u32::from_str_radix(&eip, 16).with_context(|| format!("eip reads {eip:?}"))?;
    ensure!(
        eip >= 0x10000,
        "EIP {eip:#x} is in the guest (loaded at 0x10000), icount {icount}"
    );
    show(b, &tid("panel-registers"))?;
    b.screenshot(name)?;
    Ok(())
}

/// Every host demo, step by step: its narration, its claims (all hold), a
/// screenshot of each step.
pub fn host_demos(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    play_demos(
        b,
        "host",
        &[
            "esx-memory",
            "live-migration",
            "ft-failover",
            "credit-scheduler",
        ],
    )
}

/// Plays demos `ids` in the view whose test ids start with `view` (`host`, `net`):
/// each picked in `VIEW-source`, step by step with `VIEW-demo-next`; at every step
/// its claims are shown and all hold, a part of the view is focused, and a
/// screenshot `lab-VIEW-demo-ID-STEP` is taken.
pub(crate) fn play_demos(b: &Browser, view: &str, ids: &[&str]) -> Result<()> {
    let id_of = |what: &str| format!("{view}-{what}");
    let claims_css = format!("[data-testid={view}-demo-claims] li");
    for id in ids {
        select(b, &id_of("source"), &format!("demo:{id}"))?;
        let first = "step 1 of";
        b.wait_until(&format!("{id} to open"), WAIT, |_| {
            Ok(b.text_testid(&id_of("demo-step-count"))
                .is_ok_and(|t| t.starts_with(first))
                && b.find(&tid(&id_of("status")))?.is_some())
        })?;
        let count_text = b.text_testid(&id_of("demo-step-count"))?;
        let total: usize = count_text
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{id}: step count reads {count_text:?}"))?;
        ensure!(total >= 2, "{id}: {total} steps");
        for i in 1..=total {
            wait_text(
                b,
                &id_of("demo-step-count"),
                &format!("step {i} of {total}"),
            )?;
            let claims = count(b, &claims_css)?;
            let holding = count(b, &format!("{claims_css}[data-holds=true]"))?;
            ensure!(claims > 0, "{id} step {i}: no claims shown");
            ensure!(
                holding == claims,
                "{id} step {i}: {} of {claims} claims hold: {}",
                holding,
                b.text_testid(&id_of("demo-claims"))?
            );
            ensure!(
                count(b, "[data-testid$=-part].focused")? >= 1,
                "{id} step {i}: no part focused"
            );
            show(b, &tid(&id_of("demo")))?;
            b.screenshot(&format!("lab-{view}-demo-{id}-{i}"))?;
            if i < total {
                press(b, &id_of("demo-next"))?;
            }
        }
    }
    Ok(())
}

/// A scenario with a migration event: run to its end, the scenario's own migration
/// shows its pre-copy rounds in the chart and its stop rule.
pub fn host_scenario_migration(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "host-source", "scenario:migrate-precopy")?;
    wait_text(b, "host-status", "0 of 400 ms")?;
    press(b, "host-run-end")?;
    wait_text(b, "host-status", "400 of 400 ms")?;
    wait_text(b, "host-scenario-moves", "web from a to b at 100 ms")?;
    wait_text(b, "host-scenario-moves", "stopped by converged")?;
    let rounds = count(b, "[data-testid=host-scenario-moves] rect.round-sent")?;
    ensure!(rounds >= 2, "{rounds} pre-copy rounds drawn");
    ensure!(
        count(b, "[data-testid=host-scenario-moves] rect.round-final")? == 1,
        "the stop-and-copy phase is drawn"
    );
    wait_text(b, "host-events", "migrated to b (precopy)")?;
    show(b, &tid("host-scenario-moves"))?;
    b.screenshot("lab-host-scenario-migration")?;
    Ok(())
}
