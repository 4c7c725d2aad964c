//! `vmlab run --cpus N --quantum Q`: the SMP guest built by `vmlab asm`, run from the
//! command line, with the per-CPU `--json` report.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vmlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("the vmlab binary runs")
}

/// `guests/smp/<name>.asm` assembled by `vmlab asm` with the shared includes.
fn guest(name: &str, define: &str) -> String {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("smp-cli-{name}.bin"));
    let src = root().join("guests/smp").join(format!("{name}.asm"));
    let inc = root().join("guests/include");
    let o = vmlab(&[
        "asm",
        src.to_str().unwrap(),
        "-I",
        inc.to_str().unwrap(),
        "-D",
        define,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.display().to_string()
}

/// `vmlab run --json` of `bin` on `cpus` CPUs; `mode` and `extra` add options.
fn run_json(
    bin: &str,
    cpus: &str,
    quantum: &str,
    mode: &[&str],
    extra: &[&str],
) -> (Value, String) {
    let mut args = vec!["run", "--flat", "0x8000", bin, "--entry", "pm32", "--json"];
    args.extend_from_slice(&["--cpus", cpus, "--quantum", quantum]);
    args.extend_from_slice(mode);
    args.extend_from_slice(extra);
    let o = vmlab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = serde_json::from_slice(&o.stdout).expect("a JSON report");
    (report, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn every_cpu_is_in_the_report() {
    let bin = guest("smp", "ITER=300");
    let (r, console) = run_json(&bin, "4", "7", &[], &[]);
    assert_eq!(r["stop"], "halted");
    assert_eq!(r["quantum"], 7);
    let cpus = r["cpus"].as_array().expect("cpus");
    assert_eq!(cpus.len(), 4);
    let mut total = 0;
    for (i, c) in cpus.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["apic"]["id"], i);
        assert_eq!(c["halted"], true);
        assert_eq!(c["wait_for_sipi"], false, "CPU {i} was started");
        assert_eq!(c["apic"]["enabled"], i == 0, "only CPU 0 enables its APIC");
        assert!(
            c["instructions"].as_u64().unwrap() > 300 * 7,
            "CPU {i} counted"
        );
        assert!(console.contains(&format!("cpu {i} up\n")), "{console}");
        total += c["instructions"].as_u64().unwrap();
    }
    assert_eq!(total, r["instructions"].as_u64().unwrap());
    assert!(console.contains("locked 1200\n"), "{console}");
    // INIT, two SIPIs
    assert_eq!(r["counters"]["ipis"], 3);
}

#[test]
fn the_apic_timer_and_ipis_are_in_the_report() {
    let bin = guest("apic", "PINGS=3");
    let (one, _) = run_json(&bin, "1", "1000", &[], &[]);
    assert_eq!(one["cpus"].as_array().map(Vec::len), Some(1));
    let timer = &one["cpus"][0]["apic"]["timer"];
    // the guest masked it after its ticks
    assert_eq!(timer["masked"], true);
    assert_eq!(timer["vector"], 0x40);
    assert_eq!(timer["divisor"], 1);
    assert_eq!(timer["fired"], 20);

    let (two, console) = run_json(&bin, "2", "50", &[], &[]);
    assert!(console.contains("cpu 1 pings 3\n"), "{console}");
    assert_eq!(two["cpus"][1]["apic"]["ipis_received"], 4);

    let bad = vmlab(&["run", "--flat", "0x8000", &bin, "--cpus", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn apicv_removes_the_eoi_exits_under_hw_assist() {
    let bin = guest("apic", "PINGS=2");
    let exits = |extra: &[&str]| {
        let (r, _) = run_json(&bin, "2", "1000", &["--mode", "hw-assist"], extra);
        r["vmm"]["exits"]["by_reason"].clone()
    };
    let exiting = exits(&[]);
    let posted = exits(&["--apicv"]);
    assert!(exiting["eoi"].as_u64().unwrap() > 0, "{exiting}");
    assert!(exiting["apic-access"].as_u64().unwrap() > 0, "{exiting}");
    assert!(posted.get("eoi").is_none(), "{posted}");
    assert_eq!(posted["ipi"], exiting["ipi"]);

    let bare = vmlab(&[
        "run", "--flat", "0x8000", &bin, "--entry", "pm32", "--apicv",
    ]);
    assert_eq!(bare.status.code(), Some(2));
}

#[test]
fn host_slice_ple_and_cosched_change_the_spin_time() {
    let bin = guest("lhp", "ROUNDS=300");
    let spin = |extra: &[&str]| {
        let (r, console) = run_json(&bin, "4", "20", &["--mode", "hw-assist"], extra);
        assert!(console.contains("rounds 1200\n"), "{console}");
        (
            r["counters"]["spin_instructions"].as_u64().unwrap(),
            r["vmm"]["exits"]["by_reason"]["pause-loop"]
                .as_u64()
                .unwrap_or(0),
        )
    };
    let (sliced, no_exits) = spin(&["--host-slice", "5000"]);
    let (ple, pause_loop_exits) = spin(&["--host-slice", "5000", "--ple"]);
    let (cosched, _) = spin(&["--host-slice", "5000", "--cosched"]);
    assert_eq!(no_exits, 0);
    assert!(pause_loop_exits > 0);
    assert!(ple * 2 < sliced, "--ple: {ple} against {sliced}");
    assert!(
        cosched * 10 < sliced,
        "--cosched: {cosched} against {sliced}"
    );

    let refused = vmlab(&[
        "run",
        "--flat",
        "0x8000",
        &bin,
        "--entry",
        "pm32",
        "--cpus",
        "2",
        "--mode",
        "trap-emulate",
        "--ple",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("hw-assist"));
}

#[test]
fn the_smp_kernel_reports_its_shootdowns() {
    let bin = guest("kernel", "LINES=2");
    for mode in ["trap-emulate", "hw-assist"] {
        let (r, console) = run_json(&bin, "4", "100", &["--mode", mode], &[]);
        assert!(
            console.contains("kernel: all 6 processes exited, 12 lines, 6 pages shot down"),
            "{console}"
        );
        // each of the 6 unmaps reached the 3 other CPUs
        assert_eq!(r["counters"]["shootdowns"], 18, "{mode}");
    }
}

/// `cpus[].tsc.value` of a report.
fn tscs(r: &Value) -> Vec<u64> {
    r["cpus"]
        .as_array()
        .expect("cpus")
        .iter()
        .map(|c| c["tsc"]["value"].as_u64().expect("cpus[].tsc.value"))
        .collect()
}

#[test]
fn the_tsc_check_passes_in_sync_and_finds_the_warp_of_a_drifting_tsc() {
    let bin = guest("tsc_sync", "LOOPS=300");
    let hw = ["--mode", "hw-assist"];
    let (sync, console) = run_json(&bin, "4", "20", &hw, &["--host-slice", "2000"]);
    assert!(console.contains("tsc checks 1200\n"), "{console}");
    assert!(console.ends_with("TSC synchronized\n"), "{console}");
    assert_eq!(sync["tsc"]["policy"], "sync");
    assert_eq!(sync["tsc"]["drift"], 0);
    for c in sync["cpus"].as_array().unwrap() {
        assert_eq!(c["tsc"]["offset"], 0);
    }
    let t = tscs(&sync);
    assert!(t.iter().all(|&v| v == t[0]), "{t:?}");

    let drift_args = ["--host-slice", "2000", "--tsc", "drift"];
    let (drift, console) = run_json(&bin, "4", "20", &hw, &drift_args);
    let warp: u64 = console
        .lines()
        .find_map(|l| l.strip_prefix("TSC unsynchronized, warp "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a warp:\n{console}"));
    assert_eq!(drift["tsc"]["policy"], "drift");
    let t = tscs(&drift);
    let spread = t.iter().max().unwrap() - t.iter().min().unwrap();
    assert_eq!(drift["tsc"]["drift"], spread);
    assert!(spread > 0, "{t:?}");
    let offsets: Vec<i64> = drift["cpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tsc"]["offset"].as_i64().unwrap())
        .collect();
    assert!(offsets.iter().all(|&o| o < 0), "{offsets:?}");
    let most_off = offsets.iter().map(|o| o.unsigned_abs()).max().unwrap();
    assert!(
        warp > 0 && warp <= most_off,
        "warp {warp}, offsets {offsets:?}"
    );

    // the text report shows each CPU's counter and the same drift
    let mut args = vec!["run", "--flat", "0x8000", &bin, "--entry", "pm32"];
    args.extend_from_slice(&["--cpus", "4", "--quantum", "20"]);
    args.extend_from_slice(&hw);
    args.extend_from_slice(&drift_args);
    let text = vmlab(&args);
    let err = String::from_utf8_lossy(&text.stderr);
    assert!(err.contains("tsc (drift): cpu 0 "), "{err}");
    assert!(err.contains(&format!("; drift {spread} ticks")), "{err}");

    let bare = vmlab(&[
        "run", "--flat", "0x8000", &bin, "--entry", "pm32", "--cpus", "2", "--tsc", "drift",
    ]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--tsc: "));
}

/// The guest's "cpu N ticks K" lines.
fn guest_ticks(console: &str, cpus: usize) -> Vec<u64> {
    (0..cpus)
        .map(|i| {
            console
                .lines()
                .find_map(|l| l.strip_prefix(&format!("cpu {i} ticks ")))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no ticks for CPU {i}:\n{console}"))
        })
        .collect()
}

#[test]
fn each_cpus_apic_timer_ticks_are_in_the_report_and_fewer_for_a_preempted_vcpu_under_drift() {
    let bin = guest("apic_ticks", "ITERS=50000");
    let hw = ["--mode", "hw-assist"];
    let ticks_of = |r: &Value| -> Vec<u64> {
        r["cpus"]
            .as_array()
            .expect("cpus")
            .iter()
            .map(|c| {
                c["tsc"]["apic_timer_ticks"]
                    .as_u64()
                    .expect("apic_timer_ticks")
            })
            .collect()
    };
    let (sync, console) = run_json(&bin, "4", "20", &hw, &["--host-slice", "2000"]);
    let sync_ticks = ticks_of(&sync);
    assert_eq!(
        sync_ticks,
        guest_ticks(&console, 4),
        "what the guest counted"
    );
    let drift_args = ["--host-slice", "2000", "--tsc", "drift"];
    let (drift, console) = run_json(&bin, "4", "20", &hw, &drift_args);
    let drift_ticks = ticks_of(&drift);
    assert_eq!(
        drift_ticks,
        guest_ticks(&console, 4),
        "what the guest counted"
    );
    for i in 0..4 {
        assert!(
            drift_ticks[i] > 0 && drift_ticks[i] < sync_ticks[i],
            "CPU {i}: drift {drift_ticks:?}, sync {sync_ticks:?}"
        );
    }
}
