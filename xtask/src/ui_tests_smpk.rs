//! Browser test of the multiprocessor start-up lab: the starter's visible score is
//! below the reference's, which passes every visible test on one, two and four CPUs.

use std::time::Duration;

use crate::browser::Browser;
use crate::ui_tests::{open, select, set_source, tid, wait_text};
use anyhow::{ensure, Result};

const LAB: &str = "smp-bringup";

/// Runs the visible tests and returns the score line once it is shown.
fn visible_score(b: &Browser) -> Result<String> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![serde_json::json!(tid("lab-run-tests"))],
    )?;
    b.click_testid("lab-run-tests")?;
    b.wait_for_within(&tid("lab-results"), Duration::from_secs(60))?;
    wait_text(b, "lab-score", "visible tests:")?;
    b.text_testid("lab-score")
}

/// The number before the slash of a "visible tests: X / Y" line.
fn points(score: &str) -> Result<f64> {
    let after = score.split("visible tests:").nth(1).unwrap_or_default();
    let got = after.split('/').next().unwrap_or_default().trim();
    got.parse()
        .map_err(|_| anyhow::anyhow!("no score in {score:?}"))
}

/// The starter starts no AP and scores less; the reference brings them all up.
pub(crate) fn smp_bringup_lab(b: &Browser) -> Result<()> {
    open(b, "")?;
    select(b, "lab-menu", LAB)?;
    b.wait_for(&format!("[data-testid=lab-page][data-lab=\"{LAB}\"]"))?;
    wait_text(b, "lab-statement", "INIT")?;
    let starter = visible_score(b)?;
    b.screenshot("lab-smp-bringup-starter")?;
    let solution = std::fs::read_to_string(
        crate::workspace_root().join("assignments/labs/smp-bringup/solution.asm"),
    )?;
    set_source(b, &solution)?;
    let reference = visible_score(b)?;
    ensure!(
        points(&starter)? < points(&reference)?,
        "the starter ({starter}) scores below the reference ({reference})"
    );
    ensure!(
        b.text_testid("lab-results")?
            .contains("four CPUs, quantum 1"),
        "the four-CPU test is listed"
    );
    b.screenshot("lab-smp-bringup")?;
    Ok(())
}
