//! The memory calls brk, mmap2 and munmap as a trait over a page map: the process VM
//! answers them through it, and the `procvm-memory` lab implements it. Self-contained
//! (`core` only), so the lab's API crate carries this very file.

/// Page size.
pub const PAGE: u32 = 4096;
/// The lowest address a program may map.
pub const USER_BOTTOM: u32 = 0x0001_0000;
/// One past the highest user address; the stack ends here.
pub const USER_TOP: u32 = 0xc000_0000;
/// New mappings without an address go below here, downwards.
pub const MMAP_TOP: u32 = 0xb000_0000;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// `prot`: the pages may be written.
pub const PROT_WRITE: u32 = 2;
/// `flags`: map exactly at `addr`, replacing what is there.
pub const MAP_FIXED: u32 = 0x10;
/// `flags`: zeroed memory, no file.
pub const MAP_ANONYMOUS: u32 = 0x20;

/// The pages of one address space, as the memory calls see them.
pub trait PageMap {
    /// Whether the user page at `page` (page-aligned) is mapped.
    fn mapped(&mut self, page: u32) -> bool;
    /// Maps a zeroed page at `page` (a mapped page is kept, with its write permission
    /// set to `writable`); `Err(ENOMEM)` when no memory is left or the page is not a
    /// user page.
    fn map(&mut self, page: u32, writable: bool) -> Result<(), i32>;
    /// Unmaps `page` and frees its frame (nothing happens if it is not mapped).
    fn unmap(&mut self, page: u32);
    /// Pages that may still be mapped (what a memory limit leaves).
    fn free_pages(&mut self) -> u32 {
        u32::MAX
    }
    /// The lowest mapped user page at or above `from`, if any.
    fn next_mapped(&mut self, from: u32) -> Option<u32> {
        let mut p = from.max(USER_BOTTOM) & !(PAGE - 1);
        while p < USER_TOP {
            if self.mapped(p) {
                return Some(p);
            }
            p += PAGE;
        }
        None
    }
}

/// A process's heap and mmap areas: all the state the memory calls keep between calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Start of the heap (the page after the highest loaded segment).
    pub brk_start: u32,
    /// The current program break.
    pub brk: u32,
    /// The low mark of the mmap area: a search for free space starts below it.
    pub mmap_next: u32,
}

/// The arguments of mmap2(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapArgs {
    /// The address asked for (a hint, or exact with `MAP_FIXED`).
    pub addr: u32,
    /// Bytes.
    pub len: u32,
    /// `PROT_*` bits.
    pub prot: u32,
    /// `MAP_*` bits.
    pub flags: u32,
    /// The file (ignored with `MAP_ANONYMOUS`; the process VM checks it and copies the
    /// file's bytes in after the call).
    pub fd: u32,
    /// The file offset in pages.
    pub pgoff: u32,
}

/// brk, mmap2 and munmap over a [`PageMap`], as Linux answers them.
pub trait MemoryCalls {
    /// brk(2): moves the break to `want` and maps or unmaps the heap's pages to match;
    /// returns the new break, or the old one when `want` is out of the heap's range or
    /// memory runs out (then nothing changes).
    fn brk(&self, areas: &mut Areas, pages: &mut dyn PageMap, want: u32) -> u32;
    /// mmap2(2): maps whole pages (writable if `prot` has `PROT_WRITE`) and returns
    /// where they start, or an errno.
    fn mmap2(
        &self,
        areas: &mut Areas,
        pages: &mut dyn PageMap,
        args: &MmapArgs,
    ) -> Result<u32, i32>;
    /// munmap(2): unmaps the pages `[addr, addr + len)` touches; returns 0 or an errno.
    fn munmap(
        &self,
        areas: &mut Areas,
        pages: &mut dyn PageMap,
        addr: u32,
        len: u32,
    ) -> Result<u32, i32>;
}
