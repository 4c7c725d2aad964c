//! Browser tests of the Linux demos and the process VM's container settings: each
//! step of the chroot-and-namespaces and container-vs-vm demos in presentation mode
//! at 1280×720 (its panels on one screen, its claims on the page, a screenshot), and
//! the Linux panel's root, mounts, memory cap and CPU quota reaching the container view.

use crate::browser::Browser;
use crate::ui_tests::{js, set_input, set_viewport, tid, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::json;
use vmlab_demos::manifest::Kind;

/// Opens the lab at `hash` and waits for the Linux panel (a Linux demo loads no machine).
fn open_linux(b: &Browser, hash: &str) -> Result<()> {
    b.goto("about:blank")?;
    b.open(&format!("/#{hash}"))?;
    b.wait_for(&tid("panel-linux"))
        .context("the lab never showed the Linux panel")?;
    Ok(())
}

/// Scrolls the Linux panel to the top of the window, for a screenshot.
fn scroll_to_linux(b: &Browser) -> Result<()> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' });",
        vec![json!(tid("panel-linux"))],
    )?;
    Ok(())
}

/// The text of the element with test id `id`, shown or not (a step's unfocused
/// panels are hidden).
fn content(b: &Browser, id: &str) -> Result<String> {
    let v = b.execute(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        vec![json!(tid(id))],
    )?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Waits until the element with test id `id` holds `needle`, shown or not.
fn wait_content(b: &Browser, id: &str, needle: &str) -> Result<()> {
    let mut last = String::new();
    b.wait_until(&format!("{id} to hold {needle:?}"), WAIT, |_| {
        last = content(b, id)?;
        Ok(last.contains(needle))
    })
    .with_context(|| format!("{id} holds {last:?}"))
}

/// The problems with how the panels `ids` sit on the screen: missing, too small,
/// outside the viewport, a page that scrolls.
fn layout_problems(b: &Browser, ids: &[&str]) -> Result<String> {
    let v = b.execute(
        "const out = [];
         for (const id of arguments[0]) {
           const e = document.querySelector(`[data-testid=${id}]`);
           if (!e) { out.push(id + ' is missing'); continue; }
           const r = e.getBoundingClientRect();
           if (r.width < 200 || r.height < 80) out.push(`${id} is ${r.width}×${r.height}`);
           if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5)
             out.push(`${id} at ${r.left},${r.top}–${r.right},${r.bottom} leaves the viewport`);
         }
         const d = document.documentElement;
         if (d.scrollWidth > innerWidth) out.push(`the page is ${d.scrollWidth} px wide`);
         if (d.scrollHeight > innerHeight) out.push(`the page is ${d.scrollHeight} px tall`);
         return out.join('; ');",
        vec![json!(ids)],
    )?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Steps through Linux demo `id` in presentation mode: each step's status, output
/// and newest call as its claims say, its panels on one 1280×720 screen, a screenshot.
fn present(b: &Browser, id: &str) -> Result<()> {
    let demo = vmlab_demos::find(id).with_context(|| format!("no demo {id}"))?;
    ensure!(demo.manifest.kind == Kind::Linux, "{id} is a Linux demo");
    set_viewport(b, 1280, 720)?;
    open_linux(b, &format!("demo={id}"))?;
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation.demo-focus")
        .with_context(|| format!("{id}: presentation mode focuses the step"))?;
    let total = demo.steps().len();
    for (i, step) in demo.steps().iter().enumerate() {
        let at = format!("{id} step {}", i + 1);
        if i > 0 {
            b.click_testid("demo-next")?;
        }
        wait_text(b, "demo-step-count", &format!("step {} of {total}", i + 1))?;
        let l = step.linux.as_ref().context("a Linux step")?;
        let e = &l.expect;
        if let Some(state) = &e.state {
            let word = if state == "exited" {
                "exited with status"
            } else {
                state
            };
            wait_content(b, "linux-status", word).with_context(|| at.clone())?;
        }
        if let Some(status) = e.status {
            wait_content(b, "linux-status", &format!("exited with status {status}"))
                .with_context(|| at.clone())?;
        }
        if let Some(n) = e.syscalls {
            b.wait_until(&format!("{at}: {n} calls listed"), WAIT, |_| {
                Ok(b.find_all(&format!("{} tbody tr", tid("linux-strace")))?
                    .len() as u64
                    == n)
            })?;
        }
        if let Some(text) = &e.stdout {
            wait_content(b, "linux-stdout", text).with_context(|| at.clone())?;
        }
        if let Some(name) = &e.last_syscall {
            let mut newest = String::new();
            b.wait_until(&format!("{at}: the newest call is {name}"), WAIT, |_| {
                let v = js(
                    b,
                    "const r = [...document.querySelectorAll('[data-testid=linux-strace] tbody tr')].pop(); return r ? r.textContent : '';",
                )?;
                newest = v.as_str().unwrap_or_default().to_string();
                Ok(newest.contains(&format!("{name}(")))
            })
            .with_context(|| format!("{at}: the newest call reads {newest:?}"))?;
        }
        if l.compare {
            b.wait_until(&format!("{at}: four ways"), WAIT, |_| {
                Ok(b.find_all(&format!("{} tbody tr", tid("linux-ways")))?
                    .len()
                    == 4)
            })?;
            for (way, n) in &e.ring_switches {
                let cell = js(
                    b,
                    &format!("const r = document.querySelector('[data-testid=linux-ways] tr[data-way={way}]'); return r ? r.children[5].textContent : '';"),
                )?;
                ensure!(
                    cell == json!(n.to_string()),
                    "{at}: {way} ring switches read {cell}"
                );
            }
        }
        let focus: Vec<&str> = step.focus.iter().map(|p| p.testid()).collect();
        let mut problems = String::new();
        let shown = b.wait_until(&format!("{at}: its panels on one screen"), WAIT, |_| {
            problems = layout_problems(b, &focus)?;
            Ok(problems.is_empty())
        });
        b.screenshot(&format!("present-{id}-{}", i + 1))?;
        shown.with_context(|| format!("{at}: {problems}"))?;
    }
    b.click_testid("btn-presentation")?;
    set_viewport(b, 1280, 800)?;
    Ok(())
}

/// The chroot-and-namespaces demo, step by step, then its container view in the full lab.
pub fn chroot_namespaces(b: &Browser) -> Result<()> {
    present(b, "chroot-namespaces")?;
    open_linux(b, "demo=chroot-namespaces&step=2")?;
    wait_text(
        b,
        "linux-view-pid",
        "1 inside its PID namespace, 4200 on the host",
    )?;
    wait_text(b, "linux-view-hostname", "box1")?;
    wait_text(b, "linux-view-root", "/jail")?;
    wait_text(b, "linux-mounts-table", "read-only")?;
    scroll_to_linux(b)?;
    b.screenshot("demo-chroot-namespaces")?;
    Ok(())
}

/// The container-vs-vm demo, step by step.
pub fn container_vs_vm(b: &Browser) -> Result<()> {
    present(b, "container-vs-vm")
}

/// The Linux panel's container settings: a root, a read-only mount, a memory cap and
/// a CPU quota reach the run, and the container view shows each; a malformed quota
/// is refused by name.
pub fn container_settings(b: &Browser) -> Result<()> {
    open_linux(b, "")?;
    // The page's own start-up load reports in the status line too: let it land first.
    wait_text(b, "status", "loaded")?;
    set_input(b, "linux-cpu-quota", "fast")?;
    b.click_testid("linux-run-example")?;
    wait_text(b, "status", "CPU quota: \"fast\" is not N/PERIOD")?;
    set_input(b, "linux-root", "/jail")?;
    set_input(b, "linux-hostname", "box1")?;
    set_input(b, "linux-mounts", "/srv/data:/data:ro")?;
    set_input(b, "linux-mem-limit", "1M")?;
    set_input(b, "linux-cpu-quota", "10/1000")?;
    b.click_testid("linux-run-example")?;
    wait_text(b, "linux-status", "exited with status 0")?;
    wait_text(b, "linux-stdout", "running on host box1")?;
    wait_text(b, "linux-view-root", "/jail")?;
    wait_text(b, "linux-mounts-table", "/jail/data")?;
    let bar = |id: &str| -> Result<(u64, u64)> {
        let v = js(
            b,
            &format!("const e = document.querySelector('[data-testid={id}]'); return e ? [+e.dataset.part, +e.dataset.whole] : null;"),
        )?;
        let n = |i: usize| v[i].as_u64().unwrap_or(0);
        ensure!(v.is_array(), "no {id}");
        Ok((n(0), n(1)))
    };
    let (peak, cap) = bar("linux-mem-bar")?;
    ensure!(
        cap == 1 << 20 && peak > 0 && peak < cap,
        "memory bar {peak} of {cap}"
    );
    let (held, elapsed) = bar("linux-cpu-bar")?;
    ensure!(
        held > 0 && held < elapsed,
        "the quota held back {held} of {elapsed} ns"
    );
    scroll_to_linux(b)?;
    b.screenshot("lab-linux-container-settings")?;
    Ok(())
}
