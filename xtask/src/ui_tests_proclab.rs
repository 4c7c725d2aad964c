//! Browser tests of the process-VM labs: container-or-vm's visible tests run in the
//! page on the process VM (the starter earns the process test only, the reference
//! every test), and procvm-memory opens with its statement and Rust starter.

use anyhow::{ensure, Result};

use crate::browser::Browser;
use crate::ui_tests::{
    count, editor_text, fresh_lab, lab_file, run_lab_tests, set_source, wait_text,
};

/// The names of the visible tests that passed, in order.
fn passed(b: &Browser) -> Result<Vec<String>> {
    let v = crate::ui_tests::js(
        b,
        "return [...document.querySelectorAll('[data-testid=lab-test][data-passed=true] strong')].map(e => e.textContent);",
    )?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// Opens `lab` fresh, checks that its statement has each of `words` and the editor
/// its starter (a line of it), and runs the visible tests.
fn open_and_run(b: &Browser, lab: &str, words: &[&str], starter_line: &str) -> Result<()> {
    fresh_lab(b, lab)?;
    let statement = b.text_testid("lab-statement")?;
    for w in words {
        ensure!(
            statement.contains(w),
            "{lab}: the statement has {w:?}: {statement}"
        );
    }
    ensure!(
        editor_text(b)?.contains(starter_line),
        "{lab}: the editor holds the starter"
    );
    run_lab_tests(b)
}

/// The starter tells a process only; the reference also a container (pid 1 in its
/// PID namespace) and a unikernel (ring 0), all run in the page's process VM.
pub(crate) fn container_or_vm(b: &Browser) -> Result<()> {
    open_and_run(
        b,
        "container-or-vm",
        &["PID namespace", "unikernel"],
        "TODO: tell a container",
    )?;
    wait_text(b, "lab-score", "visible tests: 1 / 5")?;
    ensure!(
        count(b, "[data-testid=lab-test]")? == 3,
        "three visible tests"
    );
    let ok = passed(b)?;
    ensure!(
        ok.len() == 1 && ok[0].contains("as a process"),
        "only the process test passes: {ok:?}"
    );
    let results = b.text_testid("lab-results")?;
    ensure!(
        results.contains("expected \"container\\n\", got \"process\\n\""),
        "the failure says what the program printed: {results}"
    );
    let setup = b.text_testid("lab-setup")?;
    ensure!(
        setup.contains("static i386 Linux ELF"),
        "the setup line says the process VM runs the program: {setup}"
    );
    ensure!(
        count(b, "[data-testid=lab-debug]")? == 3,
        "each result keeps its debug button"
    );
    b.screenshot("lab-container-or-vm-starter")?;
    set_source(b, &lab_file("container-or-vm", "solution.asm")?)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 5 / 5")?;
    ensure!(passed(b)?.len() == 3, "every visible test passes");
    b.screenshot("lab-container-or-vm-reference")?;
    Ok(())
}

/// The memory-calls component lab opens with the trait in its statement and the Rust
/// starter, and says it is graded natively.
pub(crate) fn procvm_memory(b: &Browser) -> Result<()> {
    open_and_run(
        b,
        "procvm-memory",
        &["MemoryCalls", "MAP_FIXED"],
        "impl MemoryCalls for Submission",
    )?;
    wait_text(b, "lab-results", "graded natively")?;
    b.screenshot("lab-procvm-memory")?;
    Ok(())
}
