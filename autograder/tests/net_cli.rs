//! `vmlab net`: runs a scenario, prints the tables as text or JSON, writes the pcap that `tcpdump -r` reads, and refuses bad files with their line and key.

mod common;

use common::vmlab;
use std::path::PathBuf;
use std::process::Command;

fn scenario(name: &str) -> PathBuf {
    common::scenario("net/scenarios", name)
}

#[test]
fn json_report_and_pcap_of_a_drop_flow() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-net-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("b.pcap");
    let s = scenario("drop-icmp.toml");
    let (code, out, err) = vmlab(&[
        "net",
        s.to_str().unwrap(),
        "--json",
        "--pcap",
        &format!("b={}", pcap.display()),
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], true);
    assert_eq!(j["switches"][0]["flows"][0]["packets"], 5);
    assert_eq!(j["switches"][0]["ports"][0]["dropped"], 5);
    assert_eq!(j["endpoints"][0]["ping_replies"], 5);
    assert_eq!(
        j["pcap_files"][0]["frames"], 12,
        "ARP request and reply, the 5 echo requests that passed and their replies: {out}"
    );
    // b's port saw the ARP exchange and only the five pings the flow let through.
    let td = Command::new("tcpdump")
        .arg("-r")
        .arg(&pcap)
        .args(["-nn", "-e"])
        .output()
        .expect("tcpdump installed");
    let text = String::from_utf8_lossy(&td.stdout);
    assert!(
        td.status.success(),
        "{}",
        String::from_utf8_lossy(&td.stderr)
    );
    assert_eq!(text.matches("ICMP echo request").count(), 5, "{text}");
    assert_eq!(text.matches("ICMP echo reply").count(), 5);
    assert_eq!(
        text.matches("Request who-has 10.0.0.2 tell 10.0.0.1")
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_report_lists_mac_table_flows_and_ports() {
    let s = scenario("bridge-ping.toml");
    let (code, out, err) = vmlab(&["net", s.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("MAC table:\n    02:00:00:00:00:0a  port 0"),
        "{out}"
    );
    assert!(
        out.contains("endpoint a 10.0.0.1: pings 4 sent, 4 answered"),
        "{out}"
    );
    assert!(out.contains("2 (unlinked)  rx 0 tx 1 dropped 0"), "{out}");
}

#[test]
fn bad_scenarios_and_options_are_refused_with_where() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vmlab-net-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(scenario("bridge-ping.toml"))
        .unwrap()
        .replace("ports = 3", "ports = 300");
    std::fs::write(&bad, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("ports = 300"))
        .unwrap()
        + 1;
    let (code, _, err) = vmlab(&["net", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        format!(
            "vmlab net: {}:{line}: switch[0].ports: must be 1..=64",
            bad.display()
        )
    );
    let (code, out, _) = vmlab(&["net", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2);
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], false);
    let good = scenario("bridge-ping.toml");
    let (code, _, err) = vmlab(&["net", good.to_str().unwrap(), "--pcap", "sw0:9=x.pcap"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("\"sw0:9\": sw0 (switch) has ports 0..2"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
