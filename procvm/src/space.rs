//! Address spaces: page tables the process VM writes into guest RAM, frames from one
//! allocator shared by every process, and each process's brk and mmap areas. The
//! running process's layout is `Space::cur`; the scheduler swaps it on a switch.

use alloc::vec::Vec;
use emulator_core::Machine;

pub use crate::memcalls::{MMAP_TOP, PAGE, USER_BOTTOM, USER_TOP};
/// The stack may grow down to this address.
pub const STACK_LIMIT: u32 = USER_TOP - (8 << 20);
/// Physical address of the page directory.
pub const PAGE_DIR: u32 = 0x5000;
/// First physical frame handed out.
const FIRST_FRAME: u32 = 0x10_0000;

const P: u32 = 1;
const RW: u32 = 2;
const US: u32 = 4;

/// Linux error numbers the address space returns.
pub mod errno {
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
}

/// The user pages that `[start, end)` touches.
pub(crate) fn pages(start: u32, end: u32) -> impl Iterator<Item = u32> {
    (start.max(USER_BOTTOM) & !0xfff..end.min(USER_TOP)).step_by(PAGE as usize)
}

/// One process's address space: its page directory and its areas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Physical address of its page directory (CR3).
    pub dir: u32,
    /// User pages it has mapped (page tables not counted).
    pub pages: u32,
    /// Start of the heap (the page after the highest loaded segment).
    pub brk_start: u32,
    /// The current program break.
    pub brk: u32,
    mmap_next: u32,
}

impl Layout {
    /// The heap and mmap areas the memory calls keep.
    pub fn areas(&self) -> crate::memcalls::Areas {
        crate::memcalls::Areas {
            brk_start: self.brk_start,
            brk: self.brk,
            mmap_next: self.mmap_next,
        }
    }

    /// Takes back the areas after a memory call.
    pub fn set_areas(&mut self, a: crate::memcalls::Areas) {
        self.brk_start = a.brk_start;
        self.brk = a.brk;
        self.mmap_next = a.mmap_next;
    }
}

impl Layout {
    fn empty(dir: u32) -> Layout {
        Layout {
            dir,
            pages: 0,
            brk_start: 0,
            brk: 0,
            mmap_next: MMAP_TOP,
        }
    }
}

/// The frame allocator of the machine and the running process's layout.
#[derive(Debug)]
pub struct Space {
    next_frame: u32,
    ram_end: u32,
    free: Vec<u32>,
    /// User pages mapped by every process together (what the memory limit caps).
    pub used: u32,
    /// Most pages all processes together may map (the memory limit), if any.
    pub page_limit: Option<u32>,
    /// The running process's layout.
    pub cur: Layout,
}

impl Space {
    /// An empty space over a machine with `ram_bytes` of RAM; the first process's
    /// page directory is at `PAGE_DIR`.
    pub fn new(ram_bytes: u32, page_limit: Option<u32>) -> Space {
        Space {
            next_frame: FIRST_FRAME,
            ram_end: ram_bytes,
            free: Vec::new(),
            used: 0,
            page_limit,
            cur: Layout::empty(PAGE_DIR),
        }
    }

    fn alloc_frame(&mut self, m: &mut Machine) -> Result<u32, i32> {
        let f = match self.free.pop() {
            Some(f) => f,
            None if self.next_frame < self.ram_end => {
                self.next_frame += PAGE;
                self.next_frame - PAGE
            }
            None => return Err(errno::ENOMEM),
        };
        m.write_phys(f, &[0; PAGE as usize])
            .map_err(|_| errno::ENOMEM)?;
        Ok(f)
    }

    fn read_u32(m: &Machine, phys: u32) -> u32 {
        let mut b = [0; 4];
        m.peek_phys(phys, &mut b);
        u32::from_le_bytes(b)
    }

    fn write_u32(m: &mut Machine, phys: u32, v: u32) {
        // The page tables live in RAM below the frames handed out, so this cannot fail.
        let _ = m.write_phys(phys, &v.to_le_bytes());
    }

    /// The physical address of the PTE for `page`, creating its page table if `create`.
    fn pte_addr(&mut self, m: &mut Machine, page: u32, create: bool) -> Result<Option<u32>, i32> {
        let pde_at = self.cur.dir + (page >> 22) * 4;
        let mut pde = Self::read_u32(m, pde_at);
        if pde & P == 0 {
            if !create {
                return Ok(None);
            }
            let t = self.alloc_frame(m)?;
            pde = t | P | RW | US;
            Self::write_u32(m, pde_at, pde);
        }
        Ok(Some((pde & !0xfff) + ((page >> 12) & 0x3ff) * 4))
    }

    /// Maps the kernel stub's first 64 KiB one to one, for ring 0 only.
    pub fn map_kernel(&mut self, m: &mut Machine) -> Result<(), i32> {
        for page in (0..USER_BOTTOM).step_by(PAGE as usize) {
            let at = self.pte_addr(m, page, true)?.ok_or(errno::ENOMEM)?;
            Self::write_u32(m, at, page | P | RW);
        }
        Ok(())
    }

    /// Whether `page` is mapped.
    pub fn mapped(&mut self, m: &mut Machine, page: u32) -> bool {
        matches!(self.pte_addr(m, page, false), Ok(Some(at)) if Self::read_u32(m, at) & P != 0)
    }

    /// Maps one zeroed user page at `page` (kept as it is if mapped already, with its
    /// write permission set to `writable`).
    pub fn map(&mut self, m: &mut Machine, page: u32, writable: bool) -> Result<(), i32> {
        if !(USER_BOTTOM..USER_TOP).contains(&page) {
            return Err(errno::ENOMEM);
        }
        let at = self.pte_addr(m, page, true)?.ok_or(errno::ENOMEM)?;
        let pte = Self::read_u32(m, at);
        let rw = if writable { RW } else { 0 };
        if pte & P != 0 {
            Self::write_u32(m, at, (pte & !RW) | rw);
            return Ok(());
        }
        if self.page_limit.is_some_and(|l| self.used >= l) {
            return Err(errno::ENOMEM);
        }
        let f = self.alloc_frame(m)?;
        self.cur.pages += 1;
        self.used += 1;
        Self::write_u32(m, at, f | P | US | rw);
        Ok(())
    }

    /// Maps `[start, end)` page by page.
    pub fn map_range(
        &mut self,
        m: &mut Machine,
        start: u32,
        end: u32,
        writable: bool,
    ) -> Result<(), i32> {
        pages(start, end).try_for_each(|p| self.map(m, p, writable))
    }

    /// Unmaps `[start, end)` and frees its frames.
    pub fn unmap_range(&mut self, m: &mut Machine, start: u32, end: u32) {
        for p in pages(start, end) {
            if let Ok(Some(at)) = self.pte_addr(m, p, false) {
                let pte = Self::read_u32(m, at);
                if pte & P != 0 {
                    self.free.push(pte & !0xfff);
                    self.cur.pages -= 1;
                    self.used -= 1;
                    Self::write_u32(m, at, 0);
                }
            }
        }
    }

    /// Sets the write permission of the mapped pages in `[start, end)`.
    pub fn protect_range(
        &mut self,
        m: &mut Machine,
        start: u32,
        end: u32,
        writable: bool,
    ) -> Result<(), i32> {
        for p in pages(start, end) {
            match self.pte_addr(m, p, false)? {
                Some(at) if Self::read_u32(m, at) & P != 0 => {
                    let pte = Self::read_u32(m, at);
                    Self::write_u32(m, at, (pte & !RW) | if writable { RW } else { 0 });
                }
                _ => return Err(errno::ENOMEM),
            }
        }
        Ok(())
    }

    /// The lowest mapped user page at or above `from`, walking the page directory
    /// (absent page tables are skipped whole).
    pub fn next_mapped(&mut self, m: &mut Machine, from: u32) -> Option<u32> {
        let mut p = from.max(USER_BOTTOM) & !(PAGE - 1);
        while p < USER_TOP {
            let pde = Self::read_u32(m, self.cur.dir + (p >> 22) * 4);
            if pde & P == 0 {
                p = (p | 0x3f_ffff).checked_add(1)?;
                continue;
            }
            let pte = Self::read_u32(m, (pde & !0xfff) + ((p >> 12) & 0x3ff) * 4);
            if pte & P != 0 && pte & US != 0 {
                return Some(p);
            }
            p += PAGE;
        }
        None
    }

    /// A copy of the running process's address space for a child (fork): new page
    /// tables, and a new frame holding a copy of each user page. Ring-0 entries are
    /// shared.
    pub fn fork(&mut self, m: &mut Machine) -> Result<Layout, i32> {
        let need = self.cur.pages;
        if self
            .page_limit
            .is_some_and(|l| self.used.saturating_add(need) > l)
        {
            return Err(errno::ENOMEM);
        }
        let dir = self.alloc_frame(m)?;
        let mut child = Layout {
            dir,
            pages: 0,
            ..self.cur.clone()
        };
        let mut page = alloc::vec![0u8; PAGE as usize];
        for i in 0..1024 {
            let pde = Self::read_u32(m, self.cur.dir + 4 * i);
            if pde & P == 0 {
                continue;
            }
            let table = match self.alloc_frame(m) {
                Ok(t) => t,
                Err(e) => {
                    self.drop_layout(m, &mut child);
                    return Err(e);
                }
            };
            Self::write_u32(m, dir + 4 * i, table | (pde & 0xfff));
            for j in 0..1024 {
                let pte = Self::read_u32(m, (pde & !0xfff) + 4 * j);
                if pte & P == 0 {
                    continue;
                }
                let entry = if pte & US != 0 {
                    let f = match self.alloc_frame(m) {
                        Ok(f) => f,
                        Err(e) => {
                            self.drop_layout(m, &mut child);
                            return Err(e);
                        }
                    };
                    m.peek_phys(pte & !0xfff, &mut page);
                    m.write_phys(f, &page).map_err(|_| errno::ENOMEM)?;
                    child.pages += 1;
                    self.used += 1;
                    f | (pte & 0xfff)
                } else {
                    pte
                };
                Self::write_u32(m, table + 4 * j, entry);
            }
        }
        Ok(child)
    }

    /// Unmaps every user page of the running process and resets its areas (execve).
    pub fn clear_user(&mut self, m: &mut Machine) {
        let mut l = core::mem::replace(&mut self.cur, Layout::empty(0));
        self.free_user(m, &mut l);
        self.cur = Layout::empty(l.dir);
    }

    /// Frees everything a layout holds: user frames, page tables, and its page
    /// directory unless it is the first process's.
    pub fn drop_layout(&mut self, m: &mut Machine, l: &mut Layout) {
        self.free_user(m, l);
        for i in 0..1024 {
            let pde = Self::read_u32(m, l.dir + 4 * i);
            if pde & P != 0 {
                self.free.push(pde & !0xfff);
                Self::write_u32(m, l.dir + 4 * i, 0);
            }
        }
        if l.dir != PAGE_DIR {
            self.free.push(l.dir);
        }
    }

    /// Frees the user frames of `l` (page tables stay).
    fn free_user(&mut self, m: &mut Machine, l: &mut Layout) {
        for i in 0..1024 {
            let pde = Self::read_u32(m, l.dir + 4 * i);
            if pde & P == 0 {
                continue;
            }
            for j in 0..1024 {
                let at = (pde & !0xfff) + 4 * j;
                let pte = Self::read_u32(m, at);
                if pte & P != 0 && pte & US != 0 {
                    self.free.push(pte & !0xfff);
                    self.used = self.used.saturating_sub(1);
                    Self::write_u32(m, at, 0);
                }
            }
        }
        l.pages = 0;
    }

    /// Copies `bytes` to user memory at `addr` (pages must be mapped; write permission is
    /// not checked: the loader writes read-only segments).
    pub fn poke(m: &mut Machine, addr: u32, bytes: &[u8]) -> Result<(), i32> {
        let mut done = 0usize;
        while done < bytes.len() {
            let a = addr.checked_add(done as u32).ok_or(errno::EFAULT)?;
            let phys = m.translate(a).physical.ok_or(errno::EFAULT)?;
            let n = ((PAGE - (a & 0xfff)) as usize).min(bytes.len() - done);
            m.write_phys(phys, &bytes[done..done + n])
                .map_err(|_| errno::EFAULT)?;
            done += n;
        }
        Ok(())
    }
}
