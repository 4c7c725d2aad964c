//! The APIC interrupt architecture: a local APIC per CPU, the I/O APIC, the MP table.
//!
//! Each CPU's local APIC answers at its own MMIO page ([`LOCAL_APIC_BASE`]); the
//! I/O APIC at [`IO_APIC_BASE`]. Both are register models here; the machine
//! (`smp/`) routes a CPU's physical accesses to them and delivers what they send
//! (IPIs, INIT, SIPI, redirected interrupts). The 8259 pair stays: until a guest
//! sets the software-enable bit in the spurious-vector register, or while LINT0 is
//! unmasked in ExtINT mode, the PIC's INTR reaches CPU 0 as on a legacy PC.

pub mod io;
pub mod local;
pub mod mptable;

pub use io::{IoApic, Redirect};
pub use local::{Delivery, Icr, LocalApic, Shorthand};
pub use mptable::{build as build_mp_table, MP_FLOATING_ADDR};

/// Physical address of the local APIC's register page (every CPU sees its own).
pub const LOCAL_APIC_BASE: u32 = 0xfee0_0000;
/// Physical address of the I/O APIC's register window.
pub const IO_APIC_BASE: u32 = 0xfec0_0000;
/// Bytes each register page spans.
pub const APIC_PAGE: u32 = 0x1000;

/// Which APIC page, if any, a physical address falls in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApicPage {
    /// The running CPU's local APIC, at this offset.
    Local(u32),
    /// The I/O APIC, at this offset.
    Io(u32),
}

/// The APIC page `addr` falls in, if any.
#[inline]
pub fn page_of(addr: u32) -> Option<ApicPage> {
    if addr.wrapping_sub(LOCAL_APIC_BASE) < APIC_PAGE {
        Some(ApicPage::Local(addr - LOCAL_APIC_BASE))
    } else if addr.wrapping_sub(IO_APIC_BASE) < APIC_PAGE {
        Some(ApicPage::Io(addr - IO_APIC_BASE))
    } else {
        None
    }
}
