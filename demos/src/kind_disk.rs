//! The manifest keys of a machine demo with a disk: `[disk]` (the image the machine
//! gets and which controller it sits on), a step's `[step.disk]` actions and its
//! `[step.expect.disk]` claims about the image and the exit counters, and their checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Manifest;

/// The controllers a disk may sit on: the emulated ATA drive (PIO), virtio-blk, or
/// one disk on each (two images of the same content).
pub const CONTROLLERS: [&str; 3] = ["ata", "virtio", "both"];
/// The image formats.
pub const FORMATS: [&str; 2] = ["raw", "qcow2"];
/// The largest disk a demo may ask for, in 512-byte sectors (8 MiB).
pub const MAX_SECTORS: u64 = 16 * 1024;
/// The qcow2 cluster sizes a demo may ask for, as powers of two (512 B to 64 KiB).
pub const CLUSTER_BITS: std::ops::RangeInclusive<u32> = 9..=16;

/// The pattern a built disk holds: byte `i` of sector `n` is `seed + n + i`.
pub fn pattern(sectors: u64, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; (sectors * 512) as usize];
    for (k, b) in out.iter_mut().enumerate() {
        let (n, i) = (k / 512, k % 512);
        *b = seed.wrapping_add(n as u8).wrapping_add(i as u8);
    }
    out
}

/// `[disk]`: the image the machine gets.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskSetup {
    /// One of [`CONTROLLERS`].
    pub controller: String,
    /// One of [`FORMATS`].
    pub format: String,
    /// The disk's size in sectors.
    pub sectors: u64,
    /// The content: byte `i` of sector `n` is `seed + n + i` (wrapping). A qcow2 disk
    /// keeps it in its backing file, a raw one in itself.
    #[serde(default)]
    pub seed: u8,
    /// A qcow2 disk's cluster size, as a power of two (12 when left out: 4 KiB).
    pub cluster_bits: Option<u32>,
    /// A qcow2 disk is an empty overlay over a raw backing file with the content
    /// (the default); `false` puts the content in the qcow2 image itself.
    pub backing: Option<bool>,
    /// virtio-blk's service time per request, `[fixed, per 512 bytes]` in guest
    /// cycles (as `vmlab run --virtio-service`): the device is busy that long. Left
    /// out: each notify is served at once.
    pub virtio_service: Option<[u64; 2]>,
}

impl DiskSetup {
    /// The qcow2 cluster size as a power of two.
    pub fn cluster_bits(&self) -> u32 {
        self.cluster_bits.unwrap_or(12)
    }

    /// Whether a qcow2 disk is an overlay over a backing file.
    pub fn has_backing(&self) -> bool {
        self.format == "qcow2" && self.backing.unwrap_or(true)
    }

    /// Checks the keys; the error names the key.
    pub fn check(&self) -> Result<(), String> {
        if !CONTROLLERS.contains(&self.controller.as_str()) {
            return Err(format!(
                "disk.controller: {:?} is not one of {}",
                self.controller,
                CONTROLLERS.join(", ")
            ));
        }
        if !FORMATS.contains(&self.format.as_str()) {
            return Err(format!(
                "disk.format: {:?} is not one of {}",
                self.format,
                FORMATS.join(", ")
            ));
        }
        if !(1..=MAX_SECTORS).contains(&self.sectors) {
            return Err(format!(
                "disk.sectors: {} is not between 1 and {MAX_SECTORS}",
                self.sectors
            ));
        }
        if self.virtio_service.is_some() && self.controller == "ata" {
            return Err("disk.virtio-service: for a virtio controller only".into());
        }
        if self.format == "raw" && (self.cluster_bits.is_some() || self.backing.is_some()) {
            return Err("disk.cluster-bits, disk.backing: for format = \"qcow2\" only".into());
        }
        if !CLUSTER_BITS.contains(&self.cluster_bits()) {
            return Err(format!(
                "disk.cluster-bits: {} is not between {} and {}",
                self.cluster_bits(),
                CLUSTER_BITS.start(),
                CLUSTER_BITS.end()
            ));
        }
        Ok(())
    }
}

/// `[step.disk]`: what a step does to the disk after its run.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskStep {
    /// Takes an internal qcow2 snapshot of this name (as `qemu-img snapshot -c`).
    pub snapshot: Option<String>,
}

/// `[step.expect.disk]`: what a step claims about the disk and the exit counters.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskExpect {
    /// Counters that grew by at least this much during the step.
    #[serde(default)]
    pub counters_at_least: BTreeMap<String, i64>,
    /// Counters that grew by at most this much during the step.
    #[serde(default)]
    pub counters_at_most: BTreeMap<String, i64>,
    /// Guest clusters with data in the top image (qcow2).
    pub allocated: Option<u64>,
    /// Guest clusters read from the backing file (qcow2).
    pub from_backing: Option<u64>,
    /// Guest clusters the guest's writes allocated since the disk was attached.
    pub copied_on_write: Option<u64>,
    /// Host clusters of the top image with a refcount of 2 or more.
    pub shared_clusters: Option<u64>,
    /// Internal snapshots in the image.
    pub snapshots: Option<u64>,
    /// Sectors the guest wrote since the disk was attached.
    pub sectors_written: Option<u64>,
    /// Sectors the guest read since the disk was attached.
    pub sectors_read: Option<u64>,
}

/// Checks a machine demo's `[disk]`, its steps' `[step.disk]` and their claims.
pub fn validate_disk(m: &Manifest) -> Result<(), String> {
    if let Some(d) = &m.disk {
        d.check()?;
    }
    for (i, s) in m.steps.iter().enumerate() {
        let key = |k: &str| format!("step[{i}].{k}");
        let uses = s.disk.is_some() || s.expect.disk.is_some();
        let Some(d) = &m.disk else {
            if uses {
                return Err(key("disk: the demo attaches no disk (add [disk])"));
            }
            continue;
        };
        if let Some(name) = s.disk.as_ref().and_then(|a| a.snapshot.as_deref()) {
            if d.format != "qcow2" {
                return Err(key("disk.snapshot: only a qcow2 image holds snapshots"));
            }
            if name.trim().is_empty() || name.len() > 64 {
                return Err(key("disk.snapshot: a name of 1 to 64 characters"));
            }
        }
        if let Some(e) = &s.expect.disk {
            let qcow = e.allocated.is_some()
                || e.from_backing.is_some()
                || e.copied_on_write.is_some()
                || e.shared_clusters.is_some()
                || e.snapshots.is_some();
            if qcow && d.format != "qcow2" {
                return Err(key("expect.disk: cluster claims need format = \"qcow2\""));
            }
            for (name, n) in e.counters_at_least.iter().chain(&e.counters_at_most) {
                if *n < 0 {
                    return Err(key(&format!("expect.disk: {name}: {n} is below 0")));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(disk: &str, step: &str) -> Result<(), String> {
        let text = format!(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"bare\"\n{disk}\n[[step]]\ntitle = \"s\"\ntext = \"x\"\nfocus = [\"disk\"]\n{step}\n"
        );
        let m = Manifest::parse(&text)?;
        m.validate("start:\n")
    }

    const QCOW: &str = "[disk]\ncontroller = \"ata\"\nformat = \"qcow2\"\nsectors = 64\n";

    #[test]
    fn a_disk_demo_validates() {
        manifest(
            QCOW,
            "[step.disk]\nsnapshot = \"a\"\n[step.expect.disk]\nallocated = 0\n",
        )
        .expect("valid");
    }

    #[test]
    fn bad_disk_keys_are_located() {
        let bad = |disk: &str, step: &str| manifest(disk, step).expect_err("refused");
        let e = bad(&QCOW.replace("ata", "scsi"), "");
        assert!(e.starts_with("disk.controller: \"scsi\""), "{e}");
        let e = bad(&QCOW.replace("qcow2", "vmdk"), "");
        assert!(e.starts_with("disk.format: \"vmdk\""), "{e}");
        let e = bad(&QCOW.replace("64", "0"), "");
        assert!(e.starts_with("disk.sectors: 0"), "{e}");
        let e = bad(&format!("{QCOW}cluster-bits = 30\n"), "");
        assert!(e.starts_with("disk.cluster-bits: 30"), "{e}");
        let raw = QCOW.replace("qcow2", "raw");
        let e = bad(&raw, "[step.disk]\nsnapshot = \"a\"\n");
        assert!(e.starts_with("step[0].disk.snapshot"), "{e}");
        let e = bad(&raw, "[step.expect.disk]\nallocated = 1\n");
        assert!(e.starts_with("step[0].expect.disk"), "{e}");
        let e = bad("", "[step.expect.disk]\nsectors-read = 1\n");
        assert!(
            e.starts_with("step[0].disk: the demo attaches no disk"),
            "{e}"
        );
        let e = bad(&format!("{QCOW}wheels = 4\n"), "");
        assert!(e.contains("wheels"), "{e}");
    }
}
