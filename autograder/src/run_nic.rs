//! `vmlab run --nic virtio|ne2000`: the guest's virtio-net device or NE2000 on a link
//! to a `vmlab-net` endpoint stub that answers ARP, ICMP echo and UDP echo, with a pcap
//! of the link.

use std::path::PathBuf;

use emulator_core::{HostError, Machine};
use serde_json::{json, Value};
use vmlab_net::endpoint::respond;
use vmlab_net::pcap::PcapWriter;
use vmlab_net::{Ipv4Addr, MacAddr};

/// The MAC address the guest's NIC reports.
pub const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The stub's MAC address.
pub const STUB_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// Virtual microseconds per instruction in the capture's time stamps (100 MIPS).
const INSNS_PER_MICRO: u64 = 100;

/// Attaches the NIC `--nic` names (`virtio` or `ne2000`) with [`GUEST_MAC`].
pub fn attach(m: &mut Machine, nic: &str) -> Result<(), HostError> {
    match nic {
        "ne2000" => m.attach_ne2000(GUEST_MAC),
        _ => m.attach_virtio_net(GUEST_MAC),
    }
}

/// The link between the NIC and the stub.
pub struct Link {
    ip: Ipv4Addr,
    pcap: Option<(PathBuf, PcapWriter)>,
    answered: u64,
    /// Frame bytes carried both ways.
    bytes: u64,
}

/// The NIC's counters whichever it is: (sent, received, dropped, device error).
fn counters(m: &Machine) -> (u64, u64, u64, Option<String>) {
    let p = m.platform();
    if let Some(v) = p.virtio_net() {
        (v.sent, v.received, v.dropped, v.transport.error.clone())
    } else if let Some(n) = p.ne2000() {
        (n.sent, n.received, n.dropped, None)
    } else {
        (0, 0, 0, None)
    }
}

/// The NIC's interrupt counters: (kind, interrupts raised, interrupts suppressed when
/// the device has a way to suppress them).
fn interrupts(m: &Machine) -> (&'static str, u64, Option<u64>) {
    let p = m.platform();
    if let Some(v) = p.virtio_net() {
        (
            "virtio",
            v.transport.interrupts,
            Some(v.transport.suppressed),
        )
    } else {
        ("ne2000", p.ne2000().map_or(0, |n| n.interrupts), None)
    }
}

impl Link {
    /// A stub at `ip` (dotted quad), capturing to `pcap` when given.
    pub fn new(ip: &str, pcap: Option<PathBuf>) -> Result<Link, String> {
        let parts: Vec<u8> = ip
            .split('.')
            .map(|p| p.parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--nic-stub {ip}: {e}"))?;
        let ip = <[u8; 4]>::try_from(parts)
            .map_err(|_| format!("--nic-stub {ip}: an IPv4 address has four parts"))?;
        Ok(Link {
            ip: Ipv4Addr(ip),
            pcap: pcap.map(|p| (p, PcapWriter::new())),
            answered: 0,
            bytes: 0,
        })
    }

    /// Carries the frames the guest sent to the stub and the stub's answers back:
    /// whether the stub answered any.
    pub fn pump(&mut self, m: &mut Machine) -> bool {
        let micros = m.icount() / INSNS_PER_MICRO;
        let before = self.answered;
        for frame in m.take_sent_frames() {
            self.bytes += frame.len() as u64;
            if let Some((_, w)) = &mut self.pcap {
                w.record(micros, &frame);
            }
            if let Some(reply) = respond(MacAddr(STUB_MAC), self.ip, &frame) {
                if let Some((_, w)) = &mut self.pcap {
                    w.record(micros, &reply);
                }
                self.bytes += reply.len() as u64;
                m.deliver_frame(&reply);
                self.answered += 1;
            }
        }
        self.answered > before
    }

    /// Writes the capture, if one was asked for.
    pub fn finish(&self) -> Result<(), String> {
        match &self.pcap {
            Some((path, w)) => std::fs::write(path, w.bytes())
                .map_err(|e| format!("--nic-pcap {}: {e}", path.display())),
            None => Ok(()),
        }
    }

    /// The `nic` object of the `--json` report.
    pub fn json(&self, m: &Machine) -> Value {
        let (sent, received, dropped, _) = counters(m);
        let (kind, raised, suppressed) = interrupts(m);
        let virtio = m.platform().virtio_net();
        json!({
            "kind": kind,
            "frames_sent": sent,
            "frames_received": received,
            "frames_dropped": dropped,
            "stub_answers": self.answered,
            "bytes_moved": self.bytes,
            "interrupts": raised,
            "suppressed_interrupts": suppressed,
            "notifies": virtio.map(|v| v.transport.queues.iter().map(|q| q.notifies).sum::<u64>()),
            "notifies_skipped": virtio.map(|v| v.busy.skipped),
            "event_idx": virtio.map(|v| v.transport.event_idx()),
            "transport": m.platform().virtio_net().map(|v| v.transport.interface()),
        })
    }

    /// The closing summary's line.
    pub fn summary(&self, m: &Machine) -> String {
        let (sent, received, dropped, error) = counters(m);
        let mut line = format!(
            "nic: {sent} frames sent, {received} received, {dropped} dropped; the stub at {} answered {}",
            self.ip, self.answered
        );
        let (kind, raised, suppressed) = interrupts(m);
        line.push_str(&format!(
            "; {} bytes moved; {kind} raised {raised} interrupts",
            self.bytes
        ));
        if let Some(q) = suppressed {
            line.push_str(&format!(" ({q} suppressed)"));
        }
        if let Some(e) = error {
            line.push_str(&format!("; device error: {e}"));
        }
        line
    }
}
