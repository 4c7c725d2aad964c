//! Browser tests of the pre-copy stop lab (`precopy-stop`): its statement and Rust
//! starter, its visible tests run in the page with the reference policy (full marks)
//! and the starter (less), and the rounds each policy ran on the moderate writer, with
//! screenshots.

use std::time::Duration;

use crate::browser::Browser;
use crate::ui_tests::{
    click_centered, editor_text, fresh_lab, js, lab_file, run_lab_tests, tid, wait_text,
};
use anyhow::{ensure, Context, Result};

/// The points of the lab's visible tests, from its test file.
fn visible_points() -> Result<f64> {
    let text = lab_file("precopy-stop", "tests/visible.toml")?;
    let mut sum = 0.0;
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("points = ") {
            sum += v.parse::<f64>().context("points")?;
        }
    }
    Ok(sum)
}

/// The `a / b` score a results block shows.
fn score(b: &Browser, id: &str) -> Result<(f64, f64)> {
    let text = b.text_testid(id)?;
    let (_, nums) = text.rsplit_once(": ").context("a score")?;
    let (got, max) = nums.split_once(" / ").context("a score")?;
    Ok((got.trim().parse()?, max.trim().parse()?))
}

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
    let starter = lab_file("precopy-stop", "starter.rs")?;
    let first = starter
        .lines()
        .find(|l| l.contains("impl StopPolicy"))
        .unwrap_or("?");
    ensure!(
        editor_text(b)?.contains(first),
        "the editor holds the Rust starter"
    );
    run_lab_tests(b)?;
    wait_text(b, "lab-results", "graded natively")?;

    click_centered(b, &tid("precopy-lab-run"))?;
    b.wait_for_within(&tid("precopy-lab-starter-score"), Duration::from_secs(300))?;
    let max = visible_points()?;
    let (r, rmax) = score(b, "precopy-lab-reference-score")?;
    ensure!(
        r == max && rmax == max,
        "the reference scores {r}/{rmax}, not {max}"
    );
    let (s, smax) = score(b, "precopy-lab-starter-score")?;
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
