//! The virtio interrupt demo guest (`demos/virtio-interrupt-suppression/suppress.asm`)
//! on the core: the same 64 KiB read four ways (an interrupt per request, one
//! coalesced interrupt per batch, interrupts suppressed by the ring flag, and by
//! `used_event` under `VIRTIO_F_RING_EVENT_IDX`), bare, under trap-and-emulate and
//! under hardware assist; the counters bear out each way and a snapshot mid-run
//! continues exactly.

mod common;

use std::sync::{Arc, Mutex};

use common::Shared;
use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

const GUEST: &str = "demos/virtio-interrupt-suppression/suppress.asm";

fn disk_image() -> Vec<u8> {
    (0..256 * 512)
        .map(|i: usize| (i * 13 + i / 512) as u8)
        .collect()
}

fn machine(mode: ExecMode, disk: &Shared) -> Machine {
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
    m
}

/// Runs the guest to its end: the console and the machine.
fn run(mode: ExecMode) -> (String, Machine) {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut m = machine(mode, &disk);
    let stop = m.run(20_000_000);
    let console = String::from_utf8_lossy(&m.serial_output()).to_string();
    assert_eq!(stop, StopReason::Halted, "{mode:?}:\n{console}");
    (console, m)
}

#[test]
fn batching_and_suppression_take_fewer_interrupts_in_every_mode() {
    let mut consoles = Vec::new();
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let (console, m) = run(mode);
        assert!(
            console.contains("virtio-blk interrupts OK"),
            "{mode:?}:\n{console}"
        );
        // The 64 KiB the device read last are the disk's first 64 KiB.
        let mut got = vec![0u8; 0x10000];
        m.peek_phys(0x100000, &mut got);
        assert_eq!(got, disk_image()[..0x10000], "{mode:?}");
        // The interrupts the guest's handler counted, phase by phase.
        let taken: Vec<u64> = console
            .lines()
            .filter_map(|l| l.strip_prefix("phase done: 0x"))
            .filter_map(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
            .collect();
        assert_eq!(taken.len(), 4, "{mode:?}:\n{console}");
        let (per_request, batched, flagged, event_idx) = (taken[0], taken[1], taken[2], taken[3]);
        assert_eq!(per_request, 16, "one interrupt per request: {taken:?}");
        assert!(batched < 16, "a batch coalesces its interrupts: {taken:?}");
        assert!(flagged < batched, "suppressed < not suppressed: {taken:?}");
        assert!(event_idx < per_request, "used_event suppresses: {taken:?}");
        let v = m.platform().virtio_blk().expect("the device");
        let t = &v.transport;
        assert_eq!(v.requests, 64);
        assert_eq!(
            m.counters().irqs,
            t.interrupts,
            "{mode:?}: every interrupt raised was taken"
        );
        assert_eq!(t.interrupts, taken.iter().sum::<u64>());
        assert!(t.interrupts < v.requests, "{t:?}");
        assert!(t.announced > t.interrupts, "several requests per interrupt");
        let notifies: u64 = t.queues.iter().map(|q| q.notifies).sum();
        assert_eq!(notifies + t.unkicked, v.requests, "{t:?}");
        assert_eq!(
            t.suppressed,
            1 + 15,
            "the flagged batch and 15 by used_event"
        );
        assert_eq!(t.error, None);
        consoles.push(console);
    }
    assert!(consoles.windows(2).all(|w| w[0] == w[1]), "{consoles:?}");
}

#[test]
fn a_snapshot_between_phases_continues_exactly() {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut a = machine(ExecMode::TRAP_EMULATE, &disk);
    while a.platform().virtio_blk().map_or(0, |v| v.requests) < 20 {
        assert_eq!(a.run(300), StopReason::BudgetExhausted);
    }
    let snap = a.snapshot();
    let stop_a = a.run(20_000_000);
    let mut b = machine(ExecMode::TRAP_EMULATE, &disk);
    b.restore(&snap).expect("restores");
    let stop_b = b.run(20_000_000);
    assert_eq!(stop_a, StopReason::Halted);
    assert_eq!(stop_a, stop_b);
    assert_eq!(a.serial_output(), b.serial_output());
    assert_eq!(a.platform().virtio_blk(), b.platform().virtio_blk());
    assert!(a
        .platform()
        .virtio_blk()
        .is_some_and(|v| v.transport.unkicked > 0));
}
