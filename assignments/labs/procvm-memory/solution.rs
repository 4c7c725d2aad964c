// reference solution: procvm-memory — brk, mmap2 and munmap over the page map.
//! The process VM's memory calls: brk, mmap2 and munmap over a page map.

use assignments::component::procmem::*;

/// The memory calls, as Linux answers them.
pub struct Submission;

fn page_up(v: u32) -> Option<u32> {
    v.checked_add(PAGE - 1).map(|x| x & !(PAGE - 1))
}

/// Every user page in `[from, to)`.
fn each_page(from: u32, to: u32) -> impl Iterator<Item = u32> {
    let first = from.max(USER_BOTTOM) & !(PAGE - 1);
    (first..to.min(USER_TOP)).step_by(PAGE as usize)
}

/// Maps `[from, to)`, or nothing at all.
fn map_or_undo(pages: &mut dyn PageMap, from: u32, to: u32, writable: bool) -> Result<(), i32> {
    for p in each_page(from, to) {
        if let Err(e) = pages.map(p, writable) {
            for q in each_page(from, to) {
                pages.unmap(q);
            }
            return Err(e);
        }
    }
    Ok(())
}

impl MemoryCalls for Submission {
    fn brk(&self, areas: &mut Areas, pages: &mut dyn PageMap, want: u32) -> u32 {
        if want < areas.brk_start || want >= MMAP_TOP {
            return areas.brk;
        }
        let have = page_up(areas.brk).unwrap_or(areas.brk);
        let need = page_up(want).unwrap_or(want);
        if need > have && map_or_undo(pages, have, need, true).is_err() {
            return areas.brk;
        }
        for p in each_page(need, have) {
            pages.unmap(p);
        }
        areas.brk = want;
        want
    }

    fn mmap2(&self, areas: &mut Areas, pages: &mut dyn PageMap, args: &MmapArgs) -> Result<u32, i32> {
        if args.len == 0 || args.addr % PAGE != 0 {
            return Err(EINVAL);
        }
        let size = page_up(args.len).ok_or(ENOMEM)?;
        let writable = args.prot & PROT_WRITE != 0;
        if args.flags & MAP_FIXED != 0 {
            let end = args.addr.checked_add(size).ok_or(EINVAL)?;
            if args.addr < USER_BOTTOM || end > USER_TOP {
                return Err(EINVAL);
            }
            for p in each_page(args.addr, end) {
                pages.unmap(p);
            }
            map_or_undo(pages, args.addr, end, writable)?;
            return Ok(args.addr);
        }
        // Downwards from the low mark: a mapped page moves the top below it.
        let floor = areas.brk.max(USER_BOTTOM);
        let mut top = areas.mmap_next;
        loop {
            if top < size || top - size < floor {
                return Err(ENOMEM);
            }
            let start = top - size;
            match each_page(start, top).filter(|&p| pages.mapped(p)).last() {
                Some(p) => top = p,
                None => {
                    areas.mmap_next = start;
                    map_or_undo(pages, start, top, writable)?;
                    return Ok(start);
                }
            }
        }
    }

    fn munmap(&self, _areas: &mut Areas, pages: &mut dyn PageMap, addr: u32, len: u32) -> Result<u32, i32> {
        if addr % PAGE != 0 || len == 0 {
            return Err(EINVAL);
        }
        for p in each_page(addr, addr.saturating_add(len)) {
            pages.unmap(p);
        }
        Ok(0)
    }
}
