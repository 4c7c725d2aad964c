//! Browser tests of the disk panel: the two disk demos step by step (the qcow2
//! mapping, a click on a sector, refcounts after a snapshot, exits per controller),
//! and disks the user attaches: vmlab's qcow2 overlay, and a qcow2 image that
//! `qemu-img` made over a raw backing file, picked as files; screenshots of each.

use std::process::Command;

use crate::browser::Browser;
use crate::ui_tests::{count, js, load_program, open, pick_file, tid, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// Clusters of the first drive's map with `place`.
fn clusters(b: &Browser, place: &str) -> Result<usize> {
    count(
        b,
        &format!(
            "[data-testid=disk-drive]:first-of-type [data-testid=disk-cluster][data-place={place}]"
        ),
    )
}

/// Clicks guest sector `s` of the first drive and returns the detail line.
fn click_sector(b: &Browser, s: u64) -> Result<String> {
    js(
        b,
        &format!(
            "document.querySelector('[data-testid=disk-sector][data-sector=\"{s}\"]').click();"
        ),
    )?;
    wait_text(b, "disk-sector-detail", &format!("sector {s}:"))?;
    b.text_testid("disk-sector-detail")
}

fn scroll_to_disk(b: &Browser) -> Result<()> {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' });",
        vec![json!(tid("panel-disk"))],
    )?;
    Ok(())
}

/// Goes to step `i` of `total` (the button may sit under the toolbar after a scroll).
pub(crate) fn next_step(b: &Browser, i: usize, total: usize) -> Result<()> {
    js(
        b,
        "window.scrollTo(0, 0); document.querySelector('[data-testid=demo-next]').click();",
    )?;
    wait_text(b, "demo-step-count", &format!("step {i} of {total}"))
}

/// The copy-on-write demo: clusters from the backing file, the first write's cluster
/// (a click on its sector), the snapshot's shared refcounts, the copy after it.
pub fn cow_demo(b: &Browser) -> Result<()> {
    open(b, "demo=disk-cow-snapshots")?;
    b.wait_for(&tid("disk-mapping"))?;
    b.wait_until("eight clusters from the backing file", WAIT, |_| {
        Ok(clusters(b, "backing")? == 8)
    })?;
    scroll_to_disk(b)?;
    b.screenshot("disk-cow-1-overlay")?;
    next_step(b, 2, 5)?;
    b.wait_until("one allocated cluster", WAIT, |_| {
        Ok(clusters(b, "allocated")? == 1)
    })?;
    let cow = click_sector(b, 9)?;
    ensure!(
        cow.contains("guest cluster 1") && cow.contains("copied-on-write into this image"),
        "sector 9's detail: {cow}"
    );
    let shared = click_sector(b, 20)?;
    ensure!(
        shared.contains("guest cluster 2") && shared.contains("shared with the backing file"),
        "sector 20's detail: {shared}"
    );
    scroll_to_disk(b)?;
    b.screenshot("disk-cow-2-first-write")?;
    next_step(b, 3, 5)?;
    wait_text(b, "disk-counts", "snapshots: after-first-write")?;
    let refs = b.text_testid("disk-refcounts")?;
    ensure!(
        count(b, "[data-testid=disk-refcount].shared")? == 2,
        "two shared host clusters after the snapshot: {refs}"
    );
    scroll_to_disk(b)?;
    b.screenshot("disk-cow-3-snapshot")?;
    next_step(b, 4, 5)?;
    b.wait_until("nothing shared after the copy", WAIT, |_| {
        Ok(count(b, "[data-testid=disk-refcount].shared")? == 0)
    })?;
    let copied = click_sector(b, 10)?;
    ensure!(copied.contains("refcount 1"), "sector 10: {copied}");
    scroll_to_disk(b)?;
    b.screenshot("disk-cow-4-copy-after-snapshot")?;
    next_step(b, 5, 5)?;
    wait_text(b, "serial-output", "sector 9 again: ab")?;
    b.screenshot("disk-cow-5-read-back")?;
    Ok(())
}

/// The emulated-versus-virtio demo: two drives, the ATA read's tens of thousands of
/// exits and the virtio-blk read's handful, both buffers equal.
pub fn emulated_vs_virtio_demo(b: &Browser) -> Result<()> {
    open(b, "demo=disk-emulated-vs-virtio")?;
    b.wait_until("two drives", WAIT, |_| {
        Ok(count(b, "[data-testid=disk-drive]")? == 2)
    })?;
    b.screenshot("disk-evv-1-two-disks")?;
    next_step(b, 2, 4)?;
    wait_text(b, "disk-counts", "128 sectors read")?;
    b.screenshot("disk-evv-2-ata-pio")?;
    next_step(b, 3, 4)?;
    b.wait_until("the virtio-blk drive read 128 sectors", WAIT, |_| {
        Ok(js(
            b,
            "return document.querySelector('[data-testid=disk-drive][data-controller=virtio] [data-testid=disk-counts]').textContent;",
        )?
        .as_str()
        .is_some_and(|t| t.contains("128 sectors read")))
    })?;
    b.screenshot("disk-evv-3-virtio")?;
    next_step(b, 4, 4)?;
    wait_text(b, "serial-output", "ATA PIO: 128 sectors read")?;
    wait_text(b, "serial-output", "both disks gave the same bytes")?;
    b.screenshot("disk-evv-4-same-bytes")?;
    Ok(())
}

/// A guest that reads sector 9 from the ATA drive and halts.
const READER: &str = "bits 32\norg 0x10000\nstart:\n    mov dx, 0x1F6\n    mov al, 0xE0\n    out dx, al\n    mov dx, 0x1F2\n    mov al, 1\n    out dx, al\n    inc dx\n    mov al, 9\n    out dx, al\n    inc dx\n    xor al, al\n    out dx, al\n    inc dx\n    out dx, al\n    mov dx, 0x1F7\n    mov al, 0x20\n    out dx, al\n.poll:\n    in al, dx\n    test al, 0x08\n    jz .poll\n    mov ecx, 256\n    mov dx, 0x1F0\n    mov edi, 0x20000\n    rep insw\n    hlt\n";

/// Disks the user attaches: vmlab's overlay from the panel's button, then an image
/// `qemu-img` created over a raw backing file, picked as two files; a truncated image
/// is refused with its name.
pub fn user_disks(b: &Browser) -> Result<()> {
    load_program(b, READER, "00010000")?;
    b.wait_for(&tid("disk-none"))?;
    b.click_testid("btn-disk-qcow2")?;
    wait_text(b, "disk-drive", "qcow2 32768 bytes backed by raw")?;
    b.click_testid("btn-run")?;
    wait_text(b, "disk-counts", "1 sectors read")?;
    let detail = click_sector(b, 9)?;
    ensure!(
        detail.contains("shared with the backing file"),
        "a read copies nothing: {detail}"
    );
    scroll_to_disk(b)?;
    b.screenshot("disk-user-vmlab-overlay")?;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/disk-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let base: Vec<u8> = (0..32 * 1024u32)
        .map(|k| (k / 512 + k % 512) as u8)
        .collect();
    std::fs::write(dir.join("base.raw"), &base)?;
    let status = Command::new("qemu-img")
        .current_dir(&dir)
        .args(["create", "-q", "-f", "qcow2", "-o", "cluster_size=4096"])
        .args(["-b", "base.raw", "-F", "raw", "top.qcow2"])
        .status()
        .context("qemu-img runs (the xtask installs qemu-utils)")?;
    ensure!(status.success(), "qemu-img created the overlay");
    let top = std::fs::read(dir.join("top.qcow2"))?;
    pick_file(b, "disk-backing-file", "base.raw", &base)?;
    pick_file(b, "disk-file", "top.qcow2", &top)?;
    wait_text(
        b,
        "disk-drive",
        "qcow2 32768 bytes backed by raw 32768 bytes",
    )?;
    ensure!(clusters(b, "backing")? == 8, "qemu-img's overlay is empty");
    scroll_to_disk(b)?;
    b.screenshot("disk-user-qemu-img-overlay")?;
    pick_file(b, "disk-file", "cut.qcow2", &top[..40])?;
    wait_text(b, "status", "cut.qcow2")?;
    Ok(())
}
