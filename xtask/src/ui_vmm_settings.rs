//! Browser test of the toolbar's VMM settings: page-table write protection under
//! shadow paging and interrupt-window exiting under hardware assistance, each
//! checked against the exit counters of a run with it on and off, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{counter, open, reg, select, stopped, tid, WAIT};
use anyhow::{ensure, Result};
use serde_json::json;

/// Whether checkbox `id` is shown and checked.
fn checkbox(b: &Browser, id: &str) -> Result<Option<bool>> {
    let v = b.execute(
        "const c = document.querySelector(arguments[0]); return c ? c.checked : null;",
        vec![json!(tid(id))],
    )?;
    Ok(v.as_bool())
}

/// Clicks checkbox `id` and waits until the worker's view shows it `on`.
fn toggle(b: &Browser, id: &str, on: bool) -> Result<()> {
    b.click_testid(id)?;
    b.wait_until(&format!("{id} to read {on}"), WAIT, |_| {
        Ok(checkbox(b, id)? == Some(on))
    })
}

/// Resets, runs to the end and answers the counter `name`.
fn run_from_reset(b: &Browser, name: &str) -> Result<u64> {
    b.click_testid("btn-reset")?;
    b.wait_until("the reset", WAIT, |_| Ok(reg(b, "icount")? == "0"))?;
    b.click_testid("btn-run")?;
    stopped(b)?;
    counter(b, name)
}

/// pt-protect makes the shadow-coherence kernel's PTE store exit (pt-write);
/// interrupt-window exiting off takes the timer interrupt natively.
pub fn vmm_settings(b: &Browser) -> Result<()> {
    open(b, "demo=shadow-coherence")?;
    stopped(b)?;
    b.wait_for(&tid("pt-protect"))?;
    ensure!(
        checkbox(b, "interrupt-window")?.is_none(),
        "trap-and-emulate has no exit controls to show"
    );
    ensure!(
        checkbox(b, "pt-protect")? == Some(false),
        "the demo starts with pt-protect off"
    );
    let off = run_from_reset(b, "vmm.exits.pt-write")?;
    ensure!(off == 0, "{off} pt-write exits with pt-protect off");
    toggle(b, "pt-protect", true)?;
    let on = run_from_reset(b, "vmm.exits.pt-write")?;
    ensure!(on > 0, "no pt-write exit with pt-protect on");
    ensure!(
        checkbox(b, "pt-protect")? == Some(true),
        "pt-protect holds across a reset"
    );
    b.screenshot("lab-vmm-settings-pt-protect")?;

    open(b, "demo=interrupt-virt")?;
    stopped(b)?;
    select(b, "mode-select", "hw-assist")?;
    b.wait_for(&tid("interrupt-window"))?;
    ensure!(
        checkbox(b, "pt-protect")?.is_none(),
        "nested paging keeps no shadow tables to protect"
    );
    ensure!(
        checkbox(b, "interrupt-window")? == Some(true),
        "interrupt-window exiting is on by default"
    );
    let on = run_from_reset(b, "vmm.exits.interrupt-window")?;
    ensure!(on > 0, "no interrupt-window exit with the control on");
    let serial_on = b.text_testid("serial-output")?;
    toggle(b, "interrupt-window", false)?;
    let off = run_from_reset(b, "vmm.exits.interrupt-window")?;
    ensure!(
        off == 0,
        "{off} interrupt-window exits with the control off"
    );
    let serial_off = b.text_testid("serial-output")?;
    ensure!(
        serial_off == serial_on,
        "the guest prints the same either way: {serial_on:?} vs {serial_off:?}"
    );
    b.screenshot("lab-vmm-settings-interrupt-window")?;
    Ok(())
}
