//! Endpoint stubs that behave like guests: they ARP for a peer, send pings and UDP echoes, and answer ARP, ICMP echo and UDP echo (port 7).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::wire::{
    ipv4_frame, Arp, Ethernet, IcmpEcho, Ipv4, Ipv4Addr, MacAddr, Udp, ARP_REPLY, ARP_REQUEST,
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, PROTO_ICMP, PROTO_UDP,
};

/// The UDP echo service's port.
pub const UDP_ECHO_PORT: u16 = 7;
/// Ticks between ARP retries.
pub const ARP_RETRY: u64 = 3;

/// The answer of a host with `mac` and `ip` to `frame`: an ARP reply, an ICMP echo
/// reply or a UDP echo, or `None`. Used by endpoints, the outside host and the NAT.
pub fn respond(mac: MacAddr, ip: Ipv4Addr, frame: &[u8]) -> Option<Vec<u8>> {
    let eth = Ethernet::parse(frame).ok()?;
    match eth.ethertype {
        ETHERTYPE_ARP => {
            let a = Arp::parse(eth.payload).ok()?;
            (a.op == ARP_REQUEST && a.tpa == ip).then(|| {
                Arp {
                    op: ARP_REPLY,
                    sha: mac,
                    spa: ip,
                    tha: a.sha,
                    tpa: a.spa,
                }
                .frame()
            })
        }
        ETHERTYPE_IPV4 if eth.dst == mac => {
            let p = Ipv4::parse(eth.payload).ok()?;
            if p.dst != ip {
                return None;
            }
            let body = match p.proto {
                PROTO_ICMP => {
                    let e = IcmpEcho::parse(p.payload).ok()?;
                    if e.ty != ICMP_ECHO_REQUEST {
                        return None;
                    }
                    IcmpEcho {
                        ty: ICMP_ECHO_REPLY,
                        ..e
                    }
                    .to_bytes()
                }
                PROTO_UDP => {
                    let u = Udp::parse(p.payload, p.src, p.dst).ok()?;
                    if u.dst_port != UDP_ECHO_PORT {
                        return None;
                    }
                    Udp::build(ip, p.src, u.dst_port, u.src_port, u.payload).ok()?
                }
                _ => return None,
            };
            ipv4_frame(eth.src, mac, ip, p.src, p.proto, p.id, &body).ok()
        }
        _ => None,
    }
}

/// What an endpoint sends on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Whom to ping (and send UDP echoes to).
    pub target: Ipv4Addr,
    /// Pings to send.
    pub pings: u32,
    /// UDP echo datagrams to send.
    pub udp: u32,
    /// First tick to send at.
    pub start: u64,
    /// Ticks between two sends.
    pub interval: u64,
}

/// An endpoint's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// ARP requests sent.
    pub arp_requests: u64,
    /// ICMP echo requests sent.
    pub pings_sent: u64,
    /// ICMP echo replies received for our pings.
    pub ping_replies: u64,
    /// UDP echo datagrams sent.
    pub udp_sent: u64,
    /// UDP echoes received back.
    pub udp_replies: u64,
    /// Requests answered (ARP, echo, UDP echo).
    pub answered: u64,
    /// Frames received.
    pub received: u64,
}

/// A guest stand-in on one port (port 0).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Its MAC.
    pub mac: MacAddr,
    /// Its IP.
    pub ip: Ipv4Addr,
    /// Its subnet's prefix length.
    pub prefix: u8,
    /// The router for other subnets.
    pub gateway: Option<Ipv4Addr>,
    /// What it sends on its own.
    pub plan: Option<Plan>,
    arp: BTreeMap<Ipv4Addr, MacAddr>,
    last_arp: Option<u64>,
    next_send: u64,
    ip_id: u16,
    /// Counters.
    pub stats: EndpointStats,
}

/// The ICMP identifier endpoints use.
pub const PING_ID: u16 = 0x766d;
/// The UDP source port endpoints use.
pub const UDP_SRC_PORT: u16 = 40000;

impl Endpoint {
    /// An endpoint with an empty ARP cache.
    pub fn new(
        mac: MacAddr,
        ip: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        plan: Option<Plan>,
    ) -> Self {
        Endpoint {
            mac,
            ip,
            prefix,
            gateway,
            plan,
            arp: BTreeMap::new(),
            last_arp: None,
            next_send: plan.map_or(0, |p| p.start),
            ip_id: 0,
            stats: EndpointStats::default(),
        }
    }

    /// The ARP cache.
    pub fn arp_cache(&self) -> &BTreeMap<Ipv4Addr, MacAddr> {
        &self.arp
    }

    fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        match self.gateway {
            Some(g) if !dst.same_prefix(self.ip, self.prefix) => g,
            _ => dst,
        }
    }

    /// What the endpoint sends at `now` of its own accord.
    pub fn tick(&mut self, now: u64) -> Vec<Vec<u8>> {
        let Some(plan) = self.plan else {
            return Vec::new();
        };
        let left = u64::from(plan.pings) + u64::from(plan.udp)
            - self.stats.pings_sent.min(u64::from(plan.pings))
            - self.stats.udp_sent.min(u64::from(plan.udp));
        if left == 0 || now < self.next_send {
            return Vec::new();
        }
        let hop = self.next_hop(plan.target);
        let Some(&dst_mac) = self.arp.get(&hop) else {
            if self.last_arp.is_none_or(|t| now >= t + ARP_RETRY) {
                self.last_arp = Some(now);
                self.stats.arp_requests += 1;
                let req = Arp {
                    op: ARP_REQUEST,
                    sha: self.mac,
                    spa: self.ip,
                    tha: MacAddr::ZERO,
                    tpa: hop,
                };
                return alloc::vec![req.frame()];
            }
            return Vec::new();
        };
        self.next_send = now + plan.interval.max(1);
        self.ip_id = self.ip_id.wrapping_add(1);
        let frame = if self.stats.pings_sent < u64::from(plan.pings) {
            self.stats.pings_sent += 1;
            let data = *b"vmlab ping data!";
            let echo = IcmpEcho {
                ty: ICMP_ECHO_REQUEST,
                id: PING_ID,
                seq: self.stats.pings_sent as u16,
                data: &data,
            };
            ipv4_frame(
                dst_mac,
                self.mac,
                self.ip,
                plan.target,
                PROTO_ICMP,
                self.ip_id,
                &echo.to_bytes(),
            )
        } else {
            self.stats.udp_sent += 1;
            Udp::build(
                self.ip,
                plan.target,
                UDP_SRC_PORT,
                UDP_ECHO_PORT,
                b"vmlab udp echo",
            )
            .and_then(|u| {
                ipv4_frame(
                    dst_mac,
                    self.mac,
                    self.ip,
                    plan.target,
                    PROTO_UDP,
                    self.ip_id,
                    &u,
                )
            })
        };
        frame.into_iter().collect()
    }

    /// A frame arrives; returns the answers to send.
    pub fn receive(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        self.stats.received += 1;
        let Ok(eth) = Ethernet::parse(frame) else {
            return Vec::new();
        };
        if eth.ethertype == ETHERTYPE_ARP {
            if let Ok(a) = Arp::parse(eth.payload) {
                // Learn from requests for us and from replies addressed to us.
                if a.tpa == self.ip && self.arp.len() < 256 {
                    self.arp.insert(a.spa, a.sha);
                }
            }
        } else if eth.ethertype == ETHERTYPE_IPV4 && eth.dst == self.mac {
            if let Ok(p) = Ipv4::parse(eth.payload) {
                if p.dst == self.ip {
                    match p.proto {
                        PROTO_ICMP => {
                            if let Ok(e) = IcmpEcho::parse(p.payload) {
                                if e.ty == ICMP_ECHO_REPLY && e.id == PING_ID {
                                    self.stats.ping_replies += 1;
                                }
                            }
                        }
                        PROTO_UDP => {
                            if let Ok(u) = Udp::parse(p.payload, p.src, p.dst) {
                                if u.src_port == UDP_ECHO_PORT && u.dst_port == UDP_SRC_PORT {
                                    self.stats.udp_replies += 1;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        match respond(self.mac, self.ip, frame) {
            Some(r) => {
                self.stats.answered += 1;
                alloc::vec![r]
            }
            None => Vec::new(),
        }
    }
}
