//! The process VM's memory calls: brk, mmap2 and munmap over a page map.

use assignments::component::procmem::*;

/// Your memory calls.
pub struct Submission;

impl MemoryCalls for Submission {
    fn brk(&self, areas: &mut Areas, _pages: &mut dyn PageMap, _want: u32) -> u32 {
        // TODO: grow or shrink the heap to `want`, mapping or unmapping its pages.
        areas.brk
    }

    fn mmap2(&self, _areas: &mut Areas, _pages: &mut dyn PageMap, args: &MmapArgs) -> Result<u32, i32> {
        if args.len == 0 || args.addr % PAGE != 0 {
            return Err(EINVAL);
        }
        // TODO: MAP_FIXED, then a search for free pages below `mmap_next`.
        Err(ENOMEM)
    }

    fn munmap(&self, _areas: &mut Areas, pages: &mut dyn PageMap, addr: u32, len: u32) -> Result<u32, i32> {
        if addr % PAGE != 0 || len == 0 {
            return Err(EINVAL);
        }
        let mut page = addr;
        while page < addr.saturating_add(len) && page < USER_TOP {
            pages.unmap(page);
            page += PAGE;
        }
        Ok(0)
    }
}
