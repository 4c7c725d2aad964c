//! The qcow2 mapping made visible: for each guest cluster, its L1 and L2 entries and
//! where its bytes come from (this file, a backing file, or nowhere).

use alloc::vec::Vec;

use super::{ClusterKind, Qcow2};
use crate::error::Result;
use crate::Image;

/// Where a guest cluster's bytes are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Location {
    /// In this file at this host offset.
    Here(u64),
    /// Zeros by the v3 zero flag.
    Zero,
    /// In the backing file `depth` levels down (1 = the direct backing file), at this
    /// host offset in it (`None`: it reads as zeros there).
    Backing {
        /// 1 for the direct backing file.
        depth: u32,
        /// The host offset in that file.
        host: Option<u64>,
    },
    /// Nowhere: reads as zeros.
    Unallocated,
    /// Compressed in this file.
    Compressed,
}

/// One guest cluster's row in the map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ClusterMap {
    /// The guest cluster number.
    pub guest_cluster: u64,
    /// Its first guest byte.
    pub guest_offset: u64,
    /// The L1 index.
    pub l1_index: u64,
    /// The L1 entry's offset in the file.
    pub l1_entry_offset: u64,
    /// The L2 table's offset (0 when none).
    pub l2_table: u64,
    /// The index in the L2 table.
    pub l2_index: u64,
    /// The L2 entry's offset in the file (`None` without an L2 table).
    pub l2_entry_offset: Option<u64>,
    /// Where its bytes are.
    pub location: Location,
}

impl ClusterMap {
    /// True when the guest reads this cluster from a backing file.
    pub fn shared_with_backing(&self) -> bool {
        matches!(self.location, Location::Backing { .. })
    }
}

impl Qcow2 {
    /// The map of `count` guest clusters from `first` (clipped to the disk).
    pub fn map(&mut self, first: u64, count: u64) -> Result<Vec<ClusterMap>> {
        let cs = self.cluster_size();
        let total = self.size().div_ceil(cs);
        let mut out = Vec::new();
        for c in first..first.saturating_add(count).min(total) {
            let guest = c * cs;
            let l = self.lookup(guest)?;
            let location = match l.kind {
                ClusterKind::Data(h) => Location::Here(h),
                ClusterKind::Zero(_) => Location::Zero,
                ClusterKind::Compressed(_) => Location::Compressed,
                ClusterKind::Unallocated => match self.backing.as_deref_mut() {
                    Some(b) if guest < b.size() => match b.locate(guest)? {
                        (depth, Some(host)) => Location::Backing {
                            depth: depth + 1,
                            host: Some(host),
                        },
                        (_, None) => Location::Unallocated,
                    },
                    _ => Location::Unallocated,
                },
            };
            out.push(ClusterMap {
                guest_cluster: c,
                guest_offset: guest,
                l1_index: l.l1_index,
                l1_entry_offset: self.header.l1_table_offset + 8 * l.l1_index,
                l2_table: l.l2_table,
                l2_index: l.l2_index,
                l2_entry_offset: (l.l2_table != 0).then_some(l.l2_table + 8 * l.l2_index),
                location,
            });
        }
        Ok(out)
    }
}

impl Image {
    /// Which image of the chain holds guest byte `guest` (0 = this one) and at which
    /// host offset (`None` when it reads as zeros).
    pub fn locate(&mut self, guest: u64) -> Result<(u32, Option<u64>)> {
        match self {
            Image::Raw(_) => Ok((0, Some(guest))),
            Image::Qcow2(q) => {
                let l = q.lookup(guest)?;
                match l.kind {
                    ClusterKind::Data(h) => Ok((0, Some(h + (guest & (q.cluster_size() - 1))))),
                    ClusterKind::Zero(_) | ClusterKind::Compressed(_) => Ok((0, None)),
                    ClusterKind::Unallocated => match q.backing.as_deref_mut() {
                        Some(b) if guest < b.size() => {
                            let (d, h) = b.locate(guest)?;
                            Ok((d + 1, h))
                        }
                        _ => Ok((0, None)),
                    },
                }
            }
        }
    }
}
