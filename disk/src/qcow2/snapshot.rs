//! The qcow2 internal snapshot table: each snapshot's id, name, time and L1 table.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::header::{get_be32, get_be64, read_bytes, Header};
use super::read_table as read_u64_table;
use crate::error::{DiskError, Result};
use crate::store::ByteStore;

/// One internal snapshot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// Where its table entry starts.
    pub entry_offset: u64,
    /// Its table entry's length in bytes, padding included.
    pub entry_len: u64,
    /// Its id string ("1", "2", …).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Seconds since the epoch when it was taken.
    pub date_sec: u32,
    /// The VM clock then, in nanoseconds.
    pub vm_clock_nsec: u64,
    /// Bytes of saved VM state (0 for a disk-only snapshot).
    pub vm_state_size: u64,
    /// The disk size then (v3 extra data), else the current size.
    pub disk_size: u64,
    /// Where its L1 table is.
    pub l1_table_offset: u64,
    /// Its L1 table.
    pub l1: Vec<u64>,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// Reads the snapshot table the header points to.
pub fn read_table(store: &mut dyn ByteStore, h: &Header) -> Result<Vec<Snapshot>> {
    let mut out = Vec::new();
    let mut at = h.snapshots_offset;
    for i in 0..h.nb_snapshots {
        let b = read_bytes(store, at, 40, "a snapshot table entry")?;
        let l1_table_offset = get_be64(&b, 0);
        let l1_size = get_be32(&b, 8);
        let (id_len, name_len) = (u16_at(&b, 12), u16_at(&b, 14));
        let extra_len = get_be32(&b, 36) as usize;
        if extra_len > 1024 {
            return Err(DiskError::at(
                at + 36,
                format!("snapshot {i}: extra data of {extra_len} bytes is too large"),
            ));
        }
        let extra = read_bytes(store, at + 40, extra_len, "snapshot extra data")?;
        let strings = read_bytes(
            store,
            at + 40 + extra_len as u64,
            id_len + name_len,
            "a snapshot's id and name",
        )?;
        let cs = h.cluster_size();
        if l1_table_offset & (cs - 1) != 0 || u64::from(l1_size) * 8 > 32 << 20 {
            return Err(DiskError::at(
                at,
                format!("snapshot {i}: L1 table at {l1_table_offset:#x} with {l1_size} entries is unaligned or too large"),
            ));
        }
        let l1 = read_u64_table(store, l1_table_offset, u64::from(l1_size))
            .map_err(|e| DiskError::at(at, format!("snapshot {i}: its L1 table: {}", e.message)))?;
        let mut vm_state_size = u64::from(get_be32(&b, 32));
        let mut disk_size = h.size;
        if extra.len() >= 8 {
            vm_state_size = get_be64(&extra, 0);
        }
        if extra.len() >= 16 {
            disk_size = get_be64(&extra, 8);
        }
        let entry_len = (40 + extra_len + id_len + name_len).div_ceil(8) as u64 * 8;
        out.push(Snapshot {
            entry_offset: at,
            entry_len,
            id: String::from_utf8_lossy(&strings[..id_len]).into_owned(),
            name: String::from_utf8_lossy(&strings[id_len..]).into_owned(),
            date_sec: get_be32(&b, 16),
            vm_clock_nsec: get_be64(&b, 24),
            vm_state_size,
            disk_size,
            l1_table_offset,
            l1,
        });
        at += entry_len;
    }
    Ok(out)
}
