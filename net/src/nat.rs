//! NAT between an inside subnet (port 0) and an outside link (port 1): the gateway answers ARP and ping, and rewrites ICMP echo ids and UDP ports.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::endpoint::respond;
use crate::wire::{
    ipv4_frame, Arp, Ethernet, IcmpEcho, Ipv4, Ipv4Addr, MacAddr, Udp, ARP_REPLY, ARP_REQUEST,
    ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_UDP,
};

/// Translations a NAT holds at most.
pub const MAX_MAPPINGS: usize = 1024;
/// Packets waiting for an outside ARP answer, at most.
pub const MAX_PENDING: usize = 64;
/// The first outside port (or ICMP id) handed out.
pub const FIRST_PORT: u16 = 20000;

/// One translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// ICMP or UDP.
    pub proto: u8,
    /// The inside host.
    pub inside_ip: Ipv4Addr,
    /// Its MAC.
    pub inside_mac: MacAddr,
    /// Its UDP port or ICMP id.
    pub inside_port: u16,
    /// The port or id used outside.
    pub outside_port: u16,
    /// Packets translated both ways.
    pub packets: u64,
}

/// NAT counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatCounters {
    /// Packets translated inside → outside.
    pub out: u64,
    /// Packets translated outside → inside.
    pub back: u64,
    /// Packets dropped (no mapping, table full, unsupported protocol).
    pub dropped: u64,
}

/// A NAT gateway.
#[derive(Clone, Debug)]
pub struct Nat {
    /// MAC on the inside.
    pub inside_mac: MacAddr,
    /// The gateway address the inside hosts use.
    pub inside_ip: Ipv4Addr,
    /// Inside prefix length.
    pub inside_prefix: u8,
    /// MAC on the outside.
    pub outside_mac: MacAddr,
    /// The one outside address every inside host shares.
    pub outside_ip: Ipv4Addr,
    mappings: Vec<Mapping>,
    outside_arp: BTreeMap<Ipv4Addr, MacAddr>,
    pending: Vec<(Ipv4Addr, u8, Vec<u8>)>,
    ip_id: u16,
    /// Counters.
    pub counters: NatCounters,
}

impl Nat {
    /// A NAT with no translations.
    pub fn new(
        inside_mac: MacAddr,
        inside_ip: Ipv4Addr,
        inside_prefix: u8,
        outside_mac: MacAddr,
        outside_ip: Ipv4Addr,
    ) -> Self {
        Nat {
            inside_mac,
            inside_ip,
            inside_prefix,
            outside_mac,
            outside_ip,
            mappings: Vec::new(),
            outside_arp: BTreeMap::new(),
            pending: Vec::new(),
            ip_id: 0,
            counters: NatCounters::default(),
        }
    }

    /// The translations.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// A frame on `port` (0 inside, 1 outside); returns what to send and where.
    pub fn receive(&mut self, port: u16, frame: &[u8]) -> Vec<(u16, Vec<u8>)> {
        if port == 0 {
            if let Some(r) = respond(self.inside_mac, self.inside_ip, frame) {
                return alloc::vec![(0, r)];
            }
            self.outbound(frame)
        } else {
            if let Some(r) = respond(self.outside_mac, self.outside_ip, frame) {
                return alloc::vec![(1, r)];
            }
            self.inbound(frame)
        }
    }

    fn drop(&mut self) -> Vec<(u16, Vec<u8>)> {
        self.counters.dropped += 1;
        Vec::new()
    }

    fn mapping_for(&mut self, proto: u8, ip: Ipv4Addr, mac: MacAddr, port: u16) -> Option<u16> {
        if let Some(m) = self
            .mappings
            .iter_mut()
            .find(|m| m.proto == proto && m.inside_ip == ip && m.inside_port == port)
        {
            m.packets += 1;
            m.inside_mac = mac;
            return Some(m.outside_port);
        }
        if self.mappings.len() >= MAX_MAPPINGS {
            return None;
        }
        let outside_port = FIRST_PORT + self.mappings.len() as u16;
        self.mappings.push(Mapping {
            proto,
            inside_ip: ip,
            inside_mac: mac,
            inside_port: port,
            outside_port,
            packets: 1,
        });
        Some(outside_port)
    }

    fn outbound(&mut self, frame: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let Ok(eth) = Ethernet::parse(frame) else {
            return self.drop();
        };
        if eth.ethertype != ETHERTYPE_IPV4 || eth.dst != self.inside_mac {
            return Vec::new();
        }
        let Ok(p) = Ipv4::parse(eth.payload) else {
            return self.drop();
        };
        if p.dst.same_prefix(self.inside_ip, self.inside_prefix) {
            return self.drop();
        }
        let body = match p.proto {
            PROTO_ICMP => {
                let Ok(e) = IcmpEcho::parse(p.payload) else {
                    return self.drop();
                };
                let Some(port) = self.mapping_for(PROTO_ICMP, p.src, eth.src, e.id) else {
                    return self.drop();
                };
                IcmpEcho { id: port, ..e }.to_bytes()
            }
            PROTO_UDP => {
                let Ok(u) = Udp::parse(p.payload, p.src, p.dst) else {
                    return self.drop();
                };
                let Some(port) = self.mapping_for(PROTO_UDP, p.src, eth.src, u.src_port) else {
                    return self.drop();
                };
                match Udp::build(self.outside_ip, p.dst, port, u.dst_port, u.payload) {
                    Ok(b) => b,
                    Err(_) => return self.drop(),
                }
            }
            _ => return self.drop(),
        };
        self.counters.out += 1;
        let dst = p.dst;
        match self.outside_arp.get(&dst) {
            Some(&mac) => self.send_out(dst, mac, p.proto, &body),
            None => {
                if self.pending.len() < MAX_PENDING {
                    self.pending.push((dst, p.proto, body));
                }
                let req = Arp {
                    op: ARP_REQUEST,
                    sha: self.outside_mac,
                    spa: self.outside_ip,
                    tha: MacAddr::ZERO,
                    tpa: dst,
                };
                alloc::vec![(1, req.frame())]
            }
        }
    }

    fn send_out(
        &mut self,
        dst: Ipv4Addr,
        mac: MacAddr,
        proto: u8,
        body: &[u8],
    ) -> Vec<(u16, Vec<u8>)> {
        self.ip_id = self.ip_id.wrapping_add(1);
        ipv4_frame(
            mac,
            self.outside_mac,
            self.outside_ip,
            dst,
            proto,
            self.ip_id,
            body,
        )
        .map(|f| alloc::vec![(1, f)])
        .unwrap_or_default()
    }

    fn inbound(&mut self, frame: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let Ok(eth) = Ethernet::parse(frame) else {
            return self.drop();
        };
        if eth.ethertype == ETHERTYPE_ARP {
            if let Ok(a) = Arp::parse(eth.payload) {
                if a.op == ARP_REPLY && a.tpa == self.outside_ip {
                    if self.outside_arp.len() < 256 {
                        self.outside_arp.insert(a.spa, a.sha);
                    }
                    let (ready, wait): (Vec<_>, Vec<_>) =
                        self.pending.drain(..).partition(|(ip, _, _)| *ip == a.spa);
                    self.pending = wait;
                    let mut out = Vec::new();
                    for (ip, proto, body) in ready {
                        out.extend(self.send_out(ip, a.sha, proto, &body));
                    }
                    return out;
                }
            }
            return Vec::new();
        }
        if eth.ethertype != ETHERTYPE_IPV4 || eth.dst != self.outside_mac {
            return Vec::new();
        }
        let Ok(p) = Ipv4::parse(eth.payload) else {
            return self.drop();
        };
        if p.dst != self.outside_ip {
            return self.drop();
        }
        let (port, rebuild): (u16, u8) = match p.proto {
            PROTO_ICMP => match IcmpEcho::parse(p.payload) {
                Ok(e) => (e.id, PROTO_ICMP),
                Err(_) => return self.drop(),
            },
            PROTO_UDP => match Udp::parse(p.payload, p.src, p.dst) {
                Ok(u) => (u.dst_port, PROTO_UDP),
                Err(_) => return self.drop(),
            },
            _ => return self.drop(),
        };
        let Some(m) = self
            .mappings
            .iter_mut()
            .find(|m| m.proto == rebuild && m.outside_port == port)
        else {
            return self.drop();
        };
        m.packets += 1;
        let m = *m;
        let body = if rebuild == PROTO_ICMP {
            match IcmpEcho::parse(p.payload) {
                Ok(e) => IcmpEcho {
                    id: m.inside_port,
                    ..e
                }
                .to_bytes(),
                Err(_) => return self.drop(),
            }
        } else {
            match Udp::parse(p.payload, p.src, p.dst)
                .and_then(|u| Udp::build(p.src, m.inside_ip, u.src_port, m.inside_port, u.payload))
            {
                Ok(b) => b,
                Err(_) => return self.drop(),
            }
        };
        self.counters.back += 1;
        ipv4_frame(
            m.inside_mac,
            self.inside_mac,
            p.src,
            m.inside_ip,
            p.proto,
            p.id,
            &body,
        )
        .map(|f| alloc::vec![(0, f)])
        .unwrap_or_default()
    }
}
