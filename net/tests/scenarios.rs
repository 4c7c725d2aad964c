//! Scenario tests: endpoint stubs on a bridge, a drop-ICMP flow, a VXLAN overlay, NAT and a controller, each checked by its counters and by `tcpdump -r -nn -e` on its capture.

use std::path::PathBuf;
use std::process::Command;

use vmlab_net::network::Node;
use vmlab_net::scenario::Outcome;
use vmlab_net::scenario_file;

fn scenario(name: &str) -> Outcome {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let s = scenario_file::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    s.run().unwrap_or_else(|e| panic!("{e}"))
}

fn endpoint<'a>(out: &'a Outcome, name: &str) -> &'a vmlab_net::endpoint::Endpoint {
    match out.network.node(name) {
        Some(Node::Endpoint(e)) => e,
        _ => panic!("no endpoint {name}"),
    }
}

fn switch<'a>(out: &'a Outcome, name: &str) -> &'a vmlab_net::switch::Switch {
    match out.network.node(name) {
        Some(Node::Switch(s)) => s,
        _ => panic!("no switch {name}"),
    }
}

/// Writes the capture of `port` and returns `tcpdump -r -nn -e`'s lines.
fn tcpdump(out: &Outcome, port: &str, file: &str) -> Vec<String> {
    let at = out.network.port(port).expect("port");
    let pcap = out.network.capture_of(at).expect("captured");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("net-captures");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(file);
    std::fs::write(&path, pcap.bytes()).expect("write pcap");
    let run = Command::new("tcpdump")
        .args(["-r"])
        .arg(&path)
        .args(["-nn", "-e", "-v", "-tt"])
        .output()
        .expect("tcpdump must be installed (cargo xtask test installs it)");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "tcpdump -r {}: {stderr}",
        path.display()
    );
    assert!(!stderr.contains("truncated"), "tcpdump: {stderr}");
    let text = String::from_utf8_lossy(&run.stdout).to_string();
    // -v puts inner headers (and VXLAN's inner frame) on lines of their own; a
    // packet starts with its -tt timestamp (seconds.micros), so join the rest to it.
    let starts_packet = |l: &str| {
        let first = l.split(' ').next().unwrap_or("");
        first.contains('.') && first.chars().all(|c| c.is_ascii_digit() || c == '.')
    };
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        if !starts_packet(l) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(l.trim());
                continue;
            }
        }
        lines.push(l.to_string());
    }
    assert_eq!(
        lines.len() as u64,
        pcap.records(),
        "one tcpdump packet per record:\n{text}"
    );
    lines
}

fn count(lines: &[String], needles: &[&str]) -> usize {
    lines
        .iter()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

#[test]
fn two_endpoints_on_a_bridge_ping_each_other() {
    let out = scenario("bridge-ping.toml");
    let a = endpoint(&out, "a");
    let b = endpoint(&out, "b");
    assert_eq!((a.stats.pings_sent, a.stats.ping_replies), (4, 4));
    assert_eq!((b.stats.pings_sent, b.stats.ping_replies), (2, 2));
    // b learned a's MAC from a's ARP request, so it never had to ask.
    assert_eq!((a.stats.arp_requests, b.stats.arp_requests), (1, 0));
    let sw = switch(&out, "sw0");
    let macs: Vec<_> = sw
        .macs()
        .entries(out.network.now())
        .iter()
        .map(|e| (e.mac.to_string(), e.port))
        .collect();
    assert_eq!(
        macs,
        [
            ("02:00:00:00:00:0a".to_string(), 0),
            ("02:00:00:00:00:0b".to_string(), 1)
        ]
    );
    // Only the first ARP request was flooded to the unused port 2.
    assert_eq!(sw.counters()[2].tx_packets, 1);
    // Port 0 saw: ARP request and reply, 4+2 requests and 4+2 replies.
    assert_eq!(
        sw.counters()[0].rx_packets + sw.counters()[0].tx_packets,
        2 + 12
    );

    let lines = tcpdump(&out, "sw0:0", "bridge.pcap");
    assert_eq!(
        count(
            &lines,
            &[
                "02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff",
                "ARP",
                "Request who-has 10.0.0.2 tell 10.0.0.1"
            ]
        ),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        count(
            &lines,
            &[
                "02:00:00:00:00:0b > 02:00:00:00:00:0a",
                "ARP",
                "Reply 10.0.0.2 is-at 02:00:00:00:00:0b"
            ]
        ),
        1
    );
    assert_eq!(
        count(&lines, &["10.0.0.1 > 10.0.0.2: ICMP echo request"]),
        4
    );
    assert_eq!(count(&lines, &["10.0.0.2 > 10.0.0.1: ICMP echo reply"]), 4);
    assert_eq!(
        count(&lines, &["10.0.0.2 > 10.0.0.1: ICMP echo request"]),
        2
    );
    // tcpdump -v verifies the IPv4 header checksums and would flag a bad one.
    assert_eq!(count(&lines, &["bad cksum"]), 0, "{lines:#?}");
}

#[test]
fn a_drop_icmp_flow_stops_the_pings_and_counts_them() {
    let out = scenario("drop-icmp.toml");
    let a = endpoint(&out, "a");
    let sw = switch(&out, "sw0");
    let flow = &sw.flows().flows()[0];
    assert_eq!(a.stats.pings_sent, 10);
    // Ticks 1..=5 carry pings 1..5 before the flow arrives at tick 6.
    assert_eq!(a.stats.ping_replies, 5);
    assert_eq!(flow.packets, 5, "the five later pings hit the drop flow");
    assert_eq!(
        flow.bytes,
        5 * (14 + 20 + 8 + 16),
        "Ethernet, IPv4, ICMP header, 16 bytes of data"
    );
    assert_eq!(sw.counters()[0].dropped, 5);
    let lines = tcpdump(&out, "sw0:0", "drop.pcap");
    assert_eq!(count(&lines, &["ICMP echo request"]), 10);
    assert_eq!(count(&lines, &["ICMP echo reply"]), 5);
    assert_eq!(count(&lines, &["ARP", "Request who-has 10.0.0.2"]), 1);
}

#[test]
fn a_vxlan_overlay_carries_frames_between_two_hosts() {
    let out = scenario("vxlan-overlay.toml");
    let a = endpoint(&out, "a");
    assert_eq!((a.stats.pings_sent, a.stats.ping_replies), (3, 3));
    let lines = tcpdump(&out, "vtep1:1", "underlay.pcap");
    // Every underlay frame is VXLAN in UDP to port 4789 between the two endpoints.
    assert!(
        lines
            .iter()
            .all(|l| l.contains(".4789: VXLAN") && l.contains("vni 42")),
        "{lines:#?}"
    );
    assert_eq!(
        count(
            &lines,
            &[
                "192.168.0.1.",
                "> 192.168.0.2.4789",
                "ARP",
                "Request who-has 10.10.0.2 tell 10.10.0.1"
            ]
        ),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        count(
            &lines,
            &[
                "02:00:00:00:02:0b > 02:00:00:00:01:0a",
                "Reply 10.10.0.2 is-at"
            ]
        ),
        1
    );
    assert_eq!(
        count(&lines, &["10.10.0.1 > 10.10.0.2: ICMP echo request"]),
        3
    );
    assert_eq!(
        count(&lines, &["10.10.0.2 > 10.10.0.1: ICMP echo reply"]),
        3
    );
    // The outer UDP checksum verifies (tcpdump -v says so only when it is bad).
    assert_eq!(count(&lines, &["bad udp cksum"]), 0);
    for v in ["vtep1", "vtep2"] {
        let Some(Node::Vtep(t)) = out.network.node(v) else {
            panic!("{v}")
        };
        assert_eq!(t.counters.encapsulated, 4, "{v}: ARP + 3 ICMP");
        assert_eq!(t.counters.decapsulated, 4, "{v}");
    }
}

#[test]
fn nat_reaches_the_outside_host_for_ping_and_udp_echo() {
    let out = scenario("nat-outside.toml");
    let g = endpoint(&out, "guest");
    assert_eq!((g.stats.pings_sent, g.stats.ping_replies), (3, 3));
    assert_eq!((g.stats.udp_sent, g.stats.udp_replies), (2, 2));
    let Some(Node::Nat(nat)) = out.network.node("gw") else {
        panic!("gw")
    };
    assert_eq!(
        (nat.counters.out, nat.counters.back, nat.counters.dropped),
        (5, 5, 0)
    );
    assert_eq!(nat.mappings().len(), 2, "one ICMP id and one UDP port");
    let lines = tcpdump(&out, "gw:1", "outside.pcap");
    // Outside, every packet carries the NAT's address, never the guest's.
    assert_eq!(count(&lines, &["10.0.0.1"]), 0, "{lines:#?}");
    assert_eq!(
        count(
            &lines,
            &["198.51.100.1 > 203.0.113.7: ICMP echo request, id 20000"]
        ),
        3
    );
    assert_eq!(
        count(
            &lines,
            &["203.0.113.7 > 198.51.100.1: ICMP echo reply, id 20000"]
        ),
        3
    );
    assert_eq!(
        count(&lines, &["198.51.100.1.20001 > 203.0.113.7.7: UDP"]),
        2,
        "{lines:#?}"
    );
    assert_eq!(
        count(&lines, &["203.0.113.7.7 > 198.51.100.1.20001: UDP"]),
        2
    );
    assert_eq!(
        count(&lines, &["Request who-has 203.0.113.7 tell 198.51.100.1"]),
        1
    );
    assert_eq!(count(&lines, &["bad"]), 0, "checksums verify: {lines:#?}");
}

#[test]
fn the_l2_controller_installs_flows_that_later_frames_match() {
    let out = scenario("l2-controller.toml");
    let a = endpoint(&out, "a");
    assert_eq!((a.stats.pings_sent, a.stats.ping_replies), (5, 5));
    assert_eq!(out.controller_flows, 2);
    let sw = switch(&out, "sw0");
    let flows = sw.flows().flows();
    assert_eq!(flows.len(), 3);
    let to_a = flows
        .iter()
        .find(|f| f.matches.eth_dst.map(|m| m.to_string()).as_deref() == Some("02:00:00:00:00:0a"))
        .expect("flow to a");
    let to_b = flows
        .iter()
        .find(|f| f.matches.eth_dst.map(|m| m.to_string()).as_deref() == Some("02:00:00:00:00:0b"))
        .expect("flow to b");
    // The flow to a is installed when b's ARP reply (a packet-in) finds a known;
    // the flow to b when a's first echo request does.
    assert_eq!(to_a.packets, 5, "the five echo replies");
    assert_eq!(to_b.packets, 4, "the echo requests after the first");
    assert_eq!(to_a.matches.in_port, Some(1));
    assert_eq!(to_b.matches.in_port, Some(0));
    assert_eq!(
        flows.last().map(|f| f.packets),
        Some(3),
        "ARP request, ARP reply, first echo missed"
    );
}

#[test]
fn the_report_lists_macs_flows_and_ports() {
    let out = scenario("drop-icmp.toml");
    let j = scenario_file::report_json(&out);
    assert_eq!(j["switches"][0]["flows"][0]["packets"], 5);
    assert_eq!(
        j["switches"][0]["flows"][0]["match"],
        "ethertype=0x0800,ip_proto=1"
    );
    assert_eq!(
        j["switches"][0]["mac_table"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(j["switches"][0]["ports"][1]["link"], "b:0");
    let text = scenario_file::report_text(&out);
    assert!(
        text.contains("#1 priority 100 ethertype=0x0800,ip_proto=1 -> drop  packets 5 bytes 290"),
        "{text}"
    );
}
