//! Browser test of the balloon-driver lab: its visible tests run the submission as a VM
//! of the multi-VM host in the page; the reference gets full marks, the starter (which
//! inflates nothing) only the empty-balloon test, with screenshots of both.

use crate::browser::Browser;
use crate::ui_tests::{editor_text, fresh_lab, lab_file, run_lab_tests, set_source, wait_text};
use anyhow::{ensure, Result};

/// The balloon-driver lab: statement, starter in the editor, the reference's full
/// visible score, the starter's lower one and the message that says why.
pub fn balloon_driver_lab(b: &Browser) -> Result<()> {
    fresh_lab(b, "balloon-driver")?;
    let statement = b.text_testid("lab-statement")?;
    ensure!(
        statement.contains("HC_BALLOON_GIVE") && statement.contains("balloon_step"),
        "the statement describes the hypercalls and the driver: {statement}"
    );
    ensure!(
        editor_text(b)?.contains("; TODO: inflate and deflate the balloon."),
        "the editor holds the starter"
    );
    set_source(b, &lab_file("balloon-driver", "solution.asm")?)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 7 / 7")?;
    b.screenshot("lab-balloon-driver-reference")?;
    set_source(b, &lab_file("balloon-driver", "starter.asm")?)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 1 / 7")?;
    wait_text(
        b,
        "lab-results",
        "the host holds 0 pages of the balloon; expected 200",
    )?;
    b.screenshot("lab-balloon-driver-starter")?;
    Ok(())
}
