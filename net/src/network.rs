//! A network of named nodes (switches, endpoints, NATs, tunnel endpoints) joined by links, run tick by tick under a delivery budget, with pcap capture of any port.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::endpoint::Endpoint;
use crate::nat::Nat;
use crate::pcap::PcapWriter;
use crate::switch::{PacketIn, Switch};
use crate::vmport::VmPort;
use crate::vxlan::Vtep;

/// Frames waiting for delivery at most; more are dropped and counted.
pub const MAX_QUEUE: usize = 4096;

/// One device of the network.
#[derive(Clone, Debug)]
pub enum Node {
    /// A switch.
    Switch(Switch),
    /// A guest stand-in (or the simulated outside host).
    Endpoint(Endpoint),
    /// A NAT gateway (port 0 inside, 1 outside).
    Nat(Nat),
    /// A VXLAN tunnel endpoint (port 0 local, 1 underlay).
    Vtep(Vtep),
    /// A real machine's NIC, driven by the host (see [`Machines`]).
    Vm(VmPort),
}

impl Node {
    /// How many ports the node has.
    pub fn ports(&self) -> u16 {
        match self {
            Node::Switch(s) => s.ports(),
            Node::Endpoint(_) | Node::Vm(_) => 1,
            Node::Nat(_) | Node::Vtep(_) => 2,
        }
    }
    /// The kind's name, as scenario files write it.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Switch(_) => "switch",
            Node::Endpoint(_) => "endpoint",
            Node::Nat(_) => "nat",
            Node::Vtep(_) => "vtep",
            Node::Vm(_) => "vm",
        }
    }
    fn receive(&mut self, port: u16, frame: &[u8], now: u64) -> Vec<(u16, Vec<u8>)> {
        match self {
            Node::Switch(s) => s.receive(port, frame, now),
            Node::Endpoint(e) => e.receive(frame).into_iter().map(|f| (0, f)).collect(),
            Node::Nat(n) => n.receive(port, frame),
            Node::Vtep(v) => v.receive(port, frame),
            Node::Vm(v) => {
                v.receive(frame);
                Vec::new()
            }
        }
    }
    fn tick(&mut self, now: u64) -> Vec<(u16, Vec<u8>)> {
        match self {
            Node::Endpoint(e) => e.tick(now).into_iter().map(|f| (0, f)).collect(),
            _ => Vec::new(),
        }
    }
}

/// One end of a link: a node and one of its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRef {
    /// Index of the node.
    pub node: usize,
    /// Port on it.
    pub port: u16,
}

/// A program that handles a switch's packet-ins: it may change the switch's flow
/// table and returns packet-outs `(port, frame)`.
pub trait Controller {
    /// One packet-in from the switch called `switch`.
    fn packet_in(
        &mut self,
        switch: &str,
        sw: &mut Switch,
        pi: PacketIn,
        now: u64,
    ) -> Vec<(u16, Vec<u8>)>;
}

/// What runs the machines behind a network's `vm` nodes. Once per tick, before the
/// network's own nodes act, it hands each machine the frames waiting at its port
/// ([`Network::take_for`]), runs it for a slice, and sends what its NIC sent into
/// the network ([`Network::inject`]).
pub trait Machines {
    /// One tick of every machine.
    fn tick(&mut self, net: &mut Network, now: u64);
}

/// No machines: the network runs on its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMachines;

impl Machines for NoMachines {
    fn tick(&mut self, _: &mut Network, _: u64) {}
}

/// Why a network could not be put together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetError(pub String);

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Frames seen on a link end, and the capture file.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The captured port.
    pub at: PortRef,
    /// The file.
    pub pcap: PcapWriter,
}

/// A network.
#[derive(Clone, Debug, Default)]
pub struct Network {
    names: Vec<String>,
    nodes: Vec<Node>,
    links: Vec<(PortRef, PortRef)>,
    captures: Vec<Capture>,
    queue: VecDeque<(PortRef, Vec<u8>)>,
    now: u64,
    seq: u64,
    /// Frames delivered so far.
    pub delivered: u64,
    /// Frames sent out of a port with no link, or lost to a full queue.
    pub lost: u64,
}

impl Network {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a node; names are unique.
    pub fn add(&mut self, name: &str, node: Node) -> Result<usize, NetError> {
        if self.names.iter().any(|n| n == name) {
            return Err(NetError(format!("two nodes are called {name:?}")));
        }
        self.names.push(name.into());
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }
    /// Finds `NAME` (port 0) or `NAME:PORT`.
    pub fn port(&self, spec: &str) -> Result<PortRef, NetError> {
        let (name, port) = match spec.split_once(':') {
            Some((n, p)) => (
                n,
                p.parse::<u16>().map_err(|_| {
                    NetError(format!("{spec:?}: the port after ':' is not a number"))
                })?,
            ),
            None => (spec, 0),
        };
        let node = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| NetError(format!("{spec:?}: no node is called {name:?}")))?;
        let ports = self.nodes[node].ports();
        if port >= ports {
            return Err(NetError(format!(
                "{spec:?}: {name} ({}) has ports 0..{}",
                self.nodes[node].kind(),
                ports.saturating_sub(1)
            )));
        }
        Ok(PortRef { node, port })
    }
    /// Joins two ports; each port takes one link.
    pub fn link(&mut self, a: PortRef, b: PortRef) -> Result<(), NetError> {
        for end in [a, b] {
            if self.links.iter().any(|&(x, y)| x == end || y == end) {
                return Err(NetError(format!(
                    "{} is already linked",
                    self.port_name(end)
                )));
            }
        }
        if a == b {
            return Err(NetError(format!(
                "{} is linked to itself",
                self.port_name(a)
            )));
        }
        self.links.push((a, b));
        Ok(())
    }
    /// Captures every frame sent or received on `at`.
    pub fn capture(&mut self, at: PortRef) {
        if !self.captures.iter().any(|c| c.at == at) {
            self.captures.push(Capture {
                at,
                pcap: PcapWriter::new(),
            });
        }
    }
    /// The captures.
    pub fn captures(&self) -> &[Capture] {
        &self.captures
    }
    /// The capture on `at`.
    pub fn capture_of(&self, at: PortRef) -> Option<&PcapWriter> {
        self.captures.iter().find(|c| c.at == at).map(|c| &c.pcap)
    }
    /// `NAME:PORT`.
    pub fn port_name(&self, p: PortRef) -> String {
        format!("{}:{}", self.names.get(p.node).map_or("?", |s| s), p.port)
    }
    /// The nodes with their names.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.names.iter().map(String::as_str).zip(self.nodes.iter())
    }
    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.nodes[i])
    }
    /// The node called `name`, to change.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &mut self.nodes[i])
    }
    /// The links.
    pub fn links(&self) -> &[(PortRef, PortRef)] {
        &self.links
    }
    /// Sends `frame` into the network from the port of the `vm` node `name`.
    pub fn inject(&mut self, name: &str, frame: Vec<u8>) -> Result<(), NetError> {
        let node = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| NetError(format!("no node is called {name:?}")))?;
        let Some(Node::Vm(port)) = self.nodes.get_mut(node) else {
            return Err(NetError(format!("{name} is not a vm")));
        };
        port.sent += 1;
        self.send(PortRef { node, port: 0 }, frame);
        Ok(())
    }
    /// The frames waiting at the port of the `vm` node `name`, oldest first.
    pub fn take_for(&mut self, name: &str) -> Vec<Vec<u8>> {
        match self.node_mut(name) {
            Some(Node::Vm(port)) => port.take(),
            _ => Vec::new(),
        }
    }
    /// The current tick.
    pub fn now(&self) -> u64 {
        self.now
    }

    fn record(&mut self, at: PortRef, frame: &[u8]) {
        let micros = self.now * 1000 + self.seq.min(999);
        for c in &mut self.captures {
            if c.at == at {
                c.pcap.record(micros, frame);
            }
        }
    }

    fn send(&mut self, from: PortRef, frame: Vec<u8>) {
        self.seq += 1;
        self.record(from, &frame);
        let peer = self.links.iter().find_map(|&(a, b)| {
            if a == from {
                Some(b)
            } else if b == from {
                Some(a)
            } else {
                None
            }
        });
        match peer {
            Some(to) if self.queue.len() < MAX_QUEUE => self.queue.push_back((to, frame)),
            _ => self.lost += 1,
        }
    }

    /// Runs one tick: every node acts on its own, then frames are delivered until
    /// none are left or `budget` deliveries were made. Returns the deliveries made.
    pub fn tick(&mut self, budget: u64, controller: &mut dyn Controller) -> u64 {
        let now = self.now;
        for i in 0..self.nodes.len() {
            for (port, f) in self.nodes[i].tick(now) {
                self.send(PortRef { node: i, port }, f);
            }
        }
        let mut done = 0;
        while done < budget {
            let Some((to, frame)) = self.queue.pop_front() else {
                break;
            };
            done += 1;
            self.delivered += 1;
            self.seq += 1;
            self.record(to, &frame);
            let Some(node) = self.nodes.get_mut(to.node) else {
                continue;
            };
            let out = node.receive(to.port, &frame, now);
            let mut packet_outs = Vec::new();
            if let Node::Switch(sw) = node {
                for pi in sw.take_packet_ins() {
                    packet_outs.extend(controller.packet_in(&self.names[to.node], sw, pi, now));
                }
                let outs: Vec<_> = packet_outs
                    .drain(..)
                    .flat_map(|(p, f)| sw.packet_out(p, f))
                    .collect();
                packet_outs = outs;
            }
            for (port, f) in out.into_iter().chain(packet_outs) {
                self.send(
                    PortRef {
                        node: to.node,
                        port,
                    },
                    f,
                );
            }
        }
        self.now += 1;
        self.seq = 0;
        done
    }

    /// Runs `ticks` ticks with at most `budget` deliveries in all; returns false when
    /// the budget ran out with frames still queued.
    pub fn run(&mut self, ticks: u64, budget: u64, controller: &mut dyn Controller) -> bool {
        let mut left = budget;
        for _ in 0..ticks {
            left -= self.tick(left, controller);
            if left == 0 && !self.queue.is_empty() {
                return false;
            }
        }
        true
    }
}

/// A controller that answers no packet-in (the frames are dropped).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoController;

impl Controller for NoController {
    fn packet_in(&mut self, _: &str, _: &mut Switch, _: PacketIn, _: u64) -> Vec<(u16, Vec<u8>)> {
        Vec::new()
    }
}

/// A reactive layer-2 controller in the manner of the classic OpenFlow learning
/// switch: it learns where each source MAC is from packet-ins; when it knows the
/// destination it installs a flow `in_port, eth_dst → output` (priority 10) and
/// sends the frame there, otherwise it floods it (packet-out on every other port).
#[derive(Clone, Debug, Default)]
pub struct L2Controller {
    learned: alloc::collections::BTreeMap<(String, crate::MacAddr), u16>,
    /// Flows it installed.
    pub installed: u64,
}

impl Controller for L2Controller {
    fn packet_in(
        &mut self,
        switch: &str,
        sw: &mut Switch,
        pi: PacketIn,
        _now: u64,
    ) -> Vec<(u16, Vec<u8>)> {
        use crate::flow::{Action, Match};
        let Ok(eth) = crate::wire::Ethernet::parse(&pi.frame) else {
            return Vec::new();
        };
        if !eth.src.is_multicast() && self.learned.len() < crate::bridge::MAX_MACS {
            self.learned
                .insert((String::from(switch), eth.src), pi.in_port);
        }
        match self.learned.get(&(String::from(switch), eth.dst)) {
            Some(&p) if !eth.dst.is_multicast() => {
                let m = Match {
                    in_port: Some(pi.in_port),
                    eth_dst: Some(eth.dst),
                    ..Match::default()
                };
                sw.flows_mut().delete_strict(&m);
                if sw
                    .flows_mut()
                    .add(10, m, alloc::vec![Action::Output(p)])
                    .is_ok()
                {
                    self.installed += 1;
                }
                alloc::vec![(p, pi.frame)]
            }
            _ => (0..sw.ports())
                .filter(|&p| p != pi.in_port)
                .map(|p| (p, pi.frame.clone()))
                .collect(),
        }
    }
}
