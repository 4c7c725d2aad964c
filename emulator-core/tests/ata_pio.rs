//! The ATA PIO guest (`guests/disk/ata_pio.asm`) on the core alone: it finds the IDE
//! function on PCI, reads sector 0, writes sector 1 and reads 1 MiB, bare and under
//! trap-and-emulate; a snapshot taken in the middle of a transfer continues exactly.

mod common;

use std::sync::{Arc, Mutex};

use common::Shared;

use emulator_core::devices::ata::Transfer;
use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

fn disk_image() -> Vec<u8> {
    (0..2 << 20)
        .map(|i: usize| (i * 7 + i / 512) as u8)
        .collect()
}

fn machine(mode: ExecMode, disk: &Shared) -> Machine {
    let guest = common::assemble("guests/disk/ata_pio.asm", &[]);
    let mut m = common::flat32(
        MachineConfig {
            mode,
            ..MachineConfig::default()
        },
        &guest,
    );
    m.attach_disk(Box::new(disk.clone())).expect("a disk");
    m
}

#[test]
fn the_guest_writes_exactly_sector_one_bare_and_under_trap_emulate() {
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE] {
        let orig = disk_image();
        let disk = Shared(Arc::new(Mutex::new(orig.clone())));
        let mut m = machine(mode, &disk);
        let stop = m.run(50_000_000);
        let console = String::from_utf8_lossy(&m.serial_output()).to_string();
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}:\n{console}");
        assert!(
            console.contains("pci 00:01.1 8086:7010 class 0101"),
            "{console}"
        );
        assert!(console.contains("IRQ 0e"), "{console}");
        // The guest sized BAR 4 and put its address back.
        assert!(
            console.contains("BAR4 I/O at 0xc000, size 0x10"),
            "{console}"
        );
        let pci = m.platform().pci().expect("the PCI bus");
        let ide = pci
            .functions
            .iter()
            .find(|f| (f.device, f.function) == (1, 1));
        assert_eq!(ide.map(|f| f.bar(4)), Some(0xc000));
        let after = disk.0.lock().unwrap().clone();
        for (i, (a, b)) in orig.iter().zip(&after).enumerate() {
            let want = if (512..1024).contains(&i) {
                orig[i - 512].wrapping_add(1)
            } else {
                *a
            };
            assert_eq!(*b, want, "{mode:?}: byte {i}");
        }
        let ata = m.platform().ata().expect("the drive");
        assert_eq!((ata.sectors_read, ata.sectors_written), (2050, 1));
    }
}

#[test]
fn a_snapshot_in_the_middle_of_a_transfer_continues_exactly() {
    let disk = Shared(Arc::new(Mutex::new(disk_image())));
    let mut a = machine(ExecMode::Bare, &disk);
    // Into the 1 MiB read: a READ SECTORS of 256 sectors part done.
    assert_eq!(a.run(40_000), StopReason::BudgetExhausted);
    let snap = a.snapshot();
    let ata = a.platform().ata().cloned().expect("the drive's registers");
    assert!(ata.sectors_read > 2 && ata.remaining > 0, "{ata:?}");
    assert_eq!(
        ata.transfer,
        Transfer::ToHost,
        "a READ SECTORS command runs"
    );
    let stop_a = a.run(50_000_000);
    let mut b = machine(ExecMode::Bare, &disk);
    b.restore(&snap).expect("restores");
    let stop_b = b.run(50_000_000);
    assert_eq!(stop_a, StopReason::DebugExit(0));
    assert_eq!(stop_a, stop_b);
    assert_eq!(a.icount(), b.icount());
    assert_eq!(a.cpu().gpr, b.cpu().gpr);
    assert_eq!(a.platform().ata(), b.platform().ata());
}
