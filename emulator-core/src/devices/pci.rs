//! PCI bus 0 behind a host bridge with configuration mechanism #1 (ports 0xCF8/0xCFC):
//! each function's 256-byte configuration space, writable bits, and BAR sizing.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The CONFIG_ADDRESS port (32-bit).
pub const CONFIG_ADDRESS: u16 = 0xcf8;
/// The first CONFIG_DATA port (0xCFC–0xCFF).
pub const CONFIG_DATA: u16 = 0xcfc;
/// Status register bit (byte 6): the function has a capability list at 0x34.
pub const STATUS_CAP_LIST: u8 = 0x10;
/// The capability pointer's offset.
pub const CAP_POINTER: usize = 0x34;
/// Where the first capability goes (after the standard header).
pub const CAP_START: usize = 0x40;
/// The bottom of the physical window memory BARs are decoded in; it ends at the I/O
/// APIC (0xFEC00000). Physical accesses at or above it take the device path.
pub const MMIO_WINDOW: u32 = 0xfe00_0000;

/// One PCI function's configuration space.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PciFunction {
    /// Device number on bus 0 (0–31).
    pub device: u8,
    /// Function number (0–7).
    pub function: u8,
    /// A short name for the UI ("IDE controller").
    pub name: alloc::string::String,
    /// The 256 configuration bytes.
    pub config: Vec<u8>,
    /// Which bits of each byte the guest may change.
    writable: Vec<u8>,
}

/// Identity of a function: vendor, device, class code (class, subclass, prog-if),
/// header type, interrupt line and pin.
#[derive(Clone, Copy, Debug)]
pub struct PciId {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device_id: u16,
    /// Class, subclass and programming interface.
    pub class: [u8; 3],
    /// Header type (bit 7: multi-function device).
    pub header_type: u8,
    /// Interrupt line (the PIC IRQ it is wired to), 0xFF for none.
    pub irq_line: u8,
    /// Interrupt pin (1 = INTA#), 0 for none.
    pub irq_pin: u8,
}

impl PciFunction {
    /// A function with this identity and no BARs.
    pub fn new(device: u8, function: u8, name: &str, id: PciId) -> PciFunction {
        let mut config = vec![0u8; 256];
        let mut writable = vec![0u8; 256];
        config[0..2].copy_from_slice(&id.vendor.to_le_bytes());
        config[2..4].copy_from_slice(&id.device_id.to_le_bytes());
        config[0x0b] = id.class[0];
        config[0x0a] = id.class[1];
        config[0x09] = id.class[2];
        config[0x0e] = id.header_type;
        config[0x3c] = id.irq_line;
        config[0x3d] = id.irq_pin;
        // Command: I/O space, memory space, bus master, interrupt disable.
        writable[0x04] = 0x07;
        writable[0x05] = 0x04;
        writable[0x0d] = 0xff; // latency timer
        writable[0x3c] = 0xff; // interrupt line
        PciFunction {
            device,
            function,
            name: name.into(),
            config,
            writable,
        }
    }

    /// Makes config bytes `range` writable (all bits) with `value` at power-on, as the
    /// PIIX3's PIRQ route registers are.
    pub fn with_register(mut self, range: core::ops::Range<usize>, value: u8) -> PciFunction {
        for at in range.filter(|&a| a < 256) {
            self.config[at] = value;
            self.writable[at] = 0xff;
        }
        self
    }

    /// Gives the function an I/O BAR `n` (0–5) of `size` bytes (a power of two, at
    /// least 4) at `base`: the guest sizes it by writing all ones.
    pub fn with_io_bar(mut self, n: usize, size: u32, base: u16) -> PciFunction {
        let at = 0x10 + 4 * n.min(5);
        let mask = !(size.max(4) - 1) & 0xffff;
        self.config[at..at + 4].copy_from_slice(&(u32::from(base) & mask | 1).to_le_bytes());
        self.writable[at..at + 4].copy_from_slice(&mask.to_le_bytes());
        self
    }

    /// Gives the function a 32-bit, non-prefetchable memory BAR `n` (0–5) of `size`
    /// bytes (a power of two, at least 16) at `base`: the guest sizes and moves it.
    pub fn with_mem_bar(mut self, n: usize, size: u32, base: u32) -> PciFunction {
        let at = 0x10 + 4 * n.min(5);
        let mask = !(size.max(16).next_power_of_two() - 1);
        self.config[at..at + 4].copy_from_slice(&(base & mask).to_le_bytes());
        self.writable[at..at + 4].copy_from_slice(&mask.to_le_bytes());
        self
    }

    /// Lays out a capability list from 0x40: each entry's bytes (its ID first; the
    /// next pointer at byte 1 is filled in here) on a 4-byte boundary after the last.
    /// Sets the status register's capability-list bit and the pointer at 0x34.
    pub fn with_capabilities(mut self, caps: &[&[u8]]) -> PciFunction {
        let mut at = CAP_START;
        let mut link = CAP_POINTER;
        for cap in caps {
            if cap.len() < 2 || at + cap.len() > 256 {
                break;
            }
            self.config[link] = at as u8;
            self.config[at..at + cap.len()].copy_from_slice(cap);
            self.config[at + 1] = 0;
            link = at + 1;
            at = (at + cap.len() + 3) & !3;
        }
        if link != CAP_POINTER {
            self.config[6] |= STATUS_CAP_LIST;
        }
        self
    }

    /// Walks the capability list as a driver does: `(offset, capability ID)` of each
    /// entry, at most 48 (a looping list ends there).
    pub fn capabilities(&self) -> Vec<(u8, u8)> {
        let mut out = Vec::new();
        if self.config[6] & STATUS_CAP_LIST == 0 {
            return out;
        }
        let mut at = self.config[CAP_POINTER] & !3;
        while at >= CAP_START as u8 && out.len() < 48 {
            out.push((at, self.config[usize::from(at)]));
            at = self.config[usize::from(at) + 1] & !3;
        }
        out
    }

    /// The address register a BAR holds (I/O BARs without the low flag bit).
    pub fn bar(&self, n: usize) -> u32 {
        let at = 0x10 + 4 * n.min(5);
        let v = self.dword(at);
        if v & 1 != 0 {
            v & !3
        } else {
            v & !0xf
        }
    }

    fn dword(&self, at: usize) -> u32 {
        u32::from_le_bytes([
            self.config[at],
            self.config[at + 1],
            self.config[at + 2],
            self.config[at + 3],
        ])
    }

    /// Reads `size` bytes at `offset` (wrapping inside the 256 bytes).
    pub fn read(&self, offset: u8, size: u8) -> u32 {
        (0..size.min(4)).fold(0, |acc, i| {
            acc | u32::from(self.config[usize::from(offset.wrapping_add(i))]) << (8 * i)
        })
    }

    /// Writes `size` bytes at `offset`, changing only writable bits.
    pub fn write(&mut self, offset: u8, size: u8, value: u32) {
        for i in 0..size.min(4) {
            let at = usize::from(offset.wrapping_add(i));
            let m = self.writable[at];
            let v = (value >> (8 * i)) as u8;
            self.config[at] = (self.config[at] & !m) | (v & m);
        }
    }

    /// The command register's I/O-space enable bit.
    pub fn io_enabled(&self) -> bool {
        self.config[4] & 1 != 0
    }

    /// The command register's memory-space enable bit.
    pub fn mem_enabled(&self) -> bool {
        self.config[4] & 2 != 0
    }
}

/// The host bridge and the functions on bus 0.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PciBus {
    /// CONFIG_ADDRESS as the guest last wrote it.
    pub address: u32,
    /// Every function, in the order added.
    pub functions: Vec<PciFunction>,
}

impl PciBus {
    /// Bus 0 with an i440FX host bridge at 00:00.0.
    pub fn new() -> PciBus {
        let bridge = PciFunction::new(
            0,
            0,
            "i440FX host bridge",
            PciId {
                vendor: 0x8086,
                device_id: 0x1237,
                class: [0x06, 0x00, 0x00],
                header_type: 0,
                irq_line: 0,
                irq_pin: 0,
            },
        );
        PciBus {
            address: 0,
            functions: vec![bridge],
        }
    }

    /// The PIC IRQ a function's INTx# pin (1 = INTA# … 4 = INTD#) reaches through the
    /// PIIX3's PIRQ route registers (ISA bridge 00:01.0, bytes 0x60–0x63): device `d`'s
    /// pin `p` drives PIRQ (d + p − 1) mod 4, whose register gives the IRQ unless its
    /// bit 7 (disable) is set. `None` when unrouted or there is no PIIX3.
    pub fn intx_irq(&self, device: u8, pin: u8) -> Option<u8> {
        if !(1..=4).contains(&pin) {
            return None;
        }
        let isa = self
            .functions
            .iter()
            .find(|f| (f.device, f.function) == (1, 0))?;
        let pirq = (usize::from(device) + usize::from(pin) - 1) % 4;
        let route = *isa.config.get(0x60 + pirq)?;
        (route & 0x80 == 0 && (3..=15).contains(&(route & 0x0f)) && route & 0x70 == 0)
            .then_some(route & 0x0f)
    }

    /// Restores configuration spaces from a snapshot, each cut or padded to 256 bytes
    /// so a damaged snapshot cannot make an access fall outside one.
    pub fn restore(&mut self, s: &PciBus) {
        *self = s.clone();
        for f in &mut self.functions {
            f.config.resize(256, 0);
            f.writable.resize(256, 0);
        }
    }

    /// Adds a function (replacing one at the same device and function number).
    pub fn add(&mut self, f: PciFunction) {
        self.functions
            .retain(|g| (g.device, g.function) != (f.device, f.function));
        self.functions.push(f);
    }

    /// The function CONFIG_ADDRESS selects and the register offset, if enabled and present.
    fn selected(&mut self) -> Option<(&mut PciFunction, u8)> {
        let a = self.address;
        if a & 0x8000_0000 == 0 || (a >> 16) & 0xff != 0 {
            return None;
        }
        let (dev, func) = (((a >> 11) & 0x1f) as u8, ((a >> 8) & 7) as u8);
        let reg = (a & 0xfc) as u8;
        self.functions
            .iter_mut()
            .find(|f| f.device == dev && f.function == func)
            .map(|f| (f, reg))
    }

    /// A read of the host bridge's ports (offset 0 = 0xCF8).
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        let ones = u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)));
        match offset {
            0..=3 if size == 4 && offset == 0 => self.address,
            4..=7 => match self.selected() {
                Some((f, reg)) => f.read(reg + (offset - 4) as u8, size),
                None => ones,
            },
            _ => ones,
        }
    }

    /// A write to the host bridge's ports.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        match offset {
            0 if size == 4 => self.address = value & 0x80ff_fffc,
            4..=7 => {
                if let Some((f, reg)) = self.selected() {
                    f.write(reg + (offset - 4) as u8, size, value);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(dev: u32, func: u32, reg: u32) -> u32 {
        0x8000_0000 | dev << 11 | func << 8 | reg
    }

    #[test]
    fn mechanism_one_reads_ids_and_absent_functions_read_ones() {
        let mut bus = PciBus::new();
        bus.write(0, 4, addr(0, 0, 0));
        assert_eq!(bus.read(0, 4), addr(0, 0, 0));
        assert_eq!(bus.read(4, 4), 0x1237_8086);
        assert_eq!(bus.read(6, 2), 0x1237);
        bus.write(0, 4, addr(3, 0, 0));
        assert_eq!(bus.read(4, 4), u32::MAX);
        // Disabled: the enable bit clear.
        bus.write(0, 4, 0);
        assert_eq!(bus.read(4, 2), 0xffff);
    }

    #[test]
    fn intx_pins_reach_irqs_through_the_pirq_route_registers() {
        let mut bus = PciBus::new();
        let id = PciId {
            vendor: 0x8086,
            device_id: 0x7000,
            class: [6, 1, 0],
            header_type: 0x80,
            irq_line: 0,
            irq_pin: 0,
        };
        bus.add(PciFunction::new(1, 0, "isa", id).with_register(0x60..0x64, 0x80));
        assert_eq!(bus.intx_irq(3, 1), None, "disabled at power-on");
        // PIRQC# (0x62) to IRQ 11: device 2 INTA#, device 1 INTB#, device 6 INTA#,
        // device 3 INTD#.
        bus.write(0, 4, addr(1, 0, 0x60));
        bus.write(6, 1, 11);
        for (dev, pin) in [(2, 1), (1, 2), (6, 1), (3, 4)] {
            assert_eq!(bus.intx_irq(dev, pin), Some(11), "{dev} {pin}");
        }
        assert_eq!(bus.intx_irq(3, 1), None, "PIRQD# is still disabled");
        assert_eq!(bus.intx_irq(3, 0), None, "no pin");
        bus.write(6, 1, 2);
        assert_eq!(bus.intx_irq(2, 1), None, "IRQ 2 is the cascade");
    }

    #[test]
    fn a_damaged_snapshot_cannot_shrink_a_configuration_space() {
        let mut bad = PciBus::new();
        bad.functions[0].config.truncate(3);
        bad.functions[0].writable.clear();
        let mut bus = PciBus::new();
        bus.restore(&bad);
        bus.write(0, 4, addr(0, 0, 0xfc));
        assert_eq!(bus.read(4, 4), 0);
        bus.write(4, 4, u32::MAX);
        assert_eq!(bus.functions[0].bar(5), 0);
    }

    #[test]
    fn memory_bars_size_and_capabilities_chain() {
        let id = PciId {
            vendor: 0x1af4,
            device_id: 0x1001,
            class: [1, 0, 0],
            header_type: 0,
            irq_line: 11,
            irq_pin: 1,
        };
        let f = PciFunction::new(3, 0, "t", id)
            .with_mem_bar(4, 0x1000, 0xfeb0_0000)
            .with_capabilities(&[&[9, 0xee, 5], &[9, 0xee, 6, 1, 2, 3]]);
        let mut bus = PciBus::new();
        bus.add(f);
        bus.write(0, 4, addr(3, 0, 0x20));
        assert_eq!(bus.read(4, 4), 0xfeb0_0000, "memory BAR: flag bits clear");
        bus.write(4, 4, u32::MAX);
        assert_eq!(bus.read(4, 4), 0xffff_f000, "size 4 KiB");
        bus.write(4, 4, 0xfeb4_5678);
        assert_eq!(bus.functions[1].bar(4), 0xfeb4_5000);
        bus.write(0, 4, addr(3, 0, 4));
        assert_eq!(bus.read(6, 2) & 0x10, 0x10, "capability list bit");
        assert!(!bus.functions[1].mem_enabled());
        bus.write(4, 2, 2);
        assert!(bus.functions[1].mem_enabled());
        // Walk it through CONFIG_DATA: 0x34 → 0x40 → 0x44 → end.
        bus.write(0, 4, addr(3, 0, 0x34));
        let mut at = bus.read(4, 1);
        let mut seen = Vec::new();
        while at != 0 {
            bus.write(0, 4, addr(3, 0, at & 0xfc));
            let v = bus.read(4, 4);
            seen.push((at, v & 0xff, (v >> 16) & 0xff));
            at = (v >> 8) & 0xff;
        }
        assert_eq!(seen, [(0x40, 9, 5), (0x44, 9, 6)]);
        assert_eq!(bus.functions[1].capabilities(), [(0x40, 9), (0x44, 9)]);
        assert!(bus.functions[0].capabilities().is_empty());
    }

    #[test]
    fn io_bar_sizing_and_read_only_ids() {
        let mut bus = PciBus::new();
        let f = PciFunction::new(
            1,
            1,
            "test",
            PciId {
                vendor: 0x8086,
                device_id: 0x7010,
                class: [1, 1, 0x80],
                header_type: 0,
                irq_line: 14,
                irq_pin: 1,
            },
        )
        .with_io_bar(4, 16, 0xc000);
        bus.add(f);
        bus.write(0, 4, addr(1, 1, 0x20));
        assert_eq!(bus.read(4, 4), 0xc001);
        bus.write(4, 4, u32::MAX);
        assert_eq!(
            bus.read(4, 4),
            0xfff1,
            "size 16: low four bits clear but the I/O flag"
        );
        bus.write(4, 4, 0xd000);
        assert_eq!(bus.functions[1].bar(4), 0xd000);
        bus.write(0, 4, addr(1, 1, 0));
        bus.write(4, 4, 0);
        assert_eq!(bus.read(4, 4), 0x7010_8086, "IDs are read-only");
        bus.write(0, 4, addr(1, 1, 0x3c));
        assert_eq!(bus.read(4, 2), 0x010e);
        bus.write(0, 4, addr(1, 1, 0x08));
        assert_eq!(bus.read(4, 4) >> 8, 0x01_0180);
    }
}
