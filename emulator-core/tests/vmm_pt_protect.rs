//! Write-protected guest page tables under shadow paging, on the shadow-coherence
//! demo guest: with `pt_protect` the kernel's store to a PTE exits (`pt-write`),
//! the shadow entry built from it is dropped, and the next read sees the new
//! frame without INVLPG; without it the read is stale until INVLPG, as on the
//! bare machine (the oracle: a real TLB keeps the old translation).

mod common;

use common::symbol;
use emulator_core::vmm::ExitReason;
use emulator_core::{EventKind, ExecMode, GuestPaging, Machine, MachineConfig, StopReason};

const GUEST: &str = "demos/shadow-coherence/coherence.asm";
const SHADOW: ExecMode = ExecMode::HwAssist {
    paging: GuestPaging::Shadow,
};
const PD_A: u32 = 0x80000;
const PAGE: u32 = 0x400000;

fn guest() -> (Vec<u8>, Vec<(String, u32)>) {
    common::assemble_demo(GUEST)
}

fn machine(mode: ExecMode, protect: bool) -> Machine {
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
        v.shadow.pt_protect = protect;
    }
    m
}

fn serial(m: &Machine) -> String {
    String::from_utf8_lossy(&m.serial_output()).into_owned()
}

/// The shadow entry of process A for 0x400000 (its frame), if filled.
fn shadow_frame(m: &Machine) -> Option<u32> {
    let v = m.vmm().expect("VMM");
    v.shadow
        .table(PD_A, PAGE >> 22)
        .iter()
        .find(|e| e.linear == PAGE)
        .map(|e| e.frame)
}

#[test]
fn the_bare_tlb_and_an_unprotected_shadow_stay_stale_until_invlpg() {
    for mode in [ExecMode::Bare, ExecMode::TRAP_EMULATE, SHADOW] {
        let mut m = machine(mode, false);
        assert_eq!(m.run(1_000_000), StopReason::Halted, "{mode:?}");
        assert_eq!(serial(&m), "reads of 0x400000: ABAAN\n", "{mode:?}");
        if let Some(v) = m.vmm() {
            assert_eq!(v.exits.count(ExitReason::PtWrite), 0, "{mode:?}");
        }
    }
}

#[test]
fn a_protected_pte_write_exits_and_is_seen_without_invlpg() {
    let (_, symbols) = guest();
    let store = symbol(&symbols, "a_reread");
    let after = symbol(&symbols, "pte_written");
    for mode in [ExecMode::TRAP_EMULATE, SHADOW] {
        let mut m = machine(mode, true);
        m.add_breakpoint(symbol(&symbols, "pte_written"));
        assert_eq!(
            m.run(1_000_000),
            StopReason::Breakpoint(symbol(&symbols, "pte_written")),
            "{mode:?}"
        );
        // the store trapped once, at the kernel's MOV to the PTE
        let v = m.vmm().expect("VMM");
        assert_eq!(v.exits.count(ExitReason::PtWrite), 1, "{mode:?}");
        let at: Vec<u32> = m
            .events()
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::VmExit {
                        reason: ExitReason::PtWrite,
                        ..
                    }
                )
            })
            .map(|e| e.linear_eip)
            .collect();
        // logged at the store or, as the CPU has moved EIP before its write, just after it
        assert_eq!(at.len(), 1, "{mode:?}");
        assert!(
            at[0] == store || at[0] == after,
            "{mode:?}: at {:#x}",
            at[0]
        );
        // the shadow entry built from the old PTE is gone
        assert_eq!(shadow_frame(&m), None, "{mode:?}");
        assert!(
            m.tlb_entries().iter().all(|e| e.linear_page != PAGE),
            "{mode:?}: the TLB still maps the page"
        );
        m.add_breakpoint(symbol(&symbols, "stale_read"));
        assert_eq!(
            m.run(1_000_000),
            StopReason::Breakpoint(symbol(&symbols, "stale_read")),
            "{mode:?}"
        );
        // refilled from the new PTE before any INVLPG (the shadow holds the host frame)
        assert_eq!(
            shadow_frame(&m),
            Some(emulator_core::vmm::p2m::host_of(0x202000)),
            "{mode:?}"
        );
        assert_eq!(m.vmm().expect("VMM").exits.count(ExitReason::Invlpg), 0);
        assert_eq!(m.run(1_000_000), StopReason::Halted, "{mode:?}");
        assert_eq!(serial(&m), "reads of 0x400000: ABANN\n", "{mode:?}");
        assert_eq!(
            m.vmm().expect("VMM").exits.count(ExitReason::PtWrite),
            1,
            "{mode:?}"
        );
    }
}
