//! The qcow2 header (v2 and v3) and its extensions, parsed and checked field by field.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::error::{DiskError, Result};
use crate::store::ByteStore;

/// "QFI\xfb".
pub const MAGIC: u32 = 0x5146_49fb;
/// Incompatible feature bits: dirty, corrupt, external data file, compression type,
/// extended L2 entries.
const INCOMPAT_NAMES: [&str; 5] = [
    "dirty (refcounts may be stale)",
    "corrupt",
    "external data file",
    "compression type",
    "extended L2 entries",
];
/// The backing-file-format header extension.
pub const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// The end of the header extensions.
const EXT_END: u32 = 0;
/// The largest L1 table qemu accepts (32 MiB of entries).
const MAX_L1_BYTES: u64 = 32 << 20;
/// The largest refcount table qemu accepts (8 MiB).
const MAX_REFTABLE_BYTES: u64 = 8 << 20;
/// The most snapshots qemu accepts.
const MAX_SNAPSHOTS: u32 = 65536;

/// The header fields vmlab uses.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// Where the backing file's name is, 0 for none.
    pub backing_file_offset: u64,
    /// The name's length.
    pub backing_file_size: u32,
    /// log2 of the cluster size (9–21).
    pub cluster_bits: u32,
    /// The virtual disk size in bytes.
    pub size: u64,
    /// Entries in the active L1 table.
    pub l1_size: u32,
    /// Where the active L1 table is.
    pub l1_table_offset: u64,
    /// Where the refcount table is.
    pub refcount_table_offset: u64,
    /// Its length in clusters.
    pub refcount_table_clusters: u32,
    /// How many internal snapshots there are.
    pub nb_snapshots: u32,
    /// Where the snapshot table is.
    pub snapshots_offset: u64,
    /// Incompatible feature bits (v3).
    pub incompatible_features: u64,
    /// Compatible feature bits (v3).
    pub compatible_features: u64,
    /// Autoclear feature bits (v3).
    pub autoclear_features: u64,
    /// log2 of the refcount width in bits (4 in v2).
    pub refcount_order: u32,
    /// The header's length in bytes (72 in v2).
    pub header_length: u32,
    /// The backing file's name, if any.
    pub backing_file: Option<String>,
    /// The backing file's format from the header extension, if given.
    pub backing_format: Option<String>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// Reads `n` bytes at `offset`, or an error naming what they were for.
pub fn read_bytes(store: &mut dyn ByteStore, offset: u64, n: usize, what: &str) -> Result<Vec<u8>> {
    let len = store.len();
    if offset.checked_add(n as u64).is_none_or(|end| end > len) {
        return Err(DiskError::at(
            offset,
            format!("{what} ({n} bytes) runs past the end of the file ({len} bytes)"),
        ));
    }
    let mut buf = vec![0; n];
    store.read_at(offset, &mut buf)?;
    Ok(buf)
}

impl Header {
    /// The cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Parses and checks the header at the start of `store`.
    pub fn parse(store: &mut dyn ByteStore) -> Result<Header> {
        let len = store.len();
        if len < 4 {
            return Err(DiskError::at(
                0,
                format!("truncated: {len} bytes, no qcow2 magic"),
            ));
        }
        let magic = be32(&read_bytes(store, 0, 4, "the magic")?, 0);
        if magic != MAGIC {
            return Err(DiskError::at(
                0,
                format!("wrong magic {magic:#010x} (qcow2 has 0x514649fb, \"QFI\\xfb\")"),
            ));
        }
        if len < 72 {
            return Err(DiskError::at(
                len,
                format!("truncated header: the file ends at byte {len}, a qcow2 header needs 72"),
            ));
        }
        let b = read_bytes(store, 0, 72, "the header")?;
        let version = be32(&b, 4);
        if version != 2 && version != 3 {
            return Err(DiskError::at(
                4,
                format!("unsupported qcow2 version {version} (vmlab reads 2 and 3)"),
            ));
        }
        let mut h = Header {
            version,
            backing_file_offset: be64(&b, 8),
            backing_file_size: be32(&b, 16),
            cluster_bits: be32(&b, 20),
            size: be64(&b, 24),
            l1_size: be32(&b, 36),
            l1_table_offset: be64(&b, 40),
            refcount_table_offset: be64(&b, 48),
            refcount_table_clusters: be32(&b, 56),
            nb_snapshots: be32(&b, 60),
            snapshots_offset: be64(&b, 64),
            incompatible_features: 0,
            compatible_features: 0,
            autoclear_features: 0,
            refcount_order: 4,
            header_length: 72,
            backing_file: None,
            backing_format: None,
        };
        if !(9..=21).contains(&h.cluster_bits) {
            return Err(DiskError::at(
                20,
                format!("cluster_bits {} outside 9–21", h.cluster_bits),
            ));
        }
        let crypt = be32(&b, 32);
        if crypt != 0 {
            return Err(DiskError::at(
                32,
                format!("encrypted image (crypt_method {crypt}) is not supported"),
            ));
        }
        if version == 3 {
            if len < 104 {
                return Err(DiskError::at(
                    len,
                    format!(
                        "truncated v3 header: the file ends at byte {len}, the header needs 104"
                    ),
                ));
            }
            let b = read_bytes(store, 0, 104, "the v3 header")?;
            h.incompatible_features = be64(&b, 72);
            h.compatible_features = be64(&b, 80);
            h.autoclear_features = be64(&b, 88);
            h.refcount_order = be32(&b, 96);
            h.header_length = be32(&b, 100);
            if h.header_length < 104 || u64::from(h.header_length) > h.cluster_size() {
                return Err(DiskError::at(
                    100,
                    format!("header_length {} outside 104–cluster size", h.header_length),
                ));
            }
            if let Some(bit) = (0..64).find(|i| h.incompatible_features >> i & 1 != 0) {
                let name = INCOMPAT_NAMES
                    .get(bit as usize)
                    .copied()
                    .unwrap_or("unknown");
                return Err(DiskError::at(
                    72,
                    format!(
                        "incompatible feature bit {bit} ({name}) is set; vmlab does not support it"
                    ),
                ));
            }
            if h.refcount_order > 6 {
                return Err(DiskError::at(
                    96,
                    format!("refcount_order {} above 6", h.refcount_order),
                ));
            }
        }
        let cs = h.cluster_size();
        let unaligned = |v: u64| v & (cs - 1) != 0;
        if h.size > crate::store::MAX_STORE_LEN * 64 {
            return Err(DiskError::at(
                24,
                format!("virtual size {} is too large", h.size),
            ));
        }
        let needed_l1 = h.size.div_ceil(cs * (cs / 8));
        if u64::from(h.l1_size) < needed_l1 {
            return Err(DiskError::at(
                36,
                format!(
                    "l1_size {} is too small for a {}-byte disk (needs {needed_l1})",
                    h.l1_size, h.size
                ),
            ));
        }
        if u64::from(h.l1_size) * 8 > MAX_L1_BYTES {
            return Err(DiskError::at(
                36,
                format!("l1_size {} is too large", h.l1_size),
            ));
        }
        if unaligned(h.l1_table_offset) || h.l1_table_offset == 0 && h.l1_size > 0 {
            return Err(DiskError::at(
                40,
                format!(
                    "L1 table offset {:#x} is not cluster-aligned",
                    h.l1_table_offset
                ),
            ));
        }
        if h.l1_table_offset.saturating_add(u64::from(h.l1_size) * 8) > len {
            return Err(DiskError::at(
                40,
                format!(
                    "L1 table at {:#x} ({} entries) runs past the end of the file ({len} bytes)",
                    h.l1_table_offset, h.l1_size
                ),
            ));
        }
        if unaligned(h.refcount_table_offset) || h.refcount_table_offset == 0 {
            return Err(DiskError::at(
                48,
                format!(
                    "refcount table offset {:#x} is zero or not cluster-aligned",
                    h.refcount_table_offset
                ),
            ));
        }
        let rt_bytes = u64::from(h.refcount_table_clusters) * cs;
        if rt_bytes > MAX_REFTABLE_BYTES || h.refcount_table_clusters == 0 {
            return Err(DiskError::at(
                56,
                format!(
                    "refcount_table_clusters {} is zero or too large",
                    h.refcount_table_clusters
                ),
            ));
        }
        if h.refcount_table_offset.saturating_add(rt_bytes) > len {
            return Err(DiskError::at(
                48,
                format!(
                    "refcount table at {:#x} ({rt_bytes} bytes) runs past the end of the file ({len} bytes)",
                    h.refcount_table_offset
                ),
            ));
        }
        if h.nb_snapshots > MAX_SNAPSHOTS {
            return Err(DiskError::at(
                60,
                format!("{} snapshots is too many", h.nb_snapshots),
            ));
        }
        if h.nb_snapshots > 0 && (unaligned(h.snapshots_offset) || h.snapshots_offset >= len) {
            return Err(DiskError::at(
                64,
                format!(
                    "snapshot table offset {:#x} is unaligned or past the end",
                    h.snapshots_offset
                ),
            ));
        }
        h.read_extensions(store)?;
        if h.backing_file_offset != 0 {
            if h.backing_file_size == 0 || h.backing_file_size > 1023 {
                return Err(DiskError::at(
                    16,
                    format!(
                        "backing file name length {} outside 1–1023",
                        h.backing_file_size
                    ),
                ));
            }
            if h.backing_file_offset >= cs {
                return Err(DiskError::at(
                    8,
                    format!(
                        "backing file name at {:#x} is outside the header cluster",
                        h.backing_file_offset
                    ),
                ));
            }
            let name = read_bytes(
                store,
                h.backing_file_offset,
                h.backing_file_size as usize,
                "the backing file name",
            )?;
            let name = String::from_utf8(name).map_err(|_| {
                DiskError::at(h.backing_file_offset, "backing file name is not UTF-8")
            })?;
            h.backing_file = Some(name);
        }
        Ok(h)
    }

    /// Reads the header extensions after the header, up to the end marker.
    fn read_extensions(&mut self, store: &mut dyn ByteStore) -> Result<()> {
        let cs = self.cluster_size();
        let mut at = u64::from(self.header_length);
        let end = if self.backing_file_offset != 0 {
            self.backing_file_offset.min(cs)
        } else {
            cs
        };
        while at + 8 <= end {
            if at + 8 > store.len() {
                // qemu-img writes the end marker; a v2 header may simply stop.
                return Ok(());
            }
            let b = read_bytes(store, at, 8, "a header extension")?;
            let (kind, len) = (be32(&b, 0), u64::from(be32(&b, 4)));
            if kind == EXT_END {
                return Ok(());
            }
            let data_at = at + 8;
            if data_at + len > end {
                return Err(DiskError::at(
                    at,
                    format!(
                        "header extension {kind:#010x} of {len} bytes runs past the header area"
                    ),
                ));
            }
            if kind == EXT_BACKING_FORMAT {
                let d = read_bytes(store, data_at, len as usize, "the backing format")?;
                self.backing_format = Some(String::from_utf8_lossy(&d).into_owned());
            }
            at = data_at + len.div_ceil(8) * 8;
        }
        Ok(())
    }
}

/// A big-endian u64 at `at` in `b` (callers keep `at + 8 <= b.len()`).
pub fn get_be64(b: &[u8], at: usize) -> u64 {
    be64(b, at)
}

/// A big-endian u32 at `at` in `b`.
pub fn get_be32(b: &[u8], at: usize) -> u32 {
    be32(b, at)
}
