//! vmlab's virtual disk images: raw and qcow2 (v2 and v3) with backing chains,
//! internal snapshots, compressed clusters, copy-on-write and a refcount check, over
//! any [`ByteStore`].
//!
//! `no_std` + `alloc`, so the browser opens the same images; the `std` feature adds
//! files and an opener that follows backing file names on the host.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod open;
pub mod qcow2;
pub mod store;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

pub use error::{DiskError, Result};
pub use open::{open_chain, Opener};
pub use qcow2::Qcow2;
pub use store::{ByteStore, MemStore};

/// An image format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// The disk's bytes as they are.
    Raw,
    /// QEMU copy-on-write v2 or v3.
    Qcow2,
}

impl Format {
    /// The name `qemu-img` uses.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
        }
    }

    /// Parses `raw` or `qcow2`.
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "raw" => Ok(Format::Raw),
            "qcow2" => Ok(Format::Qcow2),
            _ => Err(DiskError::new(format!(
                "unknown image format {s:?} (raw or qcow2)"
            ))),
        }
    }

    /// The format a store's first bytes show: qcow2 by its magic, raw otherwise.
    pub fn probe(store: &mut dyn ByteStore) -> Result<Format> {
        if store.len() < 4 {
            return Ok(Format::Raw);
        }
        let mut m = [0u8; 4];
        store.read_at(0, &mut m)?;
        Ok(if u32::from_be_bytes(m) == qcow2::MAGIC {
            Format::Qcow2
        } else {
            Format::Raw
        })
    }
}

/// A raw image: guest byte N is file byte N.
#[derive(Debug)]
pub struct RawImage {
    store: Box<dyn ByteStore>,
    writable: bool,
}

impl RawImage {
    /// A raw image over `store`.
    pub fn new(store: Box<dyn ByteStore>, writable: bool) -> RawImage {
        RawImage { store, writable }
    }
}

/// An open image of either format, with its backing chain.
#[derive(Debug)]
pub enum Image {
    /// A raw image.
    Raw(RawImage),
    /// A qcow2 image.
    Qcow2(Box<Qcow2>),
}

impl Image {
    /// The format.
    pub fn format(&self) -> Format {
        match self {
            Image::Raw(_) => Format::Raw,
            Image::Qcow2(_) => Format::Qcow2,
        }
    }

    /// The virtual disk size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Image::Raw(r) => r.store.len(),
            Image::Qcow2(q) => q.size(),
        }
    }

    /// Reads guest bytes at `offset`.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Image::Raw(r) => r.store.read_at(offset, buf),
            Image::Qcow2(q) => q.read(offset, buf),
        }
    }

    /// Writes guest bytes at `offset`; nothing else in the file changes but the
    /// metadata a qcow2 write needs.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        match self {
            Image::Raw(r) => {
                if !r.writable {
                    return Err(DiskError::new("the image is open read-only"));
                }
                let size = r.store.len();
                if offset
                    .checked_add(data.len() as u64)
                    .is_none_or(|e| e > size)
                {
                    return Err(DiskError::new(format!(
                        "guest write of {} bytes at {offset:#x} runs past the disk's {size} bytes",
                        data.len()
                    )));
                }
                r.store.write_at(offset, data)
            }
            Image::Qcow2(q) => q.write(offset, data),
        }
    }

    /// Pushes writes to the medium.
    pub fn flush(&mut self) -> Result<()> {
        match self {
            Image::Raw(r) => r.store.flush(),
            Image::Qcow2(q) => q.flush(),
        }
    }

    /// The qcow2 image, if this is one.
    pub fn as_qcow2(&mut self) -> Option<&mut Qcow2> {
        match self {
            Image::Qcow2(q) => Some(q),
            Image::Raw(_) => None,
        }
    }

    /// The backing image, if any.
    pub fn backing(&self) -> Option<&Image> {
        match self {
            Image::Qcow2(q) => q.backing(),
            Image::Raw(_) => None,
        }
    }

    /// Opens an image in memory (no backing file can be followed), its format probed.
    pub fn from_bytes(bytes: alloc::vec::Vec<u8>, writable: bool) -> Result<Image> {
        Image::from_bytes_as(bytes, None, writable)
    }

    /// Opens an image in memory in `format` (probed when `None`).
    pub fn from_bytes_as(
        bytes: alloc::vec::Vec<u8>,
        format: Option<Format>,
        writable: bool,
    ) -> Result<Image> {
        let mut store: Box<dyn ByteStore> = Box::new(MemStore::new(bytes));
        let format = match format {
            Some(f) => f,
            None => Format::probe(&mut *store)?,
        };
        match format {
            Format::Raw => Ok(Image::Raw(RawImage::new(store, writable))),
            Format::Qcow2 => Ok(Image::Qcow2(Box::new(Qcow2::open(store, None, writable)?))),
        }
    }

    /// A one-line description: format, size and backing chain.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {} bytes", self.format().name(), self.size());
        if let Some(b) = self.backing() {
            s.push_str(" backed by ");
            s.push_str(&b.describe());
        }
        s
    }
}

/// The disk the emulated ATA drive reads and writes: an image in 512-byte sectors.
impl emulator_core::devices::BlockStore for Image {
    fn sectors(&self) -> u64 {
        self.size() / 512
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> core::result::Result<(), String> {
        self.read(lba.saturating_mul(512), buf)
            .map_err(|e| format!("{e}"))
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> core::result::Result<(), String> {
        self.write(lba.saturating_mul(512), data)
            .map_err(|e| format!("{e}"))
    }
}
