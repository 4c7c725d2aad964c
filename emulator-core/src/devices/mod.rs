//! The platform's devices, each an offset-relative register model with a serde state.

pub mod apic;
pub mod ata;
pub mod block;
pub mod debug_exit;
pub mod kbc;
pub mod ne2000;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod post;
pub mod uart;
pub mod vga;
pub mod virtio;

pub use ata::{Ata, AtaState};
pub use block::BlockStore;
pub use debug_exit::DebugExit;
pub use kbc::{Kbc, KbcState};
pub use ne2000::{Ne2000, Ne2000State};
pub use pci::{PciBus, PciFunction, PciId};
pub use pic::{Pic, PicPair, PicState};
pub use pit::{Pit, PitChannelState, PitState};
pub use post::{PostPort, PostWrite};
pub use uart::{Uart, UartState};
pub use vga::{VgaCell, VgaText};

/// A device on the port bus, addressed relative to its first port.
///
/// `size` is 1, 2 or 4 bytes; byte-wide devices only ever see `size == 1` because
/// the platform splits wider accesses into consecutive byte accesses.
pub trait PortDevice {
    /// Reads the register at `offset`.
    fn read(&mut self, offset: u16, size: u8) -> u32;
    /// Writes the register at `offset`.
    fn write(&mut self, offset: u16, size: u8, value: u32);
}

/// Where a device raises its interrupt request lines (the PIC pair, on this platform).
pub trait IrqSink {
    /// Drives IRQ line `irq` (0–15) to `level`.
    fn set_irq(&mut self, irq: u8, level: bool);
}
