//! `vmlab run --mode … --json` under a VMM: the report carries the exits by
//! reason, the shadow or nested statistics and the Popek–Goldberg reports.

use std::path::PathBuf;
use std::process::Command;

fn guest(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("guests")
        .join(format!("{path}.asm"))
}

/// Builds a guest ROM with `vmlab asm` (the project's assembler), under the target
/// directory's scratch space.
fn build(path: &str) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "vmlab-vmm-run-{}-{}.rom",
        path.replace('/', "-"),
        std::process::id()
    ));
    let st = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("asm")
        .arg(guest(path))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("vmlab asm runs");
    assert!(st.success(), "vmlab asm {path}");
    out
}

fn report(rom: &PathBuf, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("run")
        .arg("--rom")
        .arg(rom)
        .args(args)
        .arg("--json")
        .output()
        .expect("vmlab run runs");
    serde_json::from_slice(&out.stdout).expect("a JSON report on stdout")
}

#[test]
fn json_report_has_the_vmm_records() {
    let popf = build("vmm/popf");
    let bare = report(&popf, &[]);
    assert!(bare["vmm"].is_null(), "no VMM when bare");

    let te = report(&popf, &["--mode", "trap-emulate"]);
    // The guest kernel runs in ring 1 and believes it runs in ring 0.
    assert_eq!(te["host"]["cpl"], 1);
    assert_eq!(te["guest"]["cpl"], 0);
    assert_eq!(te["mode"], "trap-emulate");
    assert_eq!(te["guest_ring"], 1);
    let vmm = &te["vmm"];
    assert_eq!(vmm["mode"], "trap-emulate");
    assert_eq!(vmm["exits"]["by_reason"]["interrupt-flag"], 2);
    assert!(vmm["exits"]["cycles"].as_u64().unwrap_or(0) > 0);
    assert!(vmm["shadow"].is_object());
    let pg = vmm["popek_goldberg"].as_array().expect("reports");
    assert!(pg
        .iter()
        .any(|r| r["instruction"] == "popfd" && r["differs"] == true));

    let kernel = build("kernel/kernel");
    let te = report(&kernel, &["--mode", "trap-emulate"]);
    assert_eq!(te["vmm"]["shadow"]["true_faults"], 4);
    assert!(te["vmm"]["shadow"]["hidden_faults"].as_u64().unwrap_or(0) > 4);
    let r3 = report(&kernel, &["--mode", "trap-emulate", "--guest-ring", "3"]);
    assert_eq!(r3["vmm"]["shadow"]["true_faults"], 4);
    assert!(r3["vmm"]["shadow"]["root_switches"].as_u64().unwrap_or(0) >= 12);
    assert_eq!(te["vmm"]["shadow"]["root_switches"], 0);
    let hw = report(&kernel, &["--mode", "hw-assist", "--paging", "nested"]);
    assert_eq!(hw["vmm"]["mode"], "hw-assist");
    assert!(hw["vmm"]["nested"]["walks"].as_u64().unwrap_or(0) > 0);
    assert!(
        hw["vmm"]["exits"]["by_reason"]["cr3-write"]
            .as_u64()
            .unwrap_or(0)
            >= 3
    );
    let hs = report(&kernel, &["--mode", "hw-assist", "--paging", "shadow"]);
    assert!(hs["vmm"]["shadow"]["hidden_faults"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn text_mode_ends_with_a_vmm_summary() {
    let popf = build("vmm/popf");
    let run = |mode: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
            .arg("run")
            .arg("--rom")
            .arg(&popf)
            .args(["--mode", mode])
            .output()
            .expect("vmlab run runs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let te = run("trap-emulate");
    assert!(te.contains("vmm trap-emulate: "), "{te}");
    assert!(te.contains("interrupt-flag 2"), "{te}");
    assert!(te.contains("Popek–Goldberg: 3 sensitive"), "{te}");
    assert!(te.contains("popfd: saw IF stays 0"), "{te}");
    let bare = run("bare");
    assert!(!bare.contains("vmm ") && !bare.contains("Popek"), "{bare}");
    let _ = std::fs::remove_file(popf);
}

#[test]
fn tlb_flag_flushes_on_exits_and_the_report_counts_the_cost() {
    let kernel = build("kernel/kernel");
    for mode in ["trap-emulate", "hw-assist", "hw-assist-shadow"] {
        let tagged = report(&kernel, &["--mode", mode, "--tlb", "tagged"]);
        let flush = report(&kernel, &["--mode", mode, "--tlb", "flush"]);
        assert_eq!(tagged["vmm"]["tlb"]["tagging"], "tagged", "{mode}");
        assert_eq!(tagged["vmm"]["tlb"]["exit_flushes"], 0, "{mode}");
        assert_eq!(flush["vmm"]["tlb"]["tagging"], "flush", "{mode}");
        let flushes = flush["vmm"]["tlb"]["exit_flushes"].as_u64().unwrap_or(0);
        let exits = flush["vmm"]["exits"]["total"].as_u64().unwrap_or(0);
        assert!(
            flushes > 0 && flushes <= exits,
            "{mode}: {flushes} flushes, {exits} exits"
        );
        let misses = |r: &serde_json::Value| r["counters"]["tlb_misses"].as_u64().unwrap_or(0);
        assert!(misses(&flush) > misses(&tagged), "{mode}");
        assert_eq!(flush["instructions"], tagged["instructions"], "{mode}");
    }
    let default = report(&kernel, &["--mode", "hw-assist"]);
    assert_eq!(default["vmm"]["tlb"]["tagging"], "tagged");
    let bare = report(&kernel, &["--tlb", "flush"]);
    assert_eq!(bare["ok"], false);
    assert!(
        bare["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("--tlb only applies under a VMM"),
        "{bare}"
    );
}

#[test]
fn guest_view_shows_the_virtual_cpl_in_cs_and_the_host_view_the_ring() {
    let kernel = build("vmm/redpill");
    let te = report(&kernel, &["--mode", "trap-emulate"]);
    let sel = |v: &serde_json::Value| {
        v["segments"]["cs"]["selector"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(te["host"]["cpl"], 1);
    assert!(sel(&te["host"]).ends_with('9'), "{}", te["host"]);
    assert!(sel(&te["guest"]).ends_with('8'), "{}", te["guest"]);
}

/// Assembles a demo guest with nasm (`pc.inc` from `guests/include`) and runs it
/// flat at 0x10000 in protected mode with `args`.
fn demo_report(src: &str, args: &[&str]) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "vmlab-vmm-run-{}-{}.bin",
        src.replace('/', "-"),
        std::process::id()
    ));
    let st = Command::new("nasm")
        .args(["-f", "bin", "-I"])
        .arg(root.join("guests/include/"))
        .arg("-o")
        .arg(&out)
        .arg(root.join(src))
        .status()
        .expect("nasm is part of the development image (apt-get install nasm)");
    assert!(st.success(), "nasm {src}");
    let run = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("run")
        .arg("--flat")
        .arg("0x10000")
        .arg(&out)
        .args(["--entry", "pm32"])
        .args(args)
        .arg("--json")
        .output()
        .expect("vmlab run runs");
    let _ = std::fs::remove_file(&out);
    serde_json::from_slice(&run.stdout).expect("a JSON report on stdout")
}

#[test]
fn pt_protect_flag_makes_a_pte_store_exit_and_the_read_fresh() {
    let src = "demos/shadow-coherence/coherence.asm";
    for mode in ["trap-emulate", "hw-assist-shadow"] {
        let off = demo_report(src, &["--mode", mode]);
        let on = demo_report(src, &["--mode", mode, "--pt-protect"]);
        assert_eq!(
            off["vmm"]["exits"]["by_reason"]["pt-write"],
            serde_json::Value::Null
        );
        assert_eq!(
            on["vmm"]["exits"]["by_reason"]["pt-write"], 1,
            "{mode}: {on}"
        );
        assert_eq!(on["stop"], "halted", "{mode}: {on}");
        assert_eq!(off["stop"], "halted", "{mode}: {off}");
    }
}

#[test]
fn interrupt_window_exits_unless_switched_off() {
    let src = "demos/interrupt-virt/interrupts.asm";
    let on = demo_report(src, &["--mode", "hw-assist"]);
    let off = demo_report(src, &["--mode", "hw-assist", "--no-interrupt-window"]);
    assert_eq!(
        on["vmm"]["exits"]["by_reason"]["interrupt-window"], 1,
        "{on}"
    );
    assert_eq!(
        off["vmm"]["exits"]["by_reason"]["interrupt-window"],
        serde_json::Value::Null
    );
    for r in [&on, &off] {
        assert_eq!(r["stop"], "halted", "{r}");
        assert_eq!(
            r["vmm"]["exits"]["by_reason"]["external-interrupt"], 1,
            "{r}"
        );
    }
}
