//! The block-store seam: what a disk device reads and writes, in 512-byte sectors.
//! Image formats live outside the core (the `vmlab-disk` crate implements it).

use alloc::string::String;
use core::fmt::Debug;

/// A disk's sectors. Errors are host errors (a bad image, a failed file access): the
/// device reports them to the guest as a failed command.
pub trait BlockStore: Debug + Send {
    /// How many 512-byte sectors the disk has.
    fn sectors(&self) -> u64;
    /// Fills `buf` (a multiple of 512 bytes) from sector `lba`.
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), String>;
    /// Writes `data` (a multiple of 512 bytes) at sector `lba`.
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<(), String>;
}
