//! `vmlab migrate` and `vmlab ft`: the per-round table and figures as JSON, the
//! serial output going on after the move, and bad options refused by name.

use std::path::PathBuf;
use std::process::Command;

fn guest(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/migrate")
        .join(name)
        .display()
        .to_string()
}

fn vmlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn precopy_json_has_shrinking_rounds_and_the_output_goes_on() {
    let g = guest("moderate.asm");
    let (code, out, err) = vmlab(&[
        "migrate",
        "--guest",
        &g,
        "--ram",
        "4",
        "--bandwidth",
        "64000000",
        "--latency",
        "200",
        "--after-ms",
        "200",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let m = &j["migration"];
    assert_eq!(m["stop_rule"], "converged");
    let sent: Vec<u64> = m["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .map(|r| r["sent"].as_u64().expect("sent"))
        .collect();
    assert_eq!(sent[0], 1024);
    assert!(sent.windows(2).all(|w| w[1] < w[0]), "{sent:?}");
    assert!(m["downtime_cycles"].as_u64() < m["all_memory_cycles"].as_u64());
    assert_eq!(j["serial_before"], "workload up\n");
    assert!(
        j["serial_after"]
            .as_str()
            .is_some_and(|s| s.starts_with("tick 64\ntick 128\n")),
        "{}",
        j["serial_after"]
    );
}

#[test]
fn ft_text_report_shows_the_takeover_and_whole_output() {
    let g = guest("moderate.asm");
    let (code, out, err) = vmlab(&[
        "ft",
        "--guest",
        &g,
        "--ram",
        "4",
        "--kill-at",
        "9000",
        "--input",
        "5000:a",
        "-D",
        "END_TICKS=128",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("primary killed at instruction 9000"), "{out}");
    assert!(
        out.ends_with("workload up\n<a>tick 64\ntick 128\ndone\n"),
        "{out}"
    );
}

#[test]
fn bad_options_are_named() {
    let g = guest("idle.asm");
    let (code, out, _) = vmlab(&["migrate", "--guest", &g, "--mode", "sideways", "--json"]);
    assert_eq!(code, 2);
    assert!(out.contains("--mode sideways"), "{out}");
    let (code, _, err) = vmlab(&["migrate", "--guest", &g, "--bandwidth", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("bandwidth"), "{err}");
    let (code, _, err) = vmlab(&["ft", "--guest", &g, "--kill-at", "10", "--input", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("ICOUNT:TEXT"), "{err}");
    let (code, _, err) = vmlab(&["ft", "--guest", "/nonexistent.asm", "--kill-at", "10"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.asm"), "{err}");
}
