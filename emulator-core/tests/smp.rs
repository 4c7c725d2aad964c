//! Several CPUs under the machine's scheduler: AP start-up through the MP table and
//! INIT/SIPI, a spinlock, LOCK XADD against a split read-modify-write, the APIC
//! timer and IPIs, reproducibility and snapshots.

mod common;

use std::collections::BTreeSet;

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};

const BUDGET: u64 = 20_000_000;

fn load(src: &str, cpus: u32, quantum: u64, defines: &[&str]) -> Machine {
    let bin = common::assemble(src, defines);
    let mut m = Machine::new(MachineConfig {
        cpus,
        quantum,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
    m
}

fn counting(cpus: u32, quantum: u64, iter: u32) -> Machine {
    load(
        "guests/smp/smp.asm",
        cpus,
        quantum,
        &[&format!("ITER={iter}")],
    )
}

fn output(m: &Machine) -> String {
    String::from_utf8_lossy(&m.serial_output()).into_owned()
}

/// The number printed after `label ` on its own line.
fn printed(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no `{label} N` line in:\n{out}"))
}

fn up_lines(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter(|l| l.ends_with(" up"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_cpu_comes_up_once_whatever_the_quantum() {
    for cpus in [1u32, 2, 4] {
        let want: BTreeSet<String> = (0..cpus).map(|i| format!("cpu {i} up")).collect();
        for quantum in [1u64, 7, 100, 5000] {
            let mut m = counting(cpus, quantum, 200);
            assert_eq!(
                m.run(BUDGET),
                StopReason::Halted,
                "{cpus} CPUs, q {quantum}"
            );
            let out = output(&m);
            assert_eq!(
                up_lines(&out),
                want,
                "{cpus} CPUs, quantum {quantum}:\n{out}"
            );
            assert_eq!(
                out.lines().filter(|l| l.ends_with(" up")).count(),
                cpus as usize,
                "each line once, none torn by the spinlock:\n{out}"
            );
            assert_eq!(m.cpu_count(), cpus as usize);
            for c in m.cpus() {
                assert!(c.state().halted && !c.apic().wait_for_sipi);
            }
        }
    }
}

#[test]
fn every_vmm_mode_brings_up_the_same_cpus() {
    for mode in ExecMode::ALL {
        for (cpus, quantum) in [(1u32, 10u64), (2, 7), (4, 100)] {
            let bin = common::assemble("guests/smp/smp.asm", &["ITER=100"]);
            let mut m = Machine::new(MachineConfig {
                cpus,
                quantum,
                mode,
                ..MachineConfig::default()
            })
            .unwrap();
            m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
            let what = format!("{} with {cpus} CPUs, quantum {quantum}", mode.name());
            assert_eq!(m.run(BUDGET), StopReason::Halted, "{what}");
            let out = output(&m);
            let want: BTreeSet<String> = (0..cpus).map(|i| format!("cpu {i} up")).collect();
            assert_eq!(up_lines(&out), want, "{what}:\n{out}");
            assert_eq!(printed(&out, "locked"), 100 * cpus as u64, "{what}");
        }
    }
}

#[test]
fn lock_xadd_is_exact_and_the_split_increment_loses_under_a_small_quantum() {
    // The interleaving is deterministic: a quantum that puts every CPU's three
    // instructions in one slice loses nothing (two CPUs with a quantum of 3 do);
    // these quanta split them.
    for cpus in [2u32, 4] {
        for quantum in [1u64, 5, 7, 11] {
            let mut m = counting(cpus, quantum, 500);
            assert_eq!(m.run(BUDGET), StopReason::Halted);
            let out = output(&m);
            let expected = printed(&out, "expected");
            assert_eq!(expected, cpus as u64 * 500);
            assert_eq!(printed(&out, "locked"), expected, "{out}");
            let unlocked = printed(&out, "unlocked");
            assert!(
                unlocked < expected,
                "{cpus} CPUs, quantum {quantum}: the split increment lost nothing:\n{out}"
            );
        }
    }
    // one CPU has no one to race with
    let mut m = counting(1, 1, 500);
    assert_eq!(m.run(BUDGET), StopReason::Halted);
    let out = output(&m);
    assert_eq!(printed(&out, "unlocked"), 500);
    assert_eq!(printed(&out, "locked"), 500);
}

#[test]
fn the_same_configuration_gives_the_same_run_however_the_budget_is_cut() {
    let mut whole = counting(4, 13, 300);
    assert_eq!(whole.run(BUDGET), StopReason::Halted);
    let mut again = counting(4, 13, 300);
    assert_eq!(again.run(BUDGET), StopReason::Halted);
    assert!(whole.snapshot() == again.snapshot(), "two runs differ");

    let mut pieces = counting(4, 13, 300);
    let mut stop = StopReason::BudgetExhausted;
    for _ in 0..10_000 {
        stop = pieces.run(997);
        if stop != StopReason::BudgetExhausted {
            break;
        }
    }
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(output(&pieces), output(&whole));
    assert_eq!(pieces.icount(), whole.icount());
    assert!(pieces.snapshot() == whole.snapshot(), "cut runs differ");

    let mut other = counting(4, 14, 300);
    assert_eq!(other.run(BUDGET), StopReason::Halted);
    assert_ne!(
        other.icount(),
        whole.icount(),
        "the quantum changes the interleaving"
    );
}

#[test]
fn a_snapshot_of_several_cpus_continues_exactly() {
    let mut whole = counting(4, 5, 300);
    assert_eq!(whole.run(BUDGET), StopReason::Halted);
    let mut m = counting(4, 5, 300);
    assert_eq!(m.run(whole.icount() / 2), StopReason::BudgetExhausted);
    let snap = m.snapshot();
    assert_eq!(snap.cpu_count(), 4);
    assert_eq!(m.run(BUDGET), StopReason::Halted);
    let want = (output(&m), m.snapshot());

    // into a machine built the same way, and into a one-CPU machine
    for cfg in [
        MachineConfig {
            cpus: 4,
            quantum: 5,
            ..MachineConfig::default()
        },
        MachineConfig::default(),
    ] {
        let mut r = Machine::new(cfg).unwrap();
        r.restore(&snap).unwrap();
        assert_eq!(r.cpu_count(), 4);
        assert_eq!(r.run(BUDGET), StopReason::Halted);
        assert_eq!(output(&r), want.0);
        assert!(r.snapshot() == want.1, "the restored run differs");
    }
    // through JSON
    let json = serde_json::to_string(&snap).unwrap();
    let back: emulator_core::Snapshot = serde_json::from_str(&json).unwrap();
    assert!(back == snap);

    // an edited snapshot with a quantum of 0 and too many CPUs still runs, bounded
    let mut v = serde_json::to_value(&snap).unwrap();
    v["config"]["quantum"] = 0.into();
    v["config"]["cpus"] = 1000.into();
    let bad: emulator_core::Snapshot = serde_json::from_value(v).unwrap();
    let mut r = Machine::new(MachineConfig::default()).unwrap();
    r.restore(&bad).unwrap();
    assert_eq!(r.config().quantum, 1);
    let stop = r.run(100_000);
    assert!(
        matches!(stop, StopReason::BudgetExhausted | StopReason::Halted),
        "{stop:?}"
    );
}

#[test]
fn the_periodic_apic_timer_fires_once_per_period() {
    for (cpus, period) in [(1u32, 5000u64), (2, 3000), (4, 777)] {
        let mut m = load(
            "guests/smp/apic.asm",
            cpus,
            50,
            &[&format!("PERIOD={period}"), "TICKS=20"],
        );
        assert_eq!(m.run(BUDGET), StopReason::Halted);
        let out = output(&m);
        assert_eq!(printed(&out, "ticks"), 20, "{out}");
        assert_eq!(
            m.cpu_at(0).unwrap().apic().timer_fired,
            20,
            "the APIC raised what the guest counted"
        );
        assert_eq!(
            printed(&out, "span"),
            19 * period,
            "{cpus} CPUs: 19 periods between the first and the last tick"
        );
    }
}

#[test]
fn the_pit_reaches_cpu_0_through_the_io_apic() {
    for cpus in [1u32, 2] {
        let mut m = load("guests/smp/apic.asm", cpus, 100, &["PIT_TICKS=10"]);
        assert_eq!(m.run(BUDGET), StopReason::Halted);
        let out = output(&m);
        assert_eq!(printed(&out, "pit ticks"), 10, "{out}");
        let io = m.platform().io_apic();
        assert_eq!(io.delivered, 10, "one message per PIT tick until masked");
        assert!(io.masked(2));
        // APIC timer ticks, PIT ticks, pings, and the last IPI on each AP
        let taken = 20 + 10 + 5 * cpus as u64 + (cpus as u64 - 1);
        assert_eq!(m.counters().irqs, taken, "{out}");
    }
}

#[test]
fn fixed_ipis_reach_the_cpu_they_name() {
    for cpus in [1u32, 2, 4] {
        for quantum in [1u64, 64] {
            let mut m = load("guests/smp/apic.asm", cpus, quantum, &["PINGS=5"]);
            assert_eq!(m.run(BUDGET), StopReason::Halted);
            let out = output(&m);
            for i in 0..cpus {
                assert_eq!(printed(&out, &format!("cpu {i} pings")), 5, "{out}");
            }
            let received: Vec<u64> = m.cpus().map(|c| c.apic().ipis_received).collect();
            let mut want = vec![5u64; cpus as usize];
            // the others also got the last IPI, which lets them halt
            for w in want.iter_mut().skip(1) {
                *w += 1;
            }
            assert_eq!(received, want, "{cpus} CPUs, quantum {quantum}");
            // the pings, the last IPI, and INIT and two SIPIs when there are APs
            let sent = 5 * cpus as u64 + 1 + if cpus > 1 { 3 } else { 0 };
            assert_eq!(m.counters().ipis, sent);
        }
    }
}

#[test]
fn a_store_by_one_cpu_drops_the_code_another_decoded() {
    for quantum in [1u64, 50, 1000] {
        for fast in [true, false] {
            let mut m = load("guests/smp/smc.asm", 2, quantum, &[]);
            m.set_fast_tier(fast);
            assert_eq!(m.run(BUDGET), StopReason::Halted, "quantum {quantum}");
            let out = output(&m);
            let calls = out
                .strip_prefix("patched after ")
                .and_then(|s| s.strip_suffix(" calls\n"))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{out}"));
            assert!(calls > 10, "CPU 0 ran the old code first ({calls} calls)");
            assert!(m.counters().decode_invalidations > 0);
        }
    }
}

#[test]
fn under_a_vmm_apic_accesses_eois_and_ipis_exit() {
    use emulator_core::vmm::ExitReason;
    for mode in [ExecMode::TRAP_EMULATE, ExecMode::HW_ASSIST] {
        let bin = common::assemble("guests/smp/apic.asm", &["PINGS=4"]);
        let mut m = Machine::new(MachineConfig {
            cpus: 2,
            quantum: 50,
            mode,
            ..MachineConfig::default()
        })
        .unwrap();
        m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
        assert_eq!(m.run(BUDGET), StopReason::Halted, "{}", mode.name());
        let out = output(&m);
        assert_eq!(printed(&out, "cpu 1 pings"), 4, "{out}");
        let exits = m.vmm().unwrap().stats().exits;
        // every handler ends its interrupt with one EOI write
        assert_eq!(
            exits.count(ExitReason::Eoi),
            m.counters().irqs,
            "{}",
            mode.name()
        );
        assert_eq!(exits.count(ExitReason::Ipi), m.counters().ipis);
        assert!(exits.count(ExitReason::ApicAccess) > 0);
        let logged = m
            .events()
            .iter()
            .filter(|e| {
                matches!(
                    &e.kind,
                    emulator_core::EventKind::VmExit {
                        reason: ExitReason::Eoi,
                        ..
                    }
                )
            })
            .count();
        assert!(logged > 0, "EOI exits are in the event ring");
    }
    // bare: no VMM, nothing exits
    let mut m = load("guests/smp/apic.asm", 2, 50, &["PINGS=4"]);
    assert_eq!(m.run(BUDGET), StopReason::Halted);
    assert!(m.vmm().is_none());
}

/// The APIC guest under hw-assist, with or without APIC virtualization: its
/// output, the exits by reason, and the interrupts taken.
fn apic_under_hw_assist(apicv: bool) -> (String, emulator_core::vmm::ExitCounters, u64) {
    let bin = common::assemble("guests/smp/apic.asm", &["PINGS=4"]);
    let mut m = Machine::new(MachineConfig {
        cpus: 2,
        quantum: 50,
        mode: ExecMode::HW_ASSIST,
        ..MachineConfig::default()
    })
    .unwrap();
    m.vmm_mut().unwrap().controls.apic_virtualization = apicv;
    m.load_flat(0x8000, &bin, FlatEntry::Protected32).unwrap();
    assert_eq!(m.run(BUDGET), StopReason::Halted);
    let exits = m.vmm().unwrap().stats().exits;
    (output(&m), exits, m.counters().irqs)
}

#[test]
fn posted_interrupts_remove_the_apic_and_eoi_exits() {
    use emulator_core::vmm::ExitReason;
    let (out_exit, exiting, irqs) = apic_under_hw_assist(false);
    let (out_posted, posted, irqs_posted) = apic_under_hw_assist(true);
    assert_eq!(out_exit, out_posted, "the guest cannot tell");
    assert_eq!(irqs, irqs_posted);
    for r in [ExitReason::Eoi, ExitReason::ApicAccess] {
        assert!(exiting.count(r) > 0, "{}", r.name());
        assert_eq!(posted.count(r), 0, "{}", r.name());
    }
    assert_eq!(
        posted.count(ExitReason::Ipi),
        exiting.count(ExitReason::Ipi)
    );
    // every interrupt came from an APIC (the 8259 is masked): each exited before
    let apic_work = |e: &emulator_core::vmm::ExitCounters| {
        e.count(ExitReason::ExternalInterrupt) + e.count(ExitReason::Eoi)
    };
    assert_eq!(apic_work(&exiting), 2 * irqs);
    assert_eq!(apic_work(&posted), 0);
    let per = |e: &emulator_core::vmm::ExitCounters| e.total as f64 / irqs as f64;
    println!(
        "exits per interrupt: {:.2} exiting, {:.2} posted (factor {:.1})",
        per(&exiting),
        per(&posted),
        per(&exiting) / per(&posted)
    );
    assert!(per(&posted) < per(&exiting));
}

#[test]
fn a_bad_configuration_is_an_error() {
    for (cpus, quantum) in [(0u32, 10u64), (16, 10), (2, 0)] {
        let err = Machine::new(MachineConfig {
            cpus,
            quantum,
            ..MachineConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("cpus"), "{err}");
    }
}
