//! Browser tests of the JIT demo and of stepping into compiled code: the demo runs to
//! the compile event, steps the x86 with the bytecode marked, opens the JIT's machine
//! in the registers and disassembly panels (their Step moves the mark), deoptimizes at
//! the call and ends with what `java` prints; by hand, the JIT view runs to the next
//! compile and deopt.

use anyhow::{ensure, Context, Result};
use serde_json::json;

use crate::browser::Browser;
use crate::ui_tests::{click_centered, count, open, reg, select, tid, wait_reg, wait_text};
use crate::ui_tests_jvmlab::demo_step;

/// What `java` prints for the embedded example `main`.
fn java_prints(main: &str) -> Result<String> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../jvm/examples");
    let out = std::process::Command::new("java")
        .arg("-cp")
        .arg(&examples)
        .arg(main)
        .output()
        .context("java runs (the xtask installs openjdk-17-jdk-headless)")?;
    ensure!(out.status.success(), "java ran {main}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Scrolls `css` to the top of the window, for a screenshot.
fn show(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(css)?;
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' });",
        vec![json!(css)],
    )?;
    Ok(())
}

/// Clicks the demo's "Next step" until step `n` (from 1) is shown.
fn next_to(b: &Browser, n: usize) -> Result<()> {
    for _ in 0..n {
        if b.text_testid("jvm-demo-step-title")?
            .starts_with(&format!("Step {n} of"))
        {
            return Ok(());
        }
        let shown = b.text_testid("jvm-demo-step-title")?;
        click_centered(b, &tid("jvm-demo-next"))?;
        b.wait_until("the next step", crate::ui_tests::WAIT, |_| {
            Ok(b.text_testid("jvm-demo-step-title")? != shown)
        })?;
    }
    wait_text(b, "jvm-demo-step-title", &format!("Step {n} of"))
}

/// EIP as the registers panel shows it.
fn eip(b: &Browser) -> Result<u32> {
    let text = reg(b, "eip")?;
    u32::from_str_radix(&text, 16).with_context(|| format!("eip reads {text:?}"))
}

/// The JIT demo, step by step, with its compiled code opened and stepped in the
/// machine panels.
pub fn jit_demo(b: &Browser) -> Result<()> {
    let want = java_prints("Hot")?;
    open(b, "")?;
    demo_step(b, "jit", 2)?;
    wait_text(b, "jvm-jit-staged", "waits at pc 4")?;
    let events = b.text_testid("jvm-jit-events")?;
    ensure!(
        events.contains("compile") && events.contains("Hot.sumOfSquares(I)I"),
        "the compile event names the method: {events}"
    );
    next_to(b, 4)?;
    wait_text(b, "jvm-jit-eip", "is in the x86 of pc")?;
    ensure!(
        count(b, &tid("jvm-jit-current"))? >= 1,
        "the stepped bytecode is marked"
    );
    show(b, &tid("jvm-jit-step"))?;
    b.screenshot("jitdemo-stepped-x86")?;
    click_centered(b, &tid("jvm-jit-open"))?;
    wait_reg(b, "ebp", "the JIT's frame base in EBP", |v| v == "00100000")?;
    let first = eip(b)?;
    ensure!(
        (0x1000..0x10_0000).contains(&first),
        "EIP {first:#x} is in the code cache"
    );
    wait_text(b, "jvm-jit-eip", &format!("EIP {first:#x}"))?;
    ensure!(
        count(b, "[data-testid=disasm-line].eip")? == 1,
        "the disassembly marks EIP"
    );
    for _ in 0..3 {
        let before = eip(b)?;
        click_centered(b, &tid("btn-step"))?;
        wait_reg(b, "eip", "a step of the compiled code", |v| {
            u32::from_str_radix(v, 16).is_ok_and(|e| e != before)
        })?;
    }
    let now = eip(b)?;
    wait_text(b, "jvm-jit-eip", &format!("EIP {now:#x}"))?;
    ensure!(
        count(b, &tid("jvm-jit-current"))? >= 1,
        "the bytecode of the panels' EIP is marked"
    );
    show(b, &tid("panel-disasm"))?;
    b.screenshot("jitdemo-in-panels")?;
    show(b, &tid("jvm-jit-step"))?;
    b.screenshot("jitdemo-in-panels-bytecode")?;
    next_to(b, 6)?;
    wait_text(b, "jvm-frames", "13 invokestatic")?;
    let events = b.text_testid("jvm-jit-events")?;
    ensure!(
        events.contains("Hot.main") && events.contains("invokestatic is not compiled"),
        "the deopt at the call: {events}"
    );
    show(b, &tid("jvm-jit"))?;
    b.screenshot("jitdemo-deopt")?;
    next_to(b, 7)?;
    wait_text(b, "jvm-status", "finished after")?;
    let out = b.text_testid("jvm-stdout")?;
    ensure!(out.trim() == want.trim(), "printed {out:?}, java {want:?}");
    wait_text(b, "jvm-demo-compare", "times fewer")?;
    b.execute(
        "document.querySelector('[data-testid=jvm-jit-stats]').scrollIntoView({ block: 'center' });",
        vec![],
    )?;
    b.screenshot("jitdemo-counts")?;
    Ok(())
}

/// By hand: Hot with the JIT after 10, run to the next compile (the code waits), to
/// the next deopt (at main's call), then to the end.
pub fn jit_by_hand(b: &Browser) -> Result<()> {
    let want = java_prints("Hot")?;
    open(b, "")?;
    select(b, "jvm-main", "Hot")?;
    select(b, "jvm-jit-threshold", "10")?;
    click_centered(b, &tid("jvm-load"))?;
    wait_text(b, "jvm-status", "running: 0 bytecodes")?;
    click_centered(b, &tid("jvm-jit-to-compile"))?;
    wait_text(b, "jvm-jit-staged", "compiled code waits at pc")?;
    ensure!(
        count(b, "[data-testid=jvm-jit-events] tr[data-kind=compile]")? == 1,
        "one compile event"
    );
    click_centered(b, &tid("jvm-jit-to-deopt"))?;
    wait_text(b, "jvm-jit-events", "invokestatic is not compiled")?;
    wait_text(b, "jvm-frames", "invokestatic")?;
    show(b, &tid("jvm-jit"))?;
    b.screenshot("jitdemo-by-hand-deopt")?;
    click_centered(b, &tid("jvm-run"))?;
    wait_text(b, "jvm-status", "finished after")?;
    let out = b.text_testid("jvm-stdout")?;
    ensure!(out.trim() == want.trim(), "printed {out:?}, java {want:?}");
    Ok(())
}
