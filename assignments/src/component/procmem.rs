//! The procvm-memory component: brk, mmap2 and munmap, the process VM's
//! [`MemoryCalls`] trait. One case line is one call, with the areas and the mapped
//! pages it starts from; the answer is the result, the new areas and the page changes.

use std::collections::BTreeSet;

pub use super::memcalls::*;

/// A call as it travels on a case line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// brk(want).
    Brk(u32),
    /// mmap2(args).
    Mmap2(MmapArgs),
    /// munmap(addr, len).
    Munmap(u32, u32),
}

/// One page change a call made, in order; runs of pages are merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Pages `[start, end)` mapped (or kept) with this write permission.
    Map(u32, u32, bool),
    /// Pages `[start, end)` unmapped.
    Unmap(u32, u32),
}

/// What a call did: its result (a value or an errno), the areas after it and the page changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// `Ok(value)` or `Err(errno)`; brk's result is always a value.
    pub result: Result<u32, i32>,
    /// The areas after the call.
    pub areas: Areas,
    /// The page changes, in order.
    pub changes: Vec<Change>,
}

fn hex(f: Option<&str>) -> Result<u32, String> {
    super::parse_hex(f)
}

/// Mapped pages as `[start, end)` runs, from a set of pages.
pub fn runs(pages: &BTreeSet<u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some((_, end)) if *end == p => *end = p + PAGE,
            _ => out.push((p, p + PAGE)),
        }
    }
    out
}

/// The line sent to the submission: `brk_start brk mmap_next free;runs;call`, hex,
/// runs as `start-end`, calls as `b WANT`, `m ADDR LEN PROT FLAGS FD PGOFF` or `u ADDR LEN`.
pub fn to_line(areas: &Areas, free: u32, mapped: &[(u32, u32)], call: &Call) -> String {
    let runs: Vec<String> = mapped.iter().map(|(s, e)| format!("{s:x}-{e:x}")).collect();
    let call = match call {
        Call::Brk(w) => format!("b {w:x}"),
        Call::Mmap2(m) => format!(
            "m {:x} {:x} {:x} {:x} {:x} {:x}",
            m.addr, m.len, m.prot, m.flags, m.fd, m.pgoff
        ),
        Call::Munmap(a, l) => format!("u {a:x} {l:x}"),
    };
    format!(
        "{:x} {:x} {:x} {free:x};{};{call}",
        areas.brk_start,
        areas.brk,
        areas.mmap_next,
        runs.join(" ")
    )
}

/// A call's starting point, parsed from [`to_line`]'s output.
#[derive(Clone, Debug)]
pub struct Case {
    /// The areas before the call.
    pub areas: Areas,
    /// Pages that may still be mapped (a memory limit).
    pub free: u32,
    /// The mapped pages.
    pub mapped: BTreeSet<u32>,
    /// The call.
    pub call: Call,
}

impl Case {
    /// Parses a case line.
    pub fn from_line(line: &str) -> Result<Case, String> {
        let mut parts = line.split(';');
        let mut a = parts.next().unwrap_or_default().split_whitespace();
        let areas = Areas {
            brk_start: hex(a.next())?,
            brk: hex(a.next())?,
            mmap_next: hex(a.next())?,
        };
        let free = hex(a.next())?;
        let mut mapped = BTreeSet::new();
        for r in parts.next().ok_or("missing pages")?.split_whitespace() {
            let (s, e) = r.split_once('-').ok_or("bad page run")?;
            let (s, e) = (hex(Some(s))?, hex(Some(e))?);
            if s % PAGE != 0 || e % PAGE != 0 || e < s || e - s > (64 << 20) {
                return Err(format!("bad page run {r:?}"));
            }
            mapped.extend((s..e).step_by(PAGE as usize));
        }
        let mut c = parts.next().ok_or("missing call")?.split_whitespace();
        let call = match c.next() {
            Some("b") => Call::Brk(hex(c.next())?),
            Some("u") => Call::Munmap(hex(c.next())?, hex(c.next())?),
            Some("m") => Call::Mmap2(MmapArgs {
                addr: hex(c.next())?,
                len: hex(c.next())?,
                prot: hex(c.next())?,
                flags: hex(c.next())?,
                fd: hex(c.next())?,
                pgoff: hex(c.next())?,
            }),
            other => return Err(format!("bad call {other:?}")),
        };
        Ok(Case {
            areas,
            free,
            mapped,
            call,
        })
    }

    /// Runs the call on `imp` over a model of the pages and records what it did.
    pub fn run(self, imp: &dyn MemoryCalls) -> Done {
        let mut pm = Model {
            mapped: self.mapped,
            free: self.free,
            changes: Vec::new(),
        };
        let mut areas = self.areas;
        let result = match self.call {
            Call::Brk(w) => Ok(imp.brk(&mut areas, &mut pm, w)),
            Call::Mmap2(m) => imp.mmap2(&mut areas, &mut pm, &m),
            Call::Munmap(a, l) => imp.munmap(&mut areas, &mut pm, a, l),
        };
        Done {
            result,
            areas,
            changes: pm.changes,
        }
    }
}

/// The pages as the submission sees them: a set, a count of pages left, and a log.
struct Model {
    mapped: BTreeSet<u32>,
    free: u32,
    changes: Vec<Change>,
}

impl PageMap for Model {
    fn mapped(&mut self, page: u32) -> bool {
        self.mapped.contains(&(page & !(PAGE - 1)))
    }
    fn map(&mut self, page: u32, writable: bool) -> Result<(), i32> {
        let page = page & !(PAGE - 1);
        if !(USER_BOTTOM..USER_TOP).contains(&page) {
            return Err(ENOMEM);
        }
        if !self.mapped.contains(&page) {
            if self.free == 0 {
                return Err(ENOMEM);
            }
            self.free -= 1;
            self.mapped.insert(page);
        }
        match self.changes.last_mut() {
            Some(Change::Map(_, end, w)) if *end == page && *w == writable => *end += PAGE,
            _ => self.changes.push(Change::Map(page, page + PAGE, writable)),
        }
        Ok(())
    }
    fn unmap(&mut self, page: u32) {
        let page = page & !(PAGE - 1);
        if self.mapped.remove(&page) {
            self.free = self.free.saturating_add(1);
            match self.changes.last_mut() {
                Some(Change::Unmap(_, end)) if *end == page => *end += PAGE,
                _ => self.changes.push(Change::Unmap(page, page + PAGE)),
            }
        }
    }
    fn next_mapped(&mut self, from: u32) -> Option<u32> {
        self.mapped
            .range(from.max(USER_BOTTOM)..USER_TOP)
            .next()
            .copied()
    }
}

impl Done {
    /// The answer line: `=VALUE` or `!ERRNO`, the areas, then the changes
    /// (`+start-end:w`, `+start-end:r`, `-start-end`), `;`-separated, hex.
    pub fn to_line(&self) -> String {
        let result = match self.result {
            Ok(v) => format!("={v:x}"),
            Err(e) => format!("!{e}"),
        };
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|c| match c {
                Change::Map(s, e, w) => format!("+{s:x}-{e:x}:{}", if *w { "w" } else { "r" }),
                Change::Unmap(s, e) => format!("-{s:x}-{e:x}"),
            })
            .collect();
        format!(
            "{result};{:x} {:x} {:x};{}",
            self.areas.brk_start,
            self.areas.brk,
            self.areas.mmap_next,
            changes.join(" ")
        )
    }

    /// Parses [`Done::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<Done, String> {
        let mut parts = line.split(';');
        let r = parts.next().unwrap_or_default();
        let result = if let Some(v) = r.strip_prefix('=') {
            Ok(hex(Some(v))?)
        } else if let Some(e) = r.strip_prefix('!') {
            Err(e.parse::<i32>().map_err(|_| format!("bad errno {e:?}"))?)
        } else {
            return Err(format!("bad result {r:?}"));
        };
        let mut a = parts.next().ok_or("missing areas")?.split_whitespace();
        let areas = Areas {
            brk_start: hex(a.next())?,
            brk: hex(a.next())?,
            mmap_next: hex(a.next())?,
        };
        let mut changes = Vec::new();
        for c in parts.next().ok_or("missing changes")?.split_whitespace() {
            let bad = || format!("bad page change {c:?}");
            let (map, rest) = match c.as_bytes().first() {
                Some(b'+') => (true, &c[1..]),
                Some(b'-') => (false, &c[1..]),
                _ => return Err(bad()),
            };
            let (range, perm) = rest.split_once(':').unwrap_or((rest, ""));
            let (s, e) = range.split_once('-').ok_or_else(bad)?;
            let (s, e) = (hex(Some(s))?, hex(Some(e))?);
            if s % PAGE != 0 || e % PAGE != 0 || e <= s {
                return Err(bad());
            }
            changes.push(match (map, perm) {
                (true, "w") => Change::Map(s, e, true),
                (true, "r") => Change::Map(s, e, false),
                (false, "") => Change::Unmap(s, e),
                _ => return Err(bad()),
            });
        }
        Ok(Done {
            result,
            areas,
            changes,
        })
    }
}

/// The component's program body: answers calls on standard input with `imp`.
pub fn serve(imp: &dyn MemoryCalls) {
    super::serve(&|line| Case::from_line(line).map(|c| c.run(imp).to_line()));
}
