//! Guest physical memory: RAM, the ROM image mapped below 1 MiB and at the top of 4 GiB,
//! and the per-page bookkeeping of writes: decoded instructions to invalidate, and the
//! pages written since the last checkpoint.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::HostError;

pub mod frames;
pub mod page_log;

pub use frames::{FlatRam, FrameStore, GuestRam, FRAME};
pub use page_log::PageLog;
pub mod pooled;

pub use pooled::{HostFrame, PooledRam, PooledStats};

/// Page size of the code-invalidation bookkeeping (the paging page size).
pub(crate) const PAGE: u32 = 4096;
/// The start of the 1 MiB boundary where low ROM windows end.
pub(crate) const ONE_MIB: u32 = 0x10_0000;

/// Guest physical memory.
#[derive(Clone)]
pub struct Memory {
    /// RAM, reached frame by frame ([`FrameStore`]).
    ram: GuestRam,
    rom: Vec<u8>,
    /// First address of the low ROM window (1 MiB when no ROM is loaded).
    rom_low: u32,
    /// First address of the high ROM window (0 when none; the window ends at 4 GiB).
    rom_high: u32,
    /// Per RAM page: decoded instructions may be cached from it.
    code: Vec<bool>,
    /// Per RAM page: bumped whenever a write hits a page with cached code.
    generation: Vec<u32>,
    /// Per RAM page: written since the dirty marks were last cleared (checkpoints).
    dirty: Vec<bool>,
    /// Per RAM page: dirty and holding no cached code, so that the fast tier's stores
    /// need no bookkeeping. The first store to a page after a checkpoint (or to a
    /// code page) takes the interpreter's path, which marks the page.
    plain_store: Vec<bool>,
    /// Pages whose cached code a write invalidated (self-modifying code).
    pub(crate) invalidations: u64,
    /// The last guest-physical address written that invalidated cached code.
    last_code_write: Option<u32>,
    /// Pages written while the dirty log is on (migration's pre-copy rounds).
    pub(crate) written: PageLog,
    /// Pages read or written while the touch log is on (post-copy's demand faults).
    pub(crate) touched: PageLog,
}

impl core::fmt::Debug for Memory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Memory")
            .field("ram_bytes", &self.ram.len())
            .field("rom_bytes", &self.rom.len())
            .field("invalidations", &self.invalidations)
            .finish_non_exhaustive()
    }
}

impl Memory {
    /// `ram_bytes` of zeroed RAM and no ROM.
    pub fn new(ram_bytes: usize) -> Memory {
        let pages = ram_bytes.div_ceil(PAGE as usize);
        Memory {
            ram: GuestRam::Flat(FlatRam::new(ram_bytes)),
            rom: Vec::new(),
            rom_low: ONE_MIB,
            rom_high: 0,
            code: vec![false; pages],
            generation: vec![0; pages],
            dirty: vec![false; pages],
            plain_store: vec![false; pages],
            invalidations: 0,
            last_code_write: None,
            written: PageLog::new(pages),
            touched: PageLog::new(pages),
        }
    }

    /// All of RAM as one slice, when it is one allocation.
    pub(crate) fn ram_slice(&self) -> Option<&[u8]> {
        self.ram.contiguous()
    }

    /// First address of the low ROM window (1 MiB when no ROM is loaded).
    pub(crate) fn rom_low(&self) -> u32 {
        self.rom_low
    }

    /// Per RAM page: a store there needs no bookkeeping (see [`Memory::fast_store_offset`]).
    pub(crate) fn plain_store_map(&self) -> &[bool] {
        &self.plain_store
    }

    /// Per RAM page: its code generation (see [`Memory::generation`]).
    pub(crate) fn generation_map(&self) -> &[u32] {
        &self.generation
    }

    /// RAM size in bytes.
    pub fn ram_size(&self) -> usize {
        self.ram.len()
    }

    /// The RAM contents, copied frame by frame.
    pub fn ram_bytes(&self) -> Vec<u8> {
        if let Some(all) = self.ram.contiguous() {
            return all.to_vec();
        }
        let mut out = Vec::with_capacity(self.ram.len());
        for gfn in 0..self.pages() {
            out.extend_from_slice(self.ram.frame(gfn).unwrap_or(&[]));
        }
        out
    }

    /// The store behind RAM.
    pub fn frames(&self) -> &GuestRam {
        &self.ram
    }

    /// The ROM image (empty when none is loaded).
    pub fn rom(&self) -> &[u8] {
        &self.rom
    }

    /// Maps a 64 or 128 KiB ROM image at the top of the first MiB and of the 4 GiB space.
    pub fn load_rom(&mut self, image: &[u8]) -> Result<(), HostError> {
        if image.len() != 0x1_0000 && image.len() != 0x2_0000 {
            return Err(HostError::BadImage {
                what: "ROM image",
                reason: alloc::format!(
                    "is {} bytes; a ROM must be exactly 65536 or 131072 bytes",
                    image.len()
                ),
            });
        }
        self.rom = image.to_vec();
        self.rom_low = ONE_MIB - image.len() as u32;
        self.rom_high = 0u32.wrapping_sub(image.len() as u32);
        self.invalidate_all();
        Ok(())
    }

    /// Installs a ROM image and RAM contents as they were (snapshot restore).
    pub(crate) fn restore(&mut self, ram: &[u8], rom: &[u8]) -> Result<(), HostError> {
        if ram.len() != self.ram.len() {
            return Err(HostError::BadSnapshot(alloc::format!(
                "snapshot has {} bytes of RAM, this machine {}",
                ram.len(),
                self.ram.len()
            )));
        }
        for (gfn, src) in ram.chunks(FRAME).enumerate() {
            if let Some(dst) = self.ram.frame_mut(gfn) {
                dst.copy_from_slice(src);
            }
        }
        self.dirty.fill(true);
        if rom.is_empty() {
            self.rom.clear();
            self.rom_low = ONE_MIB;
            self.rom_high = 0;
        } else {
            self.load_rom(rom)
                .map_err(|e| HostError::BadSnapshot(alloc::format!("{e}")))?;
        }
        self.invalidate_all();
        Ok(())
    }

    fn invalidate_all(&mut self) {
        for (c, g) in self.code.iter_mut().zip(self.generation.iter_mut()) {
            if *c {
                *c = false;
                *g = g.wrapping_add(1);
            }
        }
        self.plain_store.copy_from_slice(&self.dirty);
    }

    /// The ROM byte behind physical `addr`, if a ROM window covers it.
    #[inline]
    fn rom_byte(&self, addr: u32) -> Option<u8> {
        if self.rom.is_empty() {
            return None;
        }
        if addr >= self.rom_low && addr < ONE_MIB {
            self.rom.get((addr - self.rom_low) as usize).copied()
        } else if addr >= self.rom_high && self.rom_high != 0 {
            self.rom.get((addr - self.rom_high) as usize).copied()
        } else {
            None
        }
    }

    /// `len` bytes from `addr` are plain RAM (no ROM window, inside RAM).
    #[inline(always)]
    fn plain_ram(&self, addr: u32, len: usize) -> Option<usize> {
        let a = addr as usize;
        let end = a.checked_add(len)?;
        if self.touched.is_on() {
            self.touched.mark(a / PAGE as usize);
            self.touched.mark(end.saturating_sub(1) / PAGE as usize);
        }
        ((addr >= ONE_MIB || end <= self.rom_low as usize) && end <= self.ram.len()).then_some(a)
    }

    /// One byte; unmapped addresses read 0xFF.
    #[inline]
    pub fn read_u8(&self, addr: u32) -> u8 {
        if let Some(a) = self.plain_ram(addr, 1) {
            if let Some([b]) = frames::load(&self.ram, a) {
                return b;
            }
        }
        self.read_u8_slow(addr)
    }

    fn read_u8_slow(&self, addr: u32) -> u8 {
        if let Some(b) = self.rom_byte(addr) {
            return b;
        }
        frames::load(&self.ram, addr as usize).map_or(0xff, |[b]| b)
    }

    /// A little-endian word.
    #[inline]
    pub fn read_u16(&self, addr: u32) -> u16 {
        if let Some(a) = self.plain_ram(addr, 2) {
            if let Some(b) = frames::load(&self.ram, a) {
                return u16::from_le_bytes(b);
            }
        }
        u16::from_le_bytes([
            self.read_u8_slow(addr),
            self.read_u8_slow(addr.wrapping_add(1)),
        ])
    }

    /// A little-endian doubleword.
    #[inline]
    pub fn read_u32(&self, addr: u32) -> u32 {
        if let Some(a) = self.plain_ram(addr, 4) {
            if let Some(b) = frames::load(&self.ram, a) {
                return u32::from_le_bytes(b);
            }
        }
        let mut b = [0u8; 4];
        for (i, x) in b.iter_mut().enumerate() {
            *x = self.read_u8_slow(addr.wrapping_add(i as u32));
        }
        u32::from_le_bytes(b)
    }

    /// `size` (1, 2 or 4) bytes, zero-extended.
    #[inline]
    pub fn read(&self, addr: u32, size: u8) -> u32 {
        match size {
            1 => self.read_u8(addr) as u32,
            2 => self.read_u16(addr) as u32,
            _ => self.read_u32(addr),
        }
    }

    /// Copies memory into `buf` with no side effects (unmapped bytes read 0xFF).
    pub fn peek(&self, addr: u32, buf: &mut [u8]) {
        // Plain RAM in one allocation or one frame: one copy (a page at most, so the
        // pages `plain_ram` marks touched are all it spans).
        if buf.len() <= PAGE as usize {
            let src = self
                .plain_ram(addr, buf.len())
                .and_then(|a| frames::slice(&self.ram, a, buf.len()));
            if let Some(src) = src {
                buf.copy_from_slice(src);
                return;
            }
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.read_u8(addr.wrapping_add(i as u32));
        }
    }

    #[inline(always)]
    fn touch(&mut self, a: usize) {
        let page = a / PAGE as usize;
        if let Some(d) = self.dirty.get_mut(page) {
            *d = true;
        }
        if self.written.is_on() {
            self.written.mark(page);
        }
        if let Some(p) = self.plain_store.get_mut(page) {
            *p = true;
        }
        if let Some(c) = self.code.get_mut(page) {
            if *c {
                *c = false;
                if let Some(g) = self.generation.get_mut(page) {
                    *g = g.wrapping_add(1);
                }
                self.invalidations += 1;
                self.last_code_write = Some(a as u32);
            }
        }
    }

    /// The last guest-physical address written that invalidated cached code.
    pub(crate) fn last_code_write(&self) -> Option<u32> {
        self.last_code_write
    }

    /// Writes one byte; writes to ROM or unmapped addresses are ignored.
    #[inline]
    pub fn write_u8(&mut self, addr: u32, v: u8) {
        if let Some(a) = self.plain_ram(addr, 1) {
            self.touch(a);
            frames::store(&mut self.ram, a, [v]);
        }
    }

    /// Writes a little-endian word.
    #[inline]
    pub fn write_u16(&mut self, addr: u32, v: u16) {
        if let Some(a) = self.plain_ram(addr, 2) {
            if a & 0xfff != 0xfff {
                self.touch(a);
                if frames::store(&mut self.ram, a, v.to_le_bytes()) {
                    return;
                }
            }
        }
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u32), b);
        }
    }

    /// Writes a little-endian doubleword.
    #[inline]
    pub fn write_u32(&mut self, addr: u32, v: u32) {
        if let Some(a) = self.plain_ram(addr, 4) {
            if a & 0xfff <= 0xffc {
                self.touch(a);
                if frames::store(&mut self.ram, a, v.to_le_bytes()) {
                    return;
                }
            }
        }
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u32), b);
        }
    }

    /// Writes `size` (1, 2 or 4) bytes.
    #[inline]
    pub fn write(&mut self, addr: u32, size: u8, v: u32) {
        match size {
            1 => self.write_u8(addr, v as u8),
            2 => self.write_u16(addr, v as u16),
            _ => self.write_u32(addr, v),
        }
    }

    /// Writes a byte string (loaders, harnesses); fails when it does not fit in RAM.
    pub fn write_bytes(&mut self, addr: u32, bytes: &[u8]) -> Result<(), HostError> {
        let start = addr as usize;
        let end = start
            .checked_add(bytes.len())
            .filter(|&e| e <= self.ram.len())
            .ok_or(HostError::ImageTooLarge {
                what: "data written to physical memory",
                size: bytes.len(),
                max: self.ram.len().saturating_sub(start),
            })?;
        let mut done = 0;
        while done < bytes.len() {
            let a = start + done;
            let off = a % FRAME;
            let n = (FRAME - off).min(bytes.len() - done);
            if let Some(dst) = self
                .ram
                .frame_mut(a / FRAME)
                .and_then(|f| f.get_mut(off..off + n))
            {
                dst.copy_from_slice(&bytes[done..done + n]);
            }
            done += n;
        }
        let first = start / PAGE as usize;
        let last = end.saturating_sub(1) / PAGE as usize;
        for p in first..=last {
            self.touch(p * PAGE as usize);
        }
        Ok(())
    }

    /// Copies `len` bytes of plain RAM inside RAM (REP MOVS fast path); false when the
    /// ranges are not both plain RAM, so the caller takes the byte-wise path.
    pub(crate) fn copy_within(&mut self, src: u32, dst: u32, len: usize) -> bool {
        let (Some(s), Some(d)) = (self.plain_ram(src, len), self.plain_ram(dst, len)) else {
            return false;
        };
        if self.ram.contiguous().is_none() {
            return false;
        }
        if len == 0 {
            return true;
        }
        let first = d / PAGE as usize;
        let last = (d + len - 1) / PAGE as usize;
        for p in first..=last {
            self.touch(p * PAGE as usize);
        }
        if let Some(ram) = self.ram.contiguous_mut() {
            ram.copy_within(s..s + len, d);
        }
        true
    }

    /// Fills `count` elements of `size` bytes with `value` (REP STOS fast path); false
    /// when the range is not plain RAM.
    pub(crate) fn fill(&mut self, dst: u32, size: u8, value: u32, count: usize) -> bool {
        let len = count * size as usize;
        let Some(d) = self.plain_ram(dst, len) else {
            return false;
        };
        if self.ram.contiguous().is_none() {
            return false;
        }
        if len == 0 {
            return true;
        }
        let first = d / PAGE as usize;
        let last = (d + len - 1) / PAGE as usize;
        for p in first..=last {
            self.touch(p * PAGE as usize);
        }
        let bytes = value.to_le_bytes();
        if let Some(s) = self
            .ram
            .contiguous_mut()
            .and_then(|r| r.get_mut(d..d + len))
        {
            if size == 1 {
                s.fill(bytes[0]);
            } else {
                for chunk in s.chunks_exact_mut(size as usize) {
                    chunk.copy_from_slice(&bytes[..size as usize]);
                }
            }
        }
        true
    }

    /// `size` bytes of plain RAM at `addr`, for the fast tier (`None`: ROM, outside RAM).
    #[inline(always)]
    pub(crate) fn fast_read(&self, addr: u32, size: u8) -> Option<u32> {
        let a = self.plain_ram(addr, 4.min(size as usize))?;
        Some(self.ram_load(a, size))
    }

    /// The RAM offset of a `size`-byte store at `addr` that needs no bookkeeping: plain
    /// RAM on pages already marked dirty and holding no decoded code (`None` otherwise).
    #[inline(always)]
    pub(crate) fn fast_store_offset(&self, addr: u32, size: u8) -> Option<usize> {
        let a = self.plain_ram(addr, 4.min(size as usize))?;
        let first = a / PAGE as usize;
        let last = (a + size as usize - 1) / PAGE as usize;
        let clean = |p: usize| self.plain_store.get(p) == Some(&true);
        (clean(first) && (last == first || clean(last))).then_some(a)
    }

    /// `size` bytes at RAM offset `a` (checked by [`Memory::fast_read`] or
    /// [`Memory::fast_store_offset`]; out of range reads 0xFF).
    #[inline(always)]
    pub(crate) fn ram_load(&self, a: usize, size: u8) -> u32 {
        let v = match size {
            1 => frames::load(&self.ram, a).map(|[b]| b as u32),
            2 => frames::load(&self.ram, a).map(|b| u16::from_le_bytes(b) as u32),
            _ => frames::load(&self.ram, a).map(u32::from_le_bytes),
        };
        match v {
            Some(v) => v,
            None => self.ram_load_split(a, size),
        }
    }

    /// [`Memory::ram_load`] of bytes in two frames.
    #[inline(never)]
    fn ram_load_split(&self, a: usize, size: u8) -> u32 {
        (0..size.min(4) as usize).fold(0, |v, i| {
            let b = frames::load(&self.ram, a + i).map_or(0xff, |[b]| b);
            v | (b as u32) << (8 * i)
        })
    }

    /// Stores `size` bytes at RAM offset `a` without bookkeeping (the caller checked
    /// with [`Memory::fast_store_offset`] that its pages are dirty and hold no code).
    #[inline(always)]
    pub(crate) fn ram_store(&mut self, a: usize, size: u8, v: u32) {
        let done = match size {
            1 => frames::store(&mut self.ram, a, [v as u8]),
            2 => frames::store(&mut self.ram, a, (v as u16).to_le_bytes()),
            _ => frames::store(&mut self.ram, a, v.to_le_bytes()),
        };
        if !done {
            self.ram_store_split(a, size, v);
        }
    }

    /// [`Memory::ram_store`] of bytes in two frames.
    #[inline(never)]
    fn ram_store_split(&mut self, a: usize, size: u8, v: u32) {
        for i in 0..size.min(4) as usize {
            frames::store(&mut self.ram, a + i, [(v >> (8 * i)) as u8]);
        }
    }

    /// The numbers of the RAM pages written since [`Memory::clear_dirty`].
    pub(crate) fn dirty_pages(&self) -> impl Iterator<Item = usize> + '_ {
        self.dirty
            .iter()
            .enumerate()
            .filter_map(|(p, &d)| d.then_some(p))
    }

    /// Forgets which pages were written.
    pub(crate) fn clear_dirty(&mut self) {
        self.dirty.fill(false);
        self.plain_store.fill(false);
    }

    /// Makes every store take the bookkept path once more, so that the dirty log sees
    /// the first store to each page (the fast tier's stores skip the bookkeeping).
    pub(crate) fn bookkeep_every_store(&mut self) {
        self.plain_store.fill(false);
    }

    /// Number of RAM pages.
    pub(crate) fn pages(&self) -> usize {
        self.dirty.len()
    }

    /// The bytes of RAM page `page` (shorter for a partial last page; empty past the end).
    pub(crate) fn page(&self, page: usize) -> &[u8] {
        self.ram.frame(page).unwrap_or(&[])
    }

    /// Overwrites RAM page `page` with `bytes` (from [`Memory::page`]), invalidating
    /// code cached from it; does not mark it dirty.
    pub(crate) fn set_page(&mut self, page: usize, bytes: &[u8]) {
        if let Some(dst) = self.ram.frame_mut(page) {
            let n = dst.len().min(bytes.len());
            dst[..n].copy_from_slice(&bytes[..n]);
        }
        if let (Some(c), Some(g)) = (self.code.get_mut(page), self.generation.get_mut(page)) {
            if *c {
                *c = false;
                *g = g.wrapping_add(1);
            }
        }
        if let (Some(p), Some(&d)) = (self.plain_store.get_mut(page), self.dirty.get(page)) {
            *p = d;
        }
    }

    /// Marks the page of `addr` as holding cached code and returns its generation.
    #[inline]
    pub(crate) fn code_generation(&mut self, addr: u32) -> u32 {
        let page = (addr / PAGE) as usize;
        if let Some(p) = self.plain_store.get_mut(page) {
            *p = false;
        }
        match (self.code.get_mut(page), self.generation.get(page)) {
            (Some(c), Some(g)) => {
                *c = true;
                *g
            }
            _ => 0,
        }
    }

    /// The current generation of the page of `addr` (changes when cached code is invalidated).
    #[inline(always)]
    pub(crate) fn generation(&self, addr: u32) -> u32 {
        self.generation
            .get((addr / PAGE) as usize)
            .copied()
            .unwrap_or(0)
    }
}

/// Physical memory as a reader and writer of bytes and dwords: the machine's
/// [`Memory`], or a test's, or a VMM's view of a guest's.
pub trait PhysMem {
    /// Reads a byte (unmapped reads give 0xFF).
    fn read_u8(&mut self, phys: u32) -> u8;
    /// Writes a byte (ROM and unmapped writes are dropped).
    fn write_u8(&mut self, phys: u32, value: u8);
    /// Reads a little-endian dword.
    fn read_u32(&mut self, phys: u32) -> u32 {
        u32::from_le_bytes([
            self.read_u8(phys),
            self.read_u8(phys.wrapping_add(1)),
            self.read_u8(phys.wrapping_add(2)),
            self.read_u8(phys.wrapping_add(3)),
        ])
    }
    /// Writes a little-endian dword.
    fn write_u32(&mut self, phys: u32, value: u32) {
        for (i, b) in value.to_le_bytes().into_iter().enumerate() {
            self.write_u8(phys.wrapping_add(i as u32), b);
        }
    }
    /// Gives guest frame `gfn` a frame of its own when it shares one (pooled RAM's
    /// copy-on-write); its contents stay the same. Nothing for other memory.
    fn copy_shared_frame(&mut self, _gfn: u32) {}
}

impl PhysMem for Memory {
    fn read_u8(&mut self, phys: u32) -> u8 {
        Memory::read_u8(self, phys)
    }
    fn write_u8(&mut self, phys: u32, value: u8) {
        Memory::write_u8(self, phys, value)
    }
    fn read_u32(&mut self, phys: u32) -> u32 {
        Memory::read_u32(self, phys)
    }
    fn write_u32(&mut self, phys: u32, value: u32) {
        Memory::write_u32(self, phys, value)
    }
    fn copy_shared_frame(&mut self, gfn: u32) {
        if let GuestRam::Pooled(p) = &mut self.ram {
            p.copy_shared(gfn as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_is_mapped_low_and_high_and_read_only() {
        let mut m = Memory::new(2 << 20);
        let mut rom = vec![0u8; 0x10000];
        rom[0xfff0] = 0xea;
        m.load_rom(&rom).unwrap();
        assert_eq!(m.read_u8(0xffff0), 0xea);
        assert_eq!(m.read_u8(0xffff_fff0), 0xea);
        m.write_u8(0xffff0, 0x90);
        assert_eq!(m.read_u8(0xffff0), 0xea);
        assert_eq!(m.read_u8(0x30_0000), 0xff, "unmapped reads 0xFF");
        m.write_u32(0x1000, 0xdead_beef);
        assert_eq!(m.read_u32(0x1000), 0xdead_beef);
        assert_eq!(m.read_u16(0x1002), 0xdead);
    }

    #[test]
    fn accesses_that_straddle_two_frames_reach_both() {
        let mut m = Memory::new(1 << 20);
        m.write_u32(0x1ffe, 0x1122_3344);
        assert_eq!(m.read_u32(0x1ffe), 0x1122_3344);
        assert_eq!(m.read_u16(0x1fff), 0x2233);
        assert_eq!(m.read_u8(0x2000), 0x22);
        m.ram_store(0x2ffd, 4, 0xaabb_ccdd);
        assert_eq!(m.ram_load(0x2ffd, 4), 0xaabb_ccdd);
        assert_eq!(m.ram_load(0x2fff, 2), 0xaabb);
        assert_eq!(
            m.ram_load(0xf_fffe, 4),
            0xffff_0000,
            "past the end reads 0xFF"
        );
        let bytes = m.ram_bytes();
        assert_eq!(bytes.len(), 1 << 20);
        let mut peeked = [0u8; 8];
        m.peek(0x1ffc, &mut peeked);
        assert_eq!(&bytes[0x1ffc..0x2004], &peeked);
        let mut other = Memory::new(1 << 20);
        other.restore(&bytes, &[]).unwrap();
        assert_eq!(other.read_u32(0x2ffd), 0xaabb_ccdd);
        assert!(other.restore(&bytes[..4096], &[]).is_err());
    }

    /// `peek` reads what `read_u8` reads, a byte at a time, wherever the bytes are:
    /// plain RAM (one copy), the ROM windows, past the end of RAM, across pages.
    #[test]
    fn peek_reads_as_read_u8_does() {
        let mut m = Memory::new(2 << 20);
        let mut rom = vec![0u8; 0x10000];
        rom.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8 ^ 0x5a);
        m.load_rom(&rom).unwrap();
        for a in (0..0x1000u32).step_by(7) {
            m.write_u8(0x10_0000 + a, a as u8);
            m.write_u8(0x3000 + a, !a as u8);
        }
        for (addr, len) in [
            (0x3000, 4096),
            (0x3ffe, 4),
            (0x10_0000, 4096),
            (0xf_f000, 4096),
            (0xf_fffe, 4),
            (0x1f_f000, 4096),
            (0x1f_fffe, 8),
            (0x2000, 8192),
        ] {
            let mut peeked = vec![0u8; len];
            m.peek(addr, &mut peeked);
            let read: Vec<u8> = (0..len as u32).map(|i| m.read_u8(addr + i)).collect();
            assert!(peeked == read, "peek at {addr:#x}, {len} bytes");
        }
    }

    #[test]
    fn writes_invalidate_code_pages() {
        let mut m = Memory::new(1 << 20);
        let g = m.code_generation(0x2000);
        m.write_u8(0x3000, 1);
        assert_eq!(m.generation(0x2000), g);
        m.write_u8(0x2fff, 1);
        assert_ne!(m.generation(0x2000), g);
        assert_eq!(m.invalidations, 1);
    }

    #[test]
    fn every_kind_of_write_marks_its_pages_dirty() {
        let mut m = Memory::new(1 << 20);
        let dirty = |m: &Memory| m.dirty_pages().collect::<Vec<_>>();
        assert!(dirty(&m).is_empty());
        m.write_u8(0x1000, 1);
        // Crosses into page 3.
        m.write_u32(0x2ffe, 0xdead_beef);
        // The fast tier stores only to pages already dirty; the first store goes the
        // interpreter's way, which marks them.
        assert_eq!(m.fast_store_offset(0x5ffe, 4), None);
        m.write_u32(0x5ffe, 7);
        assert_eq!(m.fast_store_offset(0x5ffe, 4), Some(0x5ffe));
        m.write_bytes(0x8000, &[1; 0x1001]).unwrap();
        assert!(m.fill(0xa000, 4, 9, 2));
        assert!(m.copy_within(0x1000, 0xb000, 16));
        assert_eq!(dirty(&m), [1, 2, 3, 5, 6, 8, 9, 10, 11]);
        m.clear_dirty();
        assert!(dirty(&m).is_empty());
        assert_eq!(m.fast_store_offset(0x5ffe, 4), None, "clean again");
        m.write_u8(0x5000, 1);
        m.code_generation(0x5000);
        assert_eq!(m.fast_store_offset(0x5000, 1), None, "a code page");
        let saved = m.page(2).to_vec();
        m.write_u8(0x2000, 0x55);
        m.set_page(2, &saved);
        assert_eq!(m.read_u8(0x2000), saved[0]);
    }
}
