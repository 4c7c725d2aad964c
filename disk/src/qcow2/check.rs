//! The consistency check: count every reference to every host cluster and compare the
//! counts with the refcounts and the COPIED flags, as `qemu-img check` does.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::header::{get_be64, read_bytes};
use super::{Qcow2, COMPRESSED, COPIED, OFFSET_MASK, ZERO};
use crate::error::{DiskError, Result};

/// What the check found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CheckReport {
    /// Corruptions: refcounts below the references, COPIED flags that disagree,
    /// references past the end of the file.
    pub errors: Vec<DiskError>,
    /// Clusters whose refcount is above their references (space lost, data safe).
    pub leaks: Vec<DiskError>,
    /// Host clusters in the file.
    pub file_clusters: u64,
    /// Guest clusters the active table maps to data in this file.
    pub allocated_clusters: u64,
    /// Guest clusters in the disk.
    pub guest_clusters: u64,
}

impl Report {
    fn new(n: u64) -> Report {
        Report {
            counts: vec![0; n as usize],
            errors: Vec::new(),
        }
    }
}

struct Report {
    counts: Vec<u64>,
    errors: Vec<DiskError>,
}

impl Report {
    /// Counts one reference to the clusters covering `len` bytes at `host`, made by
    /// the entry at `from`.
    fn add(&mut self, host: u64, len: u64, cluster_bits: u32, from: u64, what: &str) {
        if len == 0 {
            return;
        }
        let first = host >> cluster_bits;
        let last = (host + len - 1) >> cluster_bits;
        for c in first..=last {
            match self.counts.get_mut(c as usize) {
                Some(n) => *n += 1,
                None => {
                    self.errors.push(DiskError::at(
                        from,
                        format!(
                            "{what} at {:#x} is past the end of the file",
                            c << cluster_bits
                        ),
                    ));
                    return;
                }
            }
        }
    }
}

impl Qcow2 {
    /// Checks every refcount against the references to its cluster.
    pub fn check(&mut self) -> Result<CheckReport> {
        let cs = self.cluster_size();
        let cb = self.header.cluster_bits;
        let n = self.store.len().div_ceil(cs);
        if n > 1 << 24 {
            return Err(DiskError::new(format!(
                "{n} host clusters is too many to check"
            )));
        }
        let mut r = Report::new(n);
        let h = self.header.clone();
        r.add(0, cs, cb, 0, "the header");
        r.add(
            h.l1_table_offset,
            u64::from(h.l1_size) * 8,
            cb,
            40,
            "the L1 table",
        );
        r.add(
            h.refcount_table_offset,
            u64::from(h.refcount_table_clusters) * cs,
            cb,
            48,
            "the refcount table",
        );
        for (i, e) in self.reftable.clone().iter().enumerate() {
            let block = e & OFFSET_MASK;
            if block != 0 {
                r.add(
                    block,
                    cs,
                    cb,
                    h.refcount_table_offset + 8 * i as u64,
                    "a refcount block",
                );
            }
        }
        let mut tables = vec![(h.l1_table_offset, self.l1.clone(), true)];
        let table_len = self.snapshots.iter().map(|s| s.entry_len).sum();
        r.add(h.snapshots_offset, table_len, cb, 64, "the snapshot table");
        for s in self.snapshots.clone() {
            r.add(
                s.l1_table_offset,
                s.l1.len() as u64 * 8,
                cb,
                s.entry_offset,
                "a snapshot L1 table",
            );
            tables.push((s.l1_table_offset, s.l1, false));
        }
        let mut report = CheckReport {
            file_clusters: n,
            guest_clusters: h.size.div_ceil(cs),
            ..CheckReport::default()
        };
        let mut copied_errors = Vec::new();
        for (base, l1, active) in tables {
            for (i, l1e) in l1.iter().enumerate() {
                let l2 = l1e & OFFSET_MASK;
                if l2 == 0 {
                    continue;
                }
                let l1_at = base + 8 * i as u64;
                r.add(l2, cs, cb, l1_at, "an L2 table");
                if l2.saturating_add(cs) > self.store.len() {
                    continue;
                }
                if active && (self.refcount(l2)? == 1) != (l1e & COPIED != 0) {
                    copied_errors.push(DiskError::at(
                        l1_at,
                        format!(
                            "L1 entry {i}: the COPIED flag disagrees with the L2 table's refcount"
                        ),
                    ));
                }
                let table = read_bytes(&mut *self.store, l2, cs as usize, "an L2 table")?;
                for (j, c) in table.chunks_exact(8).enumerate() {
                    let e = get_be64(c, 0);
                    let host = e & OFFSET_MASK;
                    let at = l2 + 8 * j as u64;
                    if e & COMPRESSED != 0 {
                        let (start, span) = self.compressed_span(e);
                        r.add(start, span, cb, at, "a compressed cluster");
                        if active {
                            report.allocated_clusters += 1;
                        }
                        continue;
                    }
                    if host == 0 {
                        continue;
                    }
                    r.add(host, cs, cb, at, "a data cluster");
                    if !active {
                        continue;
                    }
                    if e & ZERO == 0 || h.version < 3 {
                        report.allocated_clusters += 1;
                    }
                    if host < self.store.len() && (self.refcount(host)? == 1) != (e & COPIED != 0) {
                        copied_errors.push(DiskError::at(
                            at,
                            format!("L2 entry {j}: the COPIED flag disagrees with data cluster {host:#x}'s refcount"),
                        ));
                    }
                }
            }
        }
        report.errors = r.errors;
        for (c, &expected) in r.counts.iter().enumerate() {
            let host = (c as u64) << cb;
            let stored = self.refcount(host)?;
            if stored < expected {
                report.errors.push(DiskError::at(
                    host,
                    format!("refcount error: the cluster at {host:#x} has refcount {stored} but {expected} references"),
                ));
            } else if stored > expected {
                report.leaks.push(DiskError::at(
                    host,
                    format!("leaked cluster: the cluster at {host:#x} has refcount {stored} but {expected} references"),
                ));
            }
        }
        report.errors.extend(copied_errors);
        Ok(report)
    }
}
