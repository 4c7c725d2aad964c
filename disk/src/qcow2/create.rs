//! New qcow2 v3 images, empty or as an overlay on a backing file: the header (with the
//! backing file's name and format), one refcount table and block, and the L1 table.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::header::{EXT_BACKING_FORMAT, MAGIC};
use crate::error::{DiskError, Result};
use crate::Format;

/// The bytes of a new qcow2 v3 image of `size` guest bytes with `2^cluster_bits`-byte
/// clusters, reading unwritten clusters from `backing` (its name, as the image will
/// store it, and its format) when given.
pub fn create(size: u64, cluster_bits: u32, backing: Option<(&str, Format)>) -> Result<Vec<u8>> {
    if !(9..=21).contains(&cluster_bits) {
        return Err(DiskError::new(format!(
            "cluster size 2^{cluster_bits} outside 512 B–2 MiB"
        )));
    }
    if size == 0 || size > crate::store::MAX_STORE_LEN * 64 {
        return Err(DiskError::new(format!(
            "virtual size {size} is zero or too large"
        )));
    }
    let cs = 1u64 << cluster_bits;
    let l1_size = size.div_ceil(cs * (cs / 8));
    let l1_clusters = (l1_size * 8).div_ceil(cs).max(1);
    let per_block = cs * 8 / 16;
    let clusters = 3 + l1_clusters;
    if clusters > per_block {
        return Err(DiskError::new(format!(
            "a {size}-byte disk needs {l1_clusters} L1 clusters: use larger clusters"
        )));
    }
    let mut out = vec![0u8; (clusters * cs) as usize];
    let put32 =
        |o: &mut Vec<u8>, at: usize, v: u32| o[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let put64 =
        |o: &mut Vec<u8>, at: usize, v: u64| o[at..at + 8].copy_from_slice(&v.to_be_bytes());
    put32(&mut out, 0, MAGIC);
    put32(&mut out, 4, 3);
    put32(&mut out, 20, cluster_bits);
    put64(&mut out, 24, size);
    put32(&mut out, 36, l1_size as u32);
    put64(&mut out, 40, 3 * cs);
    put64(&mut out, 48, cs);
    put32(&mut out, 56, 1);
    put32(&mut out, 96, 4); // 16-bit refcounts
    put32(&mut out, 100, 104);
    // Header extensions: the backing format, then the end marker; the name after them.
    let mut at = 104usize;
    if let Some((name, format)) = backing {
        if name.is_empty() || name.len() > 1023 {
            return Err(DiskError::new("backing file name must have 1–1023 bytes"));
        }
        let f = format.name().as_bytes();
        put32(&mut out, at, EXT_BACKING_FORMAT);
        put32(&mut out, at + 4, f.len() as u32);
        out[at + 8..at + 8 + f.len()].copy_from_slice(f);
        at += 8 + f.len().div_ceil(8) * 8;
        at += 8; // end marker (zeros)
        if (at + name.len()) as u64 > cs {
            return Err(DiskError::new(
                "the backing file name does not fit in the header cluster",
            ));
        }
        out[at..at + name.len()].copy_from_slice(name.as_bytes());
        put64(&mut out, 8, at as u64);
        put32(&mut out, 16, name.len() as u32);
    }
    // The refcount table's one entry, and the block counting the clusters above.
    put64(&mut out, cs as usize, 2 * cs);
    for c in 0..clusters as usize {
        let at = 2 * cs as usize + 2 * c;
        out[at..at + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    Ok(out)
}
