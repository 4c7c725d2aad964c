//! A virtio-blk device with a service time (`demos/virtio-busy-device/busy.asm`): 16
//! writes put on the ring back to back, three times. A busy device suppresses the
//! driver's notifies by `VIRTQ_USED_F_NO_NOTIFY` and by `avail_event`; a driver that
//! ignores them, or a device that is never busy, takes a notify per request. The data
//! reach the disk either way, in every execution mode, and a snapshot taken while the
//! device is busy continues exactly.

mod common;

use std::sync::{Arc, Mutex};

use common::Shared;
use emulator_core::devices::virtio::{ServiceTime, VirtioBlkState};
use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

const GUEST: &str = "demos/virtio-busy-device/busy.asm";
const BUSY: ServiceTime = ServiceTime {
    fixed: 50_000,
    per_unit: 32,
};

fn machine(mode: ExecMode, disk: &Shared, service: ServiceTime) -> Machine {
    let (image, _) = common::assemble_demo(GUEST);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &image,
    );
    m.attach_virtio_blk(Box::new(disk.clone()))
        .expect("a virtio disk");
    m.set_virtio_service(service);
    m
}

/// Runs the guest to its end: the device's state and the disk.
fn run(mode: ExecMode, service: ServiceTime) -> (VirtioBlkState, Vec<u8>) {
    let disk = Shared(Arc::new(Mutex::new(vec![0u8; 256 * 512])));
    let mut m = machine(mode, &disk, service);
    let stop = m.run(50_000_000);
    let console = String::from_utf8_lossy(&m.serial_output()).to_string();
    assert_eq!(stop, StopReason::Halted, "{mode:?}:\n{console}");
    assert!(
        console.contains("virtio-blk busy device OK"),
        "{mode:?}:\n{console}"
    );
    assert_eq!(console.matches("phase done").count(), 3, "{console}");
    let v = m.platform().virtio_blk().expect("the device").clone();
    assert_eq!(v.transport.error, None);
    let bytes = disk.0.lock().expect("the disk").clone();
    (v, bytes)
}

/// The last phase's pattern: byte i of the 64 KiB is 0x33 + i / 4096 + i.
fn last_pattern() -> Vec<u8> {
    (0..0x10000usize)
        .map(|i| (0x33 + i / 4096 + i) as u8)
        .collect()
}

#[test]
fn a_busy_device_suppresses_kicks_and_the_data_arrive() {
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let (v, disk) = run(mode, BUSY);
        assert_eq!(disk[..0x10000], last_pattern()[..], "{mode:?}");
        // 3 × (16 writes + 1 read-back).
        assert_eq!(v.requests, 51);
        let notifies = v.transport.queues[0].notifies;
        // Phase 1 notifies 16 times (15 while busy), phases 2 and 3 once each, and each
        // read-back once: the two suppressing phases skipped 15 kicks each.
        assert_eq!(notifies, 16 + 1 + 1 + 3, "{mode:?}: {:?}", v.busy);
        assert_eq!(
            v.busy.busy_notifies, 15,
            "{mode:?}: the driver ignoring the flag"
        );
        assert_eq!(v.busy.skipped, 30, "{mode:?}: {:?}", v.busy);
        assert!(notifies < v.requests);
        assert_eq!(v.busy.round, None, "idle at the end");
        // Interrupts: the driver asked for none, by the ring flag and by used_event.
        assert_eq!(v.transport.interrupts, 0, "{:?}", v.transport);
        assert!(v.transport.suppressed >= 6, "{:?}", v.transport);
    }
}

#[test]
fn a_device_that_is_never_busy_takes_a_notify_per_request() {
    let (v, disk) = run(ExecMode::TRAP_EMULATE, ServiceTime::default());
    assert_eq!(disk[..0x10000], last_pattern()[..]);
    assert_eq!(v.requests, 51);
    assert_eq!(v.transport.queues[0].notifies, 51, "{:?}", v.busy);
    assert_eq!(
        (v.busy.skipped, v.busy.busy_notifies, v.busy.rounds),
        (0, 0, 0)
    );
}

#[test]
fn a_snapshot_while_busy_continues_exactly() {
    let disk = Shared(Arc::new(Mutex::new(vec![0u8; 256 * 512])));
    let mut a = machine(ExecMode::TRAP_EMULATE, &disk, BUSY);
    while a
        .platform()
        .virtio_blk()
        .is_none_or(|v| v.busy.round.is_none() || v.busy.skipped == 0)
    {
        assert_eq!(a.run(1000), StopReason::BudgetExhausted);
    }
    let snap = a.snapshot();
    let held = disk.0.lock().expect("disk").clone();
    let stop_a = a.run(50_000_000);
    let disk_a = disk.0.lock().expect("disk").clone();
    // b starts from a's disk as it was at the snapshot; the snapshot brings the
    // device's service time and the round in progress.
    let disk_b = Shared(Arc::new(Mutex::new(held)));
    let mut b = machine(ExecMode::TRAP_EMULATE, &disk_b, ServiceTime::default());
    b.restore(&snap).expect("restores");
    let stop_b = b.run(50_000_000);
    assert_eq!(stop_a, StopReason::Halted);
    assert_eq!(stop_a, stop_b);
    assert_eq!(a.serial_output(), b.serial_output());
    assert_eq!(a.platform().virtio_blk(), b.platform().virtio_blk());
    assert_eq!(disk_a[..0x10000], last_pattern()[..]);
    assert_eq!(disk_a, *disk_b.0.lock().expect("disk"));
}

const NET_GUEST: &str = "guests/net/virtio_net_burst.asm";
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The burst guest built with `defines` on a NIC with `service`: its transmit notifies,
/// kicks skipped, and the frames it sent.
fn burst(defines: &[&str], service: ServiceTime) -> (u64, u64, Vec<Vec<u8>>) {
    let guest = common::assemble(NET_GUEST, defines);
    let mut m = common::flat32(
        MachineConfig {
            mode: ExecMode::TRAP_EMULATE,
            ..MachineConfig::default()
        },
        &guest,
    );
    m.attach_virtio_net(GUEST_MAC).expect("a NIC");
    m.set_virtio_service(service);
    let stop = m.run(20_000_000);
    let console = String::from_utf8_lossy(&m.serial_output()).to_string();
    assert_eq!(stop, StopReason::DebugExit(0), "{defines:?}:\n{console}");
    let frames = m.take_sent_frames();
    let v = m.platform().virtio_net().expect("the NIC");
    assert_eq!(v.transport.error, None);
    assert_eq!((v.sent, v.dropped), (16, 0), "{defines:?}");
    let tx = &v.transport.queues[usize::from(emulator_core::devices::virtio::net::TX)];
    (tx.notifies, v.busy.skipped, frames)
}

#[test]
fn a_busy_nic_suppresses_transmit_kicks_by_flag_and_by_avail_event() {
    let busy = ServiceTime {
        fixed: 20_000,
        per_unit: 0,
    };
    let event_idx = "VNET_FEATURES=0x20000020";
    let runs = [
        (vec![], busy),
        (vec![event_idx], busy),
        (vec!["KICK_ALWAYS"], busy),
        (vec![], ServiceTime::default()),
        (vec![event_idx], ServiceTime::default()),
    ];
    let mut notifies = Vec::new();
    for (defines, service) in runs {
        let (n, skipped, frames) = burst(&defines, service);
        // Every frame arrives whole and in order: broadcast, our MAC, 88B5h, 46 × k.
        assert_eq!(frames.len(), 16, "{defines:?}");
        for (k, f) in frames.iter().enumerate() {
            let mut want = vec![0xff; 6];
            want.extend_from_slice(&GUEST_MAC);
            want.extend_from_slice(&[0x88, 0xb5]);
            want.extend_from_slice(&[k as u8; 46]);
            assert_eq!(*f, want, "{defines:?} frame {k}");
        }
        assert_eq!(
            n + skipped,
            16,
            "{defines:?}: every frame a kick or a skipped one"
        );
        notifies.push(n);
    }
    // Busy for 20,000 cycles from the first frame: the driver posts the other 15
    // meanwhile and skips their kicks, by the flag and by avail_event.
    assert_eq!(notifies[..2], [1, 1], "suppressed: {notifies:?}");
    assert_eq!(notifies[2..], [16, 16, 16], "ignored, or never busy");
}
