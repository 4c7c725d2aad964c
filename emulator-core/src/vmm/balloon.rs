//! The paravirtual balloon's VMM side: the host's target, and the frames the guest's driver gave back or took again (hypercalls 5 to 7), queued for the host.
//!
//! | EAX | call | arguments | result |
//! | --- | --- | --- | --- |
//! | 5 | balloon target | | the pages the host wants in the balloon |
//! | 6 | balloon give | EBX = guest-physical address of a page the guest no longer uses | 0, or `0xFFFF_FFFF` (outside RAM, or the queue is full: try again later) |
//! | 7 | balloon take | EBX = guest-physical address of a page the guest uses again | the same |
//!
//! The host drains the queue between two runs ([`Balloon::drain`]): it reclaims the
//! host frame behind each page given and backs a page taken again on its next write.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Hypercall: the balloon's target in pages.
pub const HC_BALLOON_TARGET: u32 = 5;
/// Hypercall: the guest gives a page to the balloon.
pub const HC_BALLOON_GIVE: u32 = 6;
/// Hypercall: the guest takes a page back from the balloon.
pub const HC_BALLOON_TAKE: u32 = 7;
/// Most operations queued between two drains.
pub const MAX_QUEUED: usize = 1 << 16;

/// One page given to or taken from the balloon.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BalloonOp {
    /// The guest frame number.
    pub gfn: u32,
    /// `true`: given to the balloon (inflate); `false`: taken back (deflate).
    pub give: bool,
}

/// The balloon's state in the VMM.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Balloon {
    /// The pages the host wants the guest to hold in its balloon.
    pub target: u32,
    /// Pages the guest has in the balloon, by its calls.
    pub pages: u32,
    queue: Vec<BalloonOp>,
}

impl Balloon {
    /// Handles hypercall 6 or 7 for the page at `gpa` in a guest of `ram_bytes`;
    /// returns the result for EAX and what happened.
    pub(crate) fn call(&mut self, give: bool, gpa: u32, ram_bytes: u32) -> (u32, &'static str) {
        if gpa >= ram_bytes {
            return (u32::MAX, "page outside RAM");
        }
        if self.queue.len() >= MAX_QUEUED {
            return (u32::MAX, "queue full");
        }
        self.queue.push(BalloonOp {
            gfn: gpa >> 12,
            give,
        });
        if give {
            self.pages = self.pages.saturating_add(1);
            (0, "page given to the balloon")
        } else {
            self.pages = self.pages.saturating_sub(1);
            (0, "page taken back from the balloon")
        }
    }

    /// The operations since the last drain, oldest first.
    pub fn drain(&mut self) -> Vec<BalloonOp> {
        core::mem::take(&mut self.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_queue_pages_and_refuse_outside_ram() {
        let mut b = Balloon::default();
        assert_eq!(b.call(true, 0x5000, 0x10000).0, 0);
        assert_eq!(b.call(true, 0x6123, 0x10000).0, 0);
        assert_eq!(b.call(false, 0x5000, 0x10000).0, 0);
        assert_eq!(b.call(true, 0x10000, 0x10000).0, u32::MAX);
        assert_eq!(b.pages, 1);
        let ops = b.drain();
        assert_eq!(ops.len(), 3);
        assert_eq!((ops[1].gfn, ops[1].give), (6, true));
        assert_eq!((ops[2].gfn, ops[2].give), (5, false));
        assert!(b.drain().is_empty());
    }
}
