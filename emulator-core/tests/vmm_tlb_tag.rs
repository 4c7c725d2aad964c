//! Tagged TLB: with VPID/ASID tags the TLB keeps its entries across VM exits; without
//! them every exit and entry flushes it, the guest runs the same and pays in TLB
//! misses and page walks.

use emulator_core::vmm::TlbTagging;
use emulator_core::{ExecMode, GuestPaging, Machine, MachineConfig, StopReason};

fn kernel() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/kernel/kernel.asm");
    let text = std::fs::read_to_string(path).expect("the teaching kernel's source");
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/include/");
    let include = |name: &str| std::fs::read_to_string(format!("{shared}{name}")).ok();
    let opts = vmlab_asm::Options {
        include: Some(&include),
        ..Default::default()
    };
    vmlab_asm::assemble("kernel.asm", &text, &opts)
        .expect("assembles")
        .bytes
}

fn run(mode: ExecMode, tagging: TlbTagging) -> Machine {
    let mut m = Machine::new(MachineConfig {
        mode,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.vmm_mut().expect("a VMM").tlb_tagging = tagging;
    m.load_rom(&kernel()).expect("loads");
    assert_eq!(m.run(60_000_000), StopReason::DebugExit(0), "{mode:?}");
    m
}

#[test]
fn an_untagged_tlb_is_flushed_by_exits_and_misses_more_with_the_same_output() {
    for mode in [
        ExecMode::TRAP_EMULATE,
        ExecMode::HW_ASSIST,
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ] {
        let tagged = run(mode, TlbTagging::Tagged);
        let flush = run(mode, TlbTagging::Flush);
        assert_eq!(flush.serial_output(), tagged.serial_output(), "{mode:?}");
        assert_eq!(flush.icount(), tagged.icount(), "{mode:?}");
        let (ts, fs) = (
            tagged.vmm().expect("vmm").stats(),
            flush.vmm().expect("vmm").stats(),
        );
        assert_eq!(ts.tlb.tagging, TlbTagging::Tagged);
        assert_eq!(
            ts.tlb.exit_flushes, 0,
            "{mode:?}: tagged entries survive exits"
        );
        assert_eq!(fs.tlb.tagging, TlbTagging::Flush);
        assert!(
            fs.tlb.exit_flushes > 0 && fs.tlb.exit_flushes <= fs.exits.total,
            "{mode:?}: at most one flush per exit: {} flushes, {} exits",
            fs.tlb.exit_flushes,
            fs.exits.total
        );
        let (tc, fc) = (tagged.counters(), flush.counters());
        assert!(
            fc.tlb_misses > tc.tlb_misses && fc.page_walks > tc.page_walks,
            "{mode:?}: misses {} vs {}, walks {} vs {}",
            fc.tlb_misses,
            tc.tlb_misses,
            fc.page_walks,
            tc.page_walks
        );
    }
}

#[test]
fn tlb_tagging_names_parse_and_unknown_ones_are_refused() {
    for t in TlbTagging::ALL {
        assert_eq!(t.name().parse::<TlbTagging>(), Ok(t));
    }
    let err = "vpid".parse::<TlbTagging>().expect_err("not a setting");
    assert!(err.to_string().contains("tagged"), "{err}");
}
