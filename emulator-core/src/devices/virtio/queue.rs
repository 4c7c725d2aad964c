//! Split virtqueues (virtio 1.x §2.7, legacy layout §2.7.2 "Legacy Interfaces"):
//! the descriptor table, available and used rings read from and written to guest
//! memory, with every index and address bounds-checked.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::memory::PhysMem;

/// The legacy ring alignment: the used ring starts on the next 4 KiB boundary.
pub const ALIGN: u32 = 4096;
/// Descriptor flag: the chain goes on at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer (otherwise it reads it).
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is an indirect descriptor table (not offered).
pub const DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver asks for no interrupt when buffers are used.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Feature bit (§6): `used_event` and `avail_event` replace the ring flags.
pub const F_RING_EVENT_IDX: u32 = 1 << 29;

/// One descriptor of the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Desc {
    /// Guest-physical address of the buffer.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u32,
    /// `DESC_F_*` bits.
    pub flags: u16,
    /// The next descriptor of the chain, when `DESC_F_NEXT` is set.
    pub next: u16,
}

impl Desc {
    /// Whether the device writes this buffer.
    pub fn writable(&self) -> bool {
        self.flags & DESC_F_WRITE != 0
    }
}

/// One queue as the driver configured it and the device's progress through it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct QueueState {
    /// The number of descriptors (a power of two, fixed by the device).
    pub size: u16,
    /// The page frame number of the ring area the driver wrote (0: not set up).
    pub pfn: u32,
    /// The next available-ring entry the device takes.
    pub last_avail: u16,
    /// The used-ring index the device last published.
    pub used_idx: u16,
    /// Notifications the driver sent for this queue.
    pub notifies: u64,
    /// Chains the device completed.
    pub completed: u64,
    /// The descriptor table, driver area and device area a modern driver placed
    /// independently (see [`super::modern`]); they replace the PFN layout when set.
    #[serde(default)]
    pub addrs: Option<[u32; 3]>,
}

/// Where the three parts of a queue lie in guest-physical memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// The descriptor table (16 bytes per descriptor).
    pub desc: u32,
    /// The available ring: flags, idx, ring[size], used_event.
    pub avail: u32,
    /// The used ring: flags, idx, ring[size] of (id, len), avail_event.
    pub used: u32,
}

impl QueueState {
    /// A queue of `size` descriptors, not set up.
    pub fn new(size: u16) -> QueueState {
        QueueState {
            size,
            ..QueueState::default()
        }
    }

    /// The legacy layout for the ring area at `pfn * 4096`, if the driver set one.
    pub fn layout(&self) -> Option<Layout> {
        if let Some([desc, avail, used]) = self.addrs {
            // Each part ends below 4 GiB (a restored snapshot is not trusted).
            let n = u32::from(self.size);
            desc.checked_add(16 * n)?;
            avail.checked_add(6 + 2 * n)?;
            used.checked_add(6 + 8 * n)?;
            return (self.size != 0).then_some(Layout { desc, avail, used });
        }
        if self.pfn == 0 || self.size == 0 {
            return None;
        }
        let n = u32::from(self.size);
        let desc = self.pfn.checked_mul(ALIGN)?;
        let avail = desc.checked_add(16 * n)?;
        let used = avail.checked_add(6 + 2 * n)?.checked_add(ALIGN - 1)? & !(ALIGN - 1);
        used.checked_add(6 + 8 * n)?;
        Some(Layout { desc, avail, used })
    }

    /// The total bytes of the ring area (descriptor table to the end of the used ring).
    pub fn area_bytes(size: u16) -> u32 {
        let n = u32::from(size);
        let used = (16 * n + 6 + 2 * n + ALIGN - 1) & !(ALIGN - 1);
        used + 6 + 8 * n
    }
}

/// Guest memory for DMA: the core's physical-memory path, limited to RAM.
pub struct Dma<'a> {
    /// The memory.
    pub mem: &'a mut dyn PhysMem,
    /// The RAM size: every address the device touches lies below it.
    pub ram: u32,
}

impl core::fmt::Debug for Dma<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dma {{ ram: {:#x} }}", self.ram)
    }
}

impl Dma<'_> {
    /// Checks that `len` bytes at `addr` lie inside RAM.
    pub fn check(&self, addr: u64, len: u64, what: &str) -> Result<u32, String> {
        match addr.checked_add(len) {
            Some(end) if end <= u64::from(self.ram) => Ok(addr as u32),
            _ => Err(format!(
                "{what} at {addr:#x} ({len} bytes) lies outside guest RAM (0–{:#x})",
                self.ram
            )),
        }
    }

    /// Reads a little-endian word.
    pub fn u16(&mut self, addr: u32, what: &str) -> Result<u16, String> {
        let a = self.check(u64::from(addr), 2, what)?;
        Ok(u16::from_le_bytes([
            self.mem.read_u8(a),
            self.mem.read_u8(a + 1),
        ]))
    }

    /// Writes a little-endian word.
    pub fn put_u16(&mut self, addr: u32, v: u16, what: &str) -> Result<(), String> {
        self.write(u64::from(addr), &v.to_le_bytes(), what)
    }

    /// Fills `buf` from `addr`.
    pub fn read(&mut self, addr: u64, buf: &mut [u8], what: &str) -> Result<(), String> {
        let a = self.check(addr, buf.len() as u64, what)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.mem.read_u8(a + i as u32);
        }
        Ok(())
    }

    /// Writes `data` at `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8], what: &str) -> Result<(), String> {
        let a = self.check(addr, data.len() as u64, what)?;
        for (i, b) in data.iter().enumerate() {
            self.mem.write_u8(a + i as u32, *b);
        }
        Ok(())
    }
}

/// Reads descriptor `index` of the table.
pub fn read_desc(dma: &mut Dma, l: &Layout, size: u16, index: u16) -> Result<Desc, String> {
    if index >= size {
        return Err(format!(
            "descriptor index {index} is outside the table of {size}"
        ));
    }
    let mut b = [0u8; 16];
    dma.read(
        u64::from(l.desc) + 16 * u64::from(index),
        &mut b,
        "a descriptor",
    )?;
    let le16 = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut addr = [0u8; 8];
    addr.copy_from_slice(&b[0..8]);
    Ok(Desc {
        addr: u64::from_le_bytes(addr),
        len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        flags: le16(12),
        next: le16(14),
    })
}

/// The chain starting at `head`: at most `size` descriptors (a longer chain loops),
/// each buffer inside RAM, device-readable ones before device-writable ones.
pub fn read_chain(dma: &mut Dma, l: &Layout, size: u16, head: u16) -> Result<Vec<Desc>, String> {
    let mut chain = Vec::new();
    let mut index = head;
    for _ in 0..size {
        let d = read_desc(dma, l, size, index)?;
        if d.flags & DESC_F_INDIRECT != 0 {
            return Err(format!(
                "descriptor {index} is indirect, a feature the device did not offer"
            ));
        }
        dma.check(d.addr, u64::from(d.len), "a descriptor's buffer")?;
        if !d.writable() && chain.last().is_some_and(Desc::writable) {
            return Err(format!(
                "descriptor {index} is device-readable after a device-writable one"
            ));
        }
        chain.push(d);
        if d.flags & DESC_F_NEXT == 0 {
            return Ok(chain);
        }
        index = d.next;
    }
    Err(format!(
        "the chain from descriptor {head} is longer than the queue's {size} descriptors (a loop)"
    ))
}

/// The available ring's flags and index.
pub fn avail_header(dma: &mut Dma, l: &Layout) -> Result<(u16, u16), String> {
    Ok((
        dma.u16(l.avail, "the available ring's flags")?,
        dma.u16(l.avail + 2, "the available ring's index")?,
    ))
}

/// The head the available ring holds at free-running index `i`.
pub fn avail_entry(dma: &mut Dma, l: &Layout, size: u16, i: u16) -> Result<u16, String> {
    dma.u16(
        l.avail + 4 + 2 * u32::from(i % size),
        "an available-ring entry",
    )
}

/// Publishes a used element `(head, len)` at free-running index `used_idx` and the
/// new used index after it.
pub fn push_used(
    dma: &mut Dma,
    l: &Layout,
    size: u16,
    used_idx: u16,
    head: u16,
    len: u32,
) -> Result<(), String> {
    let at = l.used + 4 + 8 * u32::from(used_idx % size);
    let mut e = [0u8; 8];
    e[0..4].copy_from_slice(&u32::from(head).to_le_bytes());
    e[4..8].copy_from_slice(&len.to_le_bytes());
    dma.write(u64::from(at), &e, "a used-ring entry")?;
    dma.put_u16(
        l.used + 2,
        used_idx.wrapping_add(1),
        "the used ring's index",
    )
}

/// Takes the next chain the driver made available, if any: `(head, descriptors)`.
/// An available index more than the queue's size ahead is an error, so a service
/// loop over `pop` ends after at most `size` chains.
pub fn pop(dma: &mut Dma, q: &mut QueueState) -> Result<Option<(u16, Vec<Desc>)>, String> {
    let l = q.layout().ok_or("used before its ring was set up")?;
    let (_, idx) = avail_header(dma, &l)?;
    let ahead = idx.wrapping_sub(q.last_avail);
    if ahead > q.size {
        return Err(format!(
            "the available index {idx} is {ahead} entries ahead of the device's {}, more than the queue's {}",
            q.last_avail, q.size
        ));
    }
    if ahead == 0 {
        return Ok(None);
    }
    let head = avail_entry(dma, &l, q.size, q.last_avail)?;
    let chain = read_chain(dma, &l, q.size, head)?;
    q.last_avail = q.last_avail.wrapping_add(1);
    Ok(Some((head, chain)))
}

/// Returns chain `head` to the driver on the used ring with `len` bytes written.
pub fn complete(dma: &mut Dma, q: &mut QueueState, head: u16, len: u32) -> Result<(), String> {
    let l = q.layout().ok_or("used before its ring was set up")?;
    push_used(dma, &l, q.size, q.used_idx, head, len)?;
    q.used_idx = q.used_idx.wrapping_add(1);
    q.completed += 1;
    Ok(())
}

/// Whether the driver asks for no used-buffer interrupt (`AVAIL_F_NO_INTERRUPT`).
pub fn no_interrupt(dma: &mut Dma, q: &QueueState) -> Result<bool, String> {
    let l = q.layout().ok_or("used before its ring was set up")?;
    Ok(avail_header(dma, &l)?.0 & AVAIL_F_NO_INTERRUPT != 0)
}

/// `vring_need_event` (§2.7.10): whether moving an index from `old` to `new` passed
/// `event`, the entry the other side asked to hear about, in free-running u16
/// arithmetic that wraps.
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

/// The `used_event` word the driver keeps after the available ring's entries.
pub fn used_event(dma: &mut Dma, q: &QueueState) -> Result<u16, String> {
    let l = q.layout().ok_or("used before its ring was set up")?;
    dma.u16(l.avail + 4 + 2 * u32::from(q.size), "the used_event word")
}

/// Writes `avail_event` after the used ring's entries: the driver need not notify
/// before its available index passes the entry the device takes next.
pub fn put_avail_event(dma: &mut Dma, q: &QueueState) -> Result<(), String> {
    let l = q.layout().ok_or("used before its ring was set up")?;
    dma.put_u16(
        l.used + 4 + 8 * u32::from(q.size),
        q.last_avail,
        "the avail_event word",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Memory;

    #[test]
    fn the_legacy_layout_aligns_the_used_ring() {
        let q = QueueState {
            size: 128,
            pfn: 0x30,
            ..QueueState::default()
        };
        let l = q.layout().expect("set up");
        assert_eq!(l.desc, 0x30000);
        assert_eq!(l.avail, 0x30000 + 2048);
        assert_eq!(l.used, 0x31000);
        assert_eq!(QueueState::area_bytes(128), 0x1000 + 6 + 1024);
        assert_eq!(QueueState::new(128).layout(), None);
    }

    #[test]
    fn need_event_counts_across_the_wrap() {
        // The driver wants to hear when entry 5 is used; 3 → 6 passes it, 3 → 5 does not.
        assert!(need_event(5, 6, 3));
        assert!(!need_event(5, 5, 3));
        assert!(!need_event(9, 8, 0), "8 entries short of 9");
        // Across 65535 → 0: event 65535 is passed by 65534 → 1, not by 0 → 1.
        assert!(need_event(65535, 1, 65534));
        assert!(!need_event(65535, 1, 0));
        assert!(need_event(0, 2, 65535), "event 0 lies between 65535 and 2");
        // Nothing moved: never an event.
        assert!(!need_event(7, 7, 7));
        // An event far behind (the driver not keeping up) fires only when passed.
        assert!(!need_event(100, 10, 5));
        // Against a plain model in wide integers.
        for old in [0u32, 1, 100, 65530, 65535] {
            for n in 0u32..12 {
                for e in 0u32..14 {
                    let (old16, new16) = (old as u16, (old + n) as u16);
                    let ev16 = (old + e) as u16;
                    let passed = e < n;
                    assert_eq!(need_event(ev16, new16, old16), passed, "{old} {n} {e}");
                }
            }
        }
    }

    #[test]
    fn a_looping_chain_and_stray_addresses_are_errors() {
        let mut mem = Memory::new(1 << 20);
        let l = QueueState {
            size: 4,
            pfn: 1,
            ..QueueState::default()
        }
        .layout()
        .expect("set up");
        let put = |mem: &mut Memory, i: u32, addr: u32, len: u32, flags: u16, next: u16| {
            let at = l.desc + 16 * i;
            mem.write_u32(at, addr);
            mem.write_u32(at + 4, 0);
            mem.write_u32(at + 8, len);
            mem.write_u16(at + 12, flags);
            mem.write_u16(at + 14, next);
        };
        put(&mut mem, 0, 0x8000, 16, DESC_F_NEXT, 1);
        put(&mut mem, 1, 0x9000, 512, DESC_F_NEXT, 0);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        let e = read_chain(&mut dma, &l, 4, 0).expect_err("0 → 1 → 0 loops");
        assert!(e.contains("loop"), "{e}");
        put(&mut mem, 1, 0xff000, 0x2000, DESC_F_WRITE, 0);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        let e = read_chain(&mut dma, &l, 4, 0).expect_err("past RAM");
        assert!(e.contains("0xff000"), "{e}");
        put(&mut mem, 1, 0x9000, 512, DESC_F_WRITE, 0);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        let chain = read_chain(&mut dma, &l, 4, 0).expect("a good chain");
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1].addr, 0x9000);
        assert!(
            read_chain(&mut dma, &l, 4, 9).is_err(),
            "head outside the table"
        );
    }
}
