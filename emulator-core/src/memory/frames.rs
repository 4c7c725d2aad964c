//! Where guest-physical RAM lives: the frame-granular interface ([`FrameStore`]) the
//! machine reaches RAM through, and its one implementation today, flat RAM.
//!
//! A guest frame number (GFN) is a guest-physical address shifted right by 12. A
//! store answers, for each GFN, the host bytes that back it. [`FlatRam`] is one
//! contiguous allocation; [`GuestRam::Pooled`] takes its frames from a host's shared
//! pool through a per-VM frame table (`memory/pooled.rs`).

use alloc::vec;
use alloc::vec::Vec;

use super::PAGE;

/// Bytes per frame, as a `usize`.
pub const FRAME: usize = PAGE as usize;

/// Guest-physical RAM as frames of [`FRAME`] bytes.
pub trait FrameStore {
    /// RAM size in bytes (the last frame may be partial).
    fn len(&self) -> usize;
    /// Whether there is no RAM at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The host bytes backing guest frame `gfn` (`None` past the end of RAM).
    fn frame(&self, gfn: usize) -> Option<&[u8]>;
    /// The host bytes backing guest frame `gfn`, for writing.
    fn frame_mut(&mut self, gfn: usize) -> Option<&mut [u8]>;
    /// All of RAM as one slice when the store is contiguous (bulk copies and fills
    /// use it; `None` makes them take the frame-by-frame path).
    fn contiguous(&self) -> Option<&[u8]> {
        None
    }
    /// All of RAM as one mutable slice when the store is contiguous.
    fn contiguous_mut(&mut self) -> Option<&mut [u8]> {
        None
    }
}

/// RAM as one allocation: frame `n` is bytes `n * FRAME ..`.
#[derive(Clone)]
pub struct FlatRam {
    bytes: Vec<u8>,
}

impl core::fmt::Debug for FlatRam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlatRam")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl FlatRam {
    /// `len` zeroed bytes.
    pub fn new(len: usize) -> FlatRam {
        FlatRam {
            bytes: vec![0; len],
        }
    }
}

impl FrameStore for FlatRam {
    #[inline(always)]
    fn len(&self) -> usize {
        self.bytes.len()
    }
    #[inline(always)]
    fn frame(&self, gfn: usize) -> Option<&[u8]> {
        let start = gfn.checked_mul(FRAME)?;
        let end = (start + FRAME).min(self.bytes.len());
        self.bytes.get(start..end)
    }
    #[inline(always)]
    fn frame_mut(&mut self, gfn: usize) -> Option<&mut [u8]> {
        let start = gfn.checked_mul(FRAME)?;
        let end = (start + FRAME).min(self.bytes.len());
        self.bytes.get_mut(start..end)
    }
    #[inline(always)]
    fn contiguous(&self) -> Option<&[u8]> {
        Some(&self.bytes)
    }
    #[inline(always)]
    fn contiguous_mut(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.bytes)
    }
}

/// The RAM of a machine: one of the stores, chosen when the machine is built. An
/// enum rather than a trait object so that the interpreter's accesses stay direct
/// calls the compiler can inline.
#[derive(Clone, Debug)]
pub enum GuestRam {
    /// One contiguous allocation.
    Flat(FlatRam),
    /// Frames from a host's shared pool, by a per-VM frame table.
    Pooled(super::pooled::PooledRam),
}

impl FrameStore for GuestRam {
    #[inline(always)]
    fn len(&self) -> usize {
        match self {
            GuestRam::Flat(r) => r.len(),
            GuestRam::Pooled(r) => r.len(),
        }
    }
    #[inline(always)]
    fn frame(&self, gfn: usize) -> Option<&[u8]> {
        match self {
            GuestRam::Flat(r) => r.frame(gfn),
            GuestRam::Pooled(r) => r.frame(gfn),
        }
    }
    #[inline(always)]
    fn frame_mut(&mut self, gfn: usize) -> Option<&mut [u8]> {
        match self {
            GuestRam::Flat(r) => r.frame_mut(gfn),
            GuestRam::Pooled(r) => r.frame_mut(gfn),
        }
    }
    #[inline(always)]
    fn contiguous(&self) -> Option<&[u8]> {
        match self {
            GuestRam::Flat(r) => r.contiguous(),
            GuestRam::Pooled(_) => None,
        }
    }
    #[inline(always)]
    fn contiguous_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            GuestRam::Flat(r) => r.contiguous_mut(),
            GuestRam::Pooled(_) => None,
        }
    }
}

/// `len` bytes at guest-physical offset `a` (`a + len` not overflowing), when the store
/// is contiguous or they lie in one frame. A contiguous store is indexed directly.
#[inline(always)]
pub(crate) fn slice(ram: &impl FrameStore, a: usize, len: usize) -> Option<&[u8]> {
    match ram.contiguous() {
        Some(all) => all.get(a..a + len),
        None => {
            let off = a % FRAME;
            ram.frame(a / FRAME)?.get(off..off + len)
        }
    }
}

/// `N` bytes at guest-physical offset `a` when they lie in one frame. A contiguous
/// store is indexed directly, which keeps flat RAM's accesses to one bounds check.
#[inline(always)]
pub(crate) fn load<const N: usize>(ram: &impl FrameStore, a: usize) -> Option<[u8; N]> {
    if a % FRAME + N > FRAME {
        return None;
    }
    slice(ram, a, N)?.try_into().ok()
}

/// Stores `N` bytes at guest-physical offset `a` when they lie in one frame; `false`
/// otherwise (nothing written).
#[inline(always)]
pub(crate) fn store<const N: usize>(ram: &mut impl FrameStore, a: usize, v: [u8; N]) -> bool {
    let off = a % FRAME;
    if off + N > FRAME {
        return false;
    }
    let dst = match ram.contiguous_mut() {
        Some(all) => all.get_mut(a..a + N),
        None => ram
            .frame_mut(a / FRAME)
            .and_then(|f| f.get_mut(off..off + N)),
    };
    match dst {
        Some(dst) => {
            dst.copy_from_slice(&v);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_frames_cover_ram_and_stop_at_its_end() {
        let mut r = GuestRam::Flat(FlatRam::new(2 * FRAME + 100));
        assert_eq!(r.frame(0).map(<[u8]>::len), Some(FRAME));
        assert_eq!(r.frame(2).map(<[u8]>::len), Some(100), "partial last frame");
        assert!(r.frame(3).is_none());
        assert!(r.frame(usize::MAX).is_none());
        assert!(store(&mut r, FRAME + 8, [1, 2, 3, 4]));
        assert_eq!(load::<4>(&r, FRAME + 8), Some([1, 2, 3, 4]));
        assert_eq!(r.contiguous().map(|c| c[FRAME + 9]), Some(2));
        assert!(!store(&mut r, FRAME - 2, [9; 4]), "straddles two frames");
        assert_eq!(load::<2>(&r, FRAME - 2), Some([0, 0]));
        assert_eq!(load::<4>(&r, 2 * FRAME + 98), None, "runs past RAM");
    }
}
