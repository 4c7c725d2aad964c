//! Browser tests of the JVM demos and labs: the stack-machine and garbage-collection
//! demos played step by step in the JVM panel (frames, operand stack, heap and
//! counters as each step claims), and the jvm-bytecodes and gc-mark component labs'
//! statements, starters and native grading, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{
    click_centered, editor_text, fresh_lab, js, lab_file, open, run_lab_tests, select, tid,
    wait_text,
};
use anyhow::{ensure, Result};

/// Picks JVM demo `id` and clicks "Next step" until step `n` (from 1) is shown.
pub(crate) fn demo_step(b: &Browser, id: &str, n: usize) -> Result<()> {
    select(b, "jvm-demo-pick", id)?;
    wait_text(b, "jvm-demo-step-title", "Step 1 of")?;
    for i in 2..=n {
        click_centered(b, &tid("jvm-demo-next"))?;
        wait_text(b, "jvm-demo-step-title", &format!("Step {i} of"))?;
    }
    Ok(())
}

/// Scrolls the heap view to the middle of the window, for its screenshot.
fn show_heap(b: &Browser) -> Result<()> {
    b.wait_for("[data-testid=jvm-heap]")?;
    js(
        b,
        "document.querySelector('[data-testid=jvm-heap]').scrollIntoView({ block: 'center' });",
    )?;
    Ok(())
}

/// The text of the top frame's row in the frame table.
fn top_frame(b: &Browser) -> Result<String> {
    let v = js(
        b,
        "const r = document.querySelector('[data-testid=jvm-frames] tbody tr'); return r ? r.textContent : '';",
    )?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// The stack-machine demo: `bipush` pushes 7, the loop's operands wait on the stack
/// before `imul`, a call pushes Tree.insert's frame, and the run ends with what
/// `java` prints.
pub fn stack_machine_demo(b: &Browser) -> Result<()> {
    open(b, "")?;
    demo_step(b, "stack-machine", 2)?;
    wait_text(b, "jvm-status", "running: 1 bytecodes")?;
    let top = top_frame(b)?;
    ensure!(
        top.contains("Garbage.main") && top.contains("2 istore_1") && top.ends_with('7'),
        "bipush 7 left 7 on the stack: {top}"
    );
    click_centered(b, &tid("jvm-demo-next"))?;
    click_centered(b, &tid("jvm-demo-next"))?;
    wait_text(b, "jvm-demo-step-title", "Step 4 of")?;
    let top = top_frame(b)?;
    ensure!(
        top.contains("15 imul") && top.ends_with("7 31"),
        "imul's operands on the stack: {top}"
    );
    wait_text(b, "jvm-demo-focus", "jvm-frames")?;
    b.screenshot("jvmlab-stack-machine-operands")?;
    click_centered(b, &tid("jvm-demo-next"))?;
    click_centered(b, &tid("jvm-demo-next"))?;
    wait_text(b, "jvm-demo-step-title", "Step 6 of")?;
    let top = top_frame(b)?;
    ensure!(
        top.contains("Tree.insert") && top.contains("null 0"),
        "Tree.insert's frame with its arguments: {top}"
    );
    let frames = js(
        b,
        "return document.querySelectorAll('[data-testid=jvm-frames] tbody tr').length;",
    )?;
    ensure!(frames.as_u64() == Some(2), "two frames: {frames}");
    b.screenshot("jvmlab-stack-machine-call")?;
    Ok(())
}

/// The garbage-collection demo: the first mark-sweep collection reclaims 501
/// objects, the copying rerun moves every survivor, and both print what `java` does.
pub fn garbage_collection_demo(b: &Browser) -> Result<()> {
    open(b, "")?;
    demo_step(b, "garbage-collection", 2)?;
    wait_text(b, "jvm-gc-stats", "mark-sweep")?;
    let stats = b.text_testid("jvm-gc-stats")?;
    ensure!(
        stats.contains("16416"),
        "the first collection reclaimed 16,416 bytes: {stats}"
    );
    show_heap(b)?;
    b.screenshot("jvmlab-gc-mark-sweep")?;
    demo_step(b, "garbage-collection", 5)?;
    wait_text(b, "jvm-gc-stats", "copying")?;
    let stats = b.text_testid("jvm-gc-stats")?;
    ensure!(
        stats.contains("451"),
        "two copying collections moved 229 + 222 objects: {stats}"
    );
    show_heap(b)?;
    b.screenshot("jvmlab-gc-copying")?;
    click_centered(b, &tid("jvm-demo-next"))?;
    wait_text(b, "jvm-stdout", "574240")?;
    wait_text(b, "jvm-stdout", "97642")?;
    Ok(())
}

/// Both JVM component labs open with their statement and Rust starter and say
/// their tests are graded natively.
pub fn component_labs(b: &Browser) -> Result<()> {
    for (lab, trait_line, rule) in [
        ("jvm-bytecodes", "impl IntBytecodes", "low **five** bits"),
        ("gc-mark", "impl Marker", "Garbage reclaimed"),
    ] {
        fresh_lab(b, lab)?;
        let statement = b.text_testid("lab-statement")?;
        let rule = rule.replace("**", "");
        ensure!(
            statement.contains(&rule),
            "{lab}: the statement gives its rules: {statement}"
        );
        let starter = lab_file(lab, "starter.rs")?;
        let first = starter
            .lines()
            .find(|l| l.contains(trait_line))
            .unwrap_or("?");
        ensure!(
            editor_text(b)?.contains(first),
            "{lab}: the editor holds the Rust starter"
        );
        run_lab_tests(b)?;
        wait_text(b, "lab-results", "graded natively")?;
        b.screenshot(&format!("jvmlab-lab-{lab}"))?;
    }
    Ok(())
}
