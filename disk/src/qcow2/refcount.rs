//! qcow2 refcounts: reading and setting a cluster's count through the refcount table
//! and blocks, and allocating clusters at the end of the file.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::header::read_bytes;
use super::{Qcow2, OFFSET_MASK};
use crate::error::{DiskError, Result};

impl Qcow2 {
    fn refcount_bits(&self) -> u64 {
        1 << self.header.refcount_order
    }

    /// Refcount entries per refcount block.
    pub(crate) fn refs_per_block(&self) -> u64 {
        self.cluster_size() * 8 / self.refcount_bits()
    }

    /// Where the refcount entry for host cluster `index` is: the block's offset and the
    /// entry's bit position in it; `None` when no block covers it.
    fn refcount_slot(&self, index: u64) -> Result<Option<(u64, u64)>> {
        let table_i = index / self.refs_per_block();
        let Some(&e) = self.reftable.get(table_i as usize) else {
            return Ok(None);
        };
        let block = e & OFFSET_MASK;
        if block == 0 {
            return Ok(None);
        }
        let cs = self.cluster_size();
        if block & (cs - 1) != 0 || block.saturating_add(cs) > self.store.len() {
            return Err(DiskError::at(
                self.header.refcount_table_offset + 8 * table_i,
                format!("refcount table entry {table_i}: block {block:#x} is unaligned or past the end of the file"),
            ));
        }
        Ok(Some((
            block,
            (index % self.refs_per_block()) * self.refcount_bits(),
        )))
    }

    /// The refcount of the host cluster holding byte `host`.
    pub fn refcount(&mut self, host: u64) -> Result<u64> {
        let index = host >> self.header.cluster_bits;
        let Some((block, bit)) = self.refcount_slot(index)? else {
            return Ok(0);
        };
        let bits = self.refcount_bits();
        if bits >= 8 {
            let n = (bits / 8) as usize;
            let b = read_bytes(&mut *self.store, block + bit / 8, n, "a refcount")?;
            Ok(b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
        } else {
            let b = read_bytes(&mut *self.store, block + bit / 8, 1, "a refcount")?;
            Ok(u64::from(b[0] >> (bit % 8)) & ((1 << bits) - 1))
        }
    }

    /// Sets the refcount of the host cluster holding byte `host`, adding a refcount
    /// block when none covers it.
    pub(crate) fn set_refcount(&mut self, host: u64, value: u64) -> Result<()> {
        let bits = self.refcount_bits();
        if bits < 64 && value >= 1 << bits {
            return Err(DiskError::at(
                host,
                format!("refcount {value} does not fit in {bits} bits"),
            ));
        }
        let index = host >> self.header.cluster_bits;
        let (block, bit) = match self.refcount_slot(index)? {
            Some(s) => s,
            None => self.add_refcount_block(index)?,
        };
        if bits >= 8 {
            let n = (bits / 8) as usize;
            let bytes = value.to_be_bytes();
            self.store.write_at(block + bit / 8, &bytes[8 - n..])
        } else {
            let at = block + bit / 8;
            let mut b = read_bytes(&mut *self.store, at, 1, "a refcount")?;
            let mask = (((1u16 << bits) - 1) as u8) << (bit % 8);
            b[0] = (b[0] & !mask) | ((value as u8) << (bit % 8) & mask);
            self.store.write_at(at, &b)
        }
    }

    /// Adds a refcount block covering host cluster `index`, placed at the end of the
    /// file when that is in the range it covers (it counts itself), else right after
    /// `index`; returns its slot for `index`.
    fn add_refcount_block(&mut self, index: u64) -> Result<(u64, u64)> {
        let per = self.refs_per_block();
        let table_i = index / per;
        if table_i as usize >= self.reftable.len() {
            self.grow_reftable(table_i + 1)?;
            if let Some(slot) = self.refcount_slot(index)? {
                return Ok(slot);
            }
        }
        let cs = self.cluster_size();
        let end = self.store.len().div_ceil(cs);
        let block_index = if end / per == table_i && end != index {
            end
        } else {
            end.max(index + 1)
        };
        if block_index / per != table_i {
            return Err(DiskError::new(format!(
                "a new refcount block for cluster {index} would not cover itself; vmlab does not place it elsewhere"
            )));
        }
        let block = block_index * cs;
        self.store.write_at(block, &vec![0u8; cs as usize])?;
        let entry_at = self.header.refcount_table_offset + 8 * table_i;
        self.store.write_at(entry_at, &block.to_be_bytes())?;
        self.reftable[table_i as usize] = block;
        self.set_refcount(block, 1)?;
        Ok((block, (index % per) * self.refcount_bits()))
    }

    /// Moves the refcount table to the end of the file with room for at least
    /// `entries` blocks (twice the old size or more), adding the refcount blocks the
    /// new clusters need after it, and frees the old table.
    fn grow_reftable(&mut self, entries: u64) -> Result<()> {
        let cs = self.cluster_size();
        let per = self.refs_per_block();
        let old_len = self.reftable.len() as u64;
        let wanted = entries.max(2 * old_len).max(1);
        let n_t = (wanted * 8).div_ceil(cs);
        if n_t * cs > 8 << 20 {
            return Err(DiskError::at(
                self.header.refcount_table_offset,
                "the refcount table would grow past 8 MiB",
            ));
        }
        let mut table = self.reftable.clone();
        table.resize((n_t * cs / 8) as usize, 0);
        let e = self.store.len().div_ceil(cs);
        // New blocks go after the table, until every new cluster is covered.
        let mut added = Vec::new();
        loop {
            let end = e + n_t + added.len() as u64;
            let missing = (e / per..=end.saturating_sub(1) / per).find(|b| {
                table
                    .get(*b as usize)
                    .is_none_or(|x| x & super::OFFSET_MASK == 0)
            });
            let Some(b) = missing else { break };
            let slot = table.get_mut(b as usize).ok_or_else(|| {
                DiskError::at(
                    self.header.refcount_table_offset,
                    "the refcount table cannot cover its own growth",
                )
            })?;
            *slot = end * cs;
            added.push(end * cs);
        }
        for &block in &added {
            self.store.write_at(block, &vec![0u8; cs as usize])?;
        }
        let bytes: Vec<u8> = table.iter().flat_map(|x| x.to_be_bytes()).collect();
        self.store.write_at(e * cs, &bytes)?;
        let (old_at, old_clusters) = (
            self.header.refcount_table_offset,
            self.header.refcount_table_clusters,
        );
        self.store.write_at(48, &(e * cs).to_be_bytes())?;
        self.store.write_at(56, &(n_t as u32).to_be_bytes())?;
        self.header.refcount_table_offset = e * cs;
        self.header.refcount_table_clusters = n_t as u32;
        self.reftable = table;
        for c in e..e + n_t {
            self.set_refcount(c * cs, 1)?;
        }
        for &block in &added {
            self.set_refcount(block, 1)?;
        }
        for c in 0..u64::from(old_clusters) {
            let at = old_at + c * cs;
            let rc = self.refcount(at)?;
            self.set_refcount(at, rc.saturating_sub(1))?;
        }
        Ok(())
    }

    /// Allocates a zeroed cluster with refcount 1 at the end of the file.
    pub(crate) fn alloc_cluster(&mut self) -> Result<u64> {
        self.alloc_run(1)
    }

    /// Allocates `n` contiguous zeroed clusters with refcount 1 at the end of the file
    /// (a refcount block or a larger refcount table they need goes before them).
    pub(crate) fn alloc_run(&mut self, n: u64) -> Result<u64> {
        let cs = self.cluster_size();
        let per = self.refs_per_block();
        let n = n.max(1);
        // Make sure a block covers the end of the file, then take the run there.
        for _ in 0..4 {
            let at = self.store.len().div_ceil(cs) * cs;
            let (first, last) = (at / cs, at / cs + n - 1);
            if first / per != last / per {
                return Err(DiskError::at(
                    at,
                    format!("{n} new clusters would straddle two refcount blocks; vmlab does not split them"),
                ));
            }
            if self.refcount_slot(last)?.is_none() {
                // The block goes at `at` (it covers itself) or the table grows: the
                // end of the file moves, so look again.
                self.add_refcount_block(first)?;
                continue;
            }
            for c in first..=last {
                if self.refcount(c * cs)? != 0 {
                    return Err(DiskError::at(
                        c * cs,
                        "refcount error: a cluster past the end of the file is counted as in use",
                    ));
                }
            }
            for c in first..=last {
                self.set_refcount(c * cs, 1)?;
            }
            self.store.write_at(at, &vec![0u8; (n * cs) as usize])?;
            return Ok(at);
        }
        Err(DiskError::new(
            "no room for new clusters at the end of the file",
        ))
    }
}
