//! The modern-interface virtio-blk guest (`guests/disk/virtio_modern.asm`) on the
//! core: it walks the capability list to memory BAR 4, negotiates VERSION_1, runs a
//! 64-entry queue at three independent addresses, reads sector 0 and writes sector 1,
//! bare and under every VMM mode, where its BAR accesses are `mmio` exits.

mod common;

use std::sync::{Arc, Mutex};

use common::Shared;
use emulator_core::vmm::ExitReason;
use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

fn disk_image() -> Vec<u8> {
    (0..1 << 20)
        .map(|i: usize| (i * 13 + i / 512) as u8)
        .collect()
}

fn run(mode: ExecMode, disk: &Shared) -> (Machine, String) {
    let (m, console, stop) = run_with(mode, disk, &[]);
    assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}:\n{console}");
    (m, console)
}

fn run_with(mode: ExecMode, disk: &Shared, defines: &[&str]) -> (Machine, String, StopReason) {
    let guest = common::assemble("guests/disk/virtio_modern.asm", defines);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &guest,
    );
    m.attach_virtio_blk(Box::new(disk.clone()))
        .expect("a virtio disk");
    let stop = m.run(20_000_000);
    let console = String::from_utf8_lossy(&m.serial_output()).to_string();
    (m, console, stop)
}

#[test]
fn a_queue_above_4_gib_or_above_ram_stops_the_device_with_needs_reset() {
    for (define, why) in [
        ("DESC_HI=1", "0x100030000"),
        ("AVAIL=0x80000000", "outside guest RAM"),
    ] {
        let disk = Shared(Arc::new(Mutex::new(disk_image())));
        let (m, console, stop) = run_with(ExecMode::TRAP_EMULATE, &disk, &[define]);
        assert_eq!(stop, StopReason::DebugExit(1), "{define}:\n{console}");
        assert!(console.contains("virtio-blk modern FAILED"), "{console}");
        let v = m.platform().virtio_blk().expect("the device");
        assert_ne!(v.transport.status & 0x40, 0, "{define}: NEEDS_RESET");
        assert_ne!(
            v.transport.isr & 2,
            0,
            "{define}: the configuration interrupt"
        );
        let e = v.transport.error.as_deref().unwrap_or("");
        assert!(e.contains(why), "{define}: {e}");
        assert_eq!(*disk.0.lock().unwrap(), disk_image(), "nothing written");
    }
}

#[test]
fn the_modern_guest_reads_the_image_and_its_write_lands_bare_and_under_every_vmm() {
    for mode in ExecMode::ALL {
        let orig = disk_image();
        let disk = Shared(Arc::new(Mutex::new(orig.clone())));
        let (m, console) = run(mode, &disk);
        for line in [
            "common cfg at 0xfeb00000 notify at 0xfeb00300 x4",
            "VERSION_1 negotiated, queue 0 of 64 enabled",
            "capacity sectors 0x00000800",
            "ISR 0x01",
            "sector 1 written and read back",
            "virtio-blk modern OK",
        ] {
            assert!(console.contains(line), "{mode:?}: {line}\n{console}");
        }
        // Sector 0 as the guest read it is the image's.
        let mut sec0 = vec![0u8; 512];
        m.peek_phys(0x41000, &mut sec0);
        assert_eq!(sec0, orig[..512], "{mode:?}");
        let after = disk.0.lock().unwrap().clone();
        for (i, (a, b)) in orig.iter().zip(&after).enumerate() {
            let want = if (512..1024).contains(&i) {
                orig[i - 512].wrapping_add(1)
            } else {
                *a
            };
            assert_eq!(*b, want, "{mode:?}: byte {i}");
        }
        let v = m.platform().virtio_blk().expect("the device");
        assert_eq!(v.transport.interface(), "modern", "{mode:?}");
        assert_eq!(v.transport.error, None);
        let q = &v.transport.queues[0];
        assert_eq!((q.size, q.addrs), (64, Some([0x30000, 0x32000, 0x35000])));
        assert_eq!((q.used_idx, q.notifies), (3, 3));
        assert_eq!((v.sectors_read, v.sectors_written), (2, 1));
        // Used ring entries sit in the device area the driver chose: entry 2 (the
        // read-back) says 513 bytes written.
        let mut used = [0u8; 8];
        m.peek_phys(0x35000 + 4 + 8 * 2, &mut used);
        assert_eq!(
            u32::from_le_bytes([used[4], used[5], used[6], used[7]]),
            513
        );
        let mmio = m.vmm().map_or(0, |v| v.exits.count(ExitReason::Mmio));
        if mode == ExecMode::Bare {
            assert_eq!(mmio, 0);
        } else {
            // Every BAR access of the guest exits: setup is 26 (device status ×7 with
            // two read-backs, feature selects and halves ×8, queue select, size read
            // and write, six address halves, notify offset, enable), then the
            // capacity read, three notifies and the ISR read.
            assert_eq!(mmio, 31, "{mode:?}");
        }
    }
}

#[test]
fn bar_4_is_not_decoded_until_memory_space_is_on_and_four_capabilities_chain() {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut m = Machine::new(MachineConfig::default()).expect("a machine");
    m.attach_virtio_blk(Box::new(disk)).expect("a virtio disk");
    assert!(!m.platform().mmio_decodes(0xfeb0_0000));
    let f = &m.platform().pci().expect("bus").functions;
    let blk = f.iter().find(|f| f.device == 3).expect("00:03.0");
    let caps = blk.capabilities();
    assert_eq!(caps.len(), 4);
    assert!(caps.iter().all(|&(_, id)| id == 9));
}

#[test]
fn a_driver_walks_the_capabilities_through_configuration_mechanism_one() {
    use emulator_core::devices::virtio::modern::{self, cfg};
    let mut m = Machine::new(MachineConfig::default()).expect("a machine");
    m.attach_virtio_net([2, 0, 0, 0, 0, 1]).expect("a NIC");
    let mut bus = m.platform().pci().expect("bus").clone();
    let mut read = |reg: u32| {
        bus.write(0, 4, 0x8000_0000 | 4 << 11 | reg);
        bus.read(4, 4)
    };
    assert_eq!(read(0) & 0xffff, 0x1af4);
    assert_ne!(read(4) & 0x10_0000, 0, "status: capability list");
    let mut at = read(0x34) & 0xfc;
    let mut found = Vec::new();
    while at != 0 {
        let head = read(at);
        assert_eq!(head & 0xff, 9, "vendor-specific");
        let kind = (head >> 24) as u8;
        let bar = read(at + 4) & 0xff;
        let (offset, length) = (read(at + 8), read(at + 12));
        let mult = (kind == cfg::NOTIFY).then(|| read(at + 16));
        assert_eq!((head >> 16) & 0xff, if mult.is_some() { 20 } else { 16 });
        found.push((kind, bar, offset, length, mult));
        at = (head >> 8) & 0xfc;
    }
    assert_eq!(
        found,
        [
            (cfg::COMMON, 4, 0, 0x38, None),
            (cfg::ISR, 4, 0x100, 4, None),
            (cfg::DEVICE, 4, 0x200, 0x100, None),
            (cfg::NOTIFY, 4, 0x300, 0x100, Some(4)),
        ]
    );
    // BAR 4: 32-bit memory, 4 KiB, at its power-on place.
    assert_eq!(read(0x20), 0xfeb0_1000);
    let f = m
        .platform()
        .pci()
        .expect("bus")
        .functions
        .iter()
        .find(|f| f.device == 4);
    let caps = modern::read_capabilities(f.expect("00:04.0"));
    assert_eq!(caps.len(), 4);
    assert_eq!(caps[3], (cfg::NOTIFY, 4, 0x300, 0x100));
}

#[test]
fn a_snapshot_taken_with_the_modern_queue_live_continues_the_same() {
    let guest = common::assemble("guests/disk/virtio_modern.asm", &[]);
    let cfg = MachineConfig {
        mode: ExecMode::TRAP_EMULATE,
        ..MachineConfig::default()
    };
    let fresh = |disk: &Shared| {
        let mut m = common::flat32(cfg.clone(), &guest);
        m.attach_virtio_blk(Box::new(disk.clone())).expect("a disk");
        m
    };
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut m = fresh(&disk);
    let mut budget = 0;
    while !String::from_utf8_lossy(&m.serial_output()).contains("queue 0 of 64 enabled") {
        assert_eq!(m.run(50), StopReason::BudgetExhausted);
        budget += 50;
        assert!(budget < 5_000_000, "never set up the queue");
    }
    let snap = m.snapshot();
    assert_eq!(m.run(20_000_000), StopReason::DebugExit(0));
    let other = Shared(Arc::new(Mutex::new(disk_image())));
    let mut again = fresh(&other);
    again.restore(&snap).expect("restore");
    let q = &again
        .platform()
        .virtio_blk()
        .expect("device")
        .transport
        .queues[0];
    assert_eq!(q.size, 64, "the driver's queue size survives the restore");
    assert_eq!(again.run(20_000_000), StopReason::DebugExit(0));
    assert_eq!(m.serial_output(), again.serial_output());
    assert_eq!(m.platform().virtio_blk(), again.platform().virtio_blk());
    assert_eq!(*disk.0.lock().unwrap(), *other.0.lock().unwrap());
}
