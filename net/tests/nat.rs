//! NAT: the gateway answers ARP and ping itself, translates both ways, and drops what it has no mapping for.

use vmlab_net::nat::Nat;
use vmlab_net::wire::*;

fn mac(s: &str) -> MacAddr {
    MacAddr::parse(s).expect("mac")
}
fn ip(s: &str) -> Ipv4Addr {
    Ipv4Addr::parse(s).expect("ip")
}

fn nat() -> Nat {
    Nat::new(
        mac("02:00:00:00:00:fe"),
        ip("10.0.0.254"),
        24,
        mac("02:00:00:00:01:fe"),
        ip("198.51.100.1"),
    )
}

#[test]
fn the_gateway_answers_arp_and_ping_on_both_sides() {
    let mut n = nat();
    let guest = mac("02:00:00:00:00:0a");
    let req = Arp {
        op: ARP_REQUEST,
        sha: guest,
        spa: ip("10.0.0.1"),
        tha: MacAddr::ZERO,
        tpa: ip("10.0.0.254"),
    };
    let out = n.receive(0, &req.frame());
    assert_eq!(out.len(), 1);
    let a = Arp::parse(Ethernet::parse(&out[0].1).expect("eth").payload).expect("arp");
    assert_eq!(
        (out[0].0, a.op, a.sha, a.spa),
        (0, ARP_REPLY, mac("02:00:00:00:00:fe"), ip("10.0.0.254"))
    );
    // The outside side answers for the outside address only.
    assert!(n.receive(1, &req.frame()).is_empty());
    let echo = IcmpEcho {
        ty: ICMP_ECHO_REQUEST,
        id: 3,
        seq: 1,
        data: b"hi",
    }
    .to_bytes();
    let ping = ipv4_frame(
        mac("02:00:00:00:00:fe"),
        guest,
        ip("10.0.0.1"),
        ip("10.0.0.254"),
        PROTO_ICMP,
        1,
        &echo,
    )
    .expect("f");
    let out = n.receive(0, &ping);
    let p = Ipv4::parse(Ethernet::parse(&out[0].1).expect("eth").payload).expect("ip");
    assert_eq!((p.src, p.dst), (ip("10.0.0.254"), ip("10.0.0.1")));
    assert_eq!(
        IcmpEcho::parse(p.payload).expect("icmp").ty,
        ICMP_ECHO_REPLY
    );
    assert_eq!(
        n.mappings().len(),
        0,
        "a ping of the gateway is not translated"
    );
}

#[test]
fn unsolicited_outside_packets_and_inside_to_inside_are_dropped() {
    let mut n = nat();
    let reply = IcmpEcho {
        ty: ICMP_ECHO_REPLY,
        id: 20000,
        seq: 1,
        data: b"",
    }
    .to_bytes();
    let f = ipv4_frame(
        mac("02:00:00:00:01:fe"),
        mac("02:00:00:00:99:99"),
        ip("203.0.113.7"),
        ip("198.51.100.1"),
        PROTO_ICMP,
        1,
        &reply,
    )
    .expect("f");
    assert!(n.receive(1, &f).is_empty());
    let u = Udp::build(ip("10.0.0.1"), ip("10.0.0.2"), 5, 7, b"x").expect("udp");
    let f = ipv4_frame(
        mac("02:00:00:00:00:fe"),
        mac("02:00:00:00:00:0a"),
        ip("10.0.0.1"),
        ip("10.0.0.2"),
        PROTO_UDP,
        1,
        &u,
    )
    .expect("f");
    assert!(n.receive(0, &f).is_empty());
    assert_eq!(n.counters.dropped, 2);
    assert_eq!((n.counters.out, n.counters.back), (0, 0));
}
