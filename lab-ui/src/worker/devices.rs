//! Reading the PCI bus and the virtio devices for the devices panel: configuration space, BARs, transport state, and each virtqueue's rings read from guest memory through the side-effect-free probe.

use emulator_core::devices::pci::PciFunction;
use emulator_core::devices::virtio::busy::Busy;
use emulator_core::devices::virtio::modern;
use emulator_core::devices::virtio::queue::QueueState;
use emulator_core::devices::virtio::transport::Transport;
use emulator_core::Machine;

use crate::protocol::{DevicesView, Ne2000View, PciFunctionView, QueueView, VirtioView};

/// Ring entries shown per ring (the newest).
const RING_ENTRIES: u16 = 8;
/// Descriptors shown per queue at most.
const DESCRIPTORS: usize = 16;

/// The bus and the devices, or `None` when the machine has no PCI bus.
pub fn devices(m: &Machine) -> Option<DevicesView> {
    let p = m.platform();
    let bus = p.pci()?;
    let mut virtio = Vec::new();
    let slot = |s: (u8, u8)| bus.functions.iter().find(|f| (f.device, f.function) == s);
    if let Some(b) = p.virtio_blk() {
        let f = slot(emulator_core::platform::VIRTIO_BLK_SLOT);
        virtio.push(transport(m, "virtio-blk", &b.transport, &b.busy, f));
    }
    if let Some(n) = p.virtio_net() {
        let f = slot(emulator_core::platform::VIRTIO_NET_SLOT);
        virtio.push(transport(m, "virtio-net", &n.transport, &n.busy, f));
    }
    Some(DevicesView {
        functions: bus.functions.iter().map(function).collect(),
        virtio,
        ne2000: p.ne2000().map(|n| Ne2000View {
            registers: [
                ("CR", n.cr.into()),
                ("PSTART", n.pstart.into()),
                ("PSTOP", n.pstop.into()),
                ("BNRY", n.bnry.into()),
                ("CURR", n.curr.into()),
                ("TPSR", n.tpsr.into()),
                ("TBCR", n.tbcr),
                ("ISR", n.isr.into()),
                ("IMR", n.imr.into()),
                ("RSAR", n.rsar),
                ("RBCR", n.rbcr),
                ("RCR", n.rcr.into()),
                ("TCR", n.tcr.into()),
                ("DCR", n.dcr.into()),
                ("TSR", n.tsr.into()),
                ("RSR", n.rsr.into()),
            ]
            .map(|(r, v)| (r.to_string(), v))
            .to_vec(),
            par: n.par,
            counters: (n.sent, n.received, n.dropped, n.interrupts, n.dma_bytes),
        }),
    })
}

fn function(f: &PciFunction) -> PciFunctionView {
    let word = |o: usize| u16::from_le_bytes([byte(f, o), byte(f, o + 1)]);
    let bars = (0..6)
        .filter_map(|n| {
            let raw = f.read(0x10 + 4 * n, 4);
            match f.bar(usize::from(n)) {
                0 => None,
                base if raw & 1 == 1 => Some(format!("BAR{n} I/O {base:#06x}")),
                base => Some(format!("BAR{n} memory {base:#010x}")),
            }
        })
        .collect();
    PciFunctionView {
        slot: format!("00:{:02x}.{}", f.device, f.function),
        name: f.name.clone(),
        vendor: word(0),
        device: word(2),
        command: word(4),
        bars,
        irq: (byte(f, 0x3C), byte(f, 0x3D)),
        config: f.config.iter().take(64).copied().collect(),
    }
}

fn byte(f: &PciFunction, offset: usize) -> u8 {
    f.config.get(offset).copied().unwrap_or(0)
}

/// The device status bits by name, lowest first.
fn status_names(status: u8) -> Vec<String> {
    const NAMES: [(u8, &str); 6] = [
        (1, "ACKNOWLEDGE"),
        (2, "DRIVER"),
        (4, "DRIVER_OK"),
        (8, "FEATURES_OK"),
        (64, "NEEDS_RESET"),
        (128, "FAILED"),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| status & bit != 0)
        .map(|(_, n)| (*n).to_string())
        .collect()
}

fn transport(
    m: &Machine,
    name: &str,
    t: &Transport,
    busy: &Busy,
    f: Option<&PciFunction>,
) -> VirtioView {
    let caps = f.map(modern::read_capabilities).unwrap_or_default();
    VirtioView {
        busy: (busy.skipped, busy.busy_notifies, busy.round.is_some()),
        transport: t.interface().into(),
        caps: caps
            .into_iter()
            .map(|(k, bar, off, len)| (modern::cfg_name(k).into(), bar, off, len))
            .collect(),
        name: name.into(),
        status: status_names(t.status),
        features: (t.host_features, t.guest_features),
        interrupts: (t.interrupts, t.suppressed),
        error: t.error.clone(),
        coalescing: (t.announced, t.unkicked),
        event_idx: t.event_idx(),
        queues: t
            .queues
            .iter()
            .zip(0u16..)
            .map(|(q, i)| queue(m, i, q))
            .collect(),
    }
}

fn peek<const N: usize>(m: &Machine, addr: u32) -> [u8; N] {
    let mut b = [0u8; N];
    m.peek_phys(addr, &mut b);
    b
}

fn queue(m: &Machine, index: u16, q: &QueueState) -> QueueView {
    let mut v = QueueView {
        index,
        size: q.size,
        avail: (0, q.last_avail),
        used: q.used_idx,
        notifies: q.notifies,
        completed: q.completed,
        ..QueueView::default()
    };
    let Some(l) = q.layout() else {
        return v;
    };
    v.layout = Some((l.desc, l.avail, l.used));
    let size = q.size.max(1);
    v.descriptors = (0..q.size)
        .filter_map(|i| {
            let d: [u8; 16] = peek(m, l.desc + 16 * u32::from(i));
            if d == [0; 16] {
                return None;
            }
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(d[8..12].try_into().unwrap_or_default());
            let flags = u16::from_le_bytes([d[12], d[13]]);
            let next = u16::from_le_bytes([d[14], d[15]]);
            Some((i, addr, len, flags, next))
        })
        .take(DESCRIPTORS)
        .collect();
    let avail_idx = u16::from_le_bytes(peek(m, l.avail + 2));
    v.avail.0 = avail_idx;
    v.avail_ring = (1..=RING_ENTRIES.min(avail_idx))
        .rev()
        .map(|back| {
            let pos = avail_idx.wrapping_sub(back);
            let slot = u32::from(pos % size);
            (pos, u16::from_le_bytes(peek(m, l.avail + 4 + 2 * slot)))
        })
        .collect();
    let used_idx = u16::from_le_bytes(peek(m, l.used + 2));
    v.used_ring = (1..=RING_ENTRIES.min(used_idx))
        .rev()
        .map(|back| {
            let pos = used_idx.wrapping_sub(back);
            let e: [u8; 8] = peek(m, l.used + 4 + 8 * u32::from(pos % size));
            let id = u32::from_le_bytes(e[0..4].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(e[4..8].try_into().unwrap_or_default());
            (pos, id, len)
        })
        .collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bits_are_named_lowest_first() {
        assert_eq!(status_names(7), ["ACKNOWLEDGE", "DRIVER", "DRIVER_OK"]);
        assert_eq!(status_names(0x41), ["ACKNOWLEDGE", "NEEDS_RESET"]);
        assert!(status_names(0).is_empty());
    }

    #[test]
    fn a_machine_without_pci_shows_no_devices() {
        let m = Machine::new(emulator_core::MachineConfig::default()).expect("a machine");
        assert_eq!(devices(&m), None);
    }

    #[test]
    fn an_ne2000_shows_its_function_and_its_reset_registers() {
        let mut m = Machine::new(emulator_core::MachineConfig::default()).expect("a machine");
        m.attach_ne2000([2, 0, 0, 0, 0, 9]).expect("an NE2000");
        // The card is stopped after reset: it drops what arrives.
        m.deliver_frame(&[0xff; 60]);
        let d = devices(&m).expect("a PCI bus");
        let f = d
            .functions
            .iter()
            .find(|f| (f.vendor, f.device) == (0x10ec, 0x8029))
            .expect("the RTL8029");
        assert_eq!((f.slot.as_str(), f.irq), ("00:05.0", (9, 1)));
        assert_eq!(f.bars, ["BAR0 I/O 0xc0c0"]);
        let n = d.ne2000.expect("the NE2000's registers");
        let reg = |r: &str| n.registers.iter().find(|(x, _)| x == r).map(|(_, v)| *v);
        assert_eq!((reg("CR"), reg("ISR")), (Some(0x21), Some(0x80)));
        assert_eq!(n.counters.2, 1, "one frame dropped");
    }
}
