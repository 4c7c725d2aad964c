//! POST diagnostic ports (0x80 and 0x190): every write is recorded with its instruction count.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// One write to a POST port.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PostWrite {
    /// The port written (0x80 or 0x190).
    pub port: u16,
    /// The value written (zero-extended from the access size).
    pub value: u32,
    /// Instructions retired before the write.
    pub icount: u64,
}

/// The log of POST writes, shared by every POST port.
///
/// A guest may write these ports millions of times (0x80 is the classic I/O delay
/// port), so the log is bounded: it keeps at least the newest [`PostPort::CAPACITY`]
/// writes and counts the ones it dropped.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PostPort {
    writes: Vec<PostWrite>,
    dropped: u64,
}

impl PostPort {
    /// How many writes are guaranteed to be kept.
    pub const CAPACITY: usize = 4096;

    /// Records a write.
    pub fn record(&mut self, port: u16, value: u32, icount: u64) {
        if self.writes.len() >= 2 * Self::CAPACITY {
            self.writes.drain(..Self::CAPACITY);
            self.dropped += Self::CAPACITY as u64;
        }
        self.writes.push(PostWrite {
            port,
            value,
            icount,
        });
    }

    /// The recorded writes, oldest first.
    pub fn writes(&self) -> &[PostWrite] {
        &self.writes
    }

    /// Writes dropped from the front of the log.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets every write.
    pub fn clear(&mut self) {
        self.writes.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_stays_bounded() {
        let mut p = PostPort::default();
        p.record(0x80, 1, 10);
        p.record(0x190, 0xbeef, 20);
        assert_eq!(
            p.writes(),
            [
                PostWrite {
                    port: 0x80,
                    value: 1,
                    icount: 10
                },
                PostWrite {
                    port: 0x190,
                    value: 0xbeef,
                    icount: 20
                }
            ]
        );
        for i in 0..(3 * PostPort::CAPACITY as u64) {
            p.record(0x80, i as u32, i);
        }
        assert!(p.writes().len() >= PostPort::CAPACITY);
        assert!(p.writes().len() <= 2 * PostPort::CAPACITY);
        assert_eq!(
            p.dropped() + p.writes().len() as u64,
            2 + 3 * PostPort::CAPACITY as u64
        );
        let last = p.writes().last().unwrap();
        assert_eq!(last.icount, 3 * PostPort::CAPACITY as u64 - 1);
        p.clear();
        assert!(p.writes().is_empty());
    }
}
