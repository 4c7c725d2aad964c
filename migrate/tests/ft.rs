//! Fault tolerance: the primary dies mid-run, the backup replays the log and takes
//! over, and the world's serial output has no gap and no duplicate.

mod common;

use emulator_core::{ExecMode, Machine, StopReason};
use vmlab_migrate::clock::Budget;
use vmlab_migrate::ft::LogEntry;
use vmlab_migrate::FaultTolerance;

fn inputs() -> Vec<(u64, Vec<u8>)> {
    vec![
        (5_000, b"a".to_vec()),
        (7_000, b"b".to_vec()),
        (9_000, b"c".to_vec()),
    ]
}

/// The workload with the same inputs at the same instruction counts, run plainly.
fn reference(end_ticks: u32) -> Machine {
    let mut m = common::machine("moderate", end_ticks, 4, ExecMode::Bare);
    for (at, bytes) in inputs() {
        while m.icount() < at {
            let r = m.run(at - m.icount());
            assert_eq!(
                r,
                StopReason::BudgetExhausted,
                "the reference ended before input at {at}"
            );
        }
        m.push_serial_input(&bytes);
    }
    assert_eq!(common::run_to_end(&mut m), StopReason::Halted);
    m
}

fn ft(kill_at: Option<u64>) -> FaultTolerance {
    FaultTolerance {
        epoch: 2_000,
        kill_at,
        end: 1 << 40,
        inputs: inputs(),
    }
}

#[test]
fn failover_loses_no_output_and_repeats_none() {
    let reference = reference(256);
    let total = reference.icount();
    let want = String::from_utf8_lossy(&reference.serial_output()).into_owned();
    for c in ["<a>", "<b>", "<c>"] {
        assert_eq!(want.matches(c).count(), 1, "the reference echoes {c} once");
    }
    // kill at several points, each inside an epoch that printed
    let mut withheld = 0;
    for kill in [total / 5 + 777, total / 2 + 1_333, total * 4 / 5 + 1_999] {
        let rep = ft(Some(kill))
            .run(
                common::machine("moderate", 256, 4, ExecMode::Bare),
                &mut Budget::new(100_000_000),
            )
            .expect("runs");
        assert_eq!(rep.killed_at, Some(kill));
        let took_over = rep.takeover_at.expect("the backup took over");
        assert!(
            took_over < kill && kill - took_over < 2_000,
            "at the last acknowledged epoch"
        );
        assert_eq!(String::from_utf8_lossy(&rep.output), want, "kill at {kill}");
        assert!(rep.released_by_backup > 0);
        assert_eq!(rep.stop, "halted");
        assert_eq!(rep.icount, total);
        withheld += rep.withheld_bytes;
    }
    assert!(
        withheld > 0,
        "some kill held output back that the backup made again"
    );
}

#[test]
fn the_log_holds_the_interrupts_and_the_inputs() {
    let rep = ft(None)
        .run(
            common::machine("moderate", 128, 4, ExecMode::Bare),
            &mut Budget::new(100_000_000),
        )
        .expect("runs");
    assert_eq!(rep.killed_at, None);
    assert_eq!(rep.released_by_backup, 0);
    assert_eq!(rep.logged_inputs, 3);
    // one timer interrupt a tick, 128 ticks
    assert!(rep.logged_interrupts >= 128, "{}", rep.logged_interrupts);
    let inputs: Vec<u64> = rep
        .log
        .iter()
        .filter_map(|e| match e {
            LogEntry::Input { icount, .. } => Some(*icount),
            LogEntry::Interrupt { .. } => None,
        })
        .collect();
    assert_eq!(inputs, [5_000, 7_000, 9_000]);
    assert_eq!(rep.output, reference(128).serial_output());
}

#[test]
fn failover_under_trap_and_emulate_loses_no_output() {
    let mode = ExecMode::TRAP_EMULATE;
    let mut reference = common::machine("moderate", 128, 4, mode);
    assert_eq!(common::run_to_end(&mut reference), StopReason::Halted);
    let total = reference.icount();
    let rep = FaultTolerance {
        epoch: 1_500,
        kill_at: Some(total / 2 + 111),
        end: 1 << 40,
        inputs: Vec::new(),
    }
    .run(
        common::machine("moderate", 128, 4, mode),
        &mut Budget::new(100_000_000),
    )
    .expect("runs");
    assert!(rep.takeover_at.is_some());
    assert_eq!(rep.output, reference.serial_output());
    assert_eq!(rep.icount, total);
}
