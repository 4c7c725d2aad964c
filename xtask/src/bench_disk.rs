//! The disk row of `cargo xtask bench`: VM exits per MiB moved under trap-emulate by
//! the ATA PIO guest (`guests/disk/ata_pio.asm`) and the virtio-blk guest
//! (`guests/disk/virtio_blk.asm`), the same work (sector 0 read, sector 1 written and
//! read back, 1 MiB read) through `vmlab run --disk … --json`; and the virtio-blk
//! guest built with `BATCH`, which hands its 16 bulk requests over with one notify.

use std::process::Command;

use anyhow::{bail, Result};
use serde_json::Value;

use crate::bench::{assemble, bench_dir, guest_report, report_number, Row};

/// How many times fewer exits virtio-blk must take.
const TARGET: f64 = 20.0;

/// Runs one guest on a fresh 2 MiB raw disk: (exits, sectors moved).
fn run(
    vmlab: &std::path::Path,
    guest: &str,
    defines: &[(&str, String)],
    disk_if: &str,
) -> Result<(f64, f64)> {
    let bin = assemble(guest, defines, &format!("{disk_if}-disk.bin"))?;
    let disk = bench_dir().join(format!("{disk_if}-disk.raw"));
    std::fs::write(&disk, vec![0u8; 2 << 20])?;
    let mut cmd = Command::new(vmlab);
    cmd.args(["run", "--flat", "0x10000"])
        .arg(&bin)
        .args(["--entry", "pm32", "--disk"])
        .arg(format!("{},format=raw", disk.display()))
        .args(["--disk-if", disk_if, "--mode", "trap-emulate", "--json"]);
    let v = guest_report(&mut cmd, guest)?;
    let n = |p: &Value| report_number(p, guest);
    let exits = n(&v["vmm"]["exits"]["total"])?;
    let sectors = n(&v["disk"]["sectors_read"])? + n(&v["disk"]["sectors_written"])?;
    if sectors < 2048.0 {
        bail!("guests/{guest} moved only {sectors} sectors");
    }
    Ok((exits, sectors))
}

/// The row: both figures and their ratio.
pub fn rows() -> Result<Vec<Row>> {
    let vmlab = crate::bench_grade::build_vmlab()?;
    let per_mib = |(exits, sectors): (f64, f64)| exits * 2048.0 / sectors;
    let ata = per_mib(run(&vmlab, "disk/ata_pio.asm", &[], "ata")?);
    let virtio = per_mib(run(&vmlab, "disk/virtio_blk.asm", &[], "virtio")?);
    let batch = [("BATCH", "1".to_string())];
    let batched = per_mib(run(&vmlab, "disk/virtio_blk.asm", &batch, "virtio")?);
    let ratio = ata / virtio.max(1.0);
    println!(
        "exits per MiB moved under trap-emulate: ATA PIO {ata:.0}, virtio-blk {virtio:.0}, batched {batched:.0}"
    );
    Ok(vec![Row::new(
        "disk: VM exits per MiB (trap-emulate), ATA PIO / virtio-blk",
        format!(
            "{ata:.0} / {virtio:.0} = {ratio:.0}x fewer with virtio-blk ({batched:.0} with one notify per batch)"
        ),
        &format!(">= {TARGET:.0}x fewer"),
        Some(ratio >= TARGET),
    )])
}
