//! Browser tests of the virtio interrupt demos: the devices panel's notification and
//! interrupt bars after each phase (an interrupt per request, one per batch, the
//! ring flag, event indexes; a busy device's skipped kicks), with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{js, open, tid, wait_text, WAIT};
use crate::ui_tests_disk::next_step;
use anyhow::{Context, Result};
use serde_json::json;

/// The virtio-blk counter bar `name`'s value.
fn counter(b: &Browser, name: &str) -> Result<u64> {
    let v = js(
        b,
        &format!(
            "const e = document.querySelector('[data-testid=virtio-device][data-device=virtio-blk] [data-testid=virtio-counter][data-name=\"{name}\"]'); return e ? e.dataset.value : null;"
        ),
    )?;
    v.as_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no counter {name} in the devices panel ({v})"))
}

/// Waits until each `(name, value)` bar shows its value.
fn wait_counters(b: &Browser, want: &[(&str, u64)]) -> Result<()> {
    b.wait_until(&format!("counters {want:?}"), WAIT, |_| {
        for (name, n) in want {
            if counter(b, name)? != *n {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    Ok(())
}

fn scroll_to_devices(b: &Browser) -> Result<()> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![json!(tid("virtio-notifications"))],
    )?;
    Ok(())
}

/// The demo step by step: the bars follow the phases.
pub fn interrupt_demo(b: &Browser) -> Result<()> {
    open(b, "demo=virtio-interrupt-suppression")?;
    b.wait_for(&tid("virtio-notifications"))?;
    wait_counters(b, &[("notifies", 0), ("interrupts raised", 0)])?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-irq-1-ready")?;
    next_step(b, 2, 6)?;
    wait_counters(b, &[("notifies", 16), ("interrupts raised", 16)])?;
    wait_text(b, "virtio-per-interrupt", "1.0 requests per interrupt")?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-irq-2-one-per-request")?;
    next_step(b, 3, 6)?;
    wait_counters(
        b,
        &[
            ("notifies", 17),
            ("unkicked requests", 15),
            ("interrupts raised", 17),
        ],
    )?;
    wait_text(b, "virtio-per-interrupt", "1.9 requests per interrupt")?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-irq-3-coalesced")?;
    next_step(b, 4, 6)?;
    wait_counters(
        b,
        &[("interrupts raised", 17), ("interrupts suppressed", 1)],
    )?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-irq-4-suppressed")?;
    next_step(b, 5, 6)?;
    wait_counters(
        b,
        &[("interrupts raised", 18), ("interrupts suppressed", 16)],
    )?;
    wait_text(b, "virtio-per-interrupt", "EVENT_IDX negotiated")?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-irq-5-event-idx")?;
    next_step(b, 6, 6)?;
    wait_text(b, "serial-output", "virtio-blk interrupts OK")?;
    b.screenshot("virtio-irq-6-done")?;
    Ok(())
}

/// The busy-device demo: the notifies and skipped-kick bars after each phase.
pub fn busy_demo(b: &Browser) -> Result<()> {
    open(b, "demo=virtio-busy-device")?;
    b.wait_for(&tid("virtio-notifications"))?;
    wait_counters(b, &[("notifies", 0), ("kicks skipped", 0)])?;
    next_step(b, 2, 5)?;
    wait_counters(
        b,
        &[
            ("notifies", 17),
            ("notifies while busy", 15),
            ("kicks skipped", 0),
        ],
    )?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-busy-2-always-kick")?;
    next_step(b, 3, 5)?;
    wait_counters(b, &[("notifies", 19), ("kicks skipped", 15)])?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-busy-3-no-notify")?;
    next_step(b, 4, 5)?;
    wait_counters(b, &[("notifies", 21), ("kicks skipped", 30)])?;
    wait_text(b, "virtio-per-interrupt", "EVENT_IDX negotiated")?;
    scroll_to_devices(b)?;
    b.screenshot("virtio-busy-4-avail-event")?;
    next_step(b, 5, 5)?;
    wait_text(b, "serial-output", "virtio-blk busy device OK")?;
    Ok(())
}
