//! Each vCPU's time stamp counter: the guest's TSC synchronization check bare, under
//! each VMM with the host keeping the counters in step, and finding the warp when the
//! host lets a time-sliced vCPU's counter stop (`smp_kernel.rs` checks it against nasm).

mod common;

use emulator_core::smp::TscPolicy;
use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};

const BUDGET: u64 = 30_000_000;
const LOOPS: u64 = 400;
const SLICE: u64 = 2000;

/// The check's lines: (checks, warps, max warp, verdict).
struct Verdict {
    checks: u64,
    warps: u64,
    max_warp: u64,
    last: String,
}

fn number(out: &str, prefix: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{out}"))
}

fn run(
    mode: ExecMode,
    cpus: u32,
    slice: u64,
    cosched: bool,
    policy: TscPolicy,
) -> (Machine, Verdict) {
    let mut m = common::smp_under_host(
        "guests/smp/tsc_sync.asm",
        mode,
        cpus,
        (slice, cosched),
        policy,
    );
    let stop = m.run(BUDGET);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(stop, StopReason::Halted, "{out}");
    let v = Verdict {
        checks: number(&out, "tsc checks "),
        warps: number(&out, "tsc warps "),
        max_warp: number(&out, "max warp "),
        last: out.lines().last().unwrap_or_default().to_string(),
    };
    assert_eq!(v.checks, LOOPS * u64::from(cpus), "{out}");
    (m, v)
}

fn assert_synchronized(v: &Verdict, what: &str) {
    assert_eq!(
        (v.warps, v.max_warp, v.last.as_str()),
        (0, 0, "TSC synchronized"),
        "{what}"
    );
}

#[test]
fn the_bare_machine_keeps_every_cpus_tsc_in_step() {
    for cpus in [1, 2, 4] {
        let (m, v) = run(ExecMode::Bare, cpus, 0, false, TscPolicy::Sync);
        assert_synchronized(&v, &format!("bare, {cpus} CPUs"));
        let now = m.cpu().tsc;
        for i in 0..cpus as usize {
            let t = m.tsc_of(i).unwrap();
            assert_eq!((t.tsc, t.offset), (now, 0), "bare CPU {i}");
        }
        assert_eq!(m.tsc_drift(), 0);
    }
}

#[test]
fn a_vmm_that_keeps_the_offsets_equal_passes_the_check_under_a_host_slice() {
    for mode in [ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let (m, v) = run(mode, 4, SLICE, false, TscPolicy::Sync);
        assert_synchronized(&v, &format!("{mode:?}, sync"));
        assert!((0..4).all(|i| m.tsc_of(i).unwrap().offset == 0));
        assert_eq!(m.tsc_drift(), 0);
    }
}

#[test]
fn a_time_sliced_vcpus_stopped_tsc_warps_and_the_check_finds_it() {
    for mode in [ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let (m, v) = run(mode, 4, SLICE, false, TscPolicy::Drift);
        let what = format!("{mode:?}, drift");
        assert!(v.warps > 0 && v.max_warp > 0, "{what}");
        assert_eq!(
            v.last,
            format!("TSC unsynchronized, warp {}", v.max_warp),
            "{what}"
        );
        // every vCPU was off while the others ran their slices: its offset is the
        // time it was off, negated; a warp between two vCPUs is at most the time the
        // later reader was off
        let views: Vec<_> = (0..4).map(|i| m.tsc_of(i).unwrap()).collect();
        assert!(views.iter().all(|t| t.offset < 0), "{what}: {views:?}");
        let most_off = views.iter().map(|t| t.offset.unsigned_abs()).max().unwrap();
        assert!(
            v.max_warp <= most_off,
            "{what}: {} > {most_off}",
            v.max_warp
        );
        assert!(v.max_warp >= SLICE / 2, "{what}: a warp of about a slice");
        let tscs: Vec<u64> = views.iter().map(|t| t.tsc).collect();
        let drift = tscs.iter().max().unwrap() - tscs.iter().min().unwrap();
        assert_eq!(m.tsc_drift(), drift, "{what}");
        assert!(drift > 0, "{what}");
        // and the run is reproducible
        let (again, w) = run(mode, 4, SLICE, false, TscPolicy::Drift);
        assert_eq!((w.warps, w.max_warp), (v.warps, v.max_warp), "{what}");
        assert_eq!(again.tsc_drift(), drift, "{what}");
    }
}

#[test]
fn without_time_slicing_or_with_coscheduling_drift_leaves_the_counters_in_step() {
    // the vCPUs interleave as on as many physical CPUs: none is ever off
    let (m, v) = run(ExecMode::HW_ASSIST, 4, 0, false, TscPolicy::Drift);
    assert_synchronized(&v, "drift, no host slice");
    assert_eq!(m.tsc_drift(), 0);
    // co-scheduled vCPUs are off together: their counters stop together
    let (m, v) = run(ExecMode::HW_ASSIST, 4, SLICE, true, TscPolicy::Drift);
    assert_synchronized(&v, "drift, co-scheduled");
    let offsets: Vec<i64> = (0..4).map(|i| m.tsc_of(i).unwrap().offset).collect();
    assert!(offsets[0] < 0, "the VM was off: {offsets:?}");
    assert!(offsets.iter().all(|&o| o == offsets[0]), "{offsets:?}");
    assert_eq!(m.tsc_drift(), 0);
}

#[test]
fn a_drifting_tsc_is_refused_on_the_bare_machine() {
    let mut m = Machine::new(MachineConfig {
        cpus: 2,
        ..MachineConfig::default()
    })
    .unwrap();
    let e = m.set_tsc_policy(TscPolicy::Drift).unwrap_err();
    assert!(e.to_string().contains("only under a VMM"), "{e}");
    m.set_tsc_policy(TscPolicy::Sync).unwrap();
    assert_eq!("drift".parse::<TscPolicy>().unwrap(), TscPolicy::Drift);
    assert!("later".parse::<TscPolicy>().is_err());
}
