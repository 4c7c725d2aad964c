//! Browser tests of the pre-copy stop lab (`precopy-stop`): its statement and Rust
//! starter, its visible tests run in the page with the reference policy (full marks)
//! and the starter (less), and the rounds each policy ran on the moderate writer, with
//! screenshots.

use std::time::Duration;

use crate::browser::Browser;
use crate::ui_tests::{
    click_centered, fresh_lab, js, rust_starter_graded_natively, shown_score, tid, visible_points,
};
use anyhow::{ensure, Context, Result};

/// The lab opens with its statement and starter; "Run visible tests" says the Rust is
/// graded natively; the page's own run gives the reference full marks and the starter
/// less; on the moderate writer the reference runs more rounds and stays within the
/// downtime limit, the starter stops after round 0 and goes over it.
pub fn lab(b: &Browser) -> Result<()> {
    fresh_lab(b, "precopy-stop")?;
    let statement = b.text_testid("lab-statement")?;
    ensure!(
        statement.contains("downtime") && statement.contains("Xen"),
        "the statement explains the limits: {statement}"
    );
    rust_starter_graded_natively(b, "precopy-stop", "impl StopPolicy")?;

    click_centered(b, &tid("precopy-lab-run"))?;
    b.wait_for_within(&tid("precopy-lab-starter-score"), Duration::from_secs(300))?;
    let max = visible_points("precopy-stop")?;
    let (r, rmax) = shown_score(b, "precopy-lab-reference-score")?;
    ensure!(
        r == max && rmax == max,
        "the reference scores {r}/{rmax}, not {max}"
    );
    let (s, smax) = shown_score(b, "precopy-lab-starter-score")?;
    ensure!(
        s < smax && smax == max,
        "the starter scores {s}/{smax}, less than {max}"
    );
    js(
        b,
        "document.querySelector('[data-testid=precopy-lab-run]').scrollIntoView({ block: 'start' }); window.scrollBy(0, -90);",
    )?;
    b.screenshot("precopylab-scores")?;

    let reference = b.text_testid("precopy-lab-reference-moderate-1g-figures")?;
    ensure!(
        reference.contains("2 rounds") && reference.contains("within the limits"),
        "the reference on the moderate writer: {reference}"
    );
    let starter = b.text_testid("precopy-lab-starter-moderate-1g-figures")?;
    ensure!(
        starter.contains("1 rounds") && starter.contains("over a limit"),
        "the starter on the moderate writer: {starter}"
    );
    let bars = |who: &str| -> Result<u64> {
        let n = js(
            b,
            &format!(
                "return document.querySelectorAll('[data-testid=precopy-lab-{who}-moderate-1g] rect.round-sent').length;"
            ),
        )?;
        n.as_u64().context("a count of rounds")
    };
    ensure!(
        bars("reference")? == 2 && bars("starter")? == 1,
        "round bars drawn per policy"
    );
    js(
        b,
        "document.querySelector('[data-testid=precopy-lab-reference-moderate-1g]').scrollIntoView({ block: 'start' }); window.scrollBy(0, -90);",
    )?;
    b.screenshot("precopylab-moderate-rounds")?;
    Ok(())
}
