//! Guest-physical is not host-physical under a VMM: the teaching kernel runs with
//! its RAM moved by the physical-to-machine map, the TLB and the VMM's tables hold
//! host frames, and reads through them give the guest's bytes; bare, the two are
//! the same.

mod common;

use emulator_core::vmm::p2m;
use emulator_core::{ExecMode, GuestPaging, Machine, MachineConfig, StopReason};

fn run(mode: ExecMode) -> Machine {
    let mut m = Machine::new(MachineConfig {
        mode,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.load_rom(&common::assemble("guests/kernel/kernel.asm", &[]))
        .expect("loads");
    assert_eq!(m.run(60_000_000), StopReason::DebugExit(0), "{mode:?}");
    m
}

/// The pages the TLB holds that the guest still maps: (linear page, TLB frame,
/// guest-physical page, host-physical page).
fn mapped_tlb_pages(m: &Machine) -> Vec<(u32, u32, u32, u32)> {
    m.tlb_entries()
        .into_iter()
        .filter_map(|e| {
            let g = m.guest_physical(e.linear_page)?;
            let h = m.host_physical(e.linear_page)?;
            Some((e.linear_page, e.frame, g, h))
        })
        .collect()
}

#[test]
fn every_vmm_mode_keeps_the_guest_in_host_frames_that_differ_from_its_own() {
    let bare = run(ExecMode::Bare);
    for mode in [
        ExecMode::TRAP_EMULATE,
        ExecMode::HW_ASSIST,
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ] {
        let m = run(mode);
        // every byte the kernel fetched and read came through host frames
        assert_eq!(m.serial_output(), bare.serial_output(), "{mode:?}");
        let pages = mapped_tlb_pages(&m);
        assert!(!pages.is_empty(), "{mode:?}: the TLB holds guest pages");
        for (linear, frame, g, h) in pages {
            assert_ne!(h, g, "{mode:?}: {linear:#010x} host = guest-physical");
            assert_eq!(frame, h, "{mode:?}: the TLB caches the host frame");
            assert_eq!(p2m::guest_of(h), g, "{mode:?}: one map, both ways");
            let mut seen = [0u8; 64];
            m.peek_linear(linear, &mut seen).expect("mapped");
            let mut behind = [0u8; 64];
            m.peek_phys(p2m::guest_of(frame), &mut behind);
            assert_eq!(seen, behind, "{mode:?}: the host frame of {linear:#010x}");
        }
    }
    let pages = mapped_tlb_pages(&bare);
    assert!(!pages.is_empty(), "bare: the TLB holds pages");
    for (linear, frame, g, h) in pages {
        assert_eq!((frame, h), (g, g), "bare: identity at {linear:#010x}");
    }
}

#[test]
fn shadow_and_nested_tables_hold_host_frames() {
    let m = run(ExecMode::HwAssist {
        paging: GuestPaging::Shadow,
    });
    let v = m.vmm().expect("a VMM");
    let cr3 = v.shadow.active().expect("a shadow space");
    let mut checked = 0;
    for pde in v.shadow.directory(cr3) {
        for e in v.shadow.table(cr3, pde.index) {
            let g = m.guest_physical(e.linear).expect("the guest maps it");
            assert_eq!(
                e.frame,
                p2m::host_of(g),
                "shadow entry for {:#010x}",
                e.linear
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the shadow was filled");
    let m = run(ExecMode::HW_ASSIST);
    let v = m.vmm().expect("a VMM");
    let table = v.nested.table(0x10_0000, 0, v.p2m());
    assert!(!table.is_empty());
    for e in table {
        assert_eq!(e.host_physical, p2m::host_of(e.guest_physical));
        assert_ne!(e.host_physical, e.guest_physical);
    }
}
