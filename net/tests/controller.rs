//! A controller program written against the switch API: it sees packet-ins, adds,
//! modifies and deletes flows, and sends packet-outs, and the pings show each change.

use vmlab_net::endpoint::Endpoint;
use vmlab_net::flow::{Action, Match};
use vmlab_net::network::{Controller, Network, Node};
use vmlab_net::switch::{PacketIn, Switch};
use vmlab_net::wire::{FrameKey, Ipv4Addr, MacAddr, PROTO_ICMP};

/// Floods what it is sent, counts the ICMP packet-ins, and after `limit` of them
/// installs a flow that drops ICMP (priority 50).
struct IcmpQuota {
    limit: u32,
    seen: u32,
    flow: Option<u32>,
}

impl Controller for IcmpQuota {
    fn packet_in(
        &mut self,
        _: &str,
        sw: &mut Switch,
        pi: PacketIn,
        _now: u64,
    ) -> Vec<(u16, Vec<u8>)> {
        let key = FrameKey::of(&pi.frame).expect("a whole frame");
        if key.ip_proto == Some(PROTO_ICMP) {
            self.seen += 1;
            if self.seen == self.limit {
                let m = Match {
                    ip_proto: Some(PROTO_ICMP),
                    ..Match::default()
                };
                self.flow = sw.flows_mut().add(50, m, vec![Action::Drop]).ok();
            }
        }
        (0..sw.ports())
            .filter(|&p| p != pi.in_port)
            .map(|p| (p, pi.frame.clone()))
            .collect()
    }
}

fn network() -> Network {
    let mut net = Network::new();
    let mut sw = Switch::new(2, 100);
    sw.flows_mut()
        .add(0, Match::default(), vec![Action::Controller])
        .expect("table-miss flow");
    net.add("sw", Node::Switch(sw)).expect("add");
    let (a, b) = (Ipv4Addr([10, 0, 0, 1]), Ipv4Addr([10, 0, 0, 2]));
    let plan = vmlab_net::endpoint::Plan {
        target: b,
        pings: 12,
        udp: 0,
        start: 0,
        interval: 1,
    };
    net.add(
        "a",
        Node::Endpoint(Endpoint::new(
            MacAddr([2, 0, 0, 0, 0, 0xa]),
            a,
            24,
            None,
            Some(plan),
        )),
    )
    .expect("add");
    net.add(
        "b",
        Node::Endpoint(Endpoint::new(
            MacAddr([2, 0, 0, 0, 0, 0xb]),
            b,
            24,
            None,
            None,
        )),
    )
    .expect("add");
    for (x, y) in [("a", "sw:0"), ("b", "sw:1")] {
        let (x, y) = (net.port(x).expect("port"), net.port(y).expect("port"));
        net.link(x, y).expect("link");
    }
    net
}

fn stats(net: &Network) -> (u64, u64) {
    match net.node("a") {
        Some(Node::Endpoint(e)) => (e.stats.pings_sent, e.stats.ping_replies),
        _ => panic!("a"),
    }
}

fn switch(net: &mut Network) -> &mut Switch {
    match net.node_mut("sw") {
        Some(Node::Switch(s)) => s,
        _ => panic!("sw"),
    }
}

#[test]
fn a_controller_installs_modifies_and_deletes_flows() {
    let mut net = network();
    let mut c = IcmpQuota {
        limit: 6,
        seen: 0,
        flow: None,
    };
    // Ticks 0..4: ARP, then pings 1..3 with their replies (6 ICMP packet-ins).
    assert!(net.run(4, 10_000, &mut c));
    assert_eq!(stats(&net), (3, 3));
    let id = c.flow.expect("the quota flow is installed");
    // Ticks 4..8: pings 4..7 hit the drop flow.
    assert!(net.run(4, 10_000, &mut c));
    assert_eq!(stats(&net), (7, 3));
    assert_eq!(switch(&mut net).flows().get(id).map(|f| f.packets), Some(4));
    // The controller changes its mind: the flow now floods, and counts on.
    switch(&mut net)
        .flows_mut()
        .modify(id, vec![Action::Flood])
        .expect("modify");
    assert!(net.run(2, 10_000, &mut c));
    assert_eq!(stats(&net), (9, 5));
    assert_eq!(switch(&mut net).flows().get(id).map(|f| f.packets), Some(8));
    // Deleted, the traffic goes back to packet-ins.
    let gone = switch(&mut net).flows_mut().delete(id).expect("delete");
    assert_eq!(gone.packets, 8);
    let before = c.seen;
    assert!(net.run(3, 10_000, &mut c));
    assert_eq!(stats(&net), (12, 8));
    assert_eq!(c.seen - before, 6);
}
