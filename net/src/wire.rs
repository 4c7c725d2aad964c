//! Frame formats: Ethernet II, ARP, IPv4, ICMP echo and UDP, parsed with bounds checks and built with correct checksums.

use alloc::vec::Vec;
use core::fmt;

/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// ARP request opcode.
pub const ARP_REQUEST: u16 = 1;
/// ARP reply opcode.
pub const ARP_REPLY: u16 = 2;
/// ICMP echo reply type.
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMP echo request type.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// Length of an Ethernet II header.
pub const ETH_HEADER: usize = 14;
/// Largest frame the network carries (Ethernet payload 1500 plus header, VLAN-free,
/// plus the 50 bytes of a VXLAN encapsulation).
pub const MAX_FRAME: usize = 1600;

/// Why a frame could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The frame ends before the named header does.
    Truncated(&'static str),
    /// A field holds a value this format does not allow (the field is named).
    Bad(&'static str),
    /// A checksum does not verify (the header is named).
    Checksum(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated(h) => write!(f, "truncated {h}"),
            WireError::Bad(h) => write!(f, "bad {h}"),
            WireError::Checksum(h) => write!(f, "bad {h} checksum"),
        }
    }
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);
    /// A group (multicast or broadcast) address: the low bit of the first byte.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 != 0
    }
    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`).
    pub fn parse(s: &str) -> Option<MacAddr> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split([':', '-']) {
            if n == 6 || part.len() != 2 {
                return None;
            }
            out[n] = u8::from_str_radix(part, 16).ok()?;
            n += 1;
        }
        (n == 6).then_some(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// An IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4Addr(pub [u8; 4]);

impl Ipv4Addr {
    /// The address as a big-endian number.
    pub fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
    /// Parses dotted-quad notation.
    pub fn parse(s: &str) -> Option<Ipv4Addr> {
        let mut out = [0u8; 4];
        let mut n = 0;
        for part in s.split('.') {
            if n == 4 || part.is_empty() || part.len() > 3 {
                return None;
            }
            out[n] = part.parse().ok()?;
            n += 1;
        }
        (n == 4).then_some(Ipv4Addr(out))
    }
    /// True when `self` and `other` share the first `prefix` bits.
    pub fn same_prefix(self, other: Ipv4Addr, prefix: u8) -> bool {
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        };
        self.to_u32() & mask == other.to_u32() & mask
    }
}

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac_at(b: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    MacAddr(m)
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The Internet checksum (RFC 1071) of `data`, continuing from the partial sum `start`.
pub fn checksum_add(start: u32, data: &[u8]) -> u32 {
    let mut sum = start;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a partial sum into the one's-complement checksum field value.
pub fn checksum_finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    checksum_finish(checksum_add(0, data))
}

/// An Ethernet II frame, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ethernet<'a> {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// Ethertype.
    pub ethertype: u16,
    /// Everything after the header.
    pub payload: &'a [u8],
}

impl<'a> Ethernet<'a> {
    /// Reads the header of `frame`.
    pub fn parse(frame: &'a [u8]) -> Result<Self, WireError> {
        if frame.len() < ETH_HEADER {
            return Err(WireError::Truncated("Ethernet header"));
        }
        Ok(Ethernet {
            dst: mac_at(frame, 0),
            src: mac_at(frame, 6),
            ethertype: be16(frame, 12),
            payload: &frame[ETH_HEADER..],
        })
    }
    /// Builds a frame (no FCS; pcap files carry frames without it).
    pub fn build(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(ETH_HEADER + payload.len());
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// 1 (request) or 2 (reply).
    pub op: u16,
    /// Sender hardware address.
    pub sha: MacAddr,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: MacAddr,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

impl Arp {
    /// Reads an ARP payload (Ethernet hardware, IPv4 protocol only).
    pub fn parse(p: &[u8]) -> Result<Arp, WireError> {
        if p.len() < 28 {
            return Err(WireError::Truncated("ARP packet"));
        }
        if be16(p, 0) != 1 || be16(p, 2) != ETHERTYPE_IPV4 || p[4] != 6 || p[5] != 4 {
            return Err(WireError::Bad("ARP hardware/protocol type"));
        }
        Ok(Arp {
            op: be16(p, 6),
            sha: mac_at(p, 8),
            spa: ip_at(p, 14),
            tha: mac_at(p, 18),
            tpa: ip_at(p, 24),
        })
    }
    /// The 28-byte payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(28);
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        p.extend_from_slice(&[6, 4]);
        p.extend_from_slice(&self.op.to_be_bytes());
        p.extend_from_slice(&self.sha.0);
        p.extend_from_slice(&self.spa.0);
        p.extend_from_slice(&self.tha.0);
        p.extend_from_slice(&self.tpa.0);
        p
    }
    /// A whole frame: requests go to broadcast, replies to the target.
    pub fn frame(&self) -> Vec<u8> {
        let dst = if self.op == ARP_REQUEST {
            MacAddr::BROADCAST
        } else {
            self.tha
        };
        Ethernet::build(dst, self.sha, ETHERTYPE_ARP, &self.to_bytes())
    }
}

/// An IPv4 packet, borrowed; options are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// The payload, as long as the total-length field says.
    pub payload: &'a [u8],
}

impl<'a> Ipv4<'a> {
    /// Reads and verifies an IPv4 header (version, lengths, checksum).
    pub fn parse(p: &'a [u8]) -> Result<Self, WireError> {
        if p.len() < 20 {
            return Err(WireError::Truncated("IPv4 header"));
        }
        if p[0] >> 4 != 4 {
            return Err(WireError::Bad("IPv4 version"));
        }
        let ihl = usize::from(p[0] & 0xf) * 4;
        if ihl < 20 {
            return Err(WireError::Bad("IPv4 header length"));
        }
        if p.len() < ihl {
            return Err(WireError::Truncated("IPv4 options"));
        }
        let total = usize::from(be16(p, 2));
        if total < ihl {
            return Err(WireError::Bad("IPv4 total length"));
        }
        if p.len() < total {
            return Err(WireError::Truncated("IPv4 payload"));
        }
        if checksum(&p[..ihl]) != 0 {
            return Err(WireError::Checksum("IPv4 header"));
        }
        Ok(Ipv4 {
            src: ip_at(p, 12),
            dst: ip_at(p, 16),
            proto: p[9],
            ttl: p[8],
            id: be16(p, 4),
            payload: &p[ihl..total],
        })
    }
    /// A 20-byte header (don't-fragment set) followed by `payload`.
    pub fn build(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        proto: u8,
        id: u16,
        payload: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        let total = u16::try_from(20 + payload.len()).map_err(|_| WireError::Bad("IPv4 length"))?;
        let mut p = Vec::with_capacity(usize::from(total));
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
        p.extend_from_slice(&src.0);
        p.extend_from_slice(&dst.0);
        let c = checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(payload);
        Ok(p)
    }
}

/// An ICMP echo request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpEcho<'a> {
    /// 8 (request) or 0 (reply).
    pub ty: u8,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
    /// The data after the header.
    pub data: &'a [u8],
}

impl<'a> IcmpEcho<'a> {
    /// Reads an ICMP echo message and verifies its checksum.
    pub fn parse(p: &'a [u8]) -> Result<Self, WireError> {
        if p.len() < 8 {
            return Err(WireError::Truncated("ICMP header"));
        }
        if checksum(p) != 0 {
            return Err(WireError::Checksum("ICMP"));
        }
        if (p[0] != ICMP_ECHO_REQUEST && p[0] != ICMP_ECHO_REPLY) || p[1] != 0 {
            return Err(WireError::Bad("ICMP type (only echo is modeled)"));
        }
        Ok(IcmpEcho {
            ty: p[0],
            id: be16(p, 4),
            seq: be16(p, 6),
            data: &p[8..],
        })
    }
    /// The message with its checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(8 + self.data.len());
        p.extend_from_slice(&[self.ty, 0, 0, 0]);
        p.extend_from_slice(&self.id.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(self.data);
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
        p
    }
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The data after the header.
    pub payload: &'a [u8],
}

fn udp_pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> u32 {
    let mut s = checksum_add(0, &src.0);
    s = checksum_add(s, &dst.0);
    s + u32::from(PROTO_UDP) + u32::from(len)
}

impl<'a> Udp<'a> {
    /// Reads a UDP datagram carried from `src` to `dst`; a non-zero checksum must verify.
    pub fn parse(p: &'a [u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Self, WireError> {
        if p.len() < 8 {
            return Err(WireError::Truncated("UDP header"));
        }
        let len = usize::from(be16(p, 4));
        if len < 8 {
            return Err(WireError::Bad("UDP length"));
        }
        if p.len() < len {
            return Err(WireError::Truncated("UDP payload"));
        }
        let p = &p[..len];
        if be16(p, 6) != 0 {
            let sum = checksum_add(udp_pseudo_sum(src, dst, len as u16), p);
            if checksum_finish(sum) != 0 {
                return Err(WireError::Checksum("UDP"));
            }
        }
        Ok(Udp {
            src_port: be16(p, 0),
            dst_port: be16(p, 2),
            payload: &p[8..],
        })
    }
    /// The datagram with its checksum over the IPv4 pseudo-header.
    pub fn build(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        let len = u16::try_from(8 + payload.len()).map_err(|_| WireError::Bad("UDP length"))?;
        let mut p = Vec::with_capacity(usize::from(len));
        p.extend_from_slice(&src_port.to_be_bytes());
        p.extend_from_slice(&dst_port.to_be_bytes());
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let mut c = checksum_finish(checksum_add(udp_pseudo_sum(src, dst, len), &p));
        if c == 0 {
            c = 0xffff;
        }
        p[6..8].copy_from_slice(&c.to_be_bytes());
        Ok(p)
    }
}

/// A whole Ethernet/IPv4 frame.
pub fn ipv4_frame(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    id: u16,
    payload: &[u8],
) -> Result<Vec<u8>, WireError> {
    let ip = Ipv4::build(src, dst, proto, id, payload)?;
    Ok(Ethernet::build(dst_mac, src_mac, ETHERTYPE_IPV4, &ip))
}

/// The fields a flow can match on, read from a frame; the fields a frame lacks are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameKey {
    /// Destination MAC.
    pub eth_dst: MacAddr,
    /// Source MAC.
    pub eth_src: MacAddr,
    /// Ethertype.
    pub ethertype: u16,
    /// IP protocol (IPv4 frames).
    pub ip_proto: Option<u8>,
    /// IP source (IPv4), or ARP sender address.
    pub ip_src: Option<Ipv4Addr>,
    /// IP destination (IPv4), or ARP target address.
    pub ip_dst: Option<Ipv4Addr>,
    /// UDP source port.
    pub l4_src: Option<u16>,
    /// UDP destination port.
    pub l4_dst: Option<u16>,
}

impl FrameKey {
    /// Reads the key of `frame`; `None` when it has no whole Ethernet header. Inner
    /// headers that do not parse leave their fields `None`.
    pub fn of(frame: &[u8]) -> Option<FrameKey> {
        let eth = Ethernet::parse(frame).ok()?;
        let mut k = FrameKey {
            eth_dst: eth.dst,
            eth_src: eth.src,
            ethertype: eth.ethertype,
            ..FrameKey::default()
        };
        match eth.ethertype {
            ETHERTYPE_IPV4 => {
                if let Ok(ip) = Ipv4::parse(eth.payload) {
                    k.ip_proto = Some(ip.proto);
                    k.ip_src = Some(ip.src);
                    k.ip_dst = Some(ip.dst);
                    if ip.proto == PROTO_UDP {
                        if let Ok(u) = Udp::parse(ip.payload, ip.src, ip.dst) {
                            k.l4_src = Some(u.src_port);
                            k.l4_dst = Some(u.dst_port);
                        }
                    }
                }
            }
            ETHERTYPE_ARP => {
                if let Ok(a) = Arp::parse(eth.payload) {
                    k.ip_src = Some(a.spa);
                    k.ip_dst = Some(a.tpa);
                }
            }
            _ => {}
        }
        Some(k)
    }
}

/// A short description of a frame, in the manner of `tcpdump -e`, for reports.
pub fn describe(frame: &[u8]) -> alloc::string::String {
    use alloc::format;
    let Ok(eth) = Ethernet::parse(frame) else {
        return format!("runt frame of {} bytes", frame.len());
    };
    let head = format!("{} > {}", eth.src, eth.dst);
    match eth.ethertype {
        ETHERTYPE_ARP => match Arp::parse(eth.payload) {
            Ok(a) if a.op == ARP_REQUEST => format!("{head} ARP who-has {} tell {}", a.tpa, a.spa),
            Ok(a) => format!("{head} ARP {} is-at {}", a.spa, a.sha),
            Err(e) => format!("{head} ARP ({e})"),
        },
        ETHERTYPE_IPV4 => match Ipv4::parse(eth.payload) {
            Ok(ip) if ip.proto == PROTO_ICMP => match IcmpEcho::parse(ip.payload) {
                Ok(e) => format!(
                    "{head} {} > {} ICMP echo {} id {} seq {}",
                    ip.src,
                    ip.dst,
                    if e.ty == ICMP_ECHO_REQUEST {
                        "request"
                    } else {
                        "reply"
                    },
                    e.id,
                    e.seq
                ),
                Err(er) => format!("{head} {} > {} ICMP ({er})", ip.src, ip.dst),
            },
            Ok(ip) if ip.proto == PROTO_UDP => match Udp::parse(ip.payload, ip.src, ip.dst) {
                Ok(u) => format!(
                    "{head} {}.{} > {}.{} UDP length {}",
                    ip.src,
                    u.src_port,
                    ip.dst,
                    u.dst_port,
                    u.payload.len()
                ),
                Err(er) => format!("{head} {} > {} UDP ({er})", ip.src, ip.dst),
            },
            Ok(ip) => format!("{head} {} > {} proto {}", ip.src, ip.dst, ip.proto),
            Err(e) => format!("{head} IPv4 ({e})"),
        },
        t => format!("{head} ethertype {t:#06x}"),
    }
}
