//! Browser tests of the device labs: the virtio-blk driver lab's visible tests run in
//! the page with a disk attached to each test's machine; the reference passes all of
//! them, the starter none; debugging a test shows the PCI bus and the virtqueue's
//! rings in the devices panel, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{
    click_centered, editor_text, fresh_lab, lab_file, run_lab_tests, set_source, wait_text,
};
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
    // Debugging the first test runs the reference to its end on a machine with the
    // test's disk: the devices panel shows the function, the driver's status and the
    // queue after the read and the write (two used entries, chains of three).
    click_centered(b, "[data-testid=lab-debug][data-test=\"0\"]")?;
    wait_text(b, "lab-setup", "Debugging test 1")?;
    wait_text(b, "pci-functions", "1af4:1001")?;
    wait_text(b, "panel-devices", "DRIVER_OK")?;
    wait_text(b, "virtq-used", "used: index 2")?;
    wait_text(b, "virtq-descriptors", "1 0x41000 512 NEXT 2")?;
    wait_text(b, "virtq-descriptors", "2 0x40010 1 WRITE")?;
    // The device is transitional: the lab's driver uses the legacy block, and the
    // panel lists the modern interface's capabilities in memory BAR 4.
    wait_text(b, "virtio-transport", "legacy interface in use")?;
    wait_text(b, "virtio-transport", "common BAR4 +0x0 (56 bytes)")?;
    wait_text(b, "virtio-transport", "notify BAR4 +0x300 (256 bytes)")?;
    wait_text(b, "pci-functions", "BAR4 memory 0xfeb00000")?;
    b.execute(
        "document.querySelector('[data-testid=panel-devices]').scrollIntoView();",
        vec![],
    )?;
    b.screenshot("lab-devices-panel")?;
    set_source(b, &starter)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 0 / 8")?;
    wait_text(b, "lab-results", "disk: sectors changed: none; expected 9")?;
    b.screenshot("lab-virtio-blk-starter")?;
    Ok(())
}
