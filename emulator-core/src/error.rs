//! The two error layers: guest-visible exceptions and host (implementation) errors.

use core::fmt;
use serde::{Deserialize, Serialize};

/// A guest-visible exception (SDM vol. 3, 6.15), delivered through the IDT in one place.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Exception {
    /// #DE, vector 0.
    DivideError,
    /// #DB, vector 1.
    Debug,
    /// #BP, vector 3 (INT3).
    Breakpoint,
    /// #OF, vector 4 (INTO).
    Overflow,
    /// #BR, vector 5 (BOUND).
    BoundRange,
    /// #UD, vector 6.
    InvalidOpcode,
    /// #NM, vector 7.
    DeviceNotAvailable,
    /// #DF, vector 8 (error code 0).
    DoubleFault,
    /// #TS, vector 10.
    InvalidTss(u16),
    /// #NP, vector 11.
    SegmentNotPresent(u16),
    /// #SS, vector 12.
    StackFault(u16),
    /// #GP, vector 13.
    GeneralProtection(u16),
    /// #PF, vector 14: the faulting linear address (goes to CR2) and the error code.
    PageFault {
        /// The linear address that faulted.
        linear: u32,
        /// P, W/R, U/S, RSVD, I/D bits.
        error_code: u32,
    },
    /// #MF, vector 16.
    FloatingPoint,
    /// #AC, vector 17.
    AlignmentCheck,
}

impl Exception {
    /// The IDT vector.
    pub const fn vector(&self) -> u8 {
        match self {
            Exception::DivideError => 0,
            Exception::Debug => 1,
            Exception::Breakpoint => 3,
            Exception::Overflow => 4,
            Exception::BoundRange => 5,
            Exception::InvalidOpcode => 6,
            Exception::DeviceNotAvailable => 7,
            Exception::DoubleFault => 8,
            Exception::InvalidTss(_) => 10,
            Exception::SegmentNotPresent(_) => 11,
            Exception::StackFault(_) => 12,
            Exception::GeneralProtection(_) => 13,
            Exception::PageFault { .. } => 14,
            Exception::FloatingPoint => 16,
            Exception::AlignmentCheck => 17,
        }
    }
    /// The error code pushed on delivery, if this exception has one.
    pub const fn error_code(&self) -> Option<u32> {
        match *self {
            Exception::DoubleFault | Exception::AlignmentCheck => Some(0),
            Exception::InvalidTss(e)
            | Exception::SegmentNotPresent(e)
            | Exception::StackFault(e)
            | Exception::GeneralProtection(e) => Some(e as u32),
            Exception::PageFault { error_code, .. } => Some(error_code),
            _ => None,
        }
    }
    /// The SDM mnemonic (`#GP`, `#PF`, …).
    pub const fn mnemonic(&self) -> &'static str {
        match self {
            Exception::DivideError => "#DE",
            Exception::Debug => "#DB",
            Exception::Breakpoint => "#BP",
            Exception::Overflow => "#OF",
            Exception::BoundRange => "#BR",
            Exception::InvalidOpcode => "#UD",
            Exception::DeviceNotAvailable => "#NM",
            Exception::DoubleFault => "#DF",
            Exception::InvalidTss(_) => "#TS",
            Exception::SegmentNotPresent(_) => "#NP",
            Exception::StackFault(_) => "#SS",
            Exception::GeneralProtection(_) => "#GP",
            Exception::PageFault { .. } => "#PF",
            Exception::FloatingPoint => "#MF",
            Exception::AlignmentCheck => "#AC",
        }
    }
    /// Contributory class for the double-fault rules (SDM vol. 3, table 6-4).
    pub const fn is_contributory(&self) -> bool {
        matches!(
            self,
            Exception::DivideError
                | Exception::InvalidTss(_)
                | Exception::SegmentNotPresent(_)
                | Exception::StackFault(_)
                | Exception::GeneralProtection(_)
        )
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exception::PageFault { linear, error_code } => {
                write!(f, "#PF at {linear:#010x} (error code {error_code:#x})")
            }
            e => match e.error_code() {
                Some(code) => write!(f, "{}({code:#x})", e.mnemonic()),
                None => f.write_str(e.mnemonic()),
            },
        }
    }
}

/// A failure of the host or of the emulator itself, never of the guest.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum HostError {
    /// An image does not fit where it was asked to go.
    ImageTooLarge {
        /// What was being loaded.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The largest size that fits.
        max: usize,
    },
    /// A file is not in the format its loader expects.
    BadImage {
        /// What was being loaded.
        what: &'static str,
        /// Why it was refused, with the byte offset where it went wrong.
        reason: alloc::string::String,
    },
    /// A machine configuration that cannot be built.
    BadConfig(alloc::string::String),
    /// Two devices claim the same port or memory range.
    BusOverlap {
        /// The first address of the range being added.
        start: u32,
        /// The last address of the range being added.
        end: u32,
    },
    /// A snapshot from another version or a corrupted one.
    BadSnapshot(alloc::string::String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::ImageTooLarge { what, size, max } => {
                write!(f, "{what} is {size} bytes; at most {max} bytes fit")
            }
            HostError::BadImage { what, reason } => write!(f, "{what}: {reason}"),
            HostError::BadConfig(why) => write!(f, "bad machine configuration: {why}"),
            HostError::BusOverlap { start, end } => {
                write!(
                    f,
                    "device range {start:#x}..={end:#x} overlaps another device"
                )
            }
            HostError::BadSnapshot(why) => write!(f, "bad snapshot: {why}"),
        }
    }
}
