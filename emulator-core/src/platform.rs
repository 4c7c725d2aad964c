//! The PC platform around the CPU: the port bus and its devices (UART, PIC pair, PIT,
//! POST ports, debug exit), virtual time, and the interrupt line to the CPU.
//!
//! Port map:
//!
//! | ports | device |
//! | --- | --- |
//! | 0x20–0x21 | master 8259A PIC (IRQ 0–7) |
//! | 0x40–0x43 | 8254 PIT, channel 0 on IRQ 0 |
//! | 0x60, 0x64 | 8042 keyboard controller (no keyboard attached) |
//! | 0x80 | POST code port (recorded) |
//! | 0x92 | System Control Port A (A20 gate) |
//! | 0xA0–0xA1 | slave 8259A PIC (IRQ 8–15, cascaded on IRQ 2) |
//! | 0xF4 | debug exit |
//! | 0x190 | POST code port (recorded) |
//! | 0x3F8–0x3FF | 16550A UART, COM1, IRQ 4 |
//!
//! Two register pages are memory-mapped, not on the port bus: each CPU's local APIC
//! at 0xFEE00000 and the I/O APIC at 0xFEC00000 (see [`crate::devices::apic`]); the
//! I/O APIC's registers live here.
//!
//! With a disk attached ([`Platform::attach_disk`]) the platform also has:
//!
//! | ports | device |
//! | --- | --- |
//! | 0x1F0–0x1F7, 0x3F6 | ATA disk on the primary IDE channel (PIO), IRQ 14 |
//! | 0xCF8–0xCFF | PCI host bridge, configuration mechanism #1: 00:00.0 i440FX, 00:01.0 PIIX3 ISA bridge, 00:01.1 PIIX3 IDE |
//! | BAR 4 of 00:01.1 (16 ports, 0xC000 until moved) | IDE bus-master registers, decoded while the function's I/O space is enabled |
//!
//! With a virtio disk attached ([`Platform::attach_virtio_blk`]) the PCI bus (host
//! bridge and PIIX3 ISA bridge) appears too, with:
//!
//! | ports | device |
//! | --- | --- |
//! | BAR 0 of 00:03.0 (64 ports, 0xC040 until moved) | virtio-blk, legacy register block, INTA# routed to IRQ 11 (PIRQD#), decoded while the function's I/O space is enabled |
//! | BAR 4 of 00:03.0 (4 KiB of memory, 0xFEB00000 until moved) | virtio-blk, modern structures (common, ISR, device configuration, notify), decoded while the function's memory space is enabled and the BAR lies in 0xFE000000–0xFEBFFFFF |
//!
//! and with a virtio NIC ([`Platform::attach_virtio_net`]):
//!
//! | ports | device |
//! | --- | --- |
//! | BAR 0 of 00:04.0 (64 ports, 0xC080 until moved) | virtio-net, legacy register block, INTA# routed to IRQ 10 (PIRQA#) |
//! | BAR 4 of 00:04.0 (4 KiB of memory, 0xFEB01000 until moved) | virtio-net, modern structures |
//!
//! and with an NE2000 ([`Platform::attach_ne2000`]):
//!
//! | ports | device |
//! | --- | --- |
//! | BAR 0 of 00:05.0 (32 ports, 0xC0C0 until moved) | RTL8029 (NE2000): DP8390 registers, data port at +0x10, reset at +0x1F, INTA# routed to IRQ 9 (PIRQB#) |
//!
//! Unclaimed ports read all ones and ignore writes. Accesses wider than a byte to the
//! byte-wide devices (UART, PICs, PIT, keyboard controller) are split into byte accesses to consecutive
//! ports, as the ISA bus does; the POST and debug-exit ports take the whole value.
//!
//! Time is virtual: `now` is the machine's instruction count, and the PIT sees
//! `now × 1.193182 MHz / 100 MHz` clocks (see [`crate::devices::pit`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::bus::PortBus;
use crate::config::MachineConfig;
use crate::devices::apic::io::{isa_pin, IrqLines};
use crate::devices::apic::IoApic;
use crate::devices::ata::{ATA_IRQ, ATA_PRIMARY, ATA_PRIMARY_CONTROL};
use crate::devices::ne2000::{self, Ne2000, Ne2000State};
use crate::devices::pci::CONFIG_ADDRESS;
use crate::devices::pit::{icount_for_tick, ticks_at};
use crate::devices::virtio::{self, Dma, VirtioBlk, VirtioBlkState, VirtioNet, VirtioNetState};
pub use crate::devices::PostWrite;
use crate::devices::{
    Ata, AtaState, BlockStore, DebugExit, IrqSink, Kbc, KbcState, PciBus, PciFunction, PciId,
    PicPair, PicState, Pit, PitState, PortDevice, PostPort, Uart, UartState,
};
use crate::error::HostError;
use crate::memory::PhysMem;

mod mmio;

/// Where the virtio-blk function sits on bus 0 (device 3, function 0).
pub const VIRTIO_BLK_SLOT: (u8, u8) = (3, 0);
/// The IRQ the firmware routes virtio-blk's INTA# (PIRQD#) to.
pub const VIRTIO_BLK_IRQ: u8 = 11;
/// Where the virtio-net function sits on bus 0 (device 4, function 0).
pub const VIRTIO_NET_SLOT: (u8, u8) = (4, 0);
/// The IRQ the firmware routes virtio-net's INTA# (PIRQA#) to.
pub const VIRTIO_NET_IRQ: u8 = 10;
/// Where the NE2000 (RTL8029) function sits on bus 0 (device 5, function 0).
pub const NE2000_SLOT: (u8, u8) = (5, 0);
/// The IRQ the firmware routes the NE2000's INTA# (PIRQB#) to.
pub const NE2000_IRQ: u8 = 9;

/// COM1's first port.
pub const COM1_PORT: u16 = 0x3f8;
/// COM1's IRQ line.
pub const COM1_IRQ: u8 = 4;
/// The debug-exit port.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The POST code ports.
pub const POST_PORTS: [u16; 2] = [0x80, 0x190];

/// The devices on the port bus.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DeviceId {
    PicMaster,
    PicSlave,
    Pit,
    Post,
    DebugExit,
    Uart,
    KbcData,
    KbcCommand,
    PortA,
    Pci,
    Ata,
    AtaControl,
    BusMaster,
    VirtioBlk,
    VirtioNet,
    Ne2000,
}

/// What an I/O write did beyond changing device registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IoEffect {
    /// Nothing the CPU loop must act on.
    None,
    /// The guest wrote this value to the debug-exit port: stop the machine.
    DebugExit(u8),
}

/// Every device register and buffer of the platform, for snapshots.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PlatformState {
    /// COM1.
    pub uart: UartState,
    /// Master and slave PIC.
    pub pic: [PicState; 2],
    /// The PIT.
    pub pit: PitState,
    /// The POST write log.
    pub post: PostPort,
    /// The keyboard controller and System Control Port A (absent from older snapshots).
    #[serde(default)]
    pub kbc: KbcState,
    /// The PCI configuration spaces, when a disk made the bus appear.
    #[serde(default)]
    pub pci: Option<PciBus>,
    /// The ATA drive's registers (not the disk's contents), when a disk is attached.
    #[serde(default)]
    pub ata: Option<AtaState>,
    /// The virtio-blk device's registers and queues, when one is attached.
    #[serde(default)]
    pub virtio_blk: Option<VirtioBlkState>,
    /// The virtio-net device's registers, queues and frames in flight, when attached.
    #[serde(default)]
    pub virtio_net: Option<VirtioNetState>,
    /// The NE2000's registers and packet memory, when one is attached.
    #[serde(default)]
    pub ne2000: Option<Ne2000State>,
    /// The I/O APIC (absent from older snapshots).
    #[serde(default)]
    pub io_apic: IoApic,
}

/// The platform: devices on a port bus plus the interrupt wiring. Not `Clone`: an
/// attached disk is the host's.
#[derive(Debug)]
pub struct Platform {
    bus: PortBus<DeviceId>,
    uart: Uart,
    pic: PicPair,
    pit: Pit,
    post: PostPort,
    debug_exit: DebugExit,
    kbc: Kbc,
    pci: Option<PciBus>,
    ata: Option<Ata>,
    /// Where the IDE function's BAR 4 is decoded, when it is.
    bus_master_base: Option<u16>,
    virtio_blk: Option<VirtioBlk>,
    /// Where virtio-blk's BAR 0 is decoded, when it is.
    virtio_base: Option<u16>,
    /// The IRQ line virtio-blk's INTA# drives now, when routed.
    virtio_irq: Option<u8>,
    virtio_net: Option<VirtioNet>,
    virtio_net_base: Option<u16>,
    virtio_net_irq: Option<u8>,
    /// Where virtio-blk's and virtio-net's modern memory BARs are decoded, when they are.
    virtio_mmio: [Option<u32>; 2],
    ne2000: Option<Ne2000>,
    ne2000_base: Option<u16>,
    ne2000_irq: Option<u8>,
    /// The I/O APIC (memory-mapped; the machine routes its page here).
    io_apic: IoApic,
    /// The virtio devices' service time per request.
    virtio_service: virtio::ServiceTime,
    /// The virtual time of the last device access or timer advance.
    now: u64,
}

impl Platform {
    /// Builds the platform described by `cfg` in its power-on state.
    pub fn new(cfg: &MachineConfig) -> Result<Platform, HostError> {
        let mut bus = PortBus::new();
        bus.insert(0x20, 2, DeviceId::PicMaster)?;
        bus.insert(0x40, 4, DeviceId::Pit)?;
        bus.insert(0xa0, 2, DeviceId::PicSlave)?;
        bus.insert(DEBUG_EXIT_PORT, 1, DeviceId::DebugExit)?;
        for port in POST_PORTS {
            bus.insert(port, 1, DeviceId::Post)?;
        }
        bus.insert(COM1_PORT, 8, DeviceId::Uart)?;
        bus.insert(0x60, 1, DeviceId::KbcData)?;
        bus.insert(0x64, 1, DeviceId::KbcCommand)?;
        bus.insert(0x92, 1, DeviceId::PortA)?;
        Ok(Platform {
            bus,
            uart: Uart::new(cfg.serial_capacity),
            pic: PicPair::new(),
            pit: Pit::new(),
            post: PostPort::default(),
            debug_exit: DebugExit::default(),
            kbc: Kbc::new(),
            pci: None,
            ata: None,
            bus_master_base: None,
            virtio_blk: None,
            virtio_base: None,
            virtio_irq: None,
            virtio_net: None,
            virtio_net_base: None,
            virtio_net_irq: None,
            virtio_mmio: [None; 2],
            ne2000: None,
            ne2000_base: None,
            ne2000_irq: None,
            io_apic: IoApic::new(),
            virtio_service: virtio::ServiceTime::default(),
            now: 0,
        })
    }

    /// Attaches `disk` as the master drive of the primary IDE channel: the PCI bus
    /// appears with a PIIX3 (ISA bridge and IDE function in compatibility mode), and
    /// the drive claims its legacy ports and IRQ 14. One disk per machine.
    pub fn attach_disk(&mut self, disk: Box<dyn BlockStore>) -> Result<(), HostError> {
        if self.ata.is_some() {
            return Err(HostError::BadConfig("a disk is attached already".into()));
        }
        self.bus.insert(ATA_PRIMARY, 8, DeviceId::Ata)?;
        self.bus
            .insert(ATA_PRIMARY_CONTROL, 1, DeviceId::AtaControl)?;
        // Compatibility mode (prog-if 0x80): the legacy ports and IRQ 14; BAR 4 is the
        // bus-master block (its registers are not emulated).
        let ide = PciFunction::new(1, 1, "PIIX3 IDE", piix([1, 1, 0x80], 0x7010, 0, ATA_IRQ, 1))
            .with_io_bar(4, 16, 0xc000);
        self.pci_bus()?.add(ide);
        self.ata = Some(Ata::new(disk));
        Ok(())
    }

    /// The PCI bus, created on first use with the host bridge and the PIIX3 ISA bridge
    /// (its PIRQA#–D# route registers: every PCI INTx# pin reaches the PIC through them).
    fn pci_bus(&mut self) -> Result<&mut PciBus, HostError> {
        if self.pci.is_none() {
            self.bus.insert(CONFIG_ADDRESS, 8, DeviceId::Pci)?;
            let mut pci = PciBus::new();
            let isa = PciFunction::new(
                1,
                0,
                "PIIX3 ISA bridge",
                piix([6, 1, 0], 0x7000, 0x80, 0, 0),
            )
            .with_register(0x60..0x64, 0x80);
            pci.add(isa);
            self.pci = Some(pci);
        }
        self.pci
            .as_mut()
            .ok_or_else(|| HostError::BadConfig("no PCI bus".into()))
    }

    /// Attaches `disk` as a virtio-blk device at 00:03.0 (legacy I/O BAR 0 at 0xC040,
    /// INTA# on PIRQD#, which the platform routes to IRQ 11 as firmware would). One
    /// virtio disk per machine; an ATA disk may be attached as well.
    pub fn attach_virtio_blk(&mut self, disk: Box<dyn BlockStore>) -> Result<(), HostError> {
        if self.virtio_blk.is_some() {
            return Err(HostError::BadConfig(
                "a virtio disk is attached already".into(),
            ));
        }
        self.add_virtio_function(
            VIRTIO_BLK_SLOT,
            "virtio-blk",
            [1, 0, 0],
            (virtio::blk::DEVICE_ID, virtio::blk::DEVICE_TYPE),
            (0xc040, 0xfeb0_0000),
            VIRTIO_BLK_IRQ,
        )?;
        let mut v = VirtioBlk::new(disk);
        v.set_service(self.virtio_service);
        self.virtio_blk = Some(v);
        Ok(())
    }

    /// Attaches a virtio-net device with `mac` at 00:04.0 (legacy I/O BAR 0 at 0xC080,
    /// INTA# on PIRQA#, routed to IRQ 10). Frames leave through
    /// [`Platform::take_sent_frames`] and arrive through `Machine::deliver_frame`.
    pub fn attach_virtio_net(&mut self, mac: [u8; 6]) -> Result<(), HostError> {
        if self.virtio_net.is_some() {
            return Err(HostError::BadConfig(
                "a virtio NIC is attached already".into(),
            ));
        }
        self.add_virtio_function(
            VIRTIO_NET_SLOT,
            "virtio-net",
            [2, 0, 0],
            (virtio::net::DEVICE_ID, virtio::net::DEVICE_TYPE),
            (0xc080, 0xfeb0_1000),
            VIRTIO_NET_IRQ,
        )?;
        let mut v = VirtioNet::new(mac);
        v.set_service(self.virtio_service);
        self.virtio_net = Some(v);
        Ok(())
    }

    /// Attaches an NE2000 (an RTL8029, 10EC:8029) with `mac` in its PROM at 00:05.0
    /// (I/O BAR 0 of 32 ports at 0xC0C0, INTA# on PIRQB#, routed to IRQ 9). Frames
    /// leave and arrive as a virtio NIC's do.
    pub fn attach_ne2000(&mut self, mac: [u8; 6]) -> Result<(), HostError> {
        if self.ne2000.is_some() {
            return Err(HostError::BadConfig("an NE2000 is attached already".into()));
        }
        let (dev, func) = NE2000_SLOT;
        let f = PciFunction::new(
            dev,
            func,
            "RTL8029 (NE2000)",
            PciId {
                vendor: ne2000::VENDOR,
                device_id: ne2000::DEVICE_ID,
                class: [2, 0, 0],
                header_type: 0,
                irq_line: NE2000_IRQ,
                irq_pin: 1,
            },
        )
        .with_io_bar(0, u32::from(ne2000::BAR0_SIZE), 0xc0c0);
        self.add_routed_function(f, NE2000_IRQ)?;
        self.ne2000 = Some(Ne2000::new(mac));
        Ok(())
    }

    /// Adds a transitional virtio function: vendor 1AF4h, `(device ID, device type)`
    /// (the subsystem ID legacy drivers check), I/O BAR 0 and memory BAR 4 at `bars`,
    /// the modern interface's capabilities, and its INTA# routed to `irq` through the
    /// PIIX3, as firmware would.
    fn add_virtio_function(
        &mut self,
        (dev, func): (u8, u8),
        name: &str,
        class: [u8; 3],
        (device_id, device_type): (u16, u16),
        (bar, mmio): (u16, u32),
        irq: u8,
    ) -> Result<(), HostError> {
        let caps = virtio::modern::capabilities();
        let caps: Vec<&[u8]> = caps.iter().map(Vec::as_slice).collect();
        let mut f = PciFunction::new(
            dev,
            func,
            name,
            PciId {
                vendor: virtio::VENDOR,
                device_id,
                class,
                header_type: 0,
                irq_line: irq,
                irq_pin: 1,
            },
        )
        .with_io_bar(0, u32::from(virtio::BAR0_SIZE), bar)
        .with_mem_bar(virtio::modern::BAR, virtio::modern::BAR_SIZE, mmio)
        .with_capabilities(&caps);
        f.config[0x2c..0x2e].copy_from_slice(&virtio::VENDOR.to_le_bytes());
        f.config[0x2e..0x30].copy_from_slice(&device_type.to_le_bytes());
        self.add_routed_function(f, irq)
    }

    /// Adds `f` (INTA#) to the bus and routes its PIRQ# to `irq` through the PIIX3, as
    /// firmware would.
    fn add_routed_function(&mut self, f: PciFunction, irq: u8) -> Result<(), HostError> {
        let pirq = (usize::from(f.device) % 4) + 0x60;
        let pci = self.pci_bus()?;
        pci.add(f);
        if let Some(isa) = pci
            .functions
            .iter_mut()
            .find(|f| (f.device, f.function) == (1, 0))
        {
            isa.config[pirq] = irq;
        }
        Ok(())
    }

    /// The virtio-net device's registers and counters, when one is attached.
    pub fn virtio_net(&self) -> Option<&VirtioNetState> {
        self.virtio_net.as_ref().map(VirtioNet::state)
    }

    /// The NE2000's registers and counters, when one is attached.
    pub fn ne2000(&self) -> Option<&Ne2000State> {
        self.ne2000.as_ref().map(Ne2000::state)
    }

    /// Takes the frames the guest sent on its NIC (virtio-net, then NE2000), oldest
    /// first.
    pub fn take_sent_frames(&mut self) -> Vec<Vec<u8>> {
        let mut frames = self
            .virtio_net
            .as_mut()
            .map_or_else(Vec::new, VirtioNet::take_sent);
        if let Some(n) = self.ne2000.as_mut() {
            frames.extend(n.take_sent());
        }
        frames
    }

    /// The virtio-blk device's registers, queues and counters, when one is attached.
    pub fn virtio_blk(&self) -> Option<&VirtioBlkState> {
        self.virtio_blk.as_ref().map(VirtioBlk::state)
    }

    /// Sets the virtio devices' service time per request (see
    /// [`virtio::busy`]); zero serves every notify at once.
    pub fn set_virtio_service(&mut self, service: virtio::ServiceTime) {
        self.virtio_service = service;
        if let Some(v) = self.virtio_blk.as_mut() {
            v.set_service(service);
        }
        if let Some(v) = self.virtio_net.as_mut() {
            v.set_service(service);
        }
    }

    /// Serves the virtqueues the guest notified and the rounds of requests whose
    /// service time ended, reading and writing guest-physical memory below `ram` (the
    /// device's DMA), then updates the interrupt line.
    pub(crate) fn service_dma(&mut self, mem: &mut dyn PhysMem, ram: u32) {
        let now = self.now;
        if let Some(v) = self.virtio_blk.as_mut().filter(|v| v.has_pending(now)) {
            v.service(&mut Dma { mem, ram }, now);
            self.sync_virtio_irq();
        }
        if let Some(v) = self.virtio_net.as_mut().filter(|v| v.has_pending(now)) {
            v.service(&mut Dma { mem, ram }, now);
            self.sync_virtio_irq();
        }
    }

    /// Queues a frame for the guest's virtio NIC, or writes it into the NE2000's
    /// receive ring (dropped without a NIC).
    pub(crate) fn deliver_frame(&mut self, frame: &[u8]) {
        if let Some(v) = self.virtio_net.as_mut() {
            v.deliver(frame);
        } else if let Some(n) = self.ne2000.as_mut() {
            n.deliver(frame);
            self.sync_ne2000_irq();
        }
    }

    /// The PCI bus, when a disk made it appear.
    pub fn pci(&self) -> Option<&PciBus> {
        self.pci.as_ref()
    }

    /// The ATA drive's registers, when a disk is attached.
    pub fn ata(&self) -> Option<&AtaState> {
        self.ata.as_ref().map(Ata::state)
    }

    /// Resets every device's registers. Virtual time goes on: the machine keeps its
    /// time stamp counter across a reset and passes it in with the next access, and the
    /// PIT counts again from when the guest next programs it. Console output, pending
    /// host input and the POST log are kept.
    pub fn reset(&mut self) {
        self.uart.reset();
        self.pic.reset();
        self.pit.reset();
        self.debug_exit.take_request();
        self.kbc = Kbc::new();
        self.io_apic = IoApic::new();
        if let Some(a) = &mut self.ata {
            a.reset();
        }
        if let Some(v) = &mut self.virtio_blk {
            v.reset();
        }
        if let Some(v) = &mut self.virtio_net {
            v.reset();
        }
        if let Some(n) = &mut self.ne2000 {
            n.reset();
        }
        self.sync_uart_irq();
        self.sync_ata_irq();
        self.sync_virtio_irq();
        self.sync_ne2000_irq();
    }

    /// Claimed port ranges as `(first, last, device name)`, for the UI.
    pub fn port_map(&self) -> Vec<(u16, u16, &'static str)> {
        self.bus
            .ranges()
            .map(|(a, b, d)| {
                let name = match d {
                    DeviceId::PicMaster => "8259A PIC (master)",
                    DeviceId::PicSlave => "8259A PIC (slave)",
                    DeviceId::Pit => "8254 PIT",
                    DeviceId::Post => "POST port",
                    DeviceId::DebugExit => "debug exit",
                    DeviceId::Uart => "16550A UART (COM1)",
                    DeviceId::KbcData => "8042 keyboard controller (data)",
                    DeviceId::KbcCommand => "8042 keyboard controller (status/command)",
                    DeviceId::PortA => "System Control Port A",
                    DeviceId::Pci => "PCI host bridge (configuration mechanism #1)",
                    DeviceId::Ata => "ATA disk, primary IDE channel",
                    DeviceId::AtaControl => "ATA device control / alternate status",
                    DeviceId::BusMaster => "PIIX3 IDE bus-master registers (BAR 4)",
                    DeviceId::VirtioBlk => "virtio-blk legacy registers (BAR 0)",
                    DeviceId::VirtioNet => "virtio-net legacy registers (BAR 0)",
                    DeviceId::Ne2000 => "NE2000 (RTL8029) registers (BAR 0)",
                };
                (a, b, name)
            })
            .collect()
    }

    /// An IN of `size` bytes (1, 2 or 4) from `port` at virtual time `now`.
    pub fn io_read(&mut self, port: u16, size: u8, now: u64) -> u32 {
        self.advance(now);
        let whole = match self.bus.lookup(port) {
            Some((
                DeviceId::Post
                | DeviceId::DebugExit
                | DeviceId::Pci
                | DeviceId::Ata
                | DeviceId::VirtioBlk
                | DeviceId::VirtioNet
                | DeviceId::Ne2000,
                _,
            )) => true,
            _ => size == 1,
        };
        let value = if whole {
            self.read_one(port, size)
        } else {
            (0..u16::from(size.min(4))).fold(0u32, |acc, i| {
                acc | (self.read_one(port.wrapping_add(i), 1) & 0xff) << (8 * i)
            })
        };
        value & size_mask(size)
    }

    /// An OUT of `size` bytes (1, 2 or 4) to `port` at virtual time `now`.
    pub fn io_write(&mut self, port: u16, size: u8, value: u32, now: u64) -> IoEffect {
        self.advance(now);
        let value = value & size_mask(size);
        match self.bus.lookup(port) {
            Some((DeviceId::Post, _)) => self.post.record(port, value, now),
            Some((DeviceId::DebugExit, off)) => self.debug_exit.write(off, size, value),
            Some((
                DeviceId::Pci
                | DeviceId::Ata
                | DeviceId::VirtioBlk
                | DeviceId::VirtioNet
                | DeviceId::Ne2000,
                _,
            )) => self.write_sized(port, size, value),
            _ if size == 1 => self.write_one(port, value),
            _ => {
                for i in 0..u16::from(size.min(4)) {
                    self.write_one(port.wrapping_add(i), (value >> (8 * i)) & 0xff);
                }
            }
        }
        match self.debug_exit.take_request() {
            Some(v) => IoEffect::DebugExit(v),
            None => IoEffect::None,
        }
    }

    fn read_one(&mut self, port: u16, size: u8) -> u32 {
        match self.bus.lookup(port) {
            None => u32::MAX,
            Some((DeviceId::PicMaster, off)) => u32::from(self.pic.read_chip(false, off)),
            Some((DeviceId::PicSlave, off)) => u32::from(self.pic.read_chip(true, off)),
            Some((DeviceId::Pit, off)) => self.pit.read(off, 1),
            Some((DeviceId::Post, _)) => u32::MAX,
            Some((DeviceId::DebugExit, off)) => self.debug_exit.read(off, size),
            Some((DeviceId::Uart, off)) => {
                let v = self.uart.read(off, 1);
                self.sync_uart_irq();
                v
            }
            Some((DeviceId::KbcData, _)) => self.kbc.read(0, 1),
            Some((DeviceId::KbcCommand, _)) => self.kbc.read(4, 1),
            Some((DeviceId::PortA, _)) => u32::from(self.kbc.read_port_a()),
            Some((DeviceId::Pci, off)) => self.pci.as_mut().map_or(u32::MAX, |p| p.read(off, size)),
            Some((DeviceId::Ata, off)) => self.ata_access(off, size, None),
            Some((DeviceId::AtaControl, _)) => self.ata_access(8, 1, None),
            Some((DeviceId::BusMaster, off)) => self
                .ata
                .as_ref()
                .map_or(0xff, |a| u32::from(a.bus_master_read(off))),
            Some((DeviceId::VirtioBlk, off)) => {
                let v = self
                    .virtio_blk
                    .as_mut()
                    .map_or(u32::MAX, |d| d.read(off, size));
                self.sync_virtio_irq();
                v
            }
            Some((DeviceId::VirtioNet, off)) => {
                let v = self
                    .virtio_net
                    .as_mut()
                    .map_or(u32::MAX, |d| d.read(off, size));
                self.sync_virtio_irq();
                v
            }
            Some((DeviceId::Ne2000, off)) => {
                let v = self.ne2000.as_mut().map_or(u32::MAX, |d| d.read(off, size));
                self.sync_ne2000_irq();
                v
            }
        }
    }

    /// A read (`value` None) or write of the ATA drive; IRQ 14 follows its line.
    fn ata_access(&mut self, offset: u16, size: u8, value: Option<u32>) -> u32 {
        let Some(a) = self.ata.as_mut() else {
            return u32::MAX;
        };
        let r = match value {
            None => a.read(offset, size),
            Some(v) => {
                a.write(offset, size, v);
                0
            }
        };
        self.sync_ata_irq();
        r
    }

    /// Decodes the IDE function's BAR 4 where the guest put it, while its I/O space is
    /// enabled; a BAR placed over another device's ports is not decoded.
    fn sync_bars(&mut self) {
        self.bus_master_base =
            self.decode_io_bar((1, 1), 4, 16, DeviceId::BusMaster, self.bus_master_base);
        if self.virtio_blk.is_some() {
            self.virtio_base = self.decode_io_bar(
                VIRTIO_BLK_SLOT,
                0,
                virtio::BAR0_SIZE,
                DeviceId::VirtioBlk,
                self.virtio_base,
            );
        }
        if self.virtio_net.is_some() {
            self.virtio_net_base = self.decode_io_bar(
                VIRTIO_NET_SLOT,
                0,
                virtio::BAR0_SIZE,
                DeviceId::VirtioNet,
                self.virtio_net_base,
            );
        }
        if self.ne2000.is_some() {
            self.ne2000_base = self.decode_io_bar(
                NE2000_SLOT,
                0,
                ne2000::BAR0_SIZE,
                DeviceId::Ne2000,
                self.ne2000_base,
            );
        }
        self.sync_mem_bars();
        self.sync_virtio_irq();
        self.sync_ne2000_irq();
    }

    /// Where function `slot`'s I/O BAR `n` of `size` ports should be decoded, moving
    /// `device` there on the port bus when it changed from `now`.
    fn decode_io_bar(
        &mut self,
        slot: (u8, u8),
        n: usize,
        size: u16,
        device: DeviceId,
        now: Option<u16>,
    ) -> Option<u16> {
        let want = self.pci.as_ref().and_then(|p| {
            let f = p
                .functions
                .iter()
                .find(|f| (f.device, f.function) == slot)?;
            let base = f.bar(n);
            (f.io_enabled() && base != 0 && base <= u32::from(u16::MAX - size))
                .then_some(base as u16)
        });
        if want == now {
            return now;
        }
        self.bus.remove(device);
        want.filter(|&b| self.bus.insert(b, size, device).is_ok())
    }

    /// Drives each virtio device's INTA# on the IRQ the PIIX3 routes it to.
    fn sync_virtio_irq(&mut self) {
        if let Some(level) = self.virtio_blk.as_ref().map(VirtioBlk::irq_level) {
            self.virtio_irq = self.drive_inta(VIRTIO_BLK_SLOT, level, self.virtio_irq);
        }
        if let Some(level) = self.virtio_net.as_ref().map(VirtioNet::irq_level) {
            self.virtio_net_irq = self.drive_inta(VIRTIO_NET_SLOT, level, self.virtio_net_irq);
        }
    }

    /// Drives the NE2000's INTA# on the IRQ the PIIX3 routes it to.
    fn sync_ne2000_irq(&mut self) {
        if let Some(level) = self.ne2000.as_ref().map(Ne2000::irq_level) {
            self.ne2000_irq = self.drive_inta(NE2000_SLOT, level, self.ne2000_irq);
        }
    }

    /// Drives function `slot`'s INTA# at `level` (masked by its command register's
    /// interrupt-disable bit) on the IRQ it is routed to; `now` is the IRQ it drove
    /// before, lowered when the route changed. Returns the IRQ it drives.
    fn drive_inta(&mut self, (dev, func): (u8, u8), level: bool, now: Option<u8>) -> Option<u8> {
        let pci = self.pci.as_ref()?;
        let disabled = pci
            .functions
            .iter()
            .find(|f| (f.device, f.function) == (dev, func))
            .is_none_or(|f| f.config[5] & 0x04 != 0);
        let irq = pci.intx_irq(dev, 1);
        if now != irq {
            if let Some(old) = now {
                self.pic.set_irq(old, false);
            }
        }
        if let Some(irq) = irq {
            self.pic.set_irq(irq, level && !disabled);
        }
        irq
    }

    fn sync_ata_irq(&mut self) {
        if let Some(level) = self.ata.as_ref().map(Ata::irq_level) {
            self.lines().set_irq(ATA_IRQ, level);
        }
    }

    /// A write of the whole value to a device that takes wide accesses.
    fn write_sized(&mut self, port: u16, size: u8, value: u32) {
        match self.bus.lookup(port) {
            Some((DeviceId::Pci, off)) => {
                if let Some(p) = self.pci.as_mut() {
                    p.write(off, size, value);
                }
                self.sync_bars();
            }
            Some((DeviceId::Ata, off)) => {
                self.ata_access(off, size, Some(value));
            }
            Some((DeviceId::VirtioBlk, off)) => {
                if let Some(v) = self.virtio_blk.as_mut() {
                    v.write(off, size, value);
                }
                self.sync_virtio_irq();
            }
            Some((DeviceId::VirtioNet, off)) => {
                if let Some(v) = self.virtio_net.as_mut() {
                    v.write(off, size, value);
                }
                self.sync_virtio_irq();
            }
            Some((DeviceId::Ne2000, off)) => {
                if let Some(n) = self.ne2000.as_mut() {
                    n.write(off, size, value);
                }
                self.sync_ne2000_irq();
            }
            _ => {}
        }
    }

    fn write_one(&mut self, port: u16, value: u32) {
        match self.bus.lookup(port) {
            None => {}
            Some((DeviceId::PicMaster, off)) => self.pic.write_chip(false, off, value as u8),
            Some((DeviceId::PicSlave, off)) => self.pic.write_chip(true, off, value as u8),
            Some((DeviceId::Pit, off)) => self.pit.write(off, 1, value),
            Some((DeviceId::Post, _)) | Some((DeviceId::DebugExit, _)) => {}
            Some((DeviceId::Uart, off)) => {
                self.uart.write(off, 1, value);
                self.sync_uart_irq();
            }
            Some((DeviceId::KbcData, _)) => self.kbc.write(0, 1, value),
            Some((DeviceId::KbcCommand, _)) => self.kbc.write(4, 1, value),
            Some((DeviceId::PortA, _)) => self.kbc.write_port_a(value as u8),
            Some((
                DeviceId::Pci
                | DeviceId::Ata
                | DeviceId::VirtioBlk
                | DeviceId::VirtioNet
                | DeviceId::Ne2000,
                _,
            )) => self.write_sized(port, 1, value),
            Some((DeviceId::AtaControl, _)) => {
                self.ata_access(8, 1, Some(value));
            }
            Some((DeviceId::BusMaster, off)) => {
                if let Some(a) = self.ata.as_mut() {
                    a.bus_master_write(off, value as u8);
                }
            }
        }
    }

    fn sync_uart_irq(&mut self) {
        let level = self.uart.irq_level();
        self.lines().set_irq(COM1_IRQ, level);
    }

    /// The interrupt lines, to the PIC pair and the I/O APIC.
    fn lines(&mut self) -> IrqLines<'_> {
        IrqLines {
            pic: &mut self.pic,
            io: &mut self.io_apic,
        }
    }

    /// Brings the timers up to virtual time `now` (an instruction count), raising the
    /// interrupts that became due.
    pub fn advance(&mut self, now: u64) {
        self.now = now;
        let mut lines = IrqLines {
            pic: &mut self.pic,
            io: &mut self.io_apic,
        };
        self.pit.advance(ticks_at(now), &mut lines);
    }

    /// The instruction count at which the next timer interrupt is raised, if any can
    /// still reach the CPU, or a virtio device finishes its requests (so HLT can skip
    /// ahead).
    pub fn next_deadline(&self) -> Option<u64> {
        let devices = [
            self.virtio_blk.as_ref().and_then(VirtioBlk::deadline),
            self.virtio_net.as_ref().and_then(VirtioNet::deadline),
        ];
        let device = devices.into_iter().flatten().min();
        if self.pic.master.state().imr & 1 != 0 && self.io_apic.masked(isa_pin(0)) {
            return device;
        }
        let pit = self.pit.next_irq_tick().map(icount_for_tick);
        pit.into_iter().chain(device).min()
    }

    /// The PIC's INTR line to the CPU.
    pub fn interrupt_pending(&self) -> bool {
        self.pic.interrupt_pending()
    }

    /// The INTA cycle: `(vector, irq)` of the interrupt to deliver, `None` when INTR
    /// is not asserted.
    pub fn acknowledge_interrupt(&mut self) -> Option<(u8, u8)> {
        if !self.pic.interrupt_pending() {
            return None;
        }
        Some(self.pic.acknowledge())
    }

    /// The console output held (the newest `serial_capacity` bytes).
    pub fn serial_output(&self) -> Vec<u8> {
        self.uart.output()
    }

    /// Takes the console output held.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        self.uart.take_output()
    }

    /// The console bytes written after the first `seen` ever written (those still
    /// held), and how many were written in all.
    pub fn serial_output_since(&self, seen: u64) -> (Vec<u8>, u64) {
        let s = self.uart.state();
        let held = s.output.len() as u64;
        let total = s.output_dropped + held;
        let new = total.saturating_sub(seen).min(held) as usize;
        let bytes = s
            .output
            .iter()
            .skip(s.output.len() - new)
            .copied()
            .collect();
        (bytes, total)
    }

    /// Console bytes dropped because the output buffer was full.
    pub fn serial_dropped(&self) -> u64 {
        self.uart.output_dropped()
    }

    /// Types bytes on COM1's receive line.
    pub fn push_serial_input(&mut self, bytes: &[u8]) {
        self.uart.push_input(bytes);
        self.sync_uart_irq();
    }

    /// Writes to the POST ports, oldest first (the newest ones at least, when a guest
    /// wrote very many).
    pub fn post_writes(&self) -> &[PostWrite] {
        self.post.writes()
    }

    /// The PIC pair, for the UI.
    pub fn pic(&self) -> &PicPair {
        &self.pic
    }

    /// The I/O APIC.
    pub fn io_apic(&self) -> &IoApic {
        &self.io_apic
    }

    /// The I/O APIC, for its register writes and inputs.
    pub(crate) fn io_apic_mut(&mut self) -> &mut IoApic {
        &mut self.io_apic
    }

    /// The PIT, for the UI.
    pub fn pit(&self) -> &Pit {
        &self.pit
    }

    /// Every device register and buffer.
    pub fn snapshot(&self) -> PlatformState {
        PlatformState {
            uart: self.uart.state().clone(),
            pic: self.pic.snapshot(),
            pit: self.pit.state().clone(),
            post: self.post.clone(),
            kbc: self.kbc.state().clone(),
            pci: self.pci.clone(),
            ata: self.ata.as_ref().map(|a| a.state().clone()),
            virtio_blk: self.virtio_blk.as_ref().map(|v| v.state().clone()),
            virtio_net: self.virtio_net.as_ref().map(|v| v.state().clone()),
            ne2000: self.ne2000.as_ref().map(|n| n.state().clone()),
            io_apic: self.io_apic.clone(),
        }
    }

    /// Restores a [`Platform::snapshot`]; the continuation is bit-exact.
    pub fn restore(&mut self, s: &PlatformState) {
        self.uart.restore(&s.uart);
        self.pic.restore(&s.pic);
        self.pit.restore(&s.pit);
        self.post = s.post.clone();
        self.kbc.restore(&s.kbc);
        self.io_apic = s.io_apic.clone();
        if let (Some(a), Some(st)) = (self.ata.as_mut(), s.ata.as_ref()) {
            a.restore(st);
        }
        if let (Some(p), Some(sp)) = (self.pci.as_mut(), s.pci.as_ref()) {
            p.restore(sp);
        }
        if let (Some(v), Some(sv)) = (self.virtio_blk.as_mut(), s.virtio_blk.as_ref()) {
            v.restore(sv);
        }
        if let (Some(v), Some(sv)) = (self.virtio_net.as_mut(), s.virtio_net.as_ref()) {
            v.restore(sv);
        }
        if let (Some(n), Some(sn)) = (self.ne2000.as_mut(), s.ne2000.as_ref()) {
            n.restore(sn);
        }
        self.sync_bars();
        self.sync_ata_irq();
        self.debug_exit.take_request();
    }
}

impl crate::machine::Machine {
    /// Attaches `disk` as the primary IDE master (see [`Platform::attach_disk`]).
    pub fn attach_disk(&mut self, disk: Box<dyn BlockStore>) -> Result<(), HostError> {
        self.platform.attach_disk(disk)?;
        self.refresh_platform();
        Ok(())
    }

    /// Attaches `disk` as a virtio-blk device (see [`Platform::attach_virtio_blk`]).
    pub fn attach_virtio_blk(&mut self, disk: Box<dyn BlockStore>) -> Result<(), HostError> {
        self.platform.attach_virtio_blk(disk)?;
        self.refresh_platform();
        Ok(())
    }

    /// Sets the virtio devices' service time (see [`Platform::set_virtio_service`]).
    pub fn set_virtio_service(&mut self, service: virtio::ServiceTime) {
        self.platform.set_virtio_service(service);
        self.refresh_platform();
    }

    /// Attaches a virtio NIC with `mac` (see [`Platform::attach_virtio_net`]).
    pub fn attach_virtio_net(&mut self, mac: [u8; 6]) -> Result<(), HostError> {
        self.platform.attach_virtio_net(mac)?;
        self.refresh_platform();
        Ok(())
    }

    /// Attaches an NE2000 with `mac` (see [`Platform::attach_ne2000`]).
    pub fn attach_ne2000(&mut self, mac: [u8; 6]) -> Result<(), HostError> {
        self.platform.attach_ne2000(mac)?;
        self.refresh_platform();
        Ok(())
    }

    /// Hands a frame to the guest's virtio NIC: it lands in a receive buffer now if
    /// the guest has posted one, else when it does.
    pub fn deliver_frame(&mut self, frame: &[u8]) {
        self.platform.deliver_frame(frame);
        let ram = u32::try_from(self.mem.ram_size()).unwrap_or(u32::MAX);
        self.platform.service_dma(&mut self.mem, ram);
        self.refresh_platform();
    }

    /// Takes the frames the guest sent on its virtio NIC.
    pub fn take_sent_frames(&mut self) -> Vec<Vec<u8>> {
        self.platform.take_sent_frames()
    }

    /// The platform's devices, for views.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }
}

/// A PIIX3 function's identity.
fn piix(class: [u8; 3], device_id: u16, header_type: u8, irq_line: u8, irq_pin: u8) -> PciId {
    PciId {
        vendor: 0x8086,
        device_id,
        class,
        header_type,
        irq_line,
        irq_pin,
    }
}

fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Platform {
        Platform::new(&MachineConfig::default()).unwrap()
    }

    fn init_pics(p: &mut Platform) {
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x20),
            (0x21, 0x04),
            (0x21, 0x01),
            (0xa0, 0x11),
            (0xa1, 0x28),
            (0xa1, 0x02),
            (0xa1, 0x01),
            (0x21, 0x00),
            (0xa1, 0x00),
        ] {
            p.io_write(port, 1, v, 0);
        }
    }

    #[test]
    fn unclaimed_ports_read_all_ones() {
        let mut p = platform();
        assert_eq!(p.io_read(0x1234, 1, 0), 0xff);
        assert_eq!(p.io_read(0x1234, 2, 0), 0xffff);
        assert_eq!(p.io_read(0x1234, 4, 0), 0xffff_ffff);
        assert_eq!(p.io_write(0x1234, 4, 7, 0), IoEffect::None);
        assert_eq!(p.io_read(0x80, 1, 0), 0xff);
    }

    #[test]
    fn wide_accesses_split_into_bytes() {
        let mut p = platform();
        // LCR (0x3FB) and MCR (0x3FC) in one word write.
        p.io_write(0x3fb, 2, 0x0a03, 0);
        assert_eq!(p.io_read(0x3fb, 1, 0), 0x03);
        assert_eq!(p.io_read(0x3fc, 1, 0), 0x0a);
        assert_eq!(p.io_read(0x3fb, 2, 0), 0x0a03);
        // Straddling the end of the UART: the unclaimed port reads 0xFF.
        p.io_write(0x3ff, 1, 0x42, 0);
        assert_eq!(p.io_read(0x3ff, 2, 0), 0xff42);
    }

    #[test]
    fn post_and_debug_exit_ports() {
        let mut p = platform();
        p.io_write(0x80, 1, 0x1ff, 5);
        p.io_write(0x190, 2, 0xbeef, 9);
        assert_eq!(
            p.post_writes(),
            [
                PostWrite {
                    port: 0x80,
                    value: 0xff,
                    icount: 5
                },
                PostWrite {
                    port: 0x190,
                    value: 0xbeef,
                    icount: 9
                }
            ]
        );
        assert_eq!(p.io_write(0xf4, 1, 0x10, 10), IoEffect::DebugExit(0x10));
        assert_eq!(p.io_write(0xf5, 1, 0x10, 10), IoEffect::None);
    }

    #[test]
    fn serial_console_output_and_input() {
        let mut p = platform();
        for b in b"ok" {
            p.io_write(0x3f8, 1, u32::from(*b), 0);
        }
        assert_eq!(p.serial_output(), b"ok");
        assert_eq!(p.take_serial_output(), b"ok");
        assert!(p.serial_output().is_empty());
        p.push_serial_input(b"x");
        assert_eq!(p.io_read(0x3fd, 1, 0) & 1, 1);
        assert_eq!(p.io_read(0x3f8, 1, 0), u32::from(b'x'));
    }

    #[test]
    fn serial_capacity_bounds_the_console() {
        let cfg = MachineConfig {
            serial_capacity: 3,
            ..MachineConfig::default()
        };
        let mut p = Platform::new(&cfg).unwrap();
        for b in b"12345" {
            p.io_write(0x3f8, 1, u32::from(*b), 0);
        }
        assert_eq!(p.serial_output(), b"345");
        assert_eq!(p.serial_dropped(), 2);
        assert_eq!(p.serial_output_since(0), (b"345".to_vec(), 5));
        assert_eq!(p.serial_output_since(4), (b"5".to_vec(), 5));
        assert_eq!(p.serial_output_since(5), (Vec::new(), 5));
    }

    #[test]
    fn uart_interrupt_reaches_the_cpu_on_irq4() {
        let mut p = platform();
        init_pics(&mut p);
        assert!(!p.interrupt_pending());
        p.io_write(0x3f9, 1, 0x01, 0); // ERBFI
        p.push_serial_input(b"k");
        assert!(p.interrupt_pending());
        assert_eq!(p.acknowledge_interrupt(), Some((0x24, 4)));
        assert!(!p.interrupt_pending());
        assert_eq!(p.io_read(0x3f8, 1, 0), u32::from(b'k'));
        p.io_write(0x20, 1, 0x20, 0);
        // The line dropped when the byte was read, so a new byte is a new edge.
        p.push_serial_input(b"j");
        assert_eq!(p.acknowledge_interrupt(), Some((0x24, 4)));
        p.io_write(0x20, 1, 0x20, 0);
        assert_eq!(p.acknowledge_interrupt(), None);
    }

    #[test]
    fn pit_drives_irq0_in_virtual_time() {
        let mut p = platform();
        init_pics(&mut p);
        // Channel 0, mode 2, count 1193: one interrupt per ~1 ms = 100_000 instructions.
        p.io_write(0x43, 1, 0x34, 0);
        p.io_write(0x40, 1, 1193 & 0xff, 0);
        p.io_write(0x40, 1, 1193 >> 8, 0);
        let deadline = p.next_deadline().unwrap();
        assert_eq!(deadline, icount_for_tick(1193));
        assert!((99_900..=100_000).contains(&deadline), "{deadline}");
        p.advance(deadline - 1);
        assert!(!p.interrupt_pending());
        p.advance(deadline);
        assert!(p.interrupt_pending());
        assert_eq!(p.acknowledge_interrupt(), Some((0x20, 0)));
        p.io_write(0x20, 1, 0x20, deadline);
        assert_eq!(p.next_deadline(), Some(icount_for_tick(2 * 1193)));
        // A masked IRQ 0 gives no deadline to wait for.
        p.io_write(0x21, 1, 0x01, deadline);
        assert_eq!(p.next_deadline(), None);
        // Reading the counter through the bus, at a later time.
        p.io_write(0x43, 1, 0x00, icount_for_tick(1193 + 100));
        let lo = p.io_read(0x40, 1, icount_for_tick(1193 + 100));
        let hi = p.io_read(0x40, 1, icount_for_tick(1193 + 100));
        assert_eq!(lo | hi << 8, 1093);
    }

    #[test]
    fn snapshot_restore_is_exact() {
        let mut p = platform();
        init_pics(&mut p);
        p.io_write(0x43, 1, 0x34, 0);
        p.io_write(0x40, 1, 100, 0);
        p.io_write(0x40, 1, 0, 0);
        p.io_write(0x3f8, 1, u32::from(b'a'), 10);
        p.io_write(0x80, 1, 3, 11);
        p.push_serial_input(b"in");
        let snap = p.snapshot();
        let mut q = platform();
        q.restore(&snap);
        assert_eq!(q.snapshot(), snap);
        for now in [5000, 9000, 20000] {
            p.advance(now);
            q.advance(now);
            assert_eq!(p.acknowledge_interrupt(), q.acknowledge_interrupt());
            assert_eq!(p.io_read(0x40, 1, now), q.io_read(0x40, 1, now));
            p.io_write(0x20, 1, 0x20, now);
            q.io_write(0x20, 1, 0x20, now);
        }
        assert_eq!(p.snapshot(), q.snapshot());
    }

    #[test]
    fn reset_clears_registers_but_keeps_console() {
        let mut p = platform();
        init_pics(&mut p);
        p.io_write(0x3f8, 1, u32::from(b'z'), 0);
        p.io_write(0x3ff, 1, 0x77, 0);
        p.io_write(0x21, 1, 0xff, 0);
        p.reset();
        assert_eq!(p.io_read(0x3ff, 1, 0), 0);
        assert_eq!(p.io_read(0x21, 1, 0), 0);
        assert_eq!(p.serial_output(), b"z");
    }

    #[test]
    fn keyboard_controller_and_port_a() {
        let mut p = platform();
        assert_eq!(p.io_read(0x64, 1, 0) & 0x02, 0, "never busy");
        p.io_write(0x64, 1, 0xaa, 0);
        assert_eq!(p.io_read(0x64, 1, 0) & 0x01, 0x01);
        assert_eq!(p.io_read(0x60, 1, 0), 0x55);
        let a = p.io_read(0x92, 1, 0);
        p.io_write(0x92, 1, a | 2, 0);
        assert_eq!(p.io_read(0x92, 1, 0) & 2, 2);
        assert_eq!(p.snapshot().kbc.port_a & 2, 2);
    }

    /// A disk of `n` sectors in memory, each byte its sector number.
    #[derive(Debug)]
    struct MemDisk(u64);

    impl BlockStore for MemDisk {
        fn sectors(&self) -> u64 {
            self.0
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), alloc::string::String> {
            buf.fill(lba as u8);
            Ok(())
        }
        fn write_sectors(&mut self, _lba: u64, _data: &[u8]) -> Result<(), alloc::string::String> {
            Err("read-only".into())
        }
    }

    #[test]
    fn virtio_devices_decode_bar0_when_enabled_and_interrupt_through_the_piix3() {
        let mut p = platform();
        p.attach_virtio_blk(Box::new(MemDisk(64))).unwrap();
        p.attach_virtio_net([2, 0, 0, 0, 0, 9]).unwrap();
        assert!(p.attach_virtio_blk(Box::new(MemDisk(1))).is_err());
        // 00:03.0 is 1AF4:1001 with subsystem 2 (block); 00:04.0 is 1AF4:1000, type 1.
        for (dev, id, ty) in [(3, 0x1001_1af4, 2), (4, 0x1000_1af4, 1)] {
            p.io_write(0xcf8, 4, 0x8000_0000 | dev << 11, 0);
            assert_eq!(p.io_read(0xcfc, 4, 0), id);
            p.io_write(0xcf8, 4, 0x8000_002c | dev << 11, 0);
            assert_eq!(p.io_read(0xcfc, 4, 0), ty << 16 | 0x1af4);
        }
        // BAR 0 answers only once the guest enables I/O space.
        assert_eq!(p.io_read(0xc040, 4, 0), u32::MAX);
        for dev in [3u32, 4] {
            p.io_write(0xcf8, 4, 0x8000_0004 | dev << 11, 0);
            p.io_write(0xcfc, 2, 5, 0);
        }
        assert_eq!(p.io_read(0xc040, 4, 0), virtio::blk::FEATURES);
        assert_eq!(p.io_read(0xc054, 4, 0), 64, "capacity, low dword");
        assert_eq!(p.io_read(0xc094, 1, 0), 2, "the MAC's first byte");
        assert_eq!(p.io_read(0xc099, 1, 0), 9);
        // A FLUSH request: header at 0x2000, status at 0x2010, ring at 0x10000.
        let mut mem = crate::memory::Memory::new(1 << 20);
        let put = |m: &mut crate::memory::Memory, i: u32, addr: u32, len: u32, flags: u16| {
            m.write_u32(0x10000 + 16 * i, addr);
            m.write_u32(0x10000 + 16 * i + 8, len);
            m.write_u16(0x10000 + 16 * i + 12, flags);
            m.write_u16(0x10000 + 16 * i + 14, 1);
        };
        put(&mut mem, 0, 0x2000, 16, 1);
        put(&mut mem, 1, 0x2010, 1, 2);
        mem.write_u32(0x2000, virtio::blk::T_FLUSH);
        mem.write_u8(0x2010, 0xff);
        mem.write_u16(0x10000 + 16 * 128 + 2, 1);
        init_pics(&mut p);
        p.io_write(0xc048, 4, 0x10, 0);
        p.io_write(0xc052, 1, 7, 0);
        p.io_write(0xc050, 2, 0, 0);
        p.service_dma(&mut mem, 1 << 20);
        assert_eq!(mem.read_u8(0x2010), 0, "status OK");
        assert_eq!(mem.read_u16(0x11002), 1, "the used index");
        // ISR bit 0 drives INTA#, which PIRQD# routes to IRQ 11: vector 0x2B.
        let snap = p.snapshot();
        assert_eq!(p.acknowledge_interrupt(), Some((0x2b, 11)));
        p.io_write(0xa0, 1, 0x20, 0);
        p.io_write(0x20, 1, 0x20, 0);
        assert_eq!(p.io_read(0xc053, 1, 0), 1, "the ISR, cleared by the read");
        assert!(!p.interrupt_pending());
        // The command register's interrupt-disable bit masks the line.
        p.io_write(0xcf8, 4, 0x8000_1804, 0);
        p.io_write(0xcfc, 2, 0x405, 0);
        mem.write_u16(0x10000 + 16 * 128 + 4 + 2, 0);
        mem.write_u16(0x10000 + 16 * 128 + 2, 2);
        p.io_write(0xc050, 2, 0, 0);
        p.service_dma(&mut mem, 1 << 20);
        assert_eq!(mem.read_u16(0x11002), 2, "served");
        assert!(!p.interrupt_pending(), "INTx disabled");
        p.io_write(0xcfc, 2, 5, 0);
        assert!(p.interrupt_pending(), "INTx enabled again");
        assert_eq!(
            snap.virtio_blk.as_ref().map(|v| v.requests),
            Some(1),
            "the snapshot holds the device"
        );
    }

    #[test]
    fn a_disk_brings_pci_and_the_ata_drive_on_irq14() {
        let mut p = platform();
        assert_eq!(
            p.io_read(0xcfc, 4, 0),
            u32::MAX,
            "no PCI bus without a disk"
        );
        p.attach_disk(Box::new(MemDisk(64))).unwrap();
        assert!(p.attach_disk(Box::new(MemDisk(1))).is_err(), "one disk");
        // Mechanism #1: 00:01.1 is the PIIX3 IDE function, wired to IRQ 14.
        p.io_write(0xcf8, 4, 0x8000_0900, 0);
        assert_eq!(p.io_read(0xcfc, 4, 0), 0x7010_8086);
        p.io_write(0xcf8, 4, 0x8000_093c, 0);
        assert_eq!(p.io_read(0xcfc, 1, 0), 14);
        assert_eq!(p.io_read(0xcfd, 1, 0), 1, "INTA#");
        // The PIIX3's PIRQ route registers, disabled at power-on.
        p.io_write(0xcf8, 4, 0x8000_0860, 0);
        assert_eq!(p.io_read(0xcfc, 4, 0), 0x8080_8080);
        p.io_write(0xcfd, 1, 10, 0);
        assert_eq!(
            p.pci().and_then(|b| b.intx_irq(4, 2)),
            Some(10),
            "device 4 INTB# on PIRQB#"
        );
        // READ SECTORS of LBA 5 raises IRQ 14 through the slave PIC: vector 0x2E.
        init_pics(&mut p);
        for (port, v) in [
            (0x1f2, 1),
            (0x1f3, 5),
            (0x1f4, 0),
            (0x1f5, 0),
            (0x1f6, 0xe0),
            (0x1f7, 0x20),
        ] {
            p.io_write(port, 1, v, 0);
        }
        assert_eq!(p.acknowledge_interrupt(), Some((0x2e, 14)));
        assert_eq!(
            p.io_read(0x1f0, 2, 0),
            0x0505,
            "a whole word from the data port"
        );
        assert_eq!(p.io_read(0x1f0, 4, 0), 0x0505_0505);
        let snap = p.snapshot();
        assert_eq!(snap.ata.as_ref().map(|a| a.pos), Some(6));
        assert_eq!(snap.pci.as_ref().map(|b| b.functions.len()), Some(3));
        // A failed write reaches the guest as an error status, and the host error is kept.
        for (port, v) in [(0x1f2, 1), (0x1f3, 0), (0x1f7, 0x30)] {
            p.io_write(port, 1, v, 0);
        }
        for _ in 0..256 {
            p.io_write(0x1f0, 2, 0, 0);
        }
        assert_eq!(p.io_read(0x1f7, 1, 0) & 1, 1, "ERR");
        assert_eq!(
            p.ata().and_then(|a| a.host_error.as_deref()),
            Some("read-only")
        );
        assert!(p.port_map().iter().any(|m| m.0 == 0x1f0 && m.1 == 0x1f7));
    }

    #[test]
    fn bar4_decodes_where_the_guest_puts_it_while_io_is_enabled() {
        let mut p = platform();
        p.attach_disk(Box::new(MemDisk(8))).unwrap();
        assert_eq!(
            p.io_read(0xc004, 4, 0),
            u32::MAX,
            "I/O space off at power-on"
        );
        p.io_write(0xcf8, 4, 0x8000_0904, 0);
        p.io_write(0xcfc, 2, 1, 0); // command: I/O space
        p.io_write(0xc004, 4, 0x0012_3457, 0);
        assert_eq!(
            p.io_read(0xc004, 4, 0),
            0x0012_3454,
            "the PRD address is dword-aligned"
        );
        p.io_write(0xcf8, 4, 0x8000_0920, 0);
        p.io_write(0xcfc, 4, 0xd001, 0);
        assert_eq!(p.io_read(0xc004, 4, 0), u32::MAX, "moved away");
        assert_eq!(p.io_read(0xd004, 4, 0), 0x0012_3454);
        // Over the UART: not decoded; back on a free range: decoded again.
        p.io_write(0xcfc, 4, 0x3f0, 0);
        assert_eq!(p.io_read(0x3f4, 1, 0), 0xff);
        p.io_write(0x3fb, 1, 0x03, 0);
        assert_eq!(p.io_read(0x3fb, 1, 0), 0x03, "the UART keeps its ports");
        p.io_write(0xcfc, 4, 0xe000, 0);
        assert_eq!(p.io_read(0xe004, 1, 0), 0x54);
        p.io_write(0xcf8, 4, 0x8000_0904, 0);
        p.io_write(0xcfc, 2, 0, 0);
        assert_eq!(p.io_read(0xe004, 1, 0), 0xff, "I/O space off again");
    }

    #[test]
    fn port_map_lists_every_device() {
        let p = platform();
        let map = p.port_map();
        assert_eq!(map.len(), 10);
        assert_eq!(map.first().map(|m| m.0), Some(0x20));
        assert_eq!(map.last().map(|m| (m.0, m.1)), Some((0x3f8, 0x3ff)));
    }
}
