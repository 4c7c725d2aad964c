//! The bounded event ring: exceptions, interrupts, I/O and VM exits, for the trap log.

use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

use crate::error::Exception;

/// One thing that happened, stamped with the instruction count and where.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Instructions retired before it happened.
    pub icount: u64,
    /// CS:EIP's linear address of the instruction it belongs to.
    pub linear_eip: u32,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// Whether this event ends "run to the next trap": a trap ([`EventKind::is_trap`])
    /// other than the VMM taking over a guest that a loader started in protected mode
    /// (the mode switch logged before the first instruction retires).
    pub fn is_trap(&self) -> bool {
        let start_up = self.icount == 0
            && matches!(
                self.kind,
                EventKind::VmExit {
                    reason: crate::vmm::ExitReason::ModeSwitch,
                    ..
                }
            );
        self.kind.is_trap() && !start_up
    }
}

/// What an [`Event`] records.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum EventKind {
    /// An exception delivered through the IDT.
    Exception(Exception),
    /// A hardware interrupt from the PIC was accepted.
    Interrupt {
        /// The vector it was delivered on.
        vector: u8,
        /// The IRQ line.
        irq: u8,
    },
    /// A software interrupt (INT n, INT3, INTO).
    SoftwareInterrupt {
        /// The vector.
        vector: u8,
    },
    /// An IN or OUT (and string forms), one per access.
    PortIo {
        /// The port.
        port: u16,
        /// 1, 2 or 4 bytes.
        size: u8,
        /// The value read or written.
        value: u32,
        /// OUT (true) or IN (false).
        write: bool,
    },
    /// An exception during double-fault delivery.
    TripleFault,
    /// A VM exit: the VMM ran on the guest's behalf.
    VmExit {
        /// Why.
        reason: crate::vmm::ExitReason,
        /// The guest instruction or event that caused it.
        instruction: alloc::string::String,
        /// What the VMM did.
        action: alloc::string::String,
        /// Its cost in cycles (see `vmm::CostModel`).
        cost: u32,
    },
    /// A sensitive but unprivileged instruction ran in the deprivileged guest kernel.
    SensitiveInstruction {
        /// The instruction.
        instruction: alloc::string::String,
        /// What the guest saw on the deprivileged hardware.
        saw: alloc::string::String,
        /// What a real machine would have given it.
        real: alloc::string::String,
        /// The two differ.
        differs: bool,
    },
}

impl EventKind {
    /// An exception, interrupt (hardware or software), triple fault or VM exit: what
    /// "run to the next trap" stops on (port I/O and sensitive-instruction reports are not).
    pub fn is_trap(&self) -> bool {
        !matches!(
            self,
            EventKind::PortIo { .. } | EventKind::SensitiveInstruction { .. }
        )
    }
}

/// A ring buffer of events; when full the oldest is dropped and counted.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EventRing {
    events: VecDeque<Event>,
    capacity: usize,
    total: u64,
}

impl EventRing {
    /// An empty ring holding at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        EventRing {
            events: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
            total: 0,
        }
    }
    /// Records an event, dropping the oldest when full.
    pub fn push(&mut self, event: Event) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
        self.total += 1;
    }
    /// The events still held, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }
    /// Events recorded since the machine was built (including dropped ones).
    pub fn total(&self) -> u64 {
        self.total
    }
    /// Events recorded after the first `seen` (for incremental UI updates).
    pub fn since(&self, seen: u64) -> impl Iterator<Item = &Event> {
        let dropped = self.total - self.events.len() as u64;
        let skip = seen.saturating_sub(dropped) as usize;
        self.events.iter().skip(skip)
    }
    /// Forgets every event.
    pub fn clear(&mut self) {
        self.events.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_to_trap_passes_the_start_up_mode_switch_only() {
        let exit = |icount| Event {
            icount,
            linear_eip: 0x10000,
            kind: EventKind::VmExit {
                reason: crate::vmm::ExitReason::ModeSwitch,
                instruction: alloc::string::String::new(),
                action: alloc::string::String::new(),
                cost: 0,
            },
        };
        assert!(!exit(0).is_trap(), "the VMM taking over a loaded guest");
        assert!(
            exit(12).is_trap(),
            "a boot sector switching to protected mode"
        );
    }

    fn ev(n: u64) -> Event {
        Event {
            icount: n,
            linear_eip: 0,
            kind: EventKind::SoftwareInterrupt { vector: n as u8 },
        }
    }

    #[test]
    fn drops_oldest_and_counts() {
        let mut r = EventRing::new(3);
        for i in 0..5 {
            r.push(ev(i));
        }
        assert_eq!(r.total(), 5);
        let held: alloc::vec::Vec<u64> = r.iter().map(|e| e.icount).collect();
        assert_eq!(held, [2, 3, 4]);
        let newer: alloc::vec::Vec<u64> = r.since(3).map(|e| e.icount).collect();
        assert_eq!(newer, [3, 4]);
        assert_eq!(r.since(0).count(), 3);
    }
}
