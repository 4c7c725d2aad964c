//! `vmlab introspect`: the teaching kernel's process list read from outside, as JSON and text, the profile made from the kernel's symbols, and a bad profile refused with its line.

mod common;

use common::vmlab;
use std::path::PathBuf;

fn kernel() -> String {
    common::scenario("guests/kernel", "kernel.asm")
        .to_string_lossy()
        .into_owned()
}

fn introspect(at: &str, mode: &str) -> serde_json::Value {
    let k = kernel();
    let (code, out, err) = vmlab(&["introspect", &k, "--at", at, "--mode", mode, "--json"]);
    assert_eq!(code, 0, "{err}{out}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn made_profile_is_the_committed_one() {
    let k = kernel();
    let (code, out, err) = vmlab(&["introspect", &k, "--make-profile"]);
    assert_eq!(code, 0, "{err}");
    let committed = std::fs::read_to_string(k.replace(".asm", ".profile.toml")).unwrap();
    assert_eq!(out, committed);
}

#[test]
fn mid_run_both_processes_and_one_current() {
    for (at, mode) in [
        ("300000", "bare"),
        ("420000", "hw-assist"),
        ("650000", "trap-emulate"),
    ] {
        let j = introspect(at, mode);
        assert_eq!(j["ok"], true);
        let i = &j["introspection"];
        let procs = i["processes"].as_array().unwrap();
        let names: Vec<&str> = procs.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["A", "B"], "{mode} {at}: {j}");
        let current: Vec<&serde_json::Value> =
            procs.iter().filter(|p| p["current"] == true).collect();
        assert_eq!(current.len(), 1, "{j}");
        // What the host sees raw (the CPU's CR3) is the current process's page directory.
        assert_eq!(current[0]["cr3"], i["cpu_cr3"], "{j}");
        assert_eq!(current[0]["eip_source"] == "cpu", i["cpl"] == 3, "{j}");
        for p in procs {
            assert!(p["user_pages"].as_u64().unwrap() >= 1, "{j}");
        }
        let console = j["console"].as_str().unwrap();
        assert!(console.contains("process A line 1"), "{console}");
    }
}

#[test]
fn at_the_end_every_process_exited_and_the_pages_match_the_kernels_count() {
    let j = introspect("50000000", "bare");
    assert_eq!(j["stop"], "debug-exit", "{j}");
    let procs = j["introspection"]["processes"].as_array().unwrap();
    assert!(procs.iter().all(|p| p["state"] == "exited"), "{j}");
    let zero: u64 = procs
        .iter()
        .map(|p| p["user_pages"].as_u64().unwrap() - 1)
        .sum();
    let console = j["console"].as_str().unwrap();
    assert!(
        console.contains(&format!(" {zero} demand-zero page faults")),
        "{zero}: {console}"
    );
    let (code, text, _) = vmlab(&["introspect", &kernel(), "--at", "50000000"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("exited") && text.contains("user pages"),
        "{text}"
    );
}

#[test]
fn a_bad_profile_is_refused_with_its_line() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join(format!("introspect-bad-{}.toml", std::process::id()));
    std::fs::write(&bad, "kernel = \"k\"\ncurrent = \"here\"\n").unwrap();
    let (code, out, _) = vmlab(&[
        "introspect",
        &kernel(),
        "--profile",
        bad.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 2, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], false);
    let msg = j["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("{}:2:", bad.display())), "{msg}");
}

#[test]
fn host_scenario_prints_the_kernel_vms_processes() {
    let s = common::scenario("host/scenarios", "introspection.toml");
    let (code, out, err) = vmlab(&["host", s.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let k2 = &j["vms"][1];
    assert_eq!(k2["state"], "paused");
    let procs = k2["processes"]["processes"].as_array().unwrap();
    assert!(procs.iter().all(|p| p["state"] == "runnable"), "{k2}");
    assert!(j["vms"][2]["processes"].is_null());
    let (code, text, _) = vmlab(&["host", s.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("processes of k1, read from outside"),
        "{text}"
    );
}
