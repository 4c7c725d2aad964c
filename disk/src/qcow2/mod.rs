//! qcow2 images (v2 and v3): the active L1/L2 mapping, reads through the backing chain,
//! copy-on-write writes that allocate clusters and keep refcounts right.

mod check;
mod compressed;
mod create;
mod header;
mod map;
mod refcount;
mod snapshot;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub use check::CheckReport;
pub use create::create;
pub use header::{Header, MAGIC};
pub use map::{ClusterMap, Location};
pub use snapshot::Snapshot;

use crate::error::{DiskError, Result};
use crate::store::ByteStore;
use crate::Image;
use header::{get_be64, read_bytes};

/// Bits 9–55 of an L1 or L2 entry: the cluster's host offset.
pub const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Bit 63: the cluster's refcount is exactly one (it may be written in place).
pub const COPIED: u64 = 1 << 63;
/// Bit 62 of an L2 entry: the cluster is compressed.
pub const COMPRESSED: u64 = 1 << 62;
/// Bit 0 of an L2 entry (v3): the cluster reads as zeros.
pub const ZERO: u64 = 1;

/// What one L2 entry says about a guest cluster.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClusterKind {
    /// Not allocated here: read from the backing file, or zeros without one.
    Unallocated,
    /// Reads as zeros (v3 zero flag); `Some` host cluster when preallocated.
    Zero(Option<u64>),
    /// Data at this host offset.
    Data(u64),
    /// Compressed data: the raw L2 entry.
    Compressed(u64),
}

/// Where a guest cluster's L2 entry lives and what it says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Lookup {
    /// The L1 index.
    pub l1_index: u64,
    /// The L2 table's host offset (0 when the L1 entry is empty).
    pub l2_table: u64,
    /// The index in the L2 table.
    pub l2_index: u64,
    /// The raw L2 entry (0 when there is no L2 table).
    pub l2_entry: u64,
    /// What the entry means.
    pub kind: ClusterKind,
}

/// An open qcow2 image.
#[derive(Debug)]
pub struct Qcow2 {
    store: Box<dyn ByteStore>,
    /// The parsed header.
    pub header: Header,
    l1: Vec<u64>,
    reftable: Vec<u64>,
    /// The internal snapshots.
    pub snapshots: Vec<Snapshot>,
    backing: Option<Box<Image>>,
    writable: bool,
    /// The last compressed cluster inflated: its L2 entry and its bytes.
    inflated: Option<(u64, Vec<u8>)>,
}

impl Qcow2 {
    /// Opens a qcow2 image in `store` with its backing image already opened; checks
    /// the header, the tables and every refcount, refusing an image with errors.
    pub fn open(
        store: Box<dyn ByteStore>,
        backing: Option<Image>,
        writable: bool,
    ) -> Result<Qcow2> {
        let mut q = Qcow2::open_unchecked(store, backing, writable)?;
        let report = q.check()?;
        if let Some(first) = report.errors.first() {
            return Err(first.clone());
        }
        Ok(q)
    }

    /// Opens like [`Qcow2::open`] but without the refcount check, read-only, so
    /// `vmlab disk check` can list every error of a damaged image.
    pub fn open_unchecked(
        mut store: Box<dyn ByteStore>,
        backing: Option<Image>,
        writable: bool,
    ) -> Result<Qcow2> {
        let header = Header::parse(&mut *store)?;
        let l1 = read_table(&mut *store, header.l1_table_offset, header.l1_size as u64)?;
        let rt_entries = u64::from(header.refcount_table_clusters) * header.cluster_size() / 8;
        let reftable = read_table(&mut *store, header.refcount_table_offset, rt_entries)?;
        let snapshots = snapshot::read_table(&mut *store, &header)?;
        let q = Qcow2 {
            store,
            header,
            l1,
            reftable,
            snapshots,
            backing: backing.map(Box::new),
            writable,
            inflated: None,
        };
        q.check_tables()?;
        Ok(q)
    }

    /// The backing image, if any.
    pub fn backing(&self) -> Option<&Image> {
        self.backing.as_deref()
    }

    /// The virtual disk size in bytes.
    pub fn size(&self) -> u64 {
        self.header.size
    }

    /// The cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        self.header.cluster_size()
    }

    /// The image file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.store.len()
    }

    fn l2_entries(&self) -> u64 {
        self.cluster_size() / 8
    }

    /// Checks every L1 entry (active and snapshots) points to an aligned L2 table
    /// inside the file, naming the L1 entry's offset otherwise.
    fn check_tables(&self) -> Result<()> {
        let mut tables = vec![(self.header.l1_table_offset, self.l1.clone())];
        for s in &self.snapshots {
            tables.push((s.l1_table_offset, s.l1.clone()));
        }
        let cs = self.cluster_size();
        let len = self.store.len();
        for (base, l1) in tables {
            for (i, e) in l1.iter().enumerate() {
                let l2 = e & OFFSET_MASK;
                let at = base + 8 * i as u64;
                if l2 & (cs - 1) != 0 {
                    return Err(DiskError::at(
                        at,
                        format!("L1 entry {i}: L2 table {l2:#x} is not cluster-aligned"),
                    ));
                }
                if l2 != 0 && l2.saturating_add(cs) > len {
                    return Err(DiskError::at(
                        at,
                        format!("L1 entry {i}: L2 table at {l2:#x} runs past the end of the file ({len} bytes)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The L2 entry of the guest cluster holding byte `guest` in the L1 table `l1`.
    fn lookup_in(&mut self, l1: &[u64], l1_base: u64, guest: u64) -> Result<Lookup> {
        let cb = self.header.cluster_bits;
        let l2_index = (guest >> cb) & (self.l2_entries() - 1);
        let l1_index = guest >> (cb + cb - 3);
        let l1e = l1.get(l1_index as usize).copied().ok_or_else(|| {
            DiskError::at(
                l1_base + 8 * l1_index,
                format!(
                    "guest byte {guest:#x} is past the L1 table ({} entries)",
                    l1.len()
                ),
            )
        })?;
        let l2_table = l1e & OFFSET_MASK;
        let mut l = Lookup {
            l1_index,
            l2_table,
            l2_index,
            l2_entry: 0,
            kind: ClusterKind::Unallocated,
        };
        if l2_table == 0 {
            return Ok(l);
        }
        let at = l2_table + 8 * l2_index;
        let e = get_be64(&read_bytes(&mut *self.store, at, 8, "an L2 entry")?, 0);
        l.l2_entry = e;
        let host = e & OFFSET_MASK;
        let cs = self.cluster_size();
        l.kind = if e & COMPRESSED != 0 {
            ClusterKind::Compressed(e)
        } else if host & (cs - 1) != 0 {
            return Err(DiskError::at(
                at,
                format!("L2 entry: data cluster {host:#x} is not cluster-aligned"),
            ));
        } else if host != 0 && host >= self.store.len() {
            return Err(DiskError::at(
                at,
                format!(
                    "L2 entry: data cluster at {host:#x} is past the end of the file ({} bytes)",
                    self.store.len()
                ),
            ));
        } else if e & ZERO != 0 && self.header.version >= 3 {
            ClusterKind::Zero((host != 0).then_some(host))
        } else if host == 0 {
            ClusterKind::Unallocated
        } else {
            ClusterKind::Data(host)
        };
        Ok(l)
    }

    /// The active mapping of the guest cluster holding byte `guest`.
    pub fn lookup(&mut self, guest: u64) -> Result<Lookup> {
        let l1 = core::mem::take(&mut self.l1);
        let r = self.lookup_in(&l1, self.header.l1_table_offset, guest);
        self.l1 = l1;
        r
    }

    fn check_range(&self, offset: u64, n: usize) -> Result<()> {
        match offset.checked_add(n as u64) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(DiskError::new(format!(
                "guest access of {n} bytes at {offset:#x} runs past the disk's {} bytes",
                self.size()
            ))),
        }
    }

    /// Reads guest bytes from `offset`.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        let l1 = core::mem::take(&mut self.l1);
        let r = self.read_with(&l1, self.header.l1_table_offset, offset, buf);
        self.l1 = l1;
        r
    }

    /// Reads guest bytes as they were when snapshot `index` was taken.
    pub fn read_snapshot(&mut self, index: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        let s = self
            .snapshots
            .get(index)
            .ok_or_else(|| DiskError::new(format!("no snapshot {index}")))?;
        let (l1, base) = (s.l1.clone(), s.l1_table_offset);
        self.read_with(&l1, base, offset, buf)
    }

    fn read_with(&mut self, l1: &[u64], l1_base: u64, offset: u64, buf: &mut [u8]) -> Result<()> {
        let cs = self.cluster_size();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let in_cluster = pos & (cs - 1);
            let n = ((cs - in_cluster) as usize).min(buf.len() - done);
            let part = &mut buf[done..done + n];
            let l = self.lookup_in(l1, l1_base, pos)?;
            match l.kind {
                ClusterKind::Data(host) => self.read_host(host + in_cluster, part)?,
                ClusterKind::Zero(_) => part.fill(0),
                ClusterKind::Unallocated => self.read_backing(pos, part)?,
                ClusterKind::Compressed(e) => {
                    let data = self.inflate_cluster(e, l.l2_table + 8 * l.l2_index)?;
                    let at = in_cluster as usize;
                    part.copy_from_slice(&data[at..at + n]);
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Reads host bytes; the file's last cluster may stop short, and reads as zeros
    /// after its end, as in QEMU.
    fn read_host(&mut self, at: u64, part: &mut [u8]) -> Result<()> {
        let avail = self.store.len().saturating_sub(at).min(part.len() as u64) as usize;
        self.store.read_at(at, &mut part[..avail])?;
        part[avail..].fill(0);
        Ok(())
    }

    /// Reads from the backing image; past its end (or without one) reads zeros.
    fn read_backing(&mut self, pos: u64, part: &mut [u8]) -> Result<()> {
        let Some(b) = self.backing.as_deref_mut() else {
            part.fill(0);
            return Ok(());
        };
        let bsize = b.size();
        let avail = bsize.saturating_sub(pos).min(part.len() as u64) as usize;
        if avail > 0 {
            b.read(pos, &mut part[..avail])?;
        }
        part[avail..].fill(0);
        Ok(())
    }

    /// Writes guest bytes at `offset`, copying clusters on write: a cluster shared with
    /// a snapshot, held by the backing file, or not yet allocated gets a new host
    /// cluster; refcounts follow.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(DiskError::new("the image is open read-only"));
        }
        self.check_range(offset, data.len())?;
        let cs = self.cluster_size();
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let in_cluster = pos & (cs - 1);
            let n = ((cs - in_cluster) as usize).min(data.len() - done);
            self.write_in_cluster(pos, &data[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// Makes the L2 table for L1 index `i` exclusively the active table's, and returns it.
    fn own_l2_table(&mut self, i: u64) -> Result<u64> {
        let l1e = self.l1[i as usize];
        let old = l1e & OFFSET_MASK;
        if old != 0 && self.refcount(old)? == 1 {
            if l1e & COPIED == 0 {
                self.set_l1(i, old | COPIED)?;
            }
            return Ok(old);
        }
        let cs = self.cluster_size();
        let new = self.alloc_cluster()?;
        if old != 0 {
            let mut table = read_bytes(&mut *self.store, old, cs as usize, "an L2 table")?;
            for e in table.chunks_exact_mut(8) {
                let mut v = u64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                let host = v & OFFSET_MASK;
                if v & COMPRESSED == 0 && host != 0 {
                    v &= !COPIED;
                    if self.refcount(host)? == 1 {
                        v |= COPIED;
                    }
                }
                e.copy_from_slice(&v.to_be_bytes());
            }
            self.store.write_at(new, &table)?;
            let rc = self.refcount(old)?;
            self.set_refcount(old, rc.saturating_sub(1))?;
        }
        self.set_l1(i, new | COPIED)?;
        Ok(new)
    }

    pub(crate) fn set_l1(&mut self, i: u64, value: u64) -> Result<()> {
        self.store
            .write_at(self.header.l1_table_offset + 8 * i, &value.to_be_bytes())?;
        self.l1[i as usize] = value;
        Ok(())
    }

    fn write_in_cluster(&mut self, pos: u64, data: &[u8]) -> Result<()> {
        let cs = self.cluster_size();
        let in_cluster = pos & (cs - 1);
        let l = self.lookup(pos)?;
        if let ClusterKind::Data(host) = l.kind {
            if self.refcount(host)? == 1 {
                return self.store.write_at(host + in_cluster, data);
            }
        }
        // Copy on write: the whole cluster as the guest sees it now, then the new bytes.
        let base = pos - in_cluster;
        let mut cluster = vec![0u8; cs as usize];
        let visible = (self.size() - base).min(cs) as usize;
        self.read(base, &mut cluster[..visible])?;
        cluster[in_cluster as usize..in_cluster as usize + data.len()].copy_from_slice(data);
        let l2 = self.own_l2_table(l.l1_index)?;
        let entry_at = l2 + 8 * l.l2_index;
        let old = get_be64(
            &read_bytes(&mut *self.store, entry_at, 8, "an L2 entry")?,
            0,
        );
        let new = self.alloc_cluster()?;
        self.store.write_at(new, &cluster)?;
        self.store
            .write_at(entry_at, &(new | COPIED).to_be_bytes())?;
        let old_host = old & OFFSET_MASK;
        if old & COMPRESSED != 0 {
            let (start, span) = self.compressed_span(old);
            let cs = self.cluster_size();
            for c in start / cs..(start + span).div_ceil(cs) {
                let rc = self.refcount(c * cs)?;
                self.set_refcount(c * cs, rc.saturating_sub(1))?;
            }
        } else if old_host != 0 {
            let rc = self.refcount(old_host)?;
            self.set_refcount(old_host, rc.saturating_sub(1))?;
        }
        Ok(())
    }

    /// Pushes writes to the medium.
    pub fn flush(&mut self) -> Result<()> {
        self.store.flush()
    }

    /// The snapshot's display name and the L1 table it uses.
    pub fn snapshot_names(&self) -> Vec<String> {
        self.snapshots.iter().map(|s| s.name.clone()).collect()
    }
}

/// Reads `n` big-endian u64 entries at `offset`.
fn read_table(store: &mut dyn ByteStore, offset: u64, n: u64) -> Result<Vec<u64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let b = read_bytes(store, offset, (n * 8) as usize, "a table")?;
    Ok(b.chunks_exact(8).map(|c| get_be64(c, 0)).collect())
}
