//! Browser tests of the device labs: the virtio-blk driver lab's visible tests run in
//! the page with a disk attached to each test's machine; the reference passes all of
//! them, the starter none, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{editor_text, fresh_lab, lab_file, run_lab_tests, set_source, wait_text};
use anyhow::{ensure, Result};

/// The virtio-blk lab: statement, starter in the editor, the reference's full visible
/// score and the starter's zero, each test's disk checked in the worker.
pub fn virtio_blk_lab(b: &Browser) -> Result<()> {
    fresh_lab(b, "virtio-blk")?;
    let statement = b.text_testid("lab-statement")?;
    ensure!(
        statement.contains("virtqueue") && statement.contains("0x1001"),
        "the statement describes the device: {statement}"
    );
    let starter = lab_file("virtio-blk", "starter.asm")?;
    ensure!(
        editor_text(b)?.contains("; TODO: the three descriptors"),
        "the editor holds the starter"
    );
    set_source(b, &lab_file("virtio-blk", "solution.asm")?)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 8 / 8")?;
    b.screenshot("lab-virtio-blk-reference")?;
    set_source(b, &starter)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 0 / 8")?;
    wait_text(b, "lab-results", "disk: sectors changed: none; expected 9")?;
    b.screenshot("lab-virtio-blk-starter")?;
    Ok(())
}
