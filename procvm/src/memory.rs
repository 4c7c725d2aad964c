//! The process VM's own memory calls ([`LinuxMemory`]): brk, mmap2 and munmap as Linux
//! answers them, over the page tables ([`Live`] is the running process's page map).

use emulator_core::Machine;

use crate::memcalls::{
    Areas, MemoryCalls, MmapArgs, PageMap, EINVAL, ENOMEM, MAP_FIXED, PAGE, PROT_WRITE,
    USER_BOTTOM, USER_TOP,
};
use crate::space::{pages, Space};

/// brk, mmap2 and munmap as the process VM answers them: the reference of the lab.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxMemory;

fn round_up(v: u32) -> Option<u32> {
    v.checked_add(PAGE - 1).map(|e| e & !(PAGE - 1))
}

/// Maps `[start, end)`; on failure unmaps it all again.
fn map_all(pm: &mut dyn PageMap, start: u32, end: u32, writable: bool) -> Result<(), i32> {
    let r = pages(start, end).try_for_each(|p| pm.map(p, writable));
    if r.is_err() {
        pages(start, end).for_each(|p| pm.unmap(p));
    }
    r
}

/// `len` free bytes below the mmap area's low mark and above the break, highest first.
fn find_free(a: &mut Areas, pm: &mut dyn PageMap, len: u32) -> Result<u32, i32> {
    let mut top = a.mmap_next;
    'search: while top >= len && top - len >= a.brk.max(USER_BOTTOM) {
        let start = top - len;
        let mut p = start;
        while p < top {
            if pm.mapped(p) {
                top = p;
                continue 'search;
            }
            p += PAGE;
        }
        a.mmap_next = start;
        return Ok(start);
    }
    Err(ENOMEM)
}

impl MemoryCalls for LinuxMemory {
    fn brk(&self, a: &mut Areas, pm: &mut dyn PageMap, want: u32) -> u32 {
        if want < a.brk_start || want >= crate::memcalls::MMAP_TOP {
            return a.brk;
        }
        let old_end = round_up(a.brk).unwrap_or(a.brk);
        let new_end = round_up(want).unwrap_or(want);
        if new_end > old_end {
            if map_all(pm, old_end, new_end, true).is_err() {
                return a.brk;
            }
        } else {
            pages(new_end, old_end).for_each(|p| pm.unmap(p));
        }
        a.brk = want;
        want
    }

    fn mmap2(&self, a: &mut Areas, pm: &mut dyn PageMap, m: &MmapArgs) -> Result<u32, i32> {
        if m.len == 0 || m.addr & (PAGE - 1) != 0 {
            return Err(EINVAL);
        }
        let size = round_up(m.len).ok_or(ENOMEM)?;
        let start = if m.flags & MAP_FIXED != 0 {
            if m.addr.checked_add(size).is_none_or(|e| e > USER_TOP) || m.addr < USER_BOTTOM {
                return Err(EINVAL);
            }
            pages(m.addr, m.addr + size).for_each(|p| pm.unmap(p));
            m.addr
        } else {
            find_free(a, pm, size)?
        };
        map_all(pm, start, start + size, m.prot & PROT_WRITE != 0)?;
        Ok(start)
    }

    fn munmap(&self, _: &mut Areas, pm: &mut dyn PageMap, addr: u32, len: u32) -> Result<u32, i32> {
        if addr & (PAGE - 1) != 0 || len == 0 {
            return Err(EINVAL);
        }
        pages(addr, addr.saturating_add(len)).for_each(|p| pm.unmap(p));
        Ok(0)
    }
}

/// The running process's page tables as a [`PageMap`].
#[derive(Debug)]
pub struct Live<'a> {
    /// The address space.
    pub space: &'a mut Space,
    /// The machine its tables live in.
    pub m: &'a mut Machine,
}

impl PageMap for Live<'_> {
    fn mapped(&mut self, page: u32) -> bool {
        self.space.mapped(self.m, page)
    }
    fn map(&mut self, page: u32, writable: bool) -> Result<(), i32> {
        self.space.map(self.m, page, writable)
    }
    fn unmap(&mut self, page: u32) {
        self.space.unmap_range(self.m, page, page.saturating_add(1));
    }
    fn free_pages(&mut self) -> u32 {
        self.space
            .page_limit
            .map_or(u32::MAX, |l| l.saturating_sub(self.space.used))
    }
    fn next_mapped(&mut self, from: u32) -> Option<u32> {
        self.space.next_mapped(self.m, from)
    }
}
