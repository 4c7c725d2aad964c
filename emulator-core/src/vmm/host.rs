//! What the VMM needs from the machine underneath it: physical memory, the
//! devices and the TLB.

use crate::stop::StopReason;

use super::guest::PhysMem;

/// The emulated hardware as the VMM reaches it for one vCPU: the memory and
/// devices every CPU shares, and that vCPU's own TLB. Each hook gets it beside
/// the vCPU's registers (`&mut CpuState`), so a hook acts for one vCPU and a
/// second vCPU is a second call. The machine implements it for its running CPU;
/// tests implement it over a byte array.
pub trait VmmHost {
    /// Physical memory.
    fn mem(&mut self) -> &mut dyn PhysMem;
    /// IN from a device port.
    fn port_in(&mut self, port: u16, size: u8) -> u32;
    /// OUT to a device port; `Some` when the write stops the machine (debug exit).
    fn port_out(&mut self, port: u16, size: u8, value: u32) -> Option<StopReason>;
    /// Drops every translation the TLB caches.
    fn flush_tlb(&mut self);
    /// Drops the TLB's translation of the page holding `linear`.
    fn invalidate_tlb(&mut self, linear: u32);
}
