//! The machine's disk in the lab: images built from a [`DiskSpec`] (vmlab's qcow2
//! writer, or files the user picked), the handle that counts what the guest moves and
//! which clusters its writes allocate, and the disk panel's view of it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use emulator_core::devices::BlockStore;
use emulator_core::Machine;
use vmlab_disk::qcow2::Location;
use vmlab_disk::{ByteStore, DiskError, Format, Image, MemStore, Opener};

use crate::diskview::{
    ClusterView, Controller, DiskSource, DiskSpec, DiskView, Where, MAX_CLUSTERS, MAX_SECTORS_SHOWN,
};

/// The backing file's name in a built qcow2 overlay.
pub const BACKING_NAME: &str = "base.raw";

pub use vmlab_demos::kind_disk::pattern;

/// Opens backing files the user picked, by file name.
struct Picked<'a>(&'a [(String, Vec<u8>)], &'a str, &'a [u8]);

impl Opener for Picked<'_> {
    fn open(
        &mut self,
        name: &str,
        _from: Option<&str>,
        _writable: bool,
    ) -> vmlab_disk::Result<(String, Box<dyn ByteStore>)> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        if base == self.1 {
            return Ok((base.to_string(), Box::new(MemStore::new(self.2.to_vec()))));
        }
        let (n, bytes) = self
            .0
            .iter()
            .find(|(n, _)| n == base)
            .ok_or_else(|| DiskError::new(format!("backing file {name:?} was not picked")))?;
        Ok((n.clone(), Box::new(MemStore::new(bytes.clone()))))
    }
}

/// Builds the image `source` describes.
pub fn image(source: &DiskSource) -> Result<Image, String> {
    match source {
        DiskSource::Built {
            format,
            sectors,
            seed,
            cluster_bits,
            backing,
        } => {
            if !(1..=vmlab_demos::kind_disk::MAX_SECTORS).contains(sectors) {
                return Err(format!(
                    "disk: {sectors} sectors is not a size the lab builds"
                ));
            }
            let content = pattern(*sectors, *seed);
            match Format::parse(format).map_err(|e| format!("disk: {e}"))? {
                Format::Raw => Image::from_bytes_as(content, Some(Format::Raw), true)
                    .map_err(|e| format!("disk: {e}")),
                Format::Qcow2 => {
                    let size = sectors * 512;
                    let name = backing.then_some((BACKING_NAME, Format::Raw));
                    let bytes = vmlab_disk::qcow2::create(size, *cluster_bits, name)
                        .map_err(|e| format!("disk: qcow2 writer: {e}"))?;
                    let base = backing
                        .then(|| Image::from_bytes_as(content.clone(), Some(Format::Raw), false));
                    let base = base.transpose().map_err(|e| format!("disk: {e}"))?;
                    let q = vmlab_disk::Qcow2::open(Box::new(MemStore::new(bytes)), base, true)
                        .map_err(|e| format!("disk: {e}"))?;
                    let mut img = Image::Qcow2(Box::new(q));
                    if !backing {
                        img.write(0, &content).map_err(|e| format!("disk: {e}"))?;
                    }
                    Ok(img)
                }
            }
        }
        DiskSource::Files {
            name,
            bytes,
            format,
            backing,
        } => {
            let format = match format {
                Some(f) => Some(Format::parse(f).map_err(|e| format!("{name}: {e}"))?),
                None => None,
            };
            let mut opener = Picked(backing, name, bytes);
            vmlab_disk::open_chain(&mut opener, name, format, true)
                .map_err(|e| format!("{name}: {e}"))
        }
    }
}

/// An image and what the guest did to it.
#[derive(Debug)]
pub struct Tracked {
    image: Image,
    reads: u64,
    writes: u64,
    written: BTreeSet<u64>,
    allocated: BTreeSet<u64>,
    fresh: Vec<u64>,
}

/// The machine's handle on a disk; the lab keeps a clone to draw it.
#[derive(Clone, Debug)]
pub struct SharedDisk(Arc<Mutex<Tracked>>);

impl SharedDisk {
    /// A handle on `image`.
    pub fn new(image: Image) -> SharedDisk {
        SharedDisk(Arc::new(Mutex::new(Tracked {
            image,
            reads: 0,
            writes: 0,
            written: BTreeSet::new(),
            allocated: BTreeSet::new(),
            fresh: Vec::new(),
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Tracked) -> T) -> T {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Takes an internal qcow2 snapshot named `name`.
    pub fn snapshot(&self, name: &str) -> Result<(), String> {
        self.with(|t| match t.image.as_qcow2() {
            Some(q) => q.create_snapshot(name, 0).map_err(|e| e.to_string()),
            None => Err("a raw image holds no snapshots".into()),
        })
    }
}

/// Where each guest cluster of `[first, end)` reads from now.
fn places(img: &mut Image, first: u64, end: u64) -> Vec<(u32, Option<u64>)> {
    let cs = img.as_qcow2().map_or(512, |q| q.cluster_size());
    (first / cs..end.div_ceil(cs))
        .map(|c| img.locate(c * cs).unwrap_or((u32::MAX, None)))
        .collect()
}

impl BlockStore for SharedDisk {
    fn sectors(&self) -> u64 {
        self.with(|t| t.image.size() / 512)
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), String> {
        self.with(|t| {
            t.reads += buf.len() as u64 / 512;
            t.image.read_sectors(lba, buf)
        })
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<(), String> {
        self.with(|t| {
            let n = data.len() as u64 / 512;
            let (first, end) = (
                lba.saturating_mul(512),
                lba.saturating_add(n).saturating_mul(512),
            );
            let qcow = t.image.format() == Format::Qcow2;
            let before = if qcow {
                places(&mut t.image, first, end)
            } else {
                Vec::new()
            };
            t.image.write_sectors(lba, data)?;
            t.writes += n;
            for s in lba..lba + n {
                if t.written.len() < MAX_SECTORS_SHOWN {
                    t.written.insert(s);
                }
            }
            if qcow {
                let cs = t.image.as_qcow2().map_or(512, |q| q.cluster_size());
                let after = places(&mut t.image, first, end);
                for (k, (b, a)) in before.iter().zip(&after).enumerate() {
                    if b != a {
                        let c = first / cs + k as u64;
                        t.allocated.insert(c);
                        t.fresh.push(c);
                    }
                }
            }
            Ok(())
        })
    }
}

/// Attaches the disk `spec` describes to `m`: one handle per drive.
pub fn attach(m: &mut Machine, spec: &DiskSpec) -> Result<Vec<(String, SharedDisk)>, String> {
    let mut out = Vec::new();
    let ata = matches!(spec.controller, Controller::Ata | Controller::Both);
    let virtio = matches!(spec.controller, Controller::Virtio | Controller::Both);
    if ata {
        let d = SharedDisk::new(image(&spec.source)?);
        m.attach_disk(Box::new(d.clone()))
            .map_err(|e| format!("disk: {e}"))?;
        out.push(("ata".to_string(), d));
    }
    if virtio {
        let d = SharedDisk::new(image(&spec.source)?);
        m.attach_virtio_blk(Box::new(d.clone()))
            .map_err(|e| format!("disk: {e}"))?;
        let [fixed, per_unit] = spec.virtio_service;
        m.set_virtio_service(emulator_core::devices::virtio::ServiceTime { fixed, per_unit });
        out.push(("virtio".to_string(), d));
    }
    Ok(out)
}

/// What the disk panel draws of one drive; takes the clusters lit since last time.
pub fn view(controller: &str, disk: &SharedDisk) -> DiskView {
    disk.with(|t| {
        let mut v = DiskView {
            controller: controller.into(),
            describe: t.image.describe(),
            format: t.image.format().name().into(),
            sectors: t.image.size() / 512,
            cluster_size: 512,
            sectors_read: t.reads,
            sectors_written: t.writes,
            written: t.written.iter().copied().collect(),
            fresh: std::mem::take(&mut t.fresh),
            ..DiskView::default()
        };
        let allocated = &t.allocated;
        if let Some(q) = t.image.as_qcow2() {
            if let Err(e) = qcow_view(q, allocated, &mut v) {
                v.error = Some(e.to_string());
            }
        }
        v
    })
}

fn qcow_view(
    q: &mut vmlab_disk::Qcow2,
    allocated: &BTreeSet<u64>,
    v: &mut DiskView,
) -> vmlab_disk::Result<()> {
    let cs = q.cluster_size();
    v.cluster_size = cs;
    v.snapshots = q.snapshot_names();
    for c in q.map(0, MAX_CLUSTERS)? {
        let (place, host) = match c.location {
            Location::Here(h) => (Where::Allocated, Some(h)),
            Location::Zero => (Where::Zero, None),
            Location::Backing { host, .. } => (Where::Backing, host),
            Location::Unallocated => (Where::Unallocated, None),
            Location::Compressed => (Where::Compressed, None),
        };
        let refcount = match place {
            Where::Allocated => host.map(|h| q.refcount(h)).transpose()?,
            _ => None,
        };
        v.clusters.push(ClusterView {
            guest: c.guest_cluster,
            l1_index: c.l1_index,
            l2_table: c.l2_table,
            l2_index: c.l2_index,
            place,
            host,
            refcount,
            written: allocated.contains(&c.guest_cluster),
        });
    }
    let mut l1: Vec<u64> = Vec::new();
    for c in &v.clusters {
        let i = c.l1_index as usize;
        if l1.len() <= i {
            l1.resize(i + 1, 0);
        }
        if c.l2_table != 0 {
            l1[i] = c.l2_table;
        }
    }
    v.l1 = l1;
    let clusters = q.file_len().div_ceil(cs).min(MAX_CLUSTERS);
    for k in 0..clusters {
        let n = q.refcount(k * cs)?;
        if n > 0 {
            v.refcounts.push((k * cs, n));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(backing: bool) -> DiskSource {
        DiskSource::Built {
            format: "qcow2".into(),
            sectors: 64,
            seed: 7,
            cluster_bits: 12,
            backing,
        }
    }

    #[test]
    fn an_overlay_reads_the_backing_file_until_a_write_copies_a_cluster() {
        let mut d = SharedDisk::new(image(&built(true)).expect("builds"));
        let mut buf = vec![0u8; 512];
        d.read_sectors(9, &mut buf).expect("reads");
        assert_eq!(buf, pattern(10, 7)[9 * 512..]);
        let v = view("ata", &d);
        assert_eq!((v.count(Where::Backing), v.count(Where::Allocated)), (8, 0));
        d.write_sectors(9, &[0xAB; 512]).expect("writes");
        let v = view("ata", &d);
        assert_eq!(v.fresh, vec![1]);
        let c = v.cluster_of(9).expect("cluster 1");
        assert_eq!(
            (c.place, c.written, c.refcount),
            (Where::Allocated, true, Some(1))
        );
        // The rest of the cluster was copied from the backing file.
        d.read_sectors(8, &mut buf).expect("reads");
        assert_eq!(buf, pattern(9, 7)[8 * 512..]);
        assert!(view("ata", &d).fresh.is_empty(), "lit once");
        d.snapshot("s").expect("snapshot");
        let v = view("ata", &d);
        assert_eq!(v.snapshots, vec!["s".to_string()]);
        let old = v.cluster_of(9).and_then(|c| c.host);
        assert_eq!(v.cluster_of(9).and_then(|c| c.refcount), Some(2));
        d.write_sectors(10, &[0xCD; 512]).expect("writes");
        let v = view("ata", &d);
        let c = v.cluster_of(10).expect("cluster 1");
        assert_ne!(c.host, old, "copied on write away from the snapshot's");
        assert_eq!(c.refcount, Some(1));
    }

    #[test]
    fn guest_requests_past_the_end_are_errors() {
        for backing in [true, false] {
            let mut d = SharedDisk::new(image(&built(backing)).expect("builds"));
            let mut buf = vec![0u8; 512];
            assert!(d.write_sectors(u64::MAX, &buf).is_err());
            assert!(d.write_sectors(64, &buf).is_err());
            assert!(d.read_sectors(u64::MAX, &mut buf).is_err());
            assert_eq!(view("virtio", &d).sectors_written, 0);
        }
        let e = image(&DiskSource::Built {
            format: "vmdk".into(),
            sectors: 8,
            seed: 0,
            cluster_bits: 12,
            backing: false,
        })
        .expect_err("unknown format");
        assert!(e.contains("vmdk"), "{e}");
    }

    #[test]
    fn picked_files_open_with_their_backing_file_and_a_missing_one_is_named() {
        let base = pattern(16, 1);
        let top = vmlab_disk::qcow2::create(16 * 512, 12, Some(("dir/base.img", Format::Raw)))
            .expect("qcow2");
        let files = |backing: Vec<(String, Vec<u8>)>| DiskSource::Files {
            name: "top.qcow2".into(),
            bytes: top.clone(),
            format: None,
            backing,
        };
        let mut img = image(&files(vec![("base.img".into(), base.clone())])).expect("opens");
        let mut buf = vec![0u8; 512];
        img.read(512, &mut buf).expect("reads");
        assert_eq!(buf, base[512..1024]);
        let e = image(&files(vec![])).expect_err("no backing file");
        assert!(e.contains("top.qcow2") && e.contains("dir/base.img"), "{e}");
    }
}
