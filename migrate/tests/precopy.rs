//! Pre-copy on the three workloads: the moderate writer converges with shrinking
//! rounds and a downtime below the one-round-of-all-memory bound, the diabolical one
//! stops by another rule, and a migrated guest ends exactly as one that never moved.

mod common;

use emulator_core::{ExecMode, GuestPaging, Machine, StopReason};
use vmlab_migrate::clock::{run_until, Budget};
use vmlab_migrate::transfer::destination_for;
use vmlab_migrate::{precopy, Link, PrecopyReport, StopRule, XenPolicy};

/// 64 MB/s, 200 us: 4 MiB take about 65 ms of guest time.
fn link() -> Link {
    Link::new(64_000_000, 200).expect("link")
}

/// Runs `name` for 2 ms, migrates it by pre-copy and runs it to its end
/// on the destination; checks it against a run that never migrated.
fn migrate_and_finish(name: &str, end_ticks: u32, mode: ExecMode, l: Link) -> PrecopyReport {
    let mut reference = common::machine(name, end_ticks, 4, mode);
    let ref_stop = common::run_to_end(&mut reference);
    assert_eq!(ref_stop, StopReason::Halted, "{name}");

    let mut src = common::machine(name, end_ticks, 4, mode);
    // 2 ms of guest time first
    run_until(&mut src, 200_000, &mut Budget::new(10_000_000), "warm-up").expect("runs");
    let mut dst: Machine = destination_for(&src).expect("destination");
    let rep = precopy(
        &mut src,
        &mut dst,
        l,
        &mut XenPolicy::default(),
        &mut Budget::new(500_000_000),
    )
    .expect("migrates");
    let moved_at = dst.serial_output().len();
    assert_eq!(common::run_to_end(&mut dst), ref_stop, "{name}");
    // the serial output went on from where it was, and ends as the reference's
    assert_eq!(
        String::from_utf8_lossy(&dst.serial_output()),
        String::from_utf8_lossy(&reference.serial_output()),
        "{name}"
    );
    assert!(
        moved_at < dst.serial_output().len(),
        "{name}: output after the move"
    );
    let (a, b) = (reference.snapshot(), dst.snapshot());
    assert_eq!(a.icount(), b.icount(), "{name}");
    assert_eq!(a.cpu(), b.cpu(), "{name}");
    assert!(
        a.ram() == b.ram(),
        "{name}: RAM differs from the unmigrated run"
    );
    if mode == ExecMode::Bare {
        assert!(a == b, "{name}: the whole snapshot differs");
    }
    rep
}

#[test]
fn moderate_converges_with_shrinking_rounds_and_short_downtime() {
    let rep = migrate_and_finish("moderate", 256, ExecMode::Bare, link());
    eprintln!("{rep:#?}");
    assert_eq!(rep.stop_rule, StopRule::Converged);
    assert!(rep.rounds.len() >= 3, "{} rounds", rep.rounds.len());
    assert_eq!(
        rep.rounds[0].sent, rep.memory_pages,
        "round 0 sends all memory"
    );
    for w in rep.rounds.windows(2) {
        assert!(w[1].sent < w[0].sent, "rounds shrink: {:?}", rep.rounds);
    }
    assert!(rep.rounds.last().map_or(0, |r| r.dirtied) < 50);
    // the guest dirtied pages while it ran: the log saw the writer
    assert!(rep.rounds[0].dirtied > 50, "{:?}", rep.rounds[0]);
    assert!(
        rep.downtime_cycles * 10 < rep.all_memory_cycles,
        "downtime {} vs all memory {}",
        rep.downtime_cycles,
        rep.all_memory_cycles
    );
}

#[test]
fn idle_converges_after_round_zero() {
    let rep = migrate_and_finish("idle", 128, ExecMode::Bare, link());
    assert_eq!(rep.stop_rule, StopRule::Converged);
    assert_eq!(rep.rounds.len(), 1, "{:?}", rep.rounds);
    assert!(rep.final_pages < 50);
    assert!(rep.downtime_cycles < rep.all_memory_cycles);
}

#[test]
fn diabolical_stops_by_a_rule_other_than_convergence() {
    let rep = migrate_and_finish(
        "diabolical",
        192,
        ExecMode::Bare,
        Link::new(128_000_000, 200).expect("link"),
    );
    eprintln!("{:?} {:?}", rep.stop_rule, rep.rounds);
    assert_ne!(rep.stop_rule, StopRule::Converged);
    assert_eq!(
        rep.stop_rule,
        StopRule::MaxSent,
        "3x memory comes before 29 rounds"
    );
    assert!(rep.pages_sent >= 3 * rep.memory_pages);
    // every round after the first resends the whole working set of 512 pages
    for r in &rep.rounds[1..] {
        assert!(r.sent >= 512, "{r:?}");
    }
}

#[test]
fn under_hw_assist_dirty_logging_exits_and_the_guest_still_ends_the_same() {
    for paging in [GuestPaging::Nested, GuestPaging::Shadow] {
        let rep = migrate_and_finish("moderate", 256, ExecMode::HwAssist { paging }, link());
        assert_eq!(rep.stop_rule, StopRule::Converged, "{paging:?}");
        // one exit per page dirtied in a round, at least
        let dirtied: u64 = rep.rounds.iter().map(|r| r.dirtied).sum();
        assert!(rep.dirty_log_exits > 0, "{paging:?}");
        assert!(
            rep.dirty_log_exits <= dirtied,
            "{paging:?}: {} exits, {dirtied} dirtied",
            rep.dirty_log_exits
        );
    }
}
