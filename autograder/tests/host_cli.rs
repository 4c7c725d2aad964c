//! `vmlab host`: runs a multi-VM scenario, prints its memory and CPU tables as text or JSON, and refuses bad files with their line and key.

mod common;

use common::vmlab;
use std::path::PathBuf;

fn scenario(name: &str) -> PathBuf {
    common::scenario("host/scenarios", name)
}

#[test]
fn credit_scenario_as_json_and_text() {
    let s = scenario("credit-time.toml");
    let (code, out, err) = vmlab(&["host", s.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], true);
    assert_eq!(j["host"]["time_policy"], "catch-up");
    let share = |i: usize| j["vms"][i]["cpu"]["share_permille"].as_u64().unwrap();
    assert!(share(0) > share(1), "weight 512 over weight 256: {out}");
    assert!(share(2) <= 110, "the 10% cap holds: {out}");
    let (code, text, _) = vmlab(&["host", s.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("memory (MiB)") && text.contains("steal ms"),
        "{text}"
    );
}

#[test]
fn a_bad_file_is_refused_with_its_line_and_key() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join(format!("host-bad-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "[host]\npool_mib = 8\nduration_ms = 5\n\n[[vm]]\nname = \"a\"\nram_mib = 2\n",
    )
    .unwrap();
    let (code, out, _) = vmlab(&["host", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2);
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let m = j["error"]["message"].as_str().unwrap_or_default();
    assert!(m.contains(":7: vm[0].ram_mib: is 2"), "{m}");
}

#[test]
fn migration_and_failover_scenarios_carry_their_tables() {
    for (file, key) in [
        ("migrate-precopy.toml", "migrations"),
        ("migrate-diabolical.toml", "migrations"),
        ("ft-failover.toml", "failovers"),
    ] {
        let s = scenario(file);
        let (code, out, err) = vmlab(&["host", s.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{file}: {err}");
        let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(j["ok"], true);
        assert_eq!(j["hosts"].as_array().map(Vec::len), Some(2), "{file}");
        let moves = j[key].as_array().expect(key);
        assert!(!moves.is_empty(), "{file}: {out}");
        assert!(j["vms"][0]["memory"]["private"].is_u64(), "{file}");
        assert!(j["vms"][0]["cpu"]["run_ms"].is_f64(), "{file}");
        if key == "migrations" {
            let m = &moves[0];
            assert!(m["downtime_us"].is_u64() && m["bytes_sent"].as_u64() > Some(0));
            assert!(!m["rounds"].as_array().expect("rounds").is_empty(), "{out}");
            assert!(m["rounds"][0]["sent"].as_u64() > Some(0));
            assert!(m["stop_rule"].is_string());
        } else {
            assert_eq!(moves[0]["no_gap_no_duplicate"], true, "{out}");
        }
    }
}
