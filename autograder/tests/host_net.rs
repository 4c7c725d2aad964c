//! `vmlab host` with a network: two VMs of a host scenario ping each other through the host's bridge (`tcpdump -r` reads the ARP and ICMP from the port's pcap), `--net nat` reaches the outside host, a flow rule's hits are counted per port, and a bad `[net]` key or an unknown `--pcap` port is refused clearly.

mod common;
mod net_common;

use std::path::PathBuf;

use common::vmlab;
use net_common::{assert_pinged, tcpdump, vm};
use serde_json::Value;

fn example() -> String {
    common::scenario("host/scenarios", "two-vms-net.toml")
        .to_str()
        .expect("utf-8")
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    net_common::scratch("host-net", name)
}

/// Runs `vmlab host ARGS --json`: its status and report.
fn host_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["host"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, out, err) = vmlab(&all);
    let j = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, j)
}

#[test]
fn two_vms_of_a_host_ping_each_other_through_the_bridge() {
    let dir = scratch("bridge");
    let pcap = dir.join("br0-0.pcap");
    let arg = format!("br0:0={}", pcap.display());
    let (code, j) = host_json(&[&example(), "--pcap", &arg]);
    assert_eq!(code, 0, "{j}");
    // The host model ran the same VMs.
    assert_eq!(j["vms"].as_array().map(Vec::len), Some(2), "{j}");
    let net = &j["network"];
    assert_eq!(net["mode"], "bridge");
    assert_eq!(net["finished"], true);
    for (name, nic, me, peer) in [("a", "virtio", 1, 2), ("b", "ne2000", 2, 1)] {
        let v = vm(net, name);
        assert_eq!(v["nic"], nic);
        assert_pinged(v, &format!("10.0.0.{me}"), &format!("10.0.0.{peer}"));
    }
    assert_eq!(vm(net, "b")["mode"], "trap-emulate");
    // Each port: one ARP request, one ARP reply, four echo requests, four echo replies
    // in and the same out; no drops, no flow rules.
    for (i, p) in net["ports"].as_array().expect("ports").iter().enumerate() {
        assert_eq!(p["port"], format!("br0:{i}"));
        assert_eq!(p["frames_in"], 10, "{p}");
        assert_eq!(p["frames_out"], 10, "{p}");
        assert_eq!(
            (p["drops"].as_u64(), p["flow_hits"].as_u64()),
            (Some(0), Some(0))
        );
    }
    let macs = &net["mac_table"];
    assert_eq!(macs[0]["mac"], "52:54:00:00:00:01");
    assert_eq!(macs[1]["mac"], "52:54:00:00:00:02");
    assert_eq!(macs[1]["port"], 1);
    assert_eq!(net["pcap_files"][0]["frames"], 20);
    let dump = tcpdump(&pcap);
    for (what, n) in [
        ("Request who-has 10.0.0.2 tell 10.0.0.1", 1),
        ("Request who-has 10.0.0.1 tell 10.0.0.2", 1),
        ("Reply 10.0.0.1 is-at 52:54:00:00:00:01", 1),
        ("Reply 10.0.0.2 is-at 52:54:00:00:00:02", 1),
        ("10.0.0.1 > 10.0.0.2: ICMP echo request", 4),
        ("10.0.0.2 > 10.0.0.1: ICMP echo reply", 4),
        ("10.0.0.2 > 10.0.0.1: ICMP echo request", 4),
        ("10.0.0.1 > 10.0.0.2: ICMP echo reply", 4),
    ] {
        assert_eq!(dump.matches(what).count(), n, "{what}:\n{dump}");
    }
    // docs/host-net.md's table names every key of the report, and only those.
    let doc = std::fs::read_to_string(common::scenario("docs", "host-net.md")).expect("doc");
    let table = doc
        .split("`--json` adds the key `network`")
        .nth(1)
        .expect("the network table");
    let mut documented: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| {
            cell.split(", ")
                .map(|k| k.trim_matches('`').replace("[]", ""))
        })
        .filter(|k| k != "key" && !k.starts_with('-'))
        .collect();
    documented.sort();
    let mut keys: Vec<String> = net.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(documented, keys);
    // The text report has the per-port table.
    let (code, text, err) = vmlab(&["host", &example()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("network (bridge on br0)"), "{text}");
    assert!(
        text.contains("frames-in") && text.contains("flow-hits"),
        "{text}"
    );
    assert!(text.contains("memory (MiB)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn net_nat_reaches_the_outside_host() {
    let dir = scratch("nat");
    let pcap = dir.join("outside.pcap");
    let arg = format!("nat:1={}", pcap.display());
    let (code, j) = host_json(&[&example(), "--net", "nat", "--pcap", &arg]);
    assert_eq!(code, 0, "{j}");
    let net = &j["network"];
    assert_eq!(net["mode"], "nat");
    for (name, me) in [("a", "10.0.0.1"), ("b", "10.0.0.2")] {
        assert_pinged(vm(net, name), me, "203.0.113.7");
    }
    assert_eq!(net["nat"]["out"], 8, "{net}");
    assert_eq!(net["nat"]["back"], 8, "{net}");
    assert_eq!(net["outside"]["ip"], "203.0.113.7");
    // Outside the NAT every ping comes from its outside address.
    let dump = tcpdump(&pcap);
    assert_eq!(
        dump.matches("198.51.100.1 > 203.0.113.7: ICMP echo request")
            .count(),
        8,
        "{dump}"
    );
    assert_eq!(
        dump.matches("203.0.113.7 > 198.51.100.1: ICMP echo reply")
            .count(),
        8,
        "{dump}"
    );
    assert!(!dump.contains("10.0.0."), "{dump}");
    // --net none turns the section off.
    let (code, j) = host_json(&[&example(), "--net", "none"]);
    assert_eq!(code, 0);
    assert_eq!(j["network"], Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flow_rule_drops_icmp_and_its_hits_are_counted_per_port() {
    let dir = scratch("flow");
    let file = dir.join("flow.toml");
    let text = std::fs::read_to_string(example()).expect("example") + "\n[[net.flow]]\nswitch = \"br0\"\npriority = 10\nmatch = { in_port = 0, ethertype = 0x0800, ip_proto = 1 }\nactions = [\"drop\"]\n";
    std::fs::write(&file, text).expect("write");
    let (code, j) = host_json(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{j}");
    let net = &j["network"];
    // Every ICMP frame a sends meets the rule: all it sends but its ARP request and
    // reply, at least its four echo requests; each is a hit and a drop on a's port,
    // and b's port sees no hit. b receives a's two ARP frames only.
    let a_sent = vm(net, "a")["frames_sent"].as_u64().expect("sent");
    let hits = net["flows"][0]["packets"].as_u64().expect("packets");
    assert_eq!(hits, a_sent - 2, "{net}");
    assert!(hits >= 4, "{net}");
    assert_eq!(net["ports"][0]["flow_hits"], hits, "{net}");
    assert_eq!(net["ports"][0]["drops"], hits, "{net}");
    assert_eq!(net["ports"][1]["flow_hits"], 0, "{net}");
    assert_eq!(vm(net, "b")["frames_received"], 2, "{net}");
    for name in ["a", "b"] {
        assert_eq!(vm(net, name)["debug_exit_value"], 1, "{net}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_follow_shares_each_machine_runs_by_its_cpu_share() {
    let dir = scratch("shares");
    let file = dir.join("shares.toml");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen("name = \"a\"\n", "name = \"a\"\nweight = 512\n", 1)
        .replacen("count = 4\n", "count = 4\nfollow_shares = true\n", 1);
    std::fs::write(&file, text).expect("write");
    let (code, j) = host_json(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{j}");
    let share = |i: usize| {
        j["vms"][i]["cpu"]["share_permille"]
            .as_u64()
            .expect("share")
    };
    assert!(share(0) > share(1), "weight 512 over 256: {j}");
    // The slices follow the host model's shares: 5000 instructions at an equal share.
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let v = vm(&j["network"], name);
        assert_eq!(
            v["slice"].as_u64(),
            Some(5_000 * share(i) * 2 / 1000),
            "{v}"
        );
        assert_pinged(
            v,
            &format!("10.0.0.{}", i + 1),
            &format!("10.0.0.{}", 2 - i),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_net_key_is_refused_with_its_line() {
    let dir = scratch("bad");
    let head = "[host]\npool_mib = 8\nduration_ms = 5\n\n[[vm]]\nname = \"a\"\nram_mib = 4\n\n[[vm]]\nname = \"b\"\nram_mib = 4\n\n[net]\n";
    for (body, want) in [
        ("speed = 3\n", ":14: unknown field `speed`"),
        ("mode = \"hub\"\n", ":14: net.mode: \"hub\""),
        (
            "attach = [\"c\"]\n",
            ":14: net.attach: no [[vm]] is called \"c\"",
        ),
        (
            "\n[[net.flow]]\nswitch = \"br0\"\nactions = [\"output:7\"]\n",
            ":17: net.flow[0].actions: output:7: br0 has ports 0..1",
        ),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, format!("{head}{body}")).expect("write");
        let (code, j) = host_json(&[file.to_str().expect("utf-8")]);
        assert_eq!(code, 2, "{j}");
        let m = j["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains(want), "{want}: {m}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pcap_of_an_unknown_port_is_a_clear_error() {
    let (code, j) = host_json(&[&example(), "--pcap", "br0:5=/nonexistent/x.pcap"]);
    assert_eq!(code, 2);
    let m = j["error"]["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("--pcap \"br0:5\": br0 (switch) has ports 0..1"),
        "{m}"
    );
    assert!(m.contains("the VMs a, b"), "{m}");
    let (code, j) = host_json(&[&example(), "--pcap", "nowhere"]);
    assert_eq!(code, 2);
    assert!(j["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("expected PORT=FILE")));
    // A scenario without a network has no port to capture.
    let plain = common::scenario("host/scenarios", "credit-time.toml");
    let (code, j) = host_json(&[plain.to_str().expect("utf-8"), "--pcap", "a=x.pcap"]);
    assert_eq!(code, 2);
    assert!(j["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("has no network")));
}
