//! `vmlab run --nic virtio`: the guest's virtio-net device on a link to a `vmlab-net`
//! endpoint stub that answers ARP, ICMP echo and UDP echo, with a pcap of the link.

use std::path::PathBuf;

use emulator_core::Machine;
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

/// The link between the NIC and the stub.
pub struct Link {
    ip: Ipv4Addr,
    pcap: Option<(PathBuf, PcapWriter)>,
    answered: u64,
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
        })
    }

    /// Carries the frames the guest sent to the stub and the stub's answers back.
    pub fn pump(&mut self, m: &mut Machine) {
        let micros = m.icount() / INSNS_PER_MICRO;
        for frame in m.take_sent_frames() {
            if let Some((_, w)) = &mut self.pcap {
                w.record(micros, &frame);
            }
            if let Some(reply) = respond(MacAddr(STUB_MAC), self.ip, &frame) {
                if let Some((_, w)) = &mut self.pcap {
                    w.record(micros, &reply);
                }
                m.deliver_frame(&reply);
                self.answered += 1;
            }
        }
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
        let v = m.platform().virtio_net();
        json!({
            "frames_sent": v.map_or(0, |v| v.sent),
            "frames_received": v.map_or(0, |v| v.received),
            "frames_dropped": v.map_or(0, |v| v.dropped),
            "stub_answers": self.answered,
        })
    }

    /// The closing summary's line.
    pub fn summary(&self, m: &Machine) -> String {
        let v = m.platform().virtio_net();
        let mut line = format!(
            "nic: {} frames sent, {} received, {} dropped; the stub at {} answered {}",
            v.map_or(0, |v| v.sent),
            v.map_or(0, |v| v.received),
            v.map_or(0, |v| v.dropped),
            self.ip,
            self.answered
        );
        if let Some(e) = v.and_then(|v| v.transport.error.as_ref()) {
            line.push_str(&format!("; device error: {e}"));
        }
        line
    }
}
