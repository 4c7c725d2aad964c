//! The learning bridge's MAC table: learn source addresses per port, age entries out, look destinations up.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::wire::MacAddr;

/// MAC entries a table holds at most; a full table learns nothing new until entries age out.
pub const MAX_MACS: usize = 4096;

/// One learned address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacEntry {
    /// The address.
    pub mac: MacAddr,
    /// The port it was last seen on.
    pub port: u16,
    /// When it was last seen (network ticks).
    pub seen: u64,
}

/// A MAC table with ageing.
#[derive(Clone, Debug)]
pub struct MacTable {
    entries: BTreeMap<MacAddr, (u16, u64)>,
    ageing: u64,
}

impl MacTable {
    /// An empty table whose entries expire `ageing` ticks after they were last seen.
    pub fn new(ageing: u64) -> Self {
        MacTable {
            entries: BTreeMap::new(),
            ageing,
        }
    }
    /// The ageing time in ticks.
    pub fn ageing(&self) -> u64 {
        self.ageing
    }
    /// Learns that `mac` is behind `port` at time `now` (group addresses are never learned).
    pub fn learn(&mut self, mac: MacAddr, port: u16, now: u64) {
        if mac.is_multicast() {
            return;
        }
        if self.entries.len() >= MAX_MACS && !self.entries.contains_key(&mac) {
            self.expire(now);
            if self.entries.len() >= MAX_MACS {
                return;
            }
        }
        self.entries.insert(mac, (port, now));
    }
    /// The port `mac` was last seen on, unless its entry has aged out by `now`.
    pub fn lookup(&self, mac: MacAddr, now: u64) -> Option<u16> {
        let &(port, seen) = self.entries.get(&mac)?;
        (now.saturating_sub(seen) < self.ageing).then_some(port)
    }
    /// Drops the entries aged out by `now`.
    pub fn expire(&mut self, now: u64) {
        let ageing = self.ageing;
        self.entries
            .retain(|_, &mut (_, seen)| now.saturating_sub(seen) < ageing);
    }
    /// Forgets every address learned on `port` (the port went down).
    pub fn flush_port(&mut self, port: u16) {
        self.entries.retain(|_, &mut (p, _)| p != port);
    }
    /// The live entries at `now`, in address order.
    pub fn entries(&self, now: u64) -> Vec<MacEntry> {
        self.entries
            .iter()
            .filter(|(_, &(_, seen))| now.saturating_sub(seen) < self.ageing)
            .map(|(&mac, &(port, seen))| MacEntry { mac, port, seen })
            .collect()
    }
}
