//! qcow2 refcounts: reading and setting a cluster's count through the refcount table
//! and blocks, and allocating clusters at the end of the file.

use alloc::format;
use alloc::vec;

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

    /// Adds a refcount block covering host cluster `index`, placed after the end of
    /// the file and counting itself; returns its slot for `index`.
    fn add_refcount_block(&mut self, index: u64) -> Result<(u64, u64)> {
        let per = self.refs_per_block();
        let table_i = index / per;
        if table_i as usize >= self.reftable.len() {
            return Err(DiskError::at(
                self.header.refcount_table_offset,
                format!(
                    "the refcount table ({} entries) cannot cover host cluster {index}; vmlab does not grow it",
                    self.reftable.len()
                ),
            ));
        }
        let cs = self.cluster_size();
        let block_index = (self.store.len().div_ceil(cs)).max(index + 1);
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

    /// Allocates a zeroed cluster with refcount 1 at the end of the file.
    pub(crate) fn alloc_cluster(&mut self) -> Result<u64> {
        self.alloc_run(1)
    }

    /// Allocates `n` contiguous zeroed clusters with refcount 1 at the end of the file
    /// (a refcount block they need goes right after them).
    pub(crate) fn alloc_run(&mut self, n: u64) -> Result<u64> {
        let cs = self.cluster_size();
        let at = self.store.len().div_ceil(cs) * cs;
        let (first, last) = (at / cs, at / cs + n.max(1) - 1);
        let per = self.refs_per_block();
        if first / per != last / per {
            return Err(DiskError::at(
                at,
                format!("{n} new clusters would straddle two refcount blocks; vmlab does not split them"),
            ));
        }
        for c in first..=last {
            if self.refcount(c * cs)? != 0 {
                return Err(DiskError::at(
                    c * cs,
                    "refcount error: a cluster past the end of the file is counted as in use",
                ));
            }
        }
        if self.refcount_slot(last)?.is_none() {
            self.add_refcount_block(last)?;
        }
        for c in first..=last {
            self.set_refcount(c * cs, 1)?;
        }
        self.store
            .write_at(at, &vec![0u8; (n.max(1) * cs) as usize])?;
        Ok(at)
    }
}
