//! Frame parsing and building: checksums against worked examples, round trips, and no panic on truncated or random frames anywhere in the network.

use vmlab_net::bridge::MacTable;
use vmlab_net::endpoint::{Endpoint, Plan};
use vmlab_net::flow::{Action, Match};
use vmlab_net::nat::Nat;
use vmlab_net::switch::Switch;
use vmlab_net::vxlan::{self, Vtep};
use vmlab_net::wire::*;

fn mac(s: &str) -> MacAddr {
    MacAddr::parse(s).expect("mac")
}
fn ip(s: &str) -> Ipv4Addr {
    Ipv4Addr::parse(s).expect("ip")
}

#[test]
fn ipv4_header_checksum_matches_the_textbook_example() {
    // The header worked through on Wikipedia's "IPv4 header checksum" page: 0xb861.
    let h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(checksum(&h), 0xb861);
    let mut with = h;
    with[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    assert_eq!(
        checksum(&with),
        0,
        "a header with its checksum sums to zero"
    );
}

#[test]
fn built_packets_parse_back_and_checksums_verify() {
    let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let udp = Udp::build(a, b, 1234, 7, b"hello").expect("udp");
    let f = ipv4_frame(
        mac("02:00:00:00:00:02"),
        mac("02:00:00:00:00:01"),
        a,
        b,
        PROTO_UDP,
        9,
        &udp,
    )
    .expect("frame");
    let eth = Ethernet::parse(&f).expect("eth");
    let p = Ipv4::parse(eth.payload).expect("ip");
    assert_eq!((p.src, p.dst, p.proto, p.id), (a, b, PROTO_UDP, 9));
    let u = Udp::parse(p.payload, p.src, p.dst).expect("udp");
    assert_eq!(
        (u.src_port, u.dst_port, u.payload),
        (1234, 7, &b"hello"[..])
    );
    // One flipped bit anywhere in the UDP part breaks its checksum.
    for i in 0..udp.len() {
        let mut bad = udp.clone();
        bad[i] ^= 0x10;
        assert!(
            Udp::parse(&bad, a, b).is_err(),
            "flip in byte {i} not caught"
        );
    }
    let echo = IcmpEcho {
        ty: ICMP_ECHO_REQUEST,
        id: 7,
        seq: 3,
        data: b"xyz",
    }
    .to_bytes();
    assert_eq!(IcmpEcho::parse(&echo).expect("icmp").seq, 3);
    let mut bad = echo.clone();
    bad[9] ^= 1;
    assert_eq!(IcmpEcho::parse(&bad), Err(WireError::Checksum("ICMP")));
    let arp = Arp {
        op: ARP_REQUEST,
        sha: mac("02:00:00:00:00:01"),
        spa: a,
        tha: MacAddr::ZERO,
        tpa: b,
    };
    let af = arp.frame();
    assert_eq!(af.len(), 42);
    assert_eq!(
        Arp::parse(Ethernet::parse(&af).expect("eth").payload),
        Ok(arp)
    );
}

#[test]
fn vxlan_round_trip_keeps_the_inner_frame_and_vni() {
    let inner = Arp {
        op: ARP_REQUEST,
        sha: mac("02:00:00:00:00:01"),
        spa: ip("10.0.0.1"),
        tha: MacAddr::ZERO,
        tpa: ip("10.0.0.2"),
    }
    .frame();
    let mut t = Vtep::new(
        mac("02:00:00:00:ff:01"),
        ip("192.168.0.1"),
        0x123456,
        vec![(ip("192.168.0.2"), mac("02:00:00:00:ff:02"))],
    );
    let out = t.receive(0, &inner);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.len(), inner.len() + vxlan::OVERHEAD);
    let d = vxlan::decapsulate(&out[0].1).expect("decap");
    assert_eq!(
        (d.vni, d.inner, d.outer_src),
        (0x123456, &inner[..], ip("192.168.0.1"))
    );
    // Another VNI is refused by the far end.
    let mut far = Vtep::new(
        mac("02:00:00:00:ff:02"),
        ip("192.168.0.2"),
        7,
        vec![(ip("192.168.0.1"), mac("02:00:00:00:ff:01"))],
    );
    assert!(far.receive(1, &out[0].1).is_empty());
    assert_eq!(far.counters.refused, 1);
}

#[test]
fn mac_table_ages_entries_out() {
    let mut t = MacTable::new(10);
    t.learn(mac("02:00:00:00:00:01"), 3, 5);
    assert_eq!(t.lookup(mac("02:00:00:00:00:01"), 14), Some(3));
    assert_eq!(t.lookup(mac("02:00:00:00:00:01"), 15), None);
    t.learn(MacAddr::BROADCAST, 1, 0);
    assert_eq!(
        t.lookup(MacAddr::BROADCAST, 0),
        None,
        "group addresses are never learned"
    );
}

#[test]
fn flow_priorities_and_counters() {
    let mut sw = Switch::new(3, 100);
    let icmp = Match {
        ip_proto: Some(PROTO_ICMP),
        ..Match::default()
    };
    let low = sw
        .flows_mut()
        .add(1, icmp, vec![Action::Output(2)])
        .expect("add");
    let high = sw
        .flows_mut()
        .add(5, icmp, vec![Action::Drop])
        .expect("add");
    let echo = IcmpEcho {
        ty: ICMP_ECHO_REQUEST,
        id: 1,
        seq: 1,
        data: &[],
    }
    .to_bytes();
    let f = ipv4_frame(
        mac("02:00:00:00:00:02"),
        mac("02:00:00:00:00:01"),
        ip("10.0.0.1"),
        ip("10.0.0.2"),
        PROTO_ICMP,
        1,
        &echo,
    )
    .expect("frame");
    assert!(
        sw.receive(0, &f, 0).is_empty(),
        "the higher-priority drop wins"
    );
    sw.flows_mut().delete(high).expect("delete");
    let out = sw.receive(0, &f, 1);
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), [2]);
    sw.flows_mut()
        .modify(
            low,
            vec![Action::SetEthDst(mac("02:00:00:00:00:09")), Action::Flood],
        )
        .expect("modify");
    let out = sw.receive(0, &f, 2);
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), [1, 2]);
    assert!(out.iter().all(|o| o.1[..6] == mac("02:00:00:00:00:09").0));
    assert_eq!(
        sw.flows().get(low).map(|f| (f.packets, f.bytes)),
        Some((2, 2 * f.len() as u64))
    );
    assert!(sw.flows_mut().delete(high).is_err());
}

/// SplitMix64, so the random frames are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn truncated_and_random_frames_never_panic() {
    let a = mac("02:00:00:00:00:0a");
    let gw = mac("02:00:00:00:00:fe");
    let vt = mac("02:00:00:00:ff:01");
    let (ia, ib) = (ip("10.0.0.1"), ip("10.0.0.2"));
    // Valid frames of every kind the network carries, to truncate and corrupt.
    let echo = IcmpEcho {
        ty: ICMP_ECHO_REQUEST,
        id: 1,
        seq: 1,
        data: b"data",
    }
    .to_bytes();
    let udp = Udp::build(ia, ib, 5, 7, b"data").expect("udp");
    let mut seeds = vec![
        Arp {
            op: ARP_REQUEST,
            sha: a,
            spa: ia,
            tha: MacAddr::ZERO,
            tpa: ib,
        }
        .frame(),
        ipv4_frame(gw, a, ia, ip("8.8.8.8"), PROTO_ICMP, 1, &echo).expect("f"),
        ipv4_frame(gw, a, ia, ip("8.8.8.8"), PROTO_UDP, 1, &udp).expect("f"),
        ipv4_frame(a, gw, ib, ia, PROTO_ICMP, 1, &echo).expect("f"),
    ];
    let mut t = Vtep::new(vt, ip("192.168.0.2"), 1, vec![(ip("192.168.0.1"), vt)]);
    let enc = t.receive(0, &seeds[1]);
    seeds.push(enc[0].1.clone());
    let mut rng = Rng(17);
    let mut sw = Switch::new(4, 50);
    sw.flows_mut()
        .add(
            3,
            Match {
                ip_proto: Some(PROTO_UDP),
                ..Match::default()
            },
            vec![Action::Controller],
        )
        .expect("add");
    let mut nat = Nat::new(
        gw,
        ip("10.0.0.254"),
        24,
        mac("02:00:00:00:01:fe"),
        ip("198.51.100.1"),
    );
    let mut ep = Endpoint::new(
        a,
        ia,
        24,
        None,
        Some(Plan {
            target: ib,
            pings: 2,
            udp: 2,
            start: 0,
            interval: 1,
        }),
    );
    let mut vtep = Vtep::new(vt, ip("192.168.0.1"), 1, vec![(ip("192.168.0.2"), vt)]);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for s in &seeds {
        for n in 0..=s.len() {
            frames.push(s[..n].to_vec());
        }
        for _ in 0..300 {
            let mut f = s.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % f.len();
                f[i] = rng.next() as u8;
            }
            frames.push(f);
        }
    }
    for _ in 0..2000 {
        let n = (rng.next() % 200) as usize;
        frames.push((0..n).map(|_| rng.next() as u8).collect());
    }
    frames.push(vec![0xff; 70_000]);
    for (i, f) in frames.iter().enumerate() {
        let now = i as u64;
        let _ = FrameKey::of(f);
        let _ = describe(f);
        let _ = vxlan::decapsulate(f);
        let _ = sw.receive((i % 5) as u16, f, now);
        let _ = sw.take_packet_ins();
        let _ = nat.receive((i % 2) as u16, f);
        let _ = ep.receive(f);
        let _ = ep.tick(now);
        let _ = vtep.receive((i % 2) as u16, f);
    }
    // The bad frames were counted, not forwarded blindly: port 4 does not exist.
    assert_eq!(sw.counters().len(), 4);
    assert!(sw.counters()[0].dropped > 0);
    assert!(nat.counters.dropped > 0);
}

#[test]
fn pcap_files_read_back_and_refuse_damage() {
    let mut w = vmlab_net::pcap::PcapWriter::new();
    let f = Arp {
        op: ARP_REQUEST,
        sha: mac("02:00:00:00:00:01"),
        spa: ip("10.0.0.1"),
        tha: MacAddr::ZERO,
        tpa: ip("10.0.0.2"),
    }
    .frame();
    w.record(1_500_002, &f);
    w.record(2_000_000, &f[..20]);
    let back = vmlab_net::pcap::read(w.bytes()).expect("reads");
    assert_eq!(
        back,
        vec![(1_500_002, f.clone()), (2_000_000, f[..20].to_vec())]
    );
    assert_eq!(
        &w.bytes()[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian magic"
    );
    for cut in [0, 23, 24 + 15, w.bytes().len() - 1] {
        assert!(
            vmlab_net::pcap::read(&w.bytes()[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}
