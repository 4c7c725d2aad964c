//! The VXLAN overlay (RFC 7348): a tunnel endpoint that puts Ethernet frames in UDP port 4789 with a VNI, and takes them out again.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::wire::{
    ipv4_frame, Ethernet, Ipv4, Ipv4Addr, MacAddr, Udp, WireError, ETHERTYPE_IPV4, PROTO_UDP,
};

/// VXLAN's IANA UDP port.
pub const VXLAN_PORT: u16 = 4789;
/// The flag byte with the I bit (a VNI is present).
pub const FLAG_VNI: u8 = 0x08;
/// Bytes VXLAN adds around a frame: outer Ethernet, IPv4, UDP and the VXLAN header.
pub const OVERHEAD: usize = 14 + 20 + 8 + 8;

/// The 8-byte VXLAN header and the inner frame.
pub fn encapsulate_payload(vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + inner.len());
    let v = (vni & 0x00ff_ffff).to_be_bytes();
    p.extend_from_slice(&[FLAG_VNI, 0, 0, 0, v[1], v[2], v[3], 0]);
    p.extend_from_slice(inner);
    p
}

/// A VXLAN packet seen on the underlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decapsulated<'a> {
    /// Outer IPv4 source (the sending tunnel endpoint).
    pub outer_src: Ipv4Addr,
    /// The VXLAN network identifier.
    pub vni: u32,
    /// The inner Ethernet frame.
    pub inner: &'a [u8],
}

/// Reads a VXLAN packet out of an underlay frame: outer Ethernet, IPv4, UDP to port 4789, VXLAN header.
pub fn decapsulate(frame: &[u8]) -> Result<Decapsulated<'_>, WireError> {
    let eth = Ethernet::parse(frame)?;
    if eth.ethertype != ETHERTYPE_IPV4 {
        return Err(WireError::Bad("outer ethertype (not IPv4)"));
    }
    let ip = Ipv4::parse(eth.payload)?;
    if ip.proto != PROTO_UDP {
        return Err(WireError::Bad("outer IP protocol (not UDP)"));
    }
    let udp = Udp::parse(ip.payload, ip.src, ip.dst)?;
    if udp.dst_port != VXLAN_PORT {
        return Err(WireError::Bad("UDP port (not 4789)"));
    }
    let p = udp.payload;
    if p.len() < 8 {
        return Err(WireError::Truncated("VXLAN header"));
    }
    if p[0] & FLAG_VNI == 0 {
        return Err(WireError::Bad("VXLAN flags (I bit clear)"));
    }
    let inner = &p[8..];
    Ethernet::parse(inner)?;
    Ok(Decapsulated {
        outer_src: ip.src,
        vni: u32::from_be_bytes([0, p[4], p[5], p[6]]),
        inner,
    })
}

/// Counters of a tunnel endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VtepCounters {
    /// Frames put into the tunnel (once per peer they went to).
    pub encapsulated: u64,
    /// Frames taken out of the tunnel.
    pub decapsulated: u64,
    /// Underlay frames refused (not VXLAN, another VNI, not for this endpoint).
    pub refused: u64,
}

/// A tunnel endpoint: port 0 faces the local switch, port 1 the underlay.
#[derive(Clone, Debug)]
pub struct Vtep {
    /// Underlay MAC.
    pub mac: MacAddr,
    /// Underlay IP.
    pub ip: Ipv4Addr,
    /// The segment it carries.
    pub vni: u32,
    /// The other endpoints: underlay IP and MAC (configured, as with a static VXLAN flood list).
    pub peers: Vec<(Ipv4Addr, MacAddr)>,
    remote: BTreeMap<MacAddr, Ipv4Addr>,
    ip_id: u16,
    /// Counters.
    pub counters: VtepCounters,
}

impl Vtep {
    /// An endpoint with no learned remote addresses.
    pub fn new(mac: MacAddr, ip: Ipv4Addr, vni: u32, peers: Vec<(Ipv4Addr, MacAddr)>) -> Self {
        Vtep {
            mac,
            ip,
            vni,
            peers,
            remote: BTreeMap::new(),
            ip_id: 0,
            counters: VtepCounters::default(),
        }
    }

    /// A frame on `port` (0 local, 1 underlay); returns what to send and where.
    pub fn receive(&mut self, port: u16, frame: &[u8]) -> Vec<(u16, Vec<u8>)> {
        if port == 0 {
            self.encapsulate(frame)
        } else {
            self.decapsulate(frame)
        }
    }

    fn encapsulate(&mut self, inner: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let Ok(eth) = Ethernet::parse(inner) else {
            return Vec::new();
        };
        let targets: Vec<(Ipv4Addr, MacAddr)> = match self.remote.get(&eth.dst) {
            Some(ip) if !eth.dst.is_multicast() => self
                .peers
                .iter()
                .copied()
                .filter(|(p, _)| p == ip)
                .collect(),
            _ => self.peers.clone(),
        };
        // The UDP source port spreads flows over the underlay's paths (RFC 7348 §5).
        let hash = inner[..12]
            .iter()
            .fold(0u16, |h, &b| h.rotate_left(5) ^ u16::from(b));
        let src_port = 49152 | (hash & 0x3fff);
        let payload = encapsulate_payload(self.vni, inner);
        let mut out = Vec::new();
        for (ip, mac) in targets {
            let Ok(udp) = Udp::build(self.ip, ip, src_port, VXLAN_PORT, &payload) else {
                continue;
            };
            self.ip_id = self.ip_id.wrapping_add(1);
            if let Ok(f) = ipv4_frame(mac, self.mac, self.ip, ip, PROTO_UDP, self.ip_id, &udp) {
                self.counters.encapsulated += 1;
                out.push((1, f));
            }
        }
        out
    }

    fn decapsulate(&mut self, frame: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let ok = Ethernet::parse(frame)
            .ok()
            .filter(|e| e.dst == self.mac)
            .and_then(|_| decapsulate(frame).ok())
            .filter(|d| d.vni == self.vni && self.peers.iter().any(|(p, _)| *p == d.outer_src));
        let Some(d) = ok else {
            self.counters.refused += 1;
            return Vec::new();
        };
        if let Ok(inner) = Ethernet::parse(d.inner) {
            if !inner.src.is_multicast() && self.remote.len() < crate::bridge::MAX_MACS {
                self.remote.insert(inner.src, d.outer_src);
            }
        }
        self.counters.decapsulated += 1;
        alloc::vec![(0, d.inner.to_vec())]
    }
}
