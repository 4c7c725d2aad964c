//! Each vCPU's APIC timer on its own virtual time: under `drift` a time-sliced vCPU's
//! timer stands still while the host has it off, so it counts fewer ticks for the same
//! work; under `sync`, and on the bare machine, every timer counts the machine's clock.
//! The guest's own TSC reading is the oracle: ticks match its span over the period.

mod common;

use emulator_core::smp::TscPolicy;
use emulator_core::{ExecMode, Machine, StopReason};

const BUDGET: u64 = 20_000_000;
const PERIOD: u64 = 8000;
const SLICE: u64 = 2000;
const CPUS: usize = 4;

/// One CPU's line: (ticks, span).
fn lines(out: &str) -> Vec<(u64, u64)> {
    (0..CPUS)
        .map(|i| {
            let l = out
                .lines()
                .find_map(|l| l.strip_prefix(&format!("cpu {i} ticks ")))
                .unwrap_or_else(|| panic!("no line for CPU {i} in:\n{out}"));
            let (t, s) = l.split_once(" span ").expect("ticks K span S");
            (t.parse().unwrap(), s.parse().unwrap())
        })
        .collect()
}

fn run(mode: ExecMode, slice: u64, policy: TscPolicy) -> (Machine, Vec<(u64, u64)>) {
    let mut m = common::smp_under_host(
        "guests/smp/apic_ticks.asm",
        mode,
        CPUS as u32,
        (slice, false),
        policy,
    );
    let stop = m.run(BUDGET);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(stop, StopReason::Halted, "{out}");
    let per_cpu = lines(&out);
    // the guest counted what each APIC raised
    for (i, &(ticks, _)) in per_cpu.iter().enumerate() {
        assert_eq!(ticks, m.cpu_at(i).unwrap().apic().timer_fired, "CPU {i}");
    }
    (m, per_cpu)
}

/// Each CPU's timer and the TSC it read count the same time: ticks = span / PERIOD
/// (give or take the expiry in flight when it masked the timer).
fn assert_ticks_follow_span(per_cpu: &[(u64, u64)], what: &str) {
    for (i, &(ticks, span)) in per_cpu.iter().enumerate() {
        let expect = span / PERIOD;
        assert!(
            ticks.abs_diff(expect) <= 1 && ticks > 0,
            "{what}, CPU {i}: {ticks} ticks over {span} (expected about {expect})"
        );
    }
}

#[test]
fn the_guest_matches_nasm() {
    let ours = common::assemble("guests/smp/apic_ticks.asm", &[]);
    let dir = common::root().join("guests/smp");
    let out = std::env::temp_dir().join(format!("apic_ticks_{}.bin", std::process::id()));
    let st = std::process::Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg(format!("-I{}/", dir.display()))
        .arg(format!(
            "-I{}/",
            common::root().join("guests/include").display()
        ))
        .arg("-o")
        .arg(&out)
        .arg(dir.join("apic_ticks.asm"))
        .status()
        .expect("nasm runs (the reference assembler for vmlab's guests)");
    assert!(st.success());
    let theirs = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(ours, theirs, "vmlab-asm against nasm");
}

#[test]
fn without_a_host_slice_every_timer_counts_the_same_time() {
    for (mode, policy) in [
        (ExecMode::Bare, TscPolicy::Sync),
        (ExecMode::HW_ASSIST, TscPolicy::Sync),
        (ExecMode::HW_ASSIST, TscPolicy::Drift),
    ] {
        let (_, per_cpu) = run(mode, 0, policy);
        assert_ticks_follow_span(&per_cpu, &format!("{mode:?}, {}", policy.name()));
    }
}

#[test]
fn a_preempted_vcpus_timer_stands_still_under_drift_and_counts_the_machines_clock_under_sync() {
    for mode in [ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let (_, sync) = run(mode, SLICE, TscPolicy::Sync);
        let (m, drift) = run(mode, SLICE, TscPolicy::Drift);
        let what = format!("{mode:?}");
        // each timer counts what its CPU's TSC counts: the machine's clock under
        // sync (the other vCPUs' slices included), the vCPU's own time under drift
        assert_ticks_follow_span(&sync, &format!("{what}, sync"));
        assert_ticks_follow_span(&drift, &format!("{what}, drift"));
        // the same work, fewer ticks: every vCPU was off while the others ran
        for i in 0..CPUS {
            assert!(
                drift[i].0 < sync[i].0 && drift[i].1 < sync[i].1,
                "{what}, CPU {i}: drift {:?} against sync {:?}",
                drift[i],
                sync[i]
            );
        }
        let total = |v: &[(u64, u64)]| v.iter().map(|t| t.0).sum::<u64>();
        assert!(
            total(&drift) * 2 < total(&sync),
            "{what}: {drift:?} against {sync:?}"
        );
        assert!(m.tsc_drift() > 0, "{what}");
        // and the run is reproducible
        let (_, again) = run(mode, SLICE, TscPolicy::Drift);
        assert_eq!(again, drift, "{what}");
    }
}
