//! Byte stores under an image: a trait, an in-memory store, and (with `std`) a file.

use alloc::boxed::Box;
use alloc::format;
#[cfg(feature = "std")]
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt::Debug;

use crate::error::{DiskError, Result};

/// The bytes of one image file. Reads past the end fail; writes past the end extend.
pub trait ByteStore: Debug + Send {
    /// The length in bytes.
    fn len(&self) -> u64;
    /// True when the store holds no byte.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from `offset`; fails when that runs past the end.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Writes `data` at `offset`, growing the store when needed.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()>;
    /// Pushes buffered writes to the medium.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Limits a store grows to (16 GiB), so a bad offset cannot exhaust the host.
pub const MAX_STORE_LEN: u64 = 16 << 30;

fn check_range(len: u64, offset: u64, n: usize) -> Result<()> {
    match offset.checked_add(n as u64) {
        Some(end) if end <= len => Ok(()),
        _ => Err(DiskError::at(
            offset,
            format!("read of {n} bytes runs past the end of the file ({len} bytes)"),
        )),
    }
}

fn check_growth(offset: u64, n: usize) -> Result<u64> {
    match offset.checked_add(n as u64) {
        Some(end) if end <= MAX_STORE_LEN => Ok(end),
        _ => Err(DiskError::at(
            offset,
            format!("write of {n} bytes would grow the file past {MAX_STORE_LEN} bytes"),
        )),
    }
}

/// An image held in memory (the browser's store, and tests').
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MemStore {
    /// The image's bytes.
    pub bytes: Vec<u8>,
}

impl MemStore {
    /// A store holding `bytes`.
    pub fn new(bytes: Vec<u8>) -> MemStore {
        MemStore { bytes }
    }
}

impl ByteStore for MemStore {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self.len(), offset, buf.len())?;
        let at = offset as usize;
        buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let end = check_growth(offset, data.len())? as usize;
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        let at = offset as usize;
        self.bytes[at..end].copy_from_slice(data);
        Ok(())
    }
}

impl ByteStore for Box<dyn ByteStore> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        (**self).write_at(offset, data)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
}

/// A host file as a byte store.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct FileStore {
    file: std::fs::File,
    len: u64,
}

#[cfg(feature = "std")]
impl FileStore {
    /// Opens `path`, for writing too when `writable`.
    pub fn open(path: &std::path::Path, writable: bool) -> Result<FileStore> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| {
                DiskError::new(format!("cannot open: {e}")).in_file(&path.display().to_string())
            })?;
        let len = file
            .metadata()
            .map_err(|e| DiskError::new(format!("cannot stat: {e}")))?
            .len();
        Ok(FileStore { file, len })
    }
}

#[cfg(feature = "std")]
impl ByteStore for FileStore {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        check_range(self.len, offset, buf.len())?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| DiskError::at(offset, format!("read failed: {e}")))
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let end = check_growth(offset, data.len())?;
        self.file
            .write_all_at(data, offset)
            .map_err(|e| DiskError::at(offset, format!("write failed: {e}")))?;
        self.len = self.len.max(end);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| DiskError::new(format!("flush failed: {e}")))
    }
}
