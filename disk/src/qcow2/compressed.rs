//! Compressed qcow2 clusters (deflate, as `qemu-img convert -c` writes them): where an
//! L2 entry's stream lies and inflating it to a whole cluster.

use alloc::format;
use alloc::vec::Vec;

use super::header::read_bytes;
use super::Qcow2;
use crate::error::{DiskError, Result};

impl Qcow2 {
    /// The host bytes a compressed L2 entry's stream may use: from its 512-byte
    /// sector to the end of its last sector (what its refcounts count).
    pub(crate) fn compressed_span(&self, entry: u64) -> (u64, u64) {
        let x = 62 - (self.header.cluster_bits - 8);
        let offset = entry & ((1u64 << x) - 1);
        let sectors = ((entry >> x) & ((1u64 << (62 - x)) - 1)) + 1;
        (offset & !511, sectors * 512)
    }

    /// The guest cluster a compressed L2 entry (at `entry_at`) holds.
    pub(crate) fn inflate_cluster(&mut self, entry: u64, entry_at: u64) -> Result<Vec<u8>> {
        if let Some((e, data)) = &self.inflated {
            if *e == entry {
                return Ok(data.clone());
            }
        }
        let x = 62 - (self.header.cluster_bits - 8);
        let offset = entry & ((1u64 << x) - 1);
        let (start, span) = self.compressed_span(entry);
        let len = self.store.len();
        if offset >= len {
            return Err(DiskError::at(
                entry_at,
                format!(
                    "compressed cluster at {offset:#x} is past the end of the file ({len} bytes)"
                ),
            ));
        }
        let n = (start + span).min(len) - offset;
        let stream = read_bytes(&mut *self.store, offset, n as usize, "a compressed cluster")?;
        let cs = self.cluster_size() as usize;
        let data = miniz_oxide::inflate::decompress_to_vec_with_limit(&stream, cs)
            .ok()
            .filter(|d| d.len() == cs)
            .ok_or_else(|| {
                DiskError::at(
                    entry_at,
                    format!("compressed cluster at {offset:#x} does not inflate to {cs} bytes"),
                )
            })?;
        self.inflated = Some((entry, data.clone()));
        Ok(data)
    }
}
