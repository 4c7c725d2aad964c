//! A host scenario's network opened in the lab: the `[net]` section of `two-vms-net` turned into its network by `vmlab_host::net` and run by `NetLab` to the end, checked by the switch's MAC table, its port counters, the guests' consoles and `tcpdump -r` on a port's capture.

use vmlab_host::net::{HostNet, NetMode, SWITCH};
use vmlab_host::scenario_file;
use vmlab_net::network::Node;
use vmlab_netlab::NetLab;

const TWO_VMS_NET: &str = include_str!("../../host/scenarios/two-vms-net.toml");

/// `two-vms-net` with its network in mode `over` (as written when `None`), run to the end.
fn run(over: Option<NetMode>) -> (HostNet, NetLab) {
    let (_, net) = scenario_file::parse_networked("two-vms-net.toml", TWO_VMS_NET, over)
        .expect("the scenario parses");
    let net = net.expect("the scenario is networked");
    let mut lab = NetLab::from_scenario("two-vms-net.toml", net.scenario().expect("a network"))
        .expect("the machines boot");
    let last = lab.last_tick();
    assert_eq!(lab.step(last), Ok(last));
    assert!(lab.is_over());
    (net, lab)
}

/// The MACs `br0` has learned and its per-port (received, sent) packets.
fn switch(lab: &NetLab) -> (Vec<String>, Vec<(u64, u64)>) {
    let net = lab.network();
    let Some(s) = net.nodes().find_map(|(name, n)| match n {
        Node::Switch(s) if name == SWITCH => Some(s),
        _ => None,
    }) else {
        panic!("no switch {SWITCH}");
    };
    let macs = s
        .macs()
        .entries(net.now())
        .iter()
        .map(|e| e.mac.to_string())
        .collect();
    let counters = s
        .counters()
        .iter()
        .map(|c| (c.rx_packets, c.tx_packets))
        .collect();
    (macs, counters)
}

/// Each VM's console reports its four pings answered.
fn every_ping_answered(lab: &NetLab) {
    for v in lab.machines().vms() {
        assert!(
            v.console().contains("4 sent, 4 answered"),
            "{}: {}",
            v.name,
            v.console()
        );
    }
}

/// `tcpdump -nn -e -r` on the capture of `port`, or `None` without tcpdump.
fn tcpdump(lab: &NetLab, port: &str) -> Option<String> {
    std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .ok()?;
    let bytes = lab.pcap(port).expect("every port is captured");
    let file = std::env::temp_dir().join(format!("hostnet-{}.pcap", std::process::id()));
    std::fs::write(&file, bytes).expect("writes");
    let out = std::process::Command::new("tcpdump")
        .args(["-nn", "-e", "-r"])
        .arg(&file)
        .output()
        .expect("tcpdump runs");
    let _ = std::fs::remove_file(&file);
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_bridge_of_two_vms_net_learns_both_vms_and_carries_their_pings() {
    let (net, lab) = run(None);
    assert_eq!(net.mode, NetMode::Bridge);
    let (macs, counters) = switch(&lab);
    for i in 0..2 {
        let mac = HostNet::mac(i).to_string();
        assert!(macs.contains(&mac), "{mac} not in {macs:?}");
    }
    assert_eq!(counters.len(), 2, "one port per VM");
    for (p, (rx, tx)) in counters.iter().enumerate() {
        assert!(*rx > 0 && *tx > 0, "port {p}: {rx} received, {tx} sent");
    }
    every_ping_answered(&lab);
    if let Some(text) = tcpdump(&lab, "br0:0") {
        let requests = text
            .lines()
            .filter(|l| l.contains("10.0.0.1 > 10.0.0.2: ICMP echo request"));
        assert_eq!(requests.count(), 4, "{text}");
        assert!(text.contains("52:54:00:00:00:02"), "{text}");
    }
}

#[test]
fn nat_mode_sends_both_vms_pings_to_the_outside_host() {
    let (net, lab) = run(Some(NetMode::Nat));
    assert_eq!(net.mode, NetMode::Nat);
    let (macs, counters) = switch(&lab);
    assert_eq!(counters.len(), 3, "a port per VM and one for the NAT");
    assert!(macs.contains(&"52:54:00:00:00:fe".to_string()), "{macs:?}");
    assert!(
        counters.iter().all(|(rx, tx)| *rx > 0 && *tx > 0),
        "{counters:?}"
    );
    every_ping_answered(&lab);
    if let Some(text) = tcpdump(&lab, "nat:1") {
        let out = text
            .lines()
            .filter(|l| l.contains("198.51.100.1 > 203.0.113.7: ICMP echo request"));
        assert_eq!(
            out.count(),
            8,
            "both VMs' pings leave from the NAT's address: {text}"
        );
    }
}
