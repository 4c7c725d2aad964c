//! The virtio-blk guest (`guests/disk/virtio_blk.asm`) on the core alone: it finds the
//! device on PCI, sets up one split virtqueue, reads sector 0, writes sector 1 and
//! reads 1 MiB, bare and under every VMM mode; under trap-and-emulate it moves a MiB
//! with at least 20× fewer exits than the ATA PIO guest; hostile rings stop the device
//! with an error and never panic or hang.

mod common;

use std::sync::{Arc, Mutex};

use common::Shared;

use common::Rng;
use emulator_core::vmm::ExitReason;
use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};

fn disk_image() -> Vec<u8> {
    (0..2 << 20)
        .map(|i: usize| (i * 7 + i / 512) as u8)
        .collect()
}

fn machine(mode: ExecMode, guest: &str, virtio: bool, disk: &Shared) -> Machine {
    machine_with(mode, guest, &[], virtio, disk)
}

fn machine_with(
    mode: ExecMode,
    guest: &str,
    defines: &[&str],
    virtio: bool,
    disk: &Shared,
) -> Machine {
    let guest = common::assemble(guest, defines);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &guest,
    );
    let d = Box::new(disk.clone());
    if virtio {
        m.attach_virtio_blk(d).expect("a virtio disk");
    } else {
        m.attach_disk(d).expect("an ATA disk");
    }
    m
}

#[test]
fn the_guest_writes_exactly_sector_one_bare_and_under_every_vmm() {
    for mode in ExecMode::ALL {
        let orig = disk_image();
        let disk = Shared(Arc::new(Mutex::new(orig.clone())));
        let mut m = machine(mode, "guests/disk/virtio_blk.asm", true, &disk);
        let stop = m.run(50_000_000);
        let console = String::from_utf8_lossy(&m.serial_output()).to_string();
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}:\n{console}");
        for line in [
            "virtio-blk at 00:03.0 BAR0 I/O at 0xc040 IRQ 0b",
            "capacity sectors 0x00001000",
            "ISR 0x01",
            "sector 1 written and read back",
            "virtio-blk OK",
        ] {
            assert!(console.contains(line), "{mode:?}: {line}\n{console}");
        }
        let after = disk.0.lock().unwrap().clone();
        for (i, (a, b)) in orig.iter().zip(&after).enumerate() {
            let want = if (512..1024).contains(&i) {
                orig[i - 512].wrapping_add(1)
            } else {
                *a
            };
            assert_eq!(*b, want, "{mode:?}: byte {i}");
        }
        // The last 64 KiB read (sectors 1920–2047) is in guest RAM at 0x100000.
        let mut bulk = vec![0u8; 0x10000];
        m.peek_phys(0x100000, &mut bulk);
        assert_eq!(bulk, orig[1920 * 512..2048 * 512], "{mode:?}");
        let v = m.platform().virtio_blk().expect("the device");
        assert_eq!((v.sectors_read, v.sectors_written), (2050, 1), "{mode:?}");
        assert_eq!(v.requests, 19);
        let q = &v.transport.queues[0];
        assert_eq!((q.last_avail, q.used_idx, q.notifies), (19, 19, 19));
        assert_eq!(
            (v.transport.interrupts, v.transport.suppressed),
            (3, 16),
            "the bulk reads suppressed their interrupts"
        );
        assert_eq!(v.transport.error, None);
    }
}

/// Exits under trap-and-emulate from the console's "sector 1 written" to the end:
/// the 1 MiB read.
fn exits_for_a_mib(guest: &str, defines: &[&str], virtio: bool) -> (u64, u64) {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut m = machine_with(ExecMode::TRAP_EMULATE, guest, defines, virtio, &disk);
    let exits = |m: &Machine| m.vmm().map_or(0, |v| v.exits.total);
    let io = |m: &Machine| m.vmm().map_or(0, |v| v.exits.count(ExitReason::Io));
    let mut budget = 0;
    while !String::from_utf8_lossy(&m.serial_output()).contains("sector 1 written and read back\n")
    {
        assert_eq!(m.run(5), StopReason::BudgetExhausted, "{guest}");
        budget += 5;
        assert!(budget < 50_000_000, "{guest} never wrote sector 1");
    }
    let (e0, i0) = (exits(&m), io(&m));
    assert_eq!(m.run(100_000_000), StopReason::DebugExit(0), "{guest}");
    (exits(&m) - e0, io(&m) - i0)
}

#[test]
fn virtio_moves_a_mib_with_twenty_times_fewer_exits_than_ata_pio() {
    let (ata, ata_io) = exits_for_a_mib("guests/disk/ata_pio.asm", &[], false);
    let (virtio, virtio_io) = exits_for_a_mib("guests/disk/virtio_blk.asm", &[], true);
    let (batch, batch_io) = exits_for_a_mib("guests/disk/virtio_blk.asm", &["BATCH"], true);
    println!("exits per MiB under trap-emulate: ATA PIO {ata} ({ata_io} I/O), virtio-blk {virtio} ({virtio_io} I/O), batched {batch} ({batch_io} I/O)");
    // The batch saves exactly the 15 notifies it does not make.
    assert_eq!(virtio_io - batch_io, 15, "{virtio_io} {batch_io}");
    // At least one port access per 512-byte sector by PIO, one notify per request.
    assert!(ata_io >= 2048 * 256, "{ata_io}");
    assert!(virtio_io >= 16, "{virtio_io}");
    assert!(virtio * 20 <= ata, "ATA {ata}, virtio {virtio}");
}

/// Builds a driver's setup by hand: the device live with queue 0 at 0x30000.
fn live_device() -> Machine {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut m = Machine::new(MachineConfig::default()).expect("a machine");
    m.attach_virtio_blk(Box::new(disk)).expect("a virtio disk");
    m
}

#[test]
fn hostile_rings_never_panic_and_stop_the_device() {
    // A guest that sets the device up, then notifies queue 0 forever after filling
    // the ring area with random bytes each round.
    let guest = |seed: u64| -> Vec<u8> {
        let src = format!(
            "bits 32\norg 0x10000\n\
             mov eax, 0x80001804\nmov dx, 0xcf8\nout dx, eax\nmov dx, 0xcfc\nmov eax, 5\nout dx, eax\n\
             mov dx, 0xc052\nmov al, 0\nout dx, al\nmov al, 3\nout dx, al\n\
             mov dx, 0xc048\nmov eax, 0x30\nout dx, eax\n\
             mov dx, 0xc052\nmov al, 7\nout dx, al\n\
             mov ebx, {seed}\n\
             round:\nmov edi, 0x30000\nmov ecx, 0x2000\n\
             fill:\nimul ebx, ebx, 1103515245\nadd ebx, 12345\nmov eax, ebx\nshr eax, 16\nmov [edi], al\ninc edi\nloop fill\n\
             mov dx, 0xc050\nxor eax, eax\nout dx, ax\n\
             mov dx, 0xc052\nin al, dx\ntest al, 0x40\njz round\n\
             mov dx, 0xf4\nmov al, 0\nout dx, al\nhlt\n"
        );
        vmlab_asm::assemble("hostile.asm", &src, &vmlab_asm::Options::default())
            .expect("assembles")
            .bytes
    };
    let mut rng = Rng(0x5eed);
    let mut stopped = 0;
    for _ in 0..24 {
        let mut m = live_device();
        let seed = rng.next() as u32;
        m.load_flat(0x10000, &guest(u64::from(seed)), FlatEntry::Protected32)
            .expect("loads");
        let stop = m.run(20_000_000);
        let v = m.platform().virtio_blk().expect("the device");
        if stop == StopReason::DebugExit(0) {
            stopped += 1;
            let e = v.transport.error.as_deref().expect("a device error");
            assert!(!e.is_empty());
        } else {
            assert_eq!(stop, StopReason::BudgetExhausted, "seed {seed}");
        }
    }
    assert!(
        stopped > 12,
        "random rings are mostly refused: {stopped} of 24"
    );
}

#[test]
fn a_descriptor_loop_and_a_buffer_outside_ram_are_device_errors() {
    for (case, want) in [
        ("loop", "loop"),
        ("outside", "outside guest RAM"),
        ("ahead", "ahead"),
    ] {
        let mut m = live_device();
        // Descriptors at 0x30000: 0 → 1 → 0 for the loop, a buffer at 3.5 GiB, or an
        // available index 300 entries ahead of a 128-entry queue.
        let (d0_next, d1_addr, avail_idx): (u16, u32, u16) = match case {
            "loop" => (1, 0x50000, 1),
            "outside" => (1, 0xe000_0000, 1),
            _ => (1, 0x50000, 300),
        };
        let mut ring = vec![0u8; 0x2000];
        let desc = |ring: &mut Vec<u8>, i: usize, addr: u32, len: u32, flags: u16, next: u16| {
            ring[16 * i..16 * i + 4].copy_from_slice(&addr.to_le_bytes());
            ring[16 * i + 8..16 * i + 12].copy_from_slice(&len.to_le_bytes());
            ring[16 * i + 12..16 * i + 14].copy_from_slice(&flags.to_le_bytes());
            ring[16 * i + 14..16 * i + 16].copy_from_slice(&next.to_le_bytes());
        };
        desc(&mut ring, 0, 0x40000, 16, 1, d0_next);
        let next1 = if case == "loop" { 0 } else { 2 };
        let flags1 = if case == "loop" { 1 } else { 1 | 2 };
        desc(&mut ring, 1, d1_addr, 512, flags1, next1);
        desc(&mut ring, 2, 0x40010, 1, 2, 0);
        ring[0x800 + 2..0x800 + 4].copy_from_slice(&avail_idx.to_le_bytes());
        let src = "bits 32\norg 0x10000\n\
             mov eax, 0x80001804\nmov dx, 0xcf8\nout dx, eax\nmov dx, 0xcfc\nmov eax, 5\nout dx, eax\n\
             mov dx, 0xc052\nmov al, 3\nout dx, al\nmov dx, 0xc048\nmov eax, 0x30\nout dx, eax\n\
             mov dx, 0xc052\nmov al, 7\nout dx, al\nmov dx, 0xc050\nxor eax, eax\nout dx, ax\n\
             mov dx, 0xf4\nmov al, 0\nout dx, al\nhlt\n";
        let code = vmlab_asm::assemble("t.asm", src, &vmlab_asm::Options::default())
            .expect("assembles")
            .bytes;
        m.load_flat(0x10000, &code, FlatEntry::Protected32)
            .expect("loads");
        m.write_phys(0x30000, &ring).expect("ring");
        assert_eq!(m.run(1_000_000), StopReason::DebugExit(0), "{case}");
        let v = m.platform().virtio_blk().expect("the device");
        let e = v.transport.error.clone().unwrap_or_default();
        assert!(e.contains(want), "{case}: {e}");
        assert_eq!(v.transport.status & 0x40, 0x40, "{case}: NEEDS_RESET");
        assert_eq!(v.requests, 0, "{case}");
    }
}

#[test]
fn a_snapshot_between_requests_continues_exactly() {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut a = machine(ExecMode::Bare, "guests/disk/virtio_blk.asm", true, &disk);
    // Into the 1 MiB read: some 64 KiB requests served, more to come.
    let mut served = 0;
    while served < 8 {
        assert_eq!(a.run(500), StopReason::BudgetExhausted);
        served = a.platform().virtio_blk().map_or(0, |v| v.requests);
    }
    let snap = a.snapshot();
    let stop_a = a.run(50_000_000);
    let mut b = machine(ExecMode::Bare, "guests/disk/virtio_blk.asm", true, &disk);
    b.restore(&snap).expect("restores");
    assert_eq!(
        b.platform().virtio_blk().map(|v| v.requests),
        Some(served),
        "the device's queues come back with the snapshot"
    );
    let stop_b = b.run(50_000_000);
    assert_eq!(stop_a, StopReason::DebugExit(0));
    assert_eq!(stop_a, stop_b);
    assert_eq!(a.icount(), b.icount());
    assert_eq!(a.cpu().gpr, b.cpu().gpr);
    assert_eq!(a.platform().virtio_blk(), b.platform().virtio_blk());
}

#[test]
fn a_batch_of_sixteen_requests_takes_one_notify_and_writes_the_same() {
    for mode in [ExecMode::Bare, ExecMode::HW_ASSIST] {
        let orig = disk_image();
        let disk = Shared(Arc::new(Mutex::new(orig.clone())));
        let mut m = machine_with(mode, "guests/disk/virtio_blk.asm", &["BATCH"], true, &disk);
        let stop = m.run(50_000_000);
        let console = String::from_utf8_lossy(&m.serial_output()).to_string();
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}:\n{console}");
        let v = m.platform().virtio_blk().expect("the device");
        assert_eq!(
            (v.sectors_read, v.sectors_written, v.requests),
            (2050, 1, 19)
        );
        let q = &v.transport.queues[0];
        assert_eq!(
            (q.notifies, q.completed),
            (4, 19),
            "three single requests, one batch"
        );
        assert_eq!((v.transport.interrupts, v.transport.suppressed), (3, 1));
        let mut bulk = vec![0u8; 0x10000];
        m.peek_phys(0x100000, &mut bulk);
        assert_eq!(
            bulk,
            orig[1920 * 512..2048 * 512],
            "the last request landed last"
        );
        assert_eq!(
            disk.0.lock().unwrap()[512..1024],
            orig[..512]
                .iter()
                .map(|b| b.wrapping_add(1))
                .collect::<Vec<_>>()[..]
        );
    }
}
