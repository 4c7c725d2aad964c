//! Post-copy finishes every workload, the diabolical one included: demand faults
//! and pre-paging bring the pages over, and the guest ends exactly as one that
//! never migrated.

mod common;

use emulator_core::{ExecMode, StopReason};
use vmlab_migrate::clock::{run_until, Budget};
use vmlab_migrate::transfer::destination_for;
use vmlab_migrate::{postcopy, Link, PostcopyOptions, PostcopyReport};

fn migrate_and_finish(name: &str, end_ticks: u32, opts: PostcopyOptions) -> PostcopyReport {
    let mut reference = common::machine(name, end_ticks, 4, ExecMode::Bare);
    assert_eq!(common::run_to_end(&mut reference), StopReason::Halted);

    let mut src = common::machine(name, end_ticks, 4, ExecMode::Bare);
    run_until(&mut src, 200_000, &mut Budget::new(10_000_000), "warm-up").expect("runs");
    let mut dst = destination_for(&src).expect("destination");
    let l = Link::new(256_000_000, 100).expect("link");
    let rep =
        postcopy(&mut src, &mut dst, l, opts, &mut Budget::new(500_000_000)).expect("migrates");
    assert_eq!(
        rep.demand_faults + rep.prepaged + rep.pushed,
        rep.memory_pages,
        "{name}: every page came over exactly once"
    );
    assert_eq!(common::run_to_end(&mut dst), StopReason::Halted, "{name}");
    assert_eq!(
        String::from_utf8_lossy(&dst.serial_output()),
        String::from_utf8_lossy(&reference.serial_output()),
        "{name}"
    );
    assert!(
        reference.snapshot() == dst.snapshot(),
        "{name}: the final state differs"
    );
    rep
}

#[test]
fn post_copy_completes_the_diabolical_workload() {
    let rep = migrate_and_finish("diabolical", 128, PostcopyOptions::default());
    eprintln!("{rep:#?}");
    // the guest touches its code, stack and 512-page buffer at once: faults
    assert!(rep.demand_faults > 0);
    assert!(
        rep.prepaged > rep.demand_faults,
        "pre-paging brings neighbours"
    );
    assert!(rep.stall_cycles >= rep.demand_faults.min(1) * 2 * l_latency());
    // downtime is the state alone: far below sending all memory
    assert!(
        rep.downtime_cycles * 100
            < Link::new(256_000_000, 100)
                .expect("link")
                .transfer_cycles(rep.memory_pages * 4096)
    );
}

fn l_latency() -> u64 {
    Link::new(256_000_000, 100).expect("link").latency_cycles()
}

#[test]
fn pre_paging_saves_demand_faults() {
    let with = migrate_and_finish("diabolical", 64, PostcopyOptions::default());
    let without = migrate_and_finish(
        "diabolical",
        64,
        PostcopyOptions {
            prepage: 0,
            ..PostcopyOptions::default()
        },
    );
    assert_eq!(without.prepaged, 0);
    assert!(
        with.demand_faults * 2 < without.demand_faults,
        "{} faults with pre-paging, {} without",
        with.demand_faults,
        without.demand_faults
    );
}

#[test]
fn post_copy_completes_idle_and_moderate() {
    for name in ["idle", "moderate"] {
        let rep = migrate_and_finish(name, 128, PostcopyOptions::default());
        assert!(rep.pushed > 0, "{name}: the background push did most");
    }
}

#[test]
fn post_copy_under_nested_paging_ends_as_an_unmigrated_run() {
    let mode = ExecMode::HW_ASSIST;
    let mut reference = common::machine("moderate", 128, 4, mode);
    assert_eq!(common::run_to_end(&mut reference), StopReason::Halted);
    let mut src = common::machine("moderate", 128, 4, mode);
    run_until(&mut src, 200_000, &mut Budget::new(10_000_000), "warm-up").expect("runs");
    let mut dst = destination_for(&src).expect("destination");
    let l = Link::new(64_000_000, 100).expect("link");
    let rep = postcopy(
        &mut src,
        &mut dst,
        l,
        PostcopyOptions::default(),
        &mut Budget::new(500_000_000),
    )
    .expect("migrates");
    assert!(rep.demand_faults > 0, "code, stack and tables fault in");
    assert_eq!(common::run_to_end(&mut dst), StopReason::Halted);
    assert_eq!(dst.serial_output(), reference.serial_output());
    let (a, b) = (reference.snapshot(), dst.snapshot());
    assert_eq!(a.cpu(), b.cpu());
    assert!(a.ram() == b.ram(), "RAM differs from the unmigrated run");
}
