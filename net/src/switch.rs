//! The virtual switch: ports with counters, the flow table in front of the learning bridge, and packet-in/packet-out for a controller.

use alloc::vec;
use alloc::vec::Vec;

use crate::bridge::MacTable;
use crate::flow::{Action, FlowTable};
use crate::wire::{FrameKey, MacAddr, MAX_FRAME};

/// Packet-ins queued for the controller at most; later ones are counted as dropped.
pub const MAX_PACKET_INS: usize = 256;

/// Traffic counters of one port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received on the port.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent out of the port.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames received and then dropped (by a flow, as malformed, or with nowhere to go).
    pub dropped: u64,
    /// Frames received that matched a flow rule (the others went to the learning bridge).
    pub flow_hits: u64,
}

/// A frame the switch handed to its controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    /// The port it came in on.
    pub in_port: u16,
    /// The frame.
    pub frame: Vec<u8>,
}

/// A switch with numbered ports `0..ports`.
#[derive(Clone, Debug)]
pub struct Switch {
    macs: MacTable,
    flows: FlowTable,
    counters: Vec<PortCounters>,
    packet_ins: Vec<PacketIn>,
    lost_packet_ins: u64,
}

impl Switch {
    /// A switch with `ports` ports whose MAC entries age out after `ageing` ticks.
    pub fn new(ports: u16, ageing: u64) -> Self {
        Switch {
            macs: MacTable::new(ageing),
            flows: FlowTable::new(),
            counters: vec![PortCounters::default(); usize::from(ports)],
            packet_ins: Vec::new(),
            lost_packet_ins: 0,
        }
    }
    /// How many ports.
    pub fn ports(&self) -> u16 {
        self.counters.len() as u16
    }
    /// The MAC table.
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }
    /// The flow table.
    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }
    /// The flow table, for a controller to add, modify and delete flows.
    pub fn flows_mut(&mut self) -> &mut FlowTable {
        &mut self.flows
    }
    /// Each port's counters.
    pub fn counters(&self) -> &[PortCounters] {
        &self.counters
    }
    /// Takes the queued packet-ins.
    pub fn take_packet_ins(&mut self) -> Vec<PacketIn> {
        core::mem::take(&mut self.packet_ins)
    }
    /// Packet-ins dropped because the queue was full.
    pub fn lost_packet_ins(&self) -> u64 {
        self.lost_packet_ins
    }
    /// Sends `frame` out of `port` on the controller's behalf (a packet-out);
    /// the result is what [`Switch::receive`] returns.
    pub fn packet_out(&mut self, port: u16, frame: Vec<u8>) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        self.emit(&mut out, port, frame);
        out
    }

    fn emit(&mut self, out: &mut Vec<(u16, Vec<u8>)>, port: u16, frame: Vec<u8>) {
        if let Some(c) = self.counters.get_mut(usize::from(port)) {
            c.tx_packets += 1;
            c.tx_bytes += frame.len() as u64;
            out.push((port, frame));
        }
    }

    fn flood(&mut self, out: &mut Vec<(u16, Vec<u8>)>, in_port: u16, frame: &[u8]) {
        for p in 0..self.ports() {
            if p != in_port {
                self.emit(out, p, frame.to_vec());
            }
        }
    }

    fn normal(
        &mut self,
        out: &mut Vec<(u16, Vec<u8>)>,
        in_port: u16,
        dst: MacAddr,
        frame: &[u8],
        now: u64,
    ) {
        match self.macs.lookup(dst, now) {
            _ if dst.is_multicast() => self.flood(out, in_port, frame),
            // A frame for a host on the port it came from is filtered.
            Some(p) if p == in_port => {}
            Some(p) => self.emit(out, p, frame.to_vec()),
            None => self.flood(out, in_port, frame),
        }
    }

    /// A frame arrives on `in_port` at time `now`: the source is learned, the flow
    /// table decides (a miss forwards as the learning bridge), and the frames to
    /// send are returned with their output ports.
    pub fn receive(&mut self, in_port: u16, frame: &[u8], now: u64) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        let Some(c) = self.counters.get_mut(usize::from(in_port)) else {
            return out;
        };
        c.rx_packets += 1;
        c.rx_bytes += frame.len() as u64;
        let key = match FrameKey::of(frame) {
            Some(k) if frame.len() <= MAX_FRAME => k,
            _ => {
                c.dropped += 1;
                return out;
            }
        };
        self.macs.learn(key.eth_src, in_port, now);
        let actions = match self.flows.lookup(in_port, &key, frame.len()) {
            Some(a) => {
                c.flow_hits += 1;
                a
            }
            None => vec![Action::Normal],
        };
        let mut frame = frame.to_vec();
        let mut sent = false;
        for a in actions {
            match a {
                Action::Output(p) => {
                    let before = out.len();
                    self.emit(&mut out, p, frame.clone());
                    sent |= out.len() > before;
                }
                Action::Flood => {
                    self.flood(&mut out, in_port, &frame);
                    sent = true;
                }
                Action::Normal => {
                    let dst = MacAddr(frame[..6].try_into().unwrap_or([0; 6]));
                    self.normal(&mut out, in_port, dst, &frame, now);
                    sent = true;
                }
                Action::Controller => {
                    if self.packet_ins.len() < MAX_PACKET_INS {
                        self.packet_ins.push(PacketIn {
                            in_port,
                            frame: frame.clone(),
                        });
                    } else {
                        self.lost_packet_ins += 1;
                    }
                    sent = true;
                }
                Action::Drop => break,
                Action::SetEthDst(m) => frame[..6].copy_from_slice(&m.0),
                Action::SetEthSrc(m) => frame[6..12].copy_from_slice(&m.0),
            }
        }
        if !sent {
            if let Some(c) = self.counters.get_mut(usize::from(in_port)) {
                c.dropped += 1;
            }
        }
        out
    }
}
