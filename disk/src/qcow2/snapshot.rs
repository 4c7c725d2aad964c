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

impl super::Qcow2 {
    /// Takes an internal snapshot of the active disk named `name` at `date_sec`: the
    /// active L1 table is copied, every L2 table and data cluster it reaches gains a
    /// reference (so the next write to it copies it), and the snapshot table is
    /// rewritten with the new entry.
    pub fn create_snapshot(&mut self, name: &str, date_sec: u32) -> Result<()> {
        use super::{COMPRESSED, COPIED, OFFSET_MASK};
        if !self.writable {
            return Err(DiskError::new("the image is open read-only"));
        }
        if name.is_empty() || name.len() > 1024 || self.snapshots.iter().any(|s| s.name == name) {
            return Err(DiskError::new(format!(
                "snapshot name {name:?} is empty, too long or taken"
            )));
        }
        let cs = self.cluster_size();
        let l1 = self.l1.clone();
        // Refuse before changing anything: compressed clusters (not counted here) and
        // refcounts that cannot grow.
        let mut tables = Vec::new();
        for (i, e) in l1.iter().enumerate() {
            let l2 = e & OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            let t = read_bytes(&mut *self.store, l2, cs as usize, "an L2 table")?;
            if let Some(j) = t
                .chunks_exact(8)
                .position(|c| get_be64(c, 0) & COMPRESSED != 0)
            {
                return Err(DiskError::at(
                    l2 + 8 * j as u64,
                    "compressed cluster: vmlab does not snapshot images with compressed clusters",
                ));
            }
            self.check_room_for_reference(l2)?;
            for c in t.chunks_exact(8) {
                let host = get_be64(c, 0) & OFFSET_MASK;
                if host != 0 {
                    self.check_room_for_reference(host)?;
                }
            }
            tables.push((i as u64, l2, t));
        }
        for (i, l2, mut t) in tables {
            let rc = self.refcount(l2)?;
            self.set_refcount(l2, rc + 1)?;
            for c in t.chunks_exact_mut(8) {
                let v = get_be64(c, 0);
                let host = v & OFFSET_MASK;
                if host != 0 {
                    let rc = self.refcount(host)?;
                    self.set_refcount(host, rc + 1)?;
                }
                c.copy_from_slice(&(v & !COPIED).to_be_bytes());
            }
            self.store.write_at(l2, &t)?;
            self.set_l1(i, l2)?;
        }
        let l1_bytes: Vec<u8> = self.l1.iter().flat_map(|e| e.to_be_bytes()).collect();
        let l1_at = self.alloc_run((l1_bytes.len() as u64).div_ceil(cs).max(1))?;
        self.store.write_at(l1_at, &l1_bytes)?;

        // The table: the old entries as they are, then the new one.
        let mut table = Vec::new();
        for s in self.snapshots.clone() {
            table.extend(read_bytes(
                &mut *self.store,
                s.entry_offset,
                s.entry_len as usize,
                "a snapshot entry",
            )?);
        }
        let id = self
            .snapshots
            .iter()
            .filter_map(|s| s.id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("{id}");
        let mut e = Vec::new();
        e.extend(l1_at.to_be_bytes());
        e.extend((self.l1.len() as u32).to_be_bytes());
        e.extend((id.len() as u16).to_be_bytes());
        e.extend((name.len() as u16).to_be_bytes());
        e.extend(date_sec.to_be_bytes());
        e.extend(0u32.to_be_bytes()); // date_nsec
        e.extend(0u64.to_be_bytes()); // vm_clock_nsec
        e.extend(0u32.to_be_bytes()); // vm_state_size
        e.extend(16u32.to_be_bytes()); // extra data: vm_state_size_large, disk_size
        e.extend(0u64.to_be_bytes());
        e.extend(self.size().to_be_bytes());
        e.extend(id.as_bytes());
        e.extend(name.as_bytes());
        e.resize(e.len().div_ceil(8) * 8, 0);
        table.extend(e);
        let table_at = self.alloc_run((table.len() as u64).div_ceil(cs))?;
        self.store.write_at(table_at, &table)?;
        let (old_at, old_len) = (
            self.header.snapshots_offset,
            self.snapshots.iter().map(|s| s.entry_len).sum::<u64>(),
        );
        self.header.nb_snapshots += 1;
        self.header.snapshots_offset = table_at;
        self.store
            .write_at(60, &self.header.nb_snapshots.to_be_bytes())?;
        self.store.write_at(64, &table_at.to_be_bytes())?;
        if old_len > 0 {
            for c in (old_at / cs)..(old_at + old_len).div_ceil(cs) {
                let rc = self.refcount(c * cs)?;
                self.set_refcount(c * cs, rc.saturating_sub(1))?;
            }
        }
        self.snapshots = read_table(&mut *self.store, &self.header)?;
        Ok(())
    }

    /// Fails when the cluster's refcount cannot grow by one in the image's width.
    fn check_room_for_reference(&mut self, host: u64) -> Result<()> {
        let bits = 1u32 << self.header.refcount_order;
        let rc = self.refcount(host)?;
        if bits < 64 && rc + 1 >= 1u64 << bits {
            return Err(DiskError::at(
                host,
                format!("the cluster's refcount {rc} cannot grow in {bits}-bit refcounts: no snapshot taken"),
            ));
        }
        Ok(())
    }
}
