//! The flat-binary loader: an image copied to a physical address and started in
//! real mode like a boot sector, or in flat 32-bit protected mode.

use crate::cpu::{CS, ESP};
use crate::descriptor;
use crate::error::HostError;
use crate::machine::{FlatEntry, Machine};
use crate::state::Segment;

use super::enter_flat32;
use super::multiboot::ENTRY_GDT;

impl Machine {
    /// Copies a flat binary to physical `addr` and starts it as `entry` says.
    pub fn load_flat(
        &mut self,
        addr: u32,
        image: &[u8],
        entry: FlatEntry,
    ) -> Result<(), HostError> {
        self.mem.write_bytes(addr, image)?;
        self.cpu.dcache.clear();
        self.cpu.fast.clear();
        self.reset();
        match entry {
            FlatEntry::Real16 => {
                if addr > 0xffff {
                    return Err(HostError::BadImage {
                        what: "real-mode flat binary",
                        reason: alloc::format!(
                            "load address {addr:#x} is above 0xFFFF; CS:IP = 0:addr cannot reach it"
                        ),
                    });
                }
                for s in self.cpu.seg.iter_mut() {
                    *s = Segment::real_mode(0);
                }
                self.cpu.seg[CS].attrs = descriptor::CODE_ATTRS;
                self.cpu.eip = addr;
                self.cpu.gpr[ESP] = addr;
            }
            FlatEntry::Protected32 => {
                let top = self.mem.ram_size() as u32;
                let gdt = top - 0x1000;
                let end = addr as u64 + image.len() as u64;
                if end > gdt as u64 {
                    return Err(HostError::ImageTooLarge {
                        what: "protected-mode flat binary",
                        size: image.len(),
                        max: gdt.saturating_sub(addr) as usize,
                    });
                }
                for (i, d) in ENTRY_GDT.iter().enumerate() {
                    self.mem.write_bytes(gdt + 8 * i as u32, &d.to_le_bytes())?;
                }
                enter_flat32(&mut self.cpu, gdt);
                self.cpu.eip = addr;
                self.cpu.gpr[ESP] = gdt;
            }
        }
        Ok(())
    }
}
