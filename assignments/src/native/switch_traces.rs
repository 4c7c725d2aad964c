//! The learning-switch lab's grading side: vmlab's own switch (`vmlab-net`) as the reference, and the packet traces it is compared on, built with `vmlab-net`'s frame builders.

use vmlab_net::flow::{Action, Match};
use vmlab_net::switch::Switch;
use vmlab_net::wire::{
    Arp, Ethernet, Ipv4, Ipv4Addr, MacAddr, ARP_REPLY, ARP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IPV4,
    PROTO_ICMP, PROTO_UDP,
};

use crate::component::switch::{Event, FlowSwitch, Rule, RuleAction, SwitchModel, Trace};
use crate::component::{CaseRng, CaseSelect};

/// vmlab's virtual switch behind the lab's trait.
#[derive(Clone, Copy, Debug, Default)]
pub struct VmlabSwitch;

struct Model {
    sw: Switch,
    ids: Vec<Option<u32>>,
}

impl SwitchModel for Model {
    fn add_rule(&mut self, r: &Rule) {
        let m = Match {
            in_port: r.in_port,
            eth_src: r.eth_src.map(MacAddr),
            eth_dst: r.eth_dst.map(MacAddr),
            ethertype: r.ethertype,
            ip_proto: r.ip_proto,
            ..Match::default()
        };
        let a = match r.action {
            RuleAction::Output(p) => Action::Output(p),
            RuleAction::Flood => Action::Flood,
            RuleAction::Normal => Action::Normal,
            RuleAction::Drop => Action::Drop,
        };
        let id = self.sw.flows_mut().add(r.priority, m, vec![a]).ok();
        self.ids.push(id);
    }
    fn receive(&mut self, now: u64, in_port: u16, frame: &[u8]) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .sw
            .receive(in_port, frame, now)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        ports.dedup();
        ports
    }
    fn rule_packets(&self, index: usize) -> u64 {
        self.ids
            .get(index)
            .copied()
            .flatten()
            .and_then(|id| self.sw.flows().get(id))
            .map_or(0, |f| f.packets)
    }
}

impl FlowSwitch for VmlabSwitch {
    fn new_switch(&self, ports: u16, ageing: u64) -> Box<dyn SwitchModel> {
        Box::new(Model {
            sw: Switch::new(ports, ageing),
            ids: Vec::new(),
        })
    }
}

/// The trace kinds a test can select.
pub const KINDS: [&str; 5] = ["hub", "learn", "age", "flows", "mixed"];

fn host(i: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, 0x10 + i]
}
const BROADCAST: [u8; 6] = [0xff; 6];
const MULTICAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

fn ip_of(mac: [u8; 6]) -> Ipv4Addr {
    Ipv4Addr([10, 0, 0, mac[5]])
}

/// An ARP frame from `src` to `dst` (a request when `dst` is broadcast).
fn arp(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let a = Arp {
        op: if dst == BROADCAST {
            ARP_REQUEST
        } else {
            ARP_REPLY
        },
        sha: MacAddr(src),
        spa: ip_of(src),
        tha: if dst == BROADCAST {
            MacAddr::ZERO
        } else {
            MacAddr(dst)
        },
        tpa: ip_of(dst),
    };
    Ethernet::build(MacAddr(dst), MacAddr(src), ETHERTYPE_ARP, &a.to_bytes())
}

/// An IPv4 frame of protocol `proto` with 8 bytes of payload.
fn ipv4(src: [u8; 6], dst: [u8; 6], proto: u8) -> Vec<u8> {
    let ip = Ipv4::build(ip_of(src), ip_of(dst), proto, 1, &[0u8; 8]).unwrap_or_default();
    Ethernet::build(MacAddr(dst), MacAddr(src), ETHERTYPE_IPV4, &ip)
}

fn frame(now: u64, in_port: u16, frame: Vec<u8>) -> Event {
    Event::Frame {
        now,
        in_port,
        frame,
    }
}

fn rule(priority: u16, action: RuleAction) -> Rule {
    Rule {
        priority,
        in_port: None,
        eth_src: None,
        eth_dst: None,
        ethertype: None,
        ip_proto: None,
        action,
    }
}

fn trace(name: &str, ports: u16, ageing: u64, events: Vec<Event>) -> Trace {
    Trace {
        name: name.into(),
        ports,
        ageing,
        events,
    }
}

/// Hand-made traces, one per rule of the switch.
fn edge() -> Vec<Trace> {
    let (a, b, c) = (host(1), host(2), host(3));
    vec![
        trace(
            "hub: a broadcast floods to every other port",
            4,
            100,
            vec![frame(0, 2, arp(a, BROADCAST))],
        ),
        trace(
            "hub: a multicast floods, even to a known port",
            3,
            100,
            vec![
                frame(0, 1, arp(a, BROADCAST)),
                frame(1, 0, ipv4(b, MULTICAST, PROTO_UDP)),
            ],
        ),
        trace(
            "learn: unknown unicast floods, then the reply goes one way",
            4,
            100,
            vec![
                frame(0, 0, ipv4(a, b, PROTO_ICMP)),
                frame(1, 3, ipv4(b, a, PROTO_ICMP)),
                frame(2, 0, ipv4(a, b, PROTO_ICMP)),
            ],
        ),
        trace(
            "learn: a frame for a host on its own port is filtered",
            3,
            100,
            vec![
                frame(0, 1, arp(a, BROADCAST)),
                frame(1, 1, arp(b, BROADCAST)),
                frame(2, 1, ipv4(a, b, PROTO_UDP)),
            ],
        ),
        trace(
            "learn: a host that moves is followed",
            3,
            100,
            vec![
                frame(0, 0, arp(a, BROADCAST)),
                frame(1, 2, ipv4(b, a, PROTO_UDP)),
                frame(2, 1, arp(a, BROADCAST)),
                frame(3, 2, ipv4(b, a, PROTO_UDP)),
            ],
        ),
        trace(
            "learn: a multicast source is never learned",
            3,
            100,
            vec![
                frame(0, 0, ipv4(MULTICAST, a, PROTO_UDP)),
                frame(1, 1, ipv4(a, MULTICAST, PROTO_UDP)),
            ],
        ),
        trace(
            "age: an entry is valid for exactly `ageing` ticks",
            3,
            10,
            vec![
                frame(0, 0, arp(a, BROADCAST)),
                frame(9, 1, ipv4(b, a, PROTO_ICMP)),
                frame(19, 2, ipv4(c, a, PROTO_ICMP)),
                frame(19, 2, ipv4(c, b, PROTO_ICMP)),
            ],
        ),
        trace(
            "flows: a drop rule drops and counts",
            3,
            100,
            vec![
                Event::Rule(Rule {
                    ip_proto: Some(PROTO_ICMP),
                    ethertype: Some(ETHERTYPE_IPV4),
                    ..rule(10, RuleAction::Drop)
                }),
                frame(0, 0, arp(a, BROADCAST)),
                frame(1, 1, ipv4(b, a, PROTO_ICMP)),
                frame(2, 1, ipv4(b, a, PROTO_UDP)),
                frame(3, 1, ipv4(b, a, PROTO_ICMP)),
            ],
        ),
        trace(
            "flows: the higher priority wins, then the older rule",
            4,
            100,
            vec![
                Event::Rule(Rule {
                    in_port: Some(0),
                    ..rule(5, RuleAction::Output(1))
                }),
                Event::Rule(Rule {
                    eth_src: Some(a),
                    ..rule(5, RuleAction::Output(2))
                }),
                Event::Rule(Rule {
                    eth_dst: Some(b),
                    ..rule(7, RuleAction::Output(3))
                }),
                frame(0, 0, ipv4(a, c, PROTO_UDP)),
                frame(1, 0, ipv4(a, b, PROTO_UDP)),
                frame(2, 2, ipv4(a, c, PROTO_UDP)),
            ],
        ),
        trace(
            "flows: an ip_proto rule never matches ARP",
            3,
            100,
            vec![
                Event::Rule(Rule {
                    ip_proto: Some(PROTO_UDP),
                    ..rule(9, RuleAction::Drop)
                }),
                frame(0, 0, arp(a, BROADCAST)),
                frame(1, 0, ipv4(a, b, PROTO_UDP)),
            ],
        ),
        trace(
            "flows: output, flood and normal; a rule still learns the source",
            4,
            100,
            vec![
                Event::Rule(Rule {
                    eth_src: Some(a),
                    ..rule(3, RuleAction::Output(0))
                }),
                Event::Rule(Rule {
                    eth_src: Some(b),
                    ..rule(3, RuleAction::Flood)
                }),
                Event::Rule(Rule {
                    ethertype: Some(ETHERTYPE_IPV4),
                    ..rule(1, RuleAction::Normal)
                }),
                frame(0, 0, ipv4(a, b, PROTO_ICMP)),
                frame(1, 2, ipv4(b, a, PROTO_ICMP)),
                frame(2, 1, ipv4(c, a, PROTO_ICMP)),
                frame(3, 1, ipv4(c, b, PROTO_ICMP)),
            ],
        ),
    ]
}

fn pick_mac(rng: &mut CaseRng, hosts: u8) -> [u8; 6] {
    host((rng.next_u32() % u32::from(hosts)) as u8)
}

fn random_rule(rng: &mut CaseRng, ports: u16, hosts: u8) -> Rule {
    let mut chance = |n: u32| rng.next_u32().is_multiple_of(n);
    let (w_in, w_src, w_dst, w_type, w_proto) =
        (chance(4), chance(4), chance(4), chance(3), chance(3));
    let priority = rng.pick(&[0u16, 1, 5, 5, 10, 100]);
    let action = match rng.next_u32() % 4 {
        0 => RuleAction::Output((rng.next_u32() % u32::from(ports)) as u16),
        1 => RuleAction::Flood,
        2 => RuleAction::Normal,
        _ => RuleAction::Drop,
    };
    Rule {
        priority,
        in_port: w_in.then(|| (rng.next_u32() % u32::from(ports)) as u16),
        eth_src: w_src.then(|| pick_mac(rng, hosts)),
        eth_dst: w_dst.then(|| pick_mac(rng, hosts)),
        ethertype: w_type.then(|| rng.pick(&[ETHERTYPE_IPV4, ETHERTYPE_ARP])),
        ip_proto: w_proto.then(|| rng.pick(&[PROTO_ICMP, PROTO_UDP, 6])),
        action,
    }
}

fn random_trace(kind: &str, rng: &mut CaseRng, n: u32) -> Trace {
    let ports = 2 + (rng.next_u32() % 7) as u16;
    let hosts = 2 + (rng.next_u32() % 6) as u8;
    let ageing = match kind {
        "age" => 3 + u64::from(rng.next_u32() % 10),
        "mixed" => 5 + u64::from(rng.next_u32() % 40),
        _ => 1000,
    };
    let mut home: Vec<u16> = (0..hosts)
        .map(|_| (rng.next_u32() % u32::from(ports)) as u16)
        .collect();
    let mut events = Vec::new();
    if matches!(kind, "flows" | "mixed") {
        for _ in 0..1 + rng.next_u32() % 5 {
            events.push(Event::Rule(random_rule(rng, ports, hosts)));
        }
    }
    let mut now = 0u64;
    let frames = 15 + rng.next_u32() % 40;
    for _ in 0..frames {
        now += match kind {
            "age" | "mixed" => u64::from(rng.next_u32() % 5),
            _ => u64::from(rng.next_u32() % 2),
        };
        if kind == "mixed" && rng.next_u32().is_multiple_of(12) {
            events.push(Event::Rule(random_rule(rng, ports, hosts)));
        }
        let s = (rng.next_u32() % u32::from(hosts)) as usize;
        if rng.next_u32().is_multiple_of(10) {
            home[s] = (rng.next_u32() % u32::from(ports)) as u16;
        }
        let src = host(s as u8);
        let f = if kind == "hub" || rng.next_u32().is_multiple_of(5) {
            if rng.next_u32().is_multiple_of(4) {
                ipv4(src, MULTICAST, PROTO_UDP)
            } else {
                arp(src, BROADCAST)
            }
        } else {
            let dst = pick_mac(rng, hosts);
            match rng.next_u32() % 4 {
                0 => arp(src, dst),
                1 => ipv4(src, dst, PROTO_ICMP),
                2 => ipv4(src, dst, PROTO_UDP),
                _ => ipv4(src, dst, 6),
            }
        };
        events.push(frame(now, home[s], f));
    }
    trace(&format!("{kind} trace {n}"), ports, ageing, events)
}

/// The traces a test selects: the edge traces of the selected kinds, then `random` seeded ones.
pub fn cases(select: &CaseSelect) -> Vec<Trace> {
    let kinds: Vec<&str> = if select.select.is_empty() {
        KINDS.to_vec()
    } else {
        KINDS
            .iter()
            .copied()
            .filter(|k| select.select.iter().any(|s| s == k))
            .collect()
    };
    let mut out = Vec::new();
    if select.edge {
        out.extend(
            edge()
                .into_iter()
                .filter(|t| kinds.iter().any(|k| t.name.starts_with(&format!("{k}:")))),
        );
    }
    let mut rng = CaseRng::new(select.seed);
    for n in 0..select.random {
        if kinds.is_empty() {
            break;
        }
        let kind = rng.pick(&kinds);
        out.push(random_trace(kind, &mut rng, n + 1));
    }
    out
}
