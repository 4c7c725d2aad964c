//! Browser tests of the host's schedule for a machine's vCPUs: the lock-holder
//! preemption demo (the CPU strip's host states, the spin counter, pause-loop exits
//! in the trap log, co-scheduling) and the toolbar's host slice, PLE and
//! co-scheduling controls with their refusals, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{counter, select, tid, wait_text, WAIT};
use crate::ui_tests_smpui::{attr, open_step, shot};
use anyhow::{ensure, Context, Result};
use serde_json::json;

const DEMO: &str = "lock-holder-preemption";

/// Whether the checkbox with test id `id` is checked and whether it is disabled.
fn checkbox(b: &Browser, id: &str) -> Result<(bool, bool)> {
    let v = b.execute(
        "const c = document.querySelector(arguments[0]); return c ? [c.checked, c.disabled] : null;",
        vec![json!(tid(id))],
    )?;
    let pair = v.as_array().context("the checkbox is on the page")?;
    Ok((
        pair.first().and_then(|x| x.as_bool()).unwrap_or(false),
        pair.get(1).and_then(|x| x.as_bool()).unwrap_or(false),
    ))
}

/// The host state CPU `i`'s column shows.
fn host_of(b: &Browser, i: usize) -> Result<String> {
    attr(b, &format!("cpu-{i}-host"), "data-host")
}

/// The demo: a descheduled holder and a spinning waiter, the pause-loop exit in
/// the trap log, and co-scheduling, each checked against the demo's claims.
pub fn lock_holder_demo(b: &Browser) -> Result<()> {
    let d = vmlab_demos::find(DEMO).context("the demo")?;
    let claimed = |step: usize| -> Result<i64> {
        d.steps()[step - 1]
            .expect
            .counters
            .get("spin_instructions")
            .copied()
            .context("a spin claim")
    };
    open_step(b, DEMO, 3)?;
    b.wait_until("CPU 1 to spin", WAIT, |_| Ok(host_of(b, 1)? == "spinning"))?;
    for i in [0, 2, 3] {
        let h = host_of(b, i)?;
        ensure!(h == "descheduled", "CPU {i} is {h}, not descheduled");
    }
    let spin = counter(b, "spin_instructions")?;
    ensure!(
        spin as i64 == claimed(3)?,
        "the counters show {spin} spin instructions"
    );
    wait_text(b, "cpu-1-host", &format!("spun {spin}"))?;
    wait_text(b, "cpus-host", "host slice 5000")?;
    shot(b, "panel-cpus", "smp-lhp-holder-descheduled")?;
    open_step(b, DEMO, 5)?;
    wait_text(b, "panel-log", "pause-loop")?;
    ensure!(
        checkbox(b, "ple")?.0,
        "the toolbar shows pause-loop exiting on"
    );
    ensure!(
        counter(b, "vmm.exits.pause-loop")? == 1,
        "one pause-loop exit"
    );
    shot(b, "panel-log", "smp-lhp-pause-loop-exit")?;
    open_step(b, DEMO, 7)?;
    wait_text(b, "serial-output", "rounds 400")?;
    let co = counter(b, "spin_instructions")?;
    ensure!(
        co as i64 == claimed(7)?,
        "co-scheduled: {co} spin instructions"
    );
    let sliced = claimed(3)? + claimed(4)?;
    ensure!(
        (co as i64) * 10 < sliced,
        "co-scheduling spins far less than a time-sliced host: {co} against {sliced}"
    );
    ensure!(checkbox(b, "cosched")?.0 && !checkbox(b, "ple")?.0);
    wait_text(b, "cpus-host", "co-scheduled")?;
    shot(b, "panel-counters", "smp-lhp-coscheduled")?;
    Ok(())
}

/// The toolbar: under trap-and-emulate PLE is disabled with the core's refusal as
/// its tooltip; on the bare machine the host slice is; without a slice
/// co-scheduling is.
pub fn host_schedule_toolbar(b: &Browser) -> Result<()> {
    open_step(b, DEMO, 1)?;
    ensure!(
        attr(b, "host-slice-select", "data-testid")? == "host-slice-select",
        "the host slice select is on the toolbar"
    );
    select(b, "mode-select", "trap-emulate")?;
    b.wait_until("PLE to be refused", WAIT, |_| Ok(checkbox(b, "ple")?.1))?;
    let tip = attr(b, "ple-label", "title")?;
    ensure!(
        tip.starts_with("cannot apply: pause-loop exiting is a hardware-assistance exit control"),
        "PLE's tooltip: {tip}"
    );
    wait_text(b, "cpus-host", "host slice 5000")?;
    shot(b, "host-schedule", "smp-lhp-toolbar-ple-refused")?;
    select(b, "host-slice-select", "0")?;
    b.wait_until("co-scheduling to be refused", WAIT, |_| {
        Ok(checkbox(b, "cosched")?.1)
    })?;
    let tip = attr(b, "cosched-label", "title")?;
    ensure!(
        tip.contains("co-scheduling needs a host slice"),
        "co-scheduling's tooltip: {tip}"
    );
    select(b, "mode-select", "bare")?;
    b.wait_until("the host slice to be refused", WAIT, |_| {
        Ok(b.execute(
            "const s = document.querySelector(arguments[0]); return !!(s && s.disabled);",
            vec![json!(tid("host-slice-select"))],
        )? == json!(true))
    })?;
    let tip = attr(b, "host-slice-label", "title")?;
    ensure!(
        tip.contains("apply only under a VMM"),
        "the host slice's tooltip: {tip}"
    );
    Ok(())
}
