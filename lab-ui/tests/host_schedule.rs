//! The lab's host schedule for a machine's vCPUs: a mode switch keeps what the mode
//! applies, a machine file and a step back keep the schedule and its spin count.

use emulator_core::smp::{HostSchedule, HostState, DEFAULT_PLE_WINDOW};
use emulator_core::ExecMode;
use lab_ui::demos;
use lab_ui::protocol::{Until, ADVANCE_BUDGET};
use lab_ui::smp::Smp;
use lab_ui::worker::session::{Loaded, Session};

const SCHEDULE: HostSchedule = HostSchedule {
    slice: 5000,
    cosched: false,
    ple_window: DEFAULT_PLE_WINDOW,
};

/// The lock-holder-preemption demo's guest on four vCPUs under `mode`.
fn session(mode: ExecMode) -> Session {
    let d = demos::find("lock-holder-preemption").expect("the demo");
    let p = demos::assemble(d.source, d.manifest.boot).expect("assembles");
    let loaded = Loaded::flat(&p);
    let smp = Smp {
        cpus: 4,
        quantum: 20,
        host: SCHEDULE,
        ..Smp::default()
    };
    Session::with_smp(loaded, mode, smp).expect("loads")
}

#[test]
fn a_mode_switch_keeps_what_the_mode_applies() {
    let mut s = session(ExecMode::HW_ASSIST);
    assert_eq!(s.view(false).smp.options.host, SCHEDULE);
    s.reload(ExecMode::TRAP_EMULATE).expect("reloads");
    let host = s.view(false).smp.options.host;
    assert_eq!(
        host,
        HostSchedule {
            ple_window: 0,
            ..SCHEDULE
        },
        "trap-and-emulate has no pause-loop exiting"
    );
    s.reload(ExecMode::Bare).expect("reloads");
    assert_eq!(s.view(false).smp.options.host, HostSchedule::default());
}

#[test]
fn a_machine_file_and_a_step_back_keep_the_schedule() {
    let mut s = session(ExecMode::HW_ASSIST);
    s.advance(Until::Steps(40_000), ADVANCE_BUDGET);
    let file = s.to_file().expect("saves");
    s.advance(Until::Steps(20_000), ADVANCE_BUDGET);
    let later = s.view(false);
    assert!(later.smp.spin_instructions > 0);
    assert!(later
        .smp
        .cpus
        .iter()
        .any(|c| c.host == HostState::Descheduled));
    let mut back = Session::from_file(&file).expect("loads the file");
    assert_eq!(back.view(false).smp.options.host, SCHEDULE);
    back.advance(Until::Steps(20_000), ADVANCE_BUDGET);
    let again = back.view(false);
    // the machine's state and each vCPU's host state and spin count (counters are
    // statistics and start again with the file)
    let per_cpu = |v: &lab_ui::protocol::View| {
        v.smp
            .cpus
            .iter()
            .map(|c| (c.eip, c.gpr, c.current, c.host, c.spin))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        per_cpu(&again),
        per_cpu(&later),
        "the same run from the file"
    );
    assert_eq!(again.smp.options, later.smp.options);
    assert!(s.step_back().expect("steps back"));
    let stepped = s.view(false);
    assert_eq!(stepped.smp.options.host, SCHEDULE);
    assert!(stepped.icount + 1 == later.icount, "one instruction back");
}
