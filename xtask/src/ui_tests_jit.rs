//! Browser test of the JVM panel's JIT view: the loop-heavy example runs with the JIT
//! on and prints what `java` prints; the view counts x86 instructions of compiled
//! code, lists compile and deopt events with method and pc, and shows a compiled
//! region's bytecode beside its x86.

use anyhow::{ensure, Context, Result};

use crate::browser::Browser;
use crate::ui_tests::{click_centered, count, open, select, wait_text};

/// The JIT view on `Loops` with a threshold of 10.
pub fn jit_view(b: &Browser) -> Result<()> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../jvm/examples");
    let java = std::process::Command::new("java")
        .arg("-cp")
        .arg(&examples)
        .arg("Loops")
        .output()
        .context("java runs (the xtask installs openjdk-17-jdk-headless)")?;
    let want = String::from_utf8_lossy(&java.stdout).into_owned();
    ensure!(java.status.success() && !want.is_empty(), "java ran Loops");
    open(b, "")?;
    select(b, "jvm-main", "Loops")?;
    select(b, "jvm-jit-threshold", "10")?;
    click_centered(b, "[data-testid=jvm-load]")?;
    wait_text(b, "jvm-status", "running: 0 bytecodes")?;
    click_centered(b, "[data-testid=jvm-run]")?;
    wait_text(b, "jvm-status", "finished after")?;
    let out = b.text_testid("jvm-stdout")?;
    ensure!(
        out.trim() == want.trim(),
        "with the JIT the panel printed {out:?}, java {want:?}"
    );
    let stats = b.text_testid("jvm-jit-stats")?;
    let x86: u64 = stats
        .lines()
        .find(|l| l.contains("x86 instructions of compiled code"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0);
    ensure!(x86 > 1_000_000, "compiled code ran the loops: {stats}");
    ensure!(
        count(b, "[data-testid=jvm-jit-events] tr[data-kind=compile]")? >= 3,
        "compile events are listed"
    );
    ensure!(
        count(b, "[data-testid=jvm-jit-events] tr[data-kind=deopt]")? >= 1,
        "deopt events are listed"
    );
    let events = b.text_testid("jvm-jit-events")?;
    ensure!(
        events.contains("Loops.gcd(II)I") && events.contains("invokestatic is not compiled"),
        "the events name methods and the bytecode a deopt left at: {events}"
    );
    let region = b.text_testid("jvm-jit-region")?;
    ensure!(
        region.contains("iinc") && region.contains("add e"),
        "the first region shows iinc beside its x86 add to a local's register: {region}"
    );
    b.execute(
        "document.querySelector('[data-testid=jvm-jit-region]').scrollIntoView({ block: 'start' });",
        vec![],
    )?;
    b.screenshot("lab-jvm-jit")?;
    Ok(())
}
