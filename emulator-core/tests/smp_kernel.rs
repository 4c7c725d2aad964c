//! The SMP teaching kernel (run queue, reschedule IPIs, TLB shootdowns) bare and
//! under every VMM mode, and lock-holder preemption with its cures (a host slice per
//! vCPU, pause-loop exiting, co-scheduling).

mod common;

use std::collections::BTreeSet;

use emulator_core::smp::{HostSchedule, DEFAULT_PLE_WINDOW};
use emulator_core::vmm::ExitReason;
use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};

const BUDGET: u64 = 20_000_000;
const NPROC: u32 = 6;
const LINES: u32 = 3;

fn machine(src: &str, mode: ExecMode, cpus: u32, quantum: u64, defines: &[&str]) -> Machine {
    let bin = common::assemble(src, defines);
    let mut m = Machine::new(MachineConfig {
        mode,
        cpus,
        quantum,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
    m
}

fn output(m: &Machine) -> String {
    String::from_utf8_lossy(&m.serial_output()).into_owned()
}

/// Checks one run of the kernel against what its header promises.
fn check_kernel_run(m: &mut Machine, cpus: u32, what: &str) {
    let stop = m.run(BUDGET);
    let out = output(m);
    assert_eq!(stop, StopReason::DebugExit(0), "{what}:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"vmlab smp kernel"), "{what}:\n{out}");
    let summary = format!(
        "kernel: all {NPROC} processes exited, {} lines, {NPROC} pages shot down",
        NPROC * LINES
    );
    assert_eq!(lines.last(), Some(&summary.as_str()), "{what}:\n{out}");
    // a "cpu" line per CPU, each once
    let up: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("cpu"))
        .collect();
    let want_up: BTreeSet<String> = (0..cpus).map(|i| format!("cpu {i} up")).collect();
    assert_eq!(up.len(), cpus as usize, "{what}:\n{out}");
    assert_eq!(
        up.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        want_up,
        "{what}"
    );
    // every process line once, each process's own lines in order
    let procs: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .copied()
        .filter(|l| !l.starts_with("cpu"))
        .collect();
    let mut want = Vec::new();
    for p in 0..NPROC {
        let own: Vec<&str> = procs
            .iter()
            .copied()
            .filter(|l| l.starts_with(&format!("process {p} ")))
            .collect();
        let expect: Vec<String> = (1..=LINES)
            .map(|k| format!("process {p} line {k}"))
            .collect();
        assert_eq!(own, expect, "{what}: process {p}'s lines in order:\n{out}");
        want.extend(expect);
    }
    assert_eq!(procs.len(), want.len(), "{what}: no other lines:\n{out}");
    // each exit shot the page down on every other CPU, which then has no copy
    assert_eq!(
        m.counters().shootdowns,
        u64::from(NPROC * (cpus - 1)),
        "{what}"
    );
    for (i, c) in m.cpus().enumerate() {
        let stale: Vec<_> = c
            .tlb_entries()
            .into_iter()
            .filter(|e| (0x40_0000..0x40_0000 + NPROC * 0x1000).contains(&e.linear_page))
            .collect();
        assert!(stale.is_empty(), "{what}: CPU {i} still caches {stale:?}");
    }
}

#[test]
fn the_smp_kernel_prints_the_same_lines_bare_and_under_every_vmm() {
    for mode in ExecMode::ALL {
        for cpus in [1u32, 2, 4] {
            for quantum in [1u64, 37, 1000] {
                let mut m = machine("guests/smp/kernel.asm", mode, cpus, quantum, &[]);
                let what = format!("{} with {cpus} CPUs, quantum {quantum}", mode.name());
                check_kernel_run(&mut m, cpus, &what);
                if mode != ExecMode::Bare {
                    let v = m.vmm().unwrap();
                    // the timer's EOIs are exits: the VMM emulates the local APIC
                    assert!(v.exits.count(ExitReason::Eoi) > 0, "{what}");
                    if cpus > 1 {
                        assert!(v.exits.count(ExitReason::Ipi) > 0, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_smp_kernel_runs_processes_on_every_cpu_and_sends_ipis() {
    let mut m = machine("guests/smp/kernel.asm", ExecMode::Bare, 4, 50, &[]);
    check_kernel_run(&mut m, 4, "bare, 4 CPUs");
    for (i, c) in m.cpus().enumerate() {
        // each CPU ran more than its start-up: it took processes from the queue
        assert!(c.retired() > 2_000, "CPU {i} retired only {}", c.retired());
    }
    // the shootdowns (6 to 3 CPUs) and some reschedule IPIs
    assert!(
        m.counters().ipis > u64::from(NPROC),
        "{}",
        m.counters().ipis
    );
}

/// The lock-holder-preemption workload on 4 vCPUs under hardware assistance.
fn lhp(schedule: Option<HostSchedule>) -> Machine {
    let mut m = machine("guests/smp/lhp.asm", ExecMode::HW_ASSIST, 4, 20, &[]);
    if let Some(s) = schedule {
        m.set_host_schedule(s).unwrap();
    }
    assert_eq!(m.run(BUDGET), StopReason::Halted);
    let out = output(&m);
    assert!(
        out.contains("rounds 1200\n") && out.contains("expected 1200\n"),
        "{out}"
    );
    m
}

#[test]
fn a_host_slice_preempts_lock_holders_and_ple_and_coscheduling_cure_it() {
    let slice = 5000;
    let together = lhp(None).counters().spin_instructions;
    let sliced = lhp(Some(HostSchedule {
        slice,
        ..HostSchedule::default()
    }));
    let preempted = sliced.counters().spin_instructions;
    assert_eq!(sliced.vmm().unwrap().exits.count(ExitReason::PauseLoop), 0);
    let ple = lhp(Some(HostSchedule {
        slice,
        ple_window: DEFAULT_PLE_WINDOW,
        ..HostSchedule::default()
    }));
    let cosched = lhp(Some(HostSchedule {
        slice,
        cosched: true,
        ..HostSchedule::default()
    }));
    let (ple_spin, co_spin) = (
        ple.counters().spin_instructions,
        cosched.counters().spin_instructions,
    );
    assert!(
        preempted > 10 * together.max(1),
        "time-sliced vCPUs spin much longer: {preempted} against {together}"
    );
    assert!(
        ple_spin * 2 < preempted,
        "pause-loop exiting cuts the spinning: {ple_spin} against {preempted}"
    );
    assert!(ple.vmm().unwrap().exits.count(ExitReason::PauseLoop) > 0);
    assert!(
        co_spin * 10 < preempted,
        "co-scheduling cuts the spinning: {co_spin} against {preempted}"
    );
}

#[test]
fn the_host_schedule_is_refused_where_it_cannot_apply() {
    let mut bare = machine("guests/smp/lhp.asm", ExecMode::Bare, 2, 20, &[]);
    let e = bare
        .set_host_schedule(HostSchedule {
            slice: 100,
            ..HostSchedule::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("only under a VMM"), "{e}");
    let mut te = machine("guests/smp/lhp.asm", ExecMode::TRAP_EMULATE, 2, 20, &[]);
    let e = te
        .set_host_schedule(HostSchedule {
            slice: 100,
            ple_window: 10,
            ..HostSchedule::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("hw-assist"), "{e}");
    let e = te
        .set_host_schedule(HostSchedule {
            cosched: true,
            ..HostSchedule::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("host slice"), "{e}");
}

#[test]
fn nasm_assembles_the_smp_guests_to_the_same_bytes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for src in [
        "guests/smp/kernel.asm",
        "guests/smp/lhp.asm",
        "guests/smp/tsc_sync.asm",
    ] {
        let out = std::env::temp_dir().join(format!(
            "vmlab-smp-kernel-{}-{}.bin",
            std::process::id(),
            src.replace('/', "-")
        ));
        let st = std::process::Command::new("nasm")
            .args(["-f", "bin", "-I"])
            .arg(root.join("guests/smp/"))
            .arg("-I")
            .arg(root.join("guests/include/"))
            .arg("-o")
            .arg(&out)
            .arg(root.join(src))
            .status()
            .expect("nasm runs (the reference assembler for vmlab's guests)");
        assert!(st.success(), "nasm {src}");
        let want = std::fs::read(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        assert_eq!(
            common::assemble(src, &[]),
            want,
            "{src}: vmlab-asm against nasm"
        );
    }
}
