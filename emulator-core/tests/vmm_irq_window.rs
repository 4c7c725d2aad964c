//! Interrupt-window exiting under hardware assistance, on the interrupt-virt demo
//! guest: a timer interrupt raised while the guest's IF is clear is held, the guest
//! exits with `interrupt-window` when STI's shadow ends, and vector 0x20 is injected
//! there. The bare machine is the oracle for what the guest sees.

mod common;

use common::symbol;
use emulator_core::vmm::ExitReason;
use emulator_core::{EventKind, ExecMode, GuestPaging, Machine, MachineConfig};

const GUEST: &str = "demos/interrupt-virt/interrupts.asm";
const NESTED: ExecMode = ExecMode::HwAssist {
    paging: GuestPaging::Nested,
};
const SHADOW: ExecMode = ExecMode::HwAssist {
    paging: GuestPaging::Shadow,
};

fn guest() -> (Vec<u8>, Vec<(String, u32)>) {
    common::assemble_demo(GUEST)
}

/// Runs the guest to its HLT with interrupt-window exiting on or off.
fn run(mode: ExecMode, window: bool) -> Machine {
    let (image, _) = guest();
    let mut m = common::flat32(
        MachineConfig {
            mode,
            event_capacity: 1 << 20,
            ..MachineConfig::default()
        },
        &image,
    );
    if let Some(v) = m.vmm_mut() {
        v.controls.interrupt_window = window;
    }
    assert_eq!(m.run(5_000_000), emulator_core::StopReason::Halted);
    m
}

fn serial(m: &Machine) -> String {
    String::from_utf8_lossy(&m.serial_output()).into_owned()
}

/// Where each VM exit of `reason` happened (linear EIP), in order.
fn exits_at(m: &Machine, reason: ExitReason) -> Vec<u32> {
    m.events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::VmExit { reason: r, .. } if r == reason))
        .map(|e| e.linear_eip)
        .collect()
}

/// The vectors of the interrupts the machine acknowledged, with where.
fn interrupts(m: &Machine) -> Vec<(u8, u32)> {
    m.events()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Interrupt { vector, .. } => Some((vector, e.linear_eip)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_held_timer_interrupt_exits_at_the_window_and_is_injected_there() {
    let (_, symbols) = guest();
    let bare = run(ExecMode::Bare, true);
    let bare_serial = serial(&bare);
    assert_eq!(bare_serial, "one tick, delivered after STI\n");
    let after_tick = symbol(&symbols, "after_tick");
    let busy = symbol(&symbols, "busy");
    let window_closed = symbol(&symbols, "window_closed");
    // the bare CPU takes the interrupt after STI's shadow (the NOP), at after_tick
    assert_eq!(interrupts(&bare), vec![(0x20, after_tick)]);
    for mode in [NESTED, SHADOW] {
        let m = run(mode, true);
        assert_eq!(serial(&m), bare_serial, "{mode:?}");
        let v = m.vmm().expect("VMM");
        assert_eq!(v.exits.count(ExitReason::InterruptWindow), 1, "{mode:?}");
        assert_eq!(v.exits.count(ExitReason::ExternalInterrupt), 1, "{mode:?}");
        // the external-interrupt exit came while IF was clear, in the busy loop
        let held = exits_at(&m, ExitReason::ExternalInterrupt);
        assert!(
            held[0] >= busy && held[0] <= window_closed,
            "{mode:?}: held at {:#x}",
            held[0]
        );
        assert_eq!(
            exits_at(&m, ExitReason::InterruptWindow),
            vec![after_tick],
            "{mode:?}"
        );
        assert_eq!(interrupts(&m), vec![(0x20, after_tick)], "{mode:?}");
        let action = m
            .events()
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::VmExit {
                    reason: ExitReason::InterruptWindow,
                    action,
                    ..
                } => Some(action.clone()),
                _ => None,
            })
            .expect("the window exit");
        assert!(action.contains("vector 0x20"), "{action}");
    }
}

#[test]
fn without_the_control_the_interrupt_waits_in_the_pic() {
    let (_, symbols) = guest();
    let after_tick = symbol(&symbols, "after_tick");
    let m = run(NESTED, false);
    assert_eq!(serial(&m), "one tick, delivered after STI\n");
    let v = m.vmm().expect("VMM");
    assert_eq!(v.exits.count(ExitReason::InterruptWindow), 0);
    assert_eq!(
        exits_at(&m, ExitReason::ExternalInterrupt),
        vec![after_tick]
    );
    assert_eq!(interrupts(&m), vec![(0x20, after_tick)]);
}

#[test]
fn trap_and_emulate_keeps_the_virtual_if_path() {
    let (_, symbols) = guest();
    let after_tick = symbol(&symbols, "after_tick");
    let m = run(ExecMode::TRAP_EMULATE, true);
    assert_eq!(serial(&m), "one tick, delivered after STI\n");
    let v = m.vmm().expect("VMM");
    assert_eq!(v.exits.count(ExitReason::InterruptWindow), 0);
    assert_eq!(v.exits.count(ExitReason::InterruptFlag), 4);
    assert_eq!(interrupts(&m), vec![(0x20, after_tick)]);
}
