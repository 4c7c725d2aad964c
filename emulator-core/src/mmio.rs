//! Guest-physical accesses at or above the MMIO window: the APIC pages and the PCI
//! memory BARs (virtio's modern structures), a BAR access being an exit under a VMM.

use alloc::string::String;

use crate::devices::apic::IO_APIC_BASE;
use crate::machine::Machine;

impl Machine {
    /// A physical read that lands in a device page (`None` elsewhere).
    #[cold]
    pub(crate) fn mmio_read(&mut self, addr: u32, size: u8) -> Option<u32> {
        if addr >= IO_APIC_BASE {
            return self.apic_read(addr, size);
        }
        let v = self.platform.mmio_read(addr, size)?;
        self.mmio_exit(|| alloc::format!("read {addr:#x} ({size} bytes): {v:#x}"));
        self.refresh_platform();
        Some(v)
    }

    /// A physical write that lands in a device page; false when it does not. A
    /// queue notify makes the device move the data now, as a port write does.
    #[cold]
    pub(crate) fn mmio_write(&mut self, addr: u32, size: u8, value: u32) -> bool {
        if addr >= IO_APIC_BASE {
            return self.apic_write(addr, value);
        }
        if !self.platform.mmio_write(addr, size, value) {
            return false;
        }
        self.mmio_exit(|| alloc::format!("write {addr:#x} ({size} bytes) := {value:#x}"));
        let ram = u32::try_from(self.mem.ram_size()).unwrap_or(u32::MAX);
        self.platform.service_dma(&mut self.mem, ram);
        self.refresh_platform();
        true
    }

    /// Under a VMM, an access to a memory BAR exits.
    fn mmio_exit(&mut self, action: impl FnOnce() -> String) {
        let Some(mut vmm) = self.vmm.take() else {
            return;
        };
        vmm.mmio_exit(&self.cpu.state, action());
        self.settle_vmm(&mut vmm);
        self.vmm = Some(vmm);
    }
}
