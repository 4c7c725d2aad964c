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
