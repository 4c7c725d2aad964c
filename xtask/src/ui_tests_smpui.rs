//! Browser tests of the multiprocessor lab: the CPU strip and the APIC panel
//! through the AP start-up, IPI shootdown and posted-interrupt demos, and the
//! toolbar's CPU, quantum and APICv settings, each checked against the
//! machine's own panels, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{counter, open, reg, select, set_source, stopped, tid, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// Opens `demo` at step `step` (counted from 1) and waits until it stopped there.
pub(crate) fn open_step(b: &Browser, demo: &str, step: usize) -> Result<()> {
    open(b, &format!("demo={demo}&step={}", step - 1))?;
    wait_text(b, "demo-step-count", &format!("step {step} of"))?;
    stopped(b)
}

/// Scrolls panel `id` into view and saves a screenshot `name`.
pub(crate) fn shot(b: &Browser, id: &str, name: &str) -> Result<()> {
    b.execute(
        "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({ block: 'center' });",
        vec![json!(tid(id))],
    )?;
    b.screenshot(name)?;
    Ok(())
}

/// Attribute `attr` of the element with test id `id` (empty when absent).
pub(crate) fn attr(b: &Browser, id: &str, attr: &str) -> Result<String> {
    let v = b.execute(
        "const e = document.querySelector(arguments[0]); return e ? (e.getAttribute(arguments[1]) || '') : '';",
        vec![json!(tid(id)), json!(attr)],
    )?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Waits until CPU `i`'s column reads state `state`.
fn wait_state(b: &Browser, i: usize, state: &str) -> Result<()> {
    let id = format!("cpu-{i}");
    let mut last = String::new();
    b.wait_until(&format!("CPU {i} to be {state}"), WAIT, |_| {
        last = attr(b, &id, "data-state")?;
        Ok(last == state)
    })
    .with_context(|| format!("CPU {i} is {last:?}"))
}

/// AP start-up: CPU 1 waits for SIPI, starts in real mode at 1100:0000 and runs
/// in protected mode, as its column and the registers panel show.
pub fn ap_startup(b: &Browser) -> Result<()> {
    open_step(b, "ap-startup", 1)?;
    wait_state(b, 0, "running")?;
    wait_state(b, 1, "wait-sipi")?;
    ensure!(
        attr(b, "cpu-0", "data-current")? == "true",
        "CPU 0 runs first"
    );
    ensure!(
        b.text_testid("cpu-1-eip")?.starts_with("f000:"),
        "CPU 1 waits at the reset CS: {}",
        b.text_testid("cpu-1-eip")?
    );
    shot(b, "panel-cpus", "smp-ap-startup-wait-sipi")?;
    open_step(b, "ap-startup", 3)?;
    wait_state(b, 1, "running")?;
    let eip = b.text_testid("cpu-1-eip")?;
    ensure!(
        eip.starts_with("1100:00000000") && eip.ends_with("00011000"),
        "the SIPI's vector 0x11 puts CPU 1 at 1100:0000, linear 0x11000: {eip}"
    );
    ensure!(
        attr(b, "cpu-1", "data-mode")? == "real",
        "CPU 1 starts in real mode"
    );
    open_step(b, "ap-startup", 4)?;
    ensure!(
        attr(b, "cpu-1", "data-current")? == "true",
        "CPU 1's turn: the registers show it"
    );
    ensure!(
        reg(b, "cs")? == "1100",
        "the registers panel shows CPU 1's CS"
    );
    let title = b.execute(
        "return document.querySelector(arguments[0] + ' h2').textContent;",
        vec![json!(tid("panel-registers"))],
    )?;
    ensure!(
        title.as_str() == Some("Registers · CPU 1"),
        "the registers panel names its CPU: {title}"
    );
    shot(b, "panel-cpus", "smp-ap-startup-real-mode")?;
    open_step(b, "ap-startup", 5)?;
    ensure!(
        attr(b, "cpu-1", "data-mode")? == "protected" && reg(b, "cs")? == "0008",
        "CPU 1 in protected mode with CS 0x08"
    );
    shot(b, "panel-cpus", "smp-ap-startup-protected")?;
    Ok(())
}

/// The IPI shootdown: CPU 1's TLB keeps the stale entry until the IPI (IRR 0x50)
/// makes it run INVLPG.
pub fn ipi_shootdown(b: &Browser) -> Result<()> {
    open_step(b, "ipi-shootdown", 2)?;
    wait_text(b, "cpu-1-tlb", "00400000")?;
    ensure!(
        !b.text_testid("cpu-0-tlb")?.contains("00400000"),
        "CPU 0 flushed its own entry: {}",
        b.text_testid("cpu-0-tlb")?
    );
    shot(b, "panel-cpus", "smp-shootdown-stale-entry")?;
    open_step(b, "ipi-shootdown", 3)?;
    wait_text(b, "apic-1-irr", "0x50")?;
    wait_state(b, 1, "halted")?;
    ensure!(
        b.text_testid("apic-1-ipis")?.trim() == "1",
        "CPU 1 accepted one IPI"
    );
    shot(b, "panel-apic", "smp-shootdown-ipi-pending")?;
    open_step(b, "ipi-shootdown", 4)?;
    wait_text(b, "apic-1-isr", "0x50")?;
    ensure!(
        !b.text_testid("cpu-1-tlb")?.contains("00400000"),
        "CPU 1's INVLPG dropped the entry: {}",
        b.text_testid("cpu-1-tlb")?
    );
    wait_text(b, "panel-log", "local APIC")?;
    shot(b, "panel-cpus", "smp-shootdown-flushed")?;
    Ok(())
}

/// Posted interrupts: ten timer ticks cost ten EOI exits without APIC
/// virtualization and none with it.
pub fn posted_interrupts(b: &Browser) -> Result<()> {
    open_step(b, "posted-interrupts", 3)?;
    let eoi = counter(b, "vmm.exits.eoi")?;
    let ext = counter(b, "vmm.exits.external-interrupt")?;
    ensure!(
        (eoi, ext) == (10, 10),
        "two exits per tick without APICv: {eoi} eoi, {ext} external-interrupt"
    );
    wait_text(b, "cpu-0-timer", "periodic vec 0x40")?;
    shot(b, "panel-apic", "smp-posted-before")?;
    open_step(b, "posted-interrupts", 4)?;
    let eoi = counter(b, "vmm.exits.eoi")?;
    let ext = counter(b, "vmm.exits.external-interrupt")?;
    let irqs = counter(b, "irqs")?;
    ensure!(
        (eoi, ext, irqs) == (0, 0, 10),
        "posted: {eoi} eoi, {ext} external-interrupt exits for {irqs} interrupts"
    );
    let apicv = b.execute(
        "const c = document.querySelector(arguments[0]); return c ? c.checked : null;",
        vec![json!(tid("apicv"))],
    )?;
    ensure!(apicv == json!(true), "the toolbar shows APICv on: {apicv}");
    shot(b, "panel-counters", "smp-posted-after")?;
    Ok(())
}

/// The toolbar's CPUs select builds a two-CPU machine for the editor's program,
/// which starts its AP; one CPU again hides the strip; stepping back keeps both CPUs.
pub fn toolbar_cpus(b: &Browser) -> Result<()> {
    let d = vmlab_demos::find("ap-startup").context("the demo")?;
    open(b, "demo=ap-startup")?;
    stopped(b)?;
    select(b, "cpus-select", "1")?;
    b.wait_until("one CPU", WAIT, |_| Ok(b.find(&tid("cpu-1"))?.is_none()))?;
    set_source(b, d.source)?;
    b.click_testid("btn-assemble")?;
    select(b, "quantum-select", "10")?;
    select(b, "cpus-select", "2")?;
    wait_state(b, 1, "wait-sipi")?;
    wait_text(b, "cpus-summary", "2 CPU(s), quantum 10")?;
    b.click_testid("btn-run")?;
    stopped(b)?;
    wait_text(b, "serial-output", "started 1 time(s)")?;
    wait_state(b, 0, "halted")?;
    wait_state(b, 1, "halted")?;
    shot(b, "panel-cpus", "smp-toolbar-two-cpus")?;
    let before = reg(b, "icount")?;
    b.click_testid("btn-step-back")?;
    b.wait_until("a step back", WAIT, |_| Ok(reg(b, "icount")? != before))?;
    ensure!(
        b.find(&tid("cpu-1"))?.is_some(),
        "stepping back keeps both CPUs"
    );
    select(b, "mode-select", "hw-assist")?;
    b.wait_for(&tid("apicv"))?;
    ensure!(
        attr(b, "quantum-select", "data-testid")? == "quantum-select",
        "the quantum select stays"
    );
    wait_text(b, "cpus-summary", "2 CPU(s), quantum 10")?;
    Ok(())
}
