//! Paravirtual devices over virtio's PCI transport (vendor 0x1AF4; transitional: the
//! legacy I/O-port register block in BAR 0 and the modern structures in memory BAR 4)
//! with split virtqueues in guest memory.

pub mod blk;
pub mod busy;
pub mod modern;
pub mod net;
pub mod queue;
pub mod transport;

pub use blk::{VirtioBlk, VirtioBlkState};
pub use busy::{Busy, ServiceTime};
pub use net::{VirtioNet, VirtioNetState};
pub use queue::{Desc, Dma, QueueState};
pub use transport::Transport;

/// The PCI vendor ID of every virtio device.
pub const VENDOR: u16 = 0x1af4;
/// The size of the legacy register block (BAR 0).
pub const BAR0_SIZE: u16 = 0x40;
