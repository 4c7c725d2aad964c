//! What the lab shows of the host's schedule: each vCPU's host state and spin count,
//! the refusal rules, and snapshots that keep the schedule (step back, machine files).

mod common;

use emulator_core::smp::{HostSchedule, HostState, DEFAULT_PLE_WINDOW};
use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};

fn lhp(mode: ExecMode) -> Machine {
    let bin = common::assemble("guests/smp/lhp.asm", &[]);
    let mut m = Machine::new(MachineConfig {
        mode,
        cpus: 4,
        quantum: 20,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
    m
}

#[test]
fn a_time_sliced_host_deschedules_all_but_one_vcpu_and_the_others_spin() {
    let mut m = lhp(ExecMode::HW_ASSIST);
    m.set_host_schedule(HostSchedule {
        slice: 5000,
        ..HostSchedule::default()
    })
    .unwrap();
    let mut saw_spinning = false;
    let mut saw_descheduled = false;
    for _ in 0..200 {
        if m.run(997) != StopReason::BudgetExhausted {
            break;
        }
        let states: Vec<HostState> = (0..4).map(|i| m.host_state(i)).collect();
        let current = m.current_cpu();
        // only the running vCPU is on a physical CPU
        for (i, s) in states.iter().enumerate() {
            if i != current {
                let c = m.cpu_at(i).unwrap();
                if !c.state().halted && !c.apic().wait_for_sipi {
                    assert_eq!(*s, HostState::Descheduled, "CPU {i} of {states:?}");
                    saw_descheduled = true;
                }
            }
        }
        saw_spinning |= states[current] == HostState::Spinning;
    }
    assert!(saw_descheduled && saw_spinning);
    let per_cpu: u64 = (0..4).map(|i| m.spin_instructions_of(i)).sum();
    assert_eq!(per_cpu, m.counters().spin_instructions);
    assert!(per_cpu > 0);
}

#[test]
fn without_a_slice_no_vcpu_is_descheduled() {
    let mut m = lhp(ExecMode::HW_ASSIST);
    for _ in 0..50 {
        m.run(1013);
        for i in 0..4 {
            assert_ne!(m.host_state(i), HostState::Descheduled);
        }
    }
}

#[test]
fn the_refusals_follow_the_mode() {
    let ple = HostSchedule {
        ple_window: DEFAULT_PLE_WINDOW,
        ..HostSchedule::default()
    };
    assert!(ple.refusal(ExecMode::HW_ASSIST).is_none());
    assert!(ple
        .refusal(ExecMode::TRAP_EMULATE)
        .is_some_and(|w| w.contains("hw-assist")));
    let co = HostSchedule {
        cosched: true,
        ..HostSchedule::default()
    };
    assert!(co
        .refusal(ExecMode::HW_ASSIST)
        .is_some_and(|w| w.contains("host slice")));
    let sliced = HostSchedule {
        slice: 10,
        ..HostSchedule::default()
    };
    assert!(sliced
        .refusal(ExecMode::Bare)
        .is_some_and(|w| w.contains("only under a VMM")));
    assert!(HostSchedule::default().refusal(ExecMode::Bare).is_none());
}

#[test]
fn a_snapshot_keeps_the_schedule_and_replays_the_same_spin() {
    let schedule = HostSchedule {
        slice: 3000,
        cosched: true,
        ..HostSchedule::default()
    };
    let mut m = lhp(ExecMode::HW_ASSIST);
    m.set_host_schedule(schedule).unwrap();
    m.run(40_000);
    let snap = m.snapshot();
    m.run(60_000);
    let (icount, eip) = (m.icount(), m.cpu().eip);
    let spin = m.spin_instructions_of(1);
    let mut other = lhp(ExecMode::HW_ASSIST);
    other.restore(&snap).unwrap();
    assert_eq!(other.host_schedule(), schedule);
    other.run(60_000);
    assert_eq!((other.icount(), other.cpu().eip), (icount, eip));
    assert_eq!(other.spin_instructions_of(1), spin);
    // a snapshot whose schedule the machine's mode cannot apply is refused
    let mut bare = lhp(ExecMode::Bare);
    let e = bare.restore(&snap).unwrap_err().to_string();
    assert!(e.contains("host schedule"), "{e}");
}
