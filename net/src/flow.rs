//! The SDN flow table: matches with wildcards, actions, priorities, per-flow counters, and the add/modify/delete API a controller uses.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::wire::{FrameKey, Ipv4Addr, MacAddr};

/// Flows a table holds at most.
pub const MAX_FLOWS: usize = 1024;

/// What a flow matches; `None` is a wildcard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Match {
    /// The port the frame came in on.
    pub in_port: Option<u16>,
    /// Source MAC.
    pub eth_src: Option<MacAddr>,
    /// Destination MAC.
    pub eth_dst: Option<MacAddr>,
    /// Ethertype.
    pub ethertype: Option<u16>,
    /// IP protocol.
    pub ip_proto: Option<u8>,
    /// IP source and prefix length.
    pub ip_src: Option<(Ipv4Addr, u8)>,
    /// IP destination and prefix length.
    pub ip_dst: Option<(Ipv4Addr, u8)>,
    /// UDP source port.
    pub l4_src: Option<u16>,
    /// UDP destination port.
    pub l4_dst: Option<u16>,
}

fn eq<T: PartialEq>(want: Option<T>, got: T) -> bool {
    want.is_none_or(|w| w == got)
}

fn eq_opt<T: PartialEq>(want: Option<T>, got: Option<T>) -> bool {
    match want {
        None => true,
        Some(w) => got == Some(w),
    }
}

fn ip_in(want: Option<(Ipv4Addr, u8)>, got: Option<Ipv4Addr>) -> bool {
    match (want, got) {
        (None, _) => true,
        (Some((net, prefix)), Some(ip)) => ip.same_prefix(net, prefix),
        (Some(_), None) => false,
    }
}

impl Match {
    /// True when a frame with `key` arriving on `in_port` matches.
    pub fn matches(&self, in_port: u16, key: &FrameKey) -> bool {
        eq(self.in_port, in_port)
            && eq(self.eth_src, key.eth_src)
            && eq(self.eth_dst, key.eth_dst)
            && eq(self.ethertype, key.ethertype)
            && eq_opt(self.ip_proto, key.ip_proto)
            && ip_in(self.ip_src, key.ip_src)
            && ip_in(self.ip_dst, key.ip_dst)
            && eq_opt(self.l4_src, key.l4_src)
            && eq_opt(self.l4_dst, key.l4_dst)
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        use alloc::format;
        if let Some(p) = self.in_port {
            parts.push(format!("in_port={p}"));
        }
        if let Some(m) = self.eth_src {
            parts.push(format!("eth_src={m}"));
        }
        if let Some(m) = self.eth_dst {
            parts.push(format!("eth_dst={m}"));
        }
        if let Some(t) = self.ethertype {
            parts.push(format!("ethertype={t:#06x}"));
        }
        if let Some(p) = self.ip_proto {
            parts.push(format!("ip_proto={p}"));
        }
        if let Some((ip, n)) = self.ip_src {
            parts.push(format!("ip_src={ip}/{n}"));
        }
        if let Some((ip, n)) = self.ip_dst {
            parts.push(format!("ip_dst={ip}/{n}"));
        }
        if let Some(p) = self.l4_src {
            parts.push(format!("udp_src={p}"));
        }
        if let Some(p) = self.l4_dst {
            parts.push(format!("udp_dst={p}"));
        }
        if parts.is_empty() {
            f.write_str("any")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// What a flow does with a frame it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send out of one port.
    Output(u16),
    /// Send out of every port but the one it came in on.
    Flood,
    /// Forward as the learning bridge would.
    Normal,
    /// Hand to the controller (a packet-in).
    Controller,
    /// Discard.
    Drop,
    /// Rewrite the destination MAC (before the output actions after it).
    SetEthDst(MacAddr),
    /// Rewrite the source MAC.
    SetEthSrc(MacAddr),
}

impl Action {
    /// Parses `output:N`, `flood`, `normal`, `controller`, `drop`, `set_eth_dst:MAC`, `set_eth_src:MAC`.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "flood" => Action::Flood,
            "normal" => Action::Normal,
            "controller" => Action::Controller,
            "drop" => Action::Drop,
            _ => {
                let (name, arg) = s.split_once(':')?;
                match name {
                    "output" => Action::Output(arg.parse().ok()?),
                    "set_eth_dst" => Action::SetEthDst(MacAddr::parse(arg)?),
                    "set_eth_src" => Action::SetEthSrc(MacAddr::parse(arg)?),
                    _ => return None,
                }
            }
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output(p) => write!(f, "output:{p}"),
            Action::Flood => f.write_str("flood"),
            Action::Normal => f.write_str("normal"),
            Action::Controller => f.write_str("controller"),
            Action::Drop => f.write_str("drop"),
            Action::SetEthDst(m) => write!(f, "set_eth_dst:{m}"),
            Action::SetEthSrc(m) => write!(f, "set_eth_src:{m}"),
        }
    }
}

/// One flow entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The id the table gave it.
    pub id: u32,
    /// Higher wins; among equal priorities the older flow wins.
    pub priority: u16,
    /// What it matches.
    pub matches: Match,
    /// What it does, in order; an empty list drops.
    pub actions: Vec<Action>,
    /// Frames it matched.
    pub packets: u64,
    /// Bytes of the frames it matched.
    pub bytes: u64,
}

/// Why the table refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// The table holds [`MAX_FLOWS`] flows.
    Full,
    /// No flow has this id.
    NoSuchFlow(u32),
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Full => write!(f, "the flow table is full ({MAX_FLOWS} flows)"),
            FlowError::NoSuchFlow(id) => write!(f, "no flow has id {id}"),
        }
    }
}

/// A priority-ordered flow table.
#[derive(Clone, Debug, Default)]
pub struct FlowTable {
    flows: Vec<Flow>,
    next_id: u32,
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a flow and returns its id.
    pub fn add(
        &mut self,
        priority: u16,
        matches: Match,
        actions: Vec<Action>,
    ) -> Result<u32, FlowError> {
        if self.flows.len() >= MAX_FLOWS {
            return Err(FlowError::Full);
        }
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        // Keep the list sorted by priority (stable: older first among equals).
        let at = self
            .flows
            .iter()
            .position(|f| f.priority < priority)
            .unwrap_or(self.flows.len());
        self.flows.insert(
            at,
            Flow {
                id,
                priority,
                matches,
                actions,
                packets: 0,
                bytes: 0,
            },
        );
        Ok(id)
    }
    /// Replaces a flow's actions, keeping its counters.
    pub fn modify(&mut self, id: u32, actions: Vec<Action>) -> Result<(), FlowError> {
        let f = self
            .flows
            .iter_mut()
            .find(|f| f.id == id)
            .ok_or(FlowError::NoSuchFlow(id))?;
        f.actions = actions;
        Ok(())
    }
    /// Removes a flow and returns it (with its final counters).
    pub fn delete(&mut self, id: u32) -> Result<Flow, FlowError> {
        let at = self
            .flows
            .iter()
            .position(|f| f.id == id)
            .ok_or(FlowError::NoSuchFlow(id))?;
        Ok(self.flows.remove(at))
    }
    /// Removes every flow whose match equals `m` exactly; returns how many.
    pub fn delete_strict(&mut self, m: &Match) -> usize {
        let before = self.flows.len();
        self.flows.retain(|f| f.matches != *m);
        before - self.flows.len()
    }
    /// The flows, highest priority first.
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }
    /// The flow with `id`.
    pub fn get(&self, id: u32) -> Option<&Flow> {
        self.flows.iter().find(|f| f.id == id)
    }
    /// Finds the flow a frame of `len` bytes matches, counts the frame on it and
    /// returns its actions; `None` is a table miss.
    pub fn lookup(&mut self, in_port: u16, key: &FrameKey, len: usize) -> Option<Vec<Action>> {
        let f = self
            .flows
            .iter_mut()
            .find(|f| f.matches.matches(in_port, key))?;
        f.packets += 1;
        f.bytes += len as u64;
        Some(f.actions.clone())
    }
}
