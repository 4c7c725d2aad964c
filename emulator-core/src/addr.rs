//! Typed addresses: linear (after segmentation), physical (after paging) and I/O ports.

use core::fmt;
use serde::{Deserialize, Serialize};

/// A 32-bit linear address: segment base plus offset, before paging.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct LinearAddr(pub u32);

/// A physical address on the memory bus, after paging (or nested paging).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct PhysAddr(pub u32);

/// An I/O port number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Port(pub u16);

macro_rules! addr_common {
    ($t:ident, $inner:ty, $fmt:literal) => {
        impl $t {
            /// The raw value.
            #[inline]
            pub const fn get(self) -> $inner {
                self.0
            }
            /// Adds an offset, wrapping around the address space as the hardware does.
            #[inline]
            pub const fn wrapping_add(self, off: $inner) -> Self {
                Self(self.0.wrapping_add(off))
            }
            /// Adds an offset, `None` when it would leave the address space.
            #[inline]
            pub fn checked_add(self, off: $inner) -> Option<Self> {
                self.0.checked_add(off).map(Self)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $fmt, self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $fmt, self.0)
            }
        }
    };
}

addr_common!(LinearAddr, u32, "L:{:08x}");
addr_common!(PhysAddr, u32, "P:{:08x}");
addr_common!(Port, u16, "port {:#06x}");

impl LinearAddr {
    /// Page directory index (bits 31..22).
    #[inline]
    pub const fn pde_index(self) -> u32 {
        self.0 >> 22
    }
    /// Page table index (bits 21..12).
    #[inline]
    pub const fn pte_index(self) -> u32 {
        (self.0 >> 12) & 0x3ff
    }
    /// Offset within a 4 KiB page.
    #[inline]
    pub const fn page_offset(self) -> u32 {
        self.0 & 0xfff
    }
}
