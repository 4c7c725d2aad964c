//! The translation cache's event log: regions translated, chained, invalidated (with
//! the write that caused it) and the cache flushed, in a bounded ring the lab reads.

use alloc::collections::VecDeque;

/// Events the ring keeps (older ones are dropped first).
pub const RING: usize = 256;

/// What happened to the translation cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XlateEventKind {
    /// The region entered at `entry` was translated (`instructions` guest instructions).
    Translate {
        /// Linear entry.
        entry: u32,
        /// Its guest instructions.
        instructions: u32,
    },
    /// The exit of region `from` to `to` goes straight to the region there.
    Chain {
        /// The region that exits.
        from: u32,
        /// The region it now enters directly.
        to: u32,
    },
    /// The region at `entry` was dropped: its page was written (at `write`, the last
    /// guest-physical address written to a code page, when known).
    Invalidate {
        /// Linear entry of the region dropped.
        entry: u32,
        /// The write that changed its page.
        write: Option<u32>,
    },
    /// Every region was dropped (tier switched, snapshot restored, image loaded).
    Flush {
        /// Regions the cache held.
        regions: u32,
    },
}

/// One event, with the instruction count it happened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XlateEvent {
    /// Sequence number (events since the machine was built).
    pub seq: u64,
    /// Instructions retired when it happened.
    pub icount: u64,
    /// What happened.
    pub kind: XlateEventKind,
}

impl XlateEvent {
    /// The event's kind as the lab and the CLI name it.
    pub fn name(&self) -> &'static str {
        match self.kind {
            XlateEventKind::Translate { .. } => "translate",
            XlateEventKind::Chain { .. } => "chain",
            XlateEventKind::Invalidate { .. } => "invalidate",
            XlateEventKind::Flush { .. } => "flush",
        }
    }
}

impl core::fmt::Display for XlateEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            XlateEventKind::Translate {
                entry,
                instructions,
            } => write!(f, "translate {entry:#010x}: {instructions} instructions"),
            XlateEventKind::Chain { from, to } => write!(f, "chain {from:#010x} -> {to:#010x}"),
            XlateEventKind::Invalidate {
                entry,
                write: Some(w),
            } => write!(
                f,
                "invalidate {entry:#010x}: its page was written at {w:#010x}"
            ),
            XlateEventKind::Invalidate { entry, write: None } => {
                write!(f, "invalidate {entry:#010x}: its page was written")
            }
            XlateEventKind::Flush { regions } => write!(f, "flush: {regions} regions dropped"),
        }
    }
}

/// The ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventRing {
    events: VecDeque<XlateEvent>,
    next: u64,
}

impl EventRing {
    /// Appends an event at instruction count `icount`.
    pub fn push(&mut self, icount: u64, kind: XlateEventKind) {
        if self.events.len() >= RING {
            self.events.pop_front();
        }
        self.events.push_back(XlateEvent {
            seq: self.next,
            icount,
            kind,
        });
        self.next += 1;
    }

    /// The events kept with a sequence number of at least `from`.
    pub fn since(&self, from: u64) -> impl Iterator<Item = &XlateEvent> {
        self.events.iter().filter(move |e| e.seq >= from)
    }
}
