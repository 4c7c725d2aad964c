// reference solution: learning-switch (vmlab component lab 8)
//! A learning switch with MAC ageing and a prioritized flow table.

use std::collections::HashMap;

use assignments::component::switch::{FlowSwitch, Rule, RuleAction, SwitchModel};

/// The submission: it builds switches.
#[derive(Debug)]
pub struct Submission;

impl FlowSwitch for Submission {
    fn new_switch(&self, ports: u16, ageing: u64) -> Box<dyn SwitchModel> {
        Box::new(LearningSwitch {
            ports,
            ageing,
            macs: HashMap::new(),
            rules: Vec::new(),
        })
    }
}

struct LearningSwitch {
    ports: u16,
    ageing: u64,
    /// MAC → (port, last seen).
    macs: HashMap<[u8; 6], (u16, u64)>,
    /// Rules in the order added, with their counters.
    rules: Vec<(Rule, u64)>,
}

fn is_group(mac: [u8; 6]) -> bool {
    mac[0] & 1 != 0
}

fn mac_at(frame: &[u8], at: usize) -> [u8; 6] {
    let mut m = [0; 6];
    m.copy_from_slice(&frame[at..at + 6]);
    m
}

impl LearningSwitch {
    fn flood(&self, in_port: u16) -> Vec<u16> {
        (0..self.ports).filter(|&p| p != in_port).collect()
    }

    fn matches(rule: &Rule, in_port: u16, frame: &[u8]) -> bool {
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let proto = (ethertype == 0x0800).then(|| frame.get(23).copied()).flatten();
        rule.in_port.is_none_or(|p| p == in_port)
            && rule.eth_dst.is_none_or(|m| m == mac_at(frame, 0))
            && rule.eth_src.is_none_or(|m| m == mac_at(frame, 6))
            && rule.ethertype.is_none_or(|t| t == ethertype)
            && rule.ip_proto.is_none_or(|p| Some(p) == proto)
    }
}

impl SwitchModel for LearningSwitch {
    fn add_rule(&mut self, rule: &Rule) {
        self.rules.push((*rule, 0));
    }

    fn receive(&mut self, now: u64, in_port: u16, frame: &[u8]) -> Vec<u16> {
        if frame.len() < 14 || in_port >= self.ports {
            return Vec::new();
        }
        let (dst, src) = (mac_at(frame, 0), mac_at(frame, 6));
        if !is_group(src) {
            self.macs.insert(src, (in_port, now));
        }
        // The best rule: highest priority, the first added among equals.
        let mut best: Option<usize> = None;
        for (i, (r, _)) in self.rules.iter().enumerate() {
            if Self::matches(r, in_port, frame)
                && best.is_none_or(|b| r.priority > self.rules[b].0.priority)
            {
                best = Some(i);
            }
        }
        let action = match best {
            Some(i) => {
                self.rules[i].1 += 1;
                self.rules[i].0.action
            }
            None => RuleAction::Normal,
        };
        match action {
            RuleAction::Output(p) if p < self.ports => vec![p],
            RuleAction::Output(_) | RuleAction::Drop => Vec::new(),
            RuleAction::Flood => self.flood(in_port),
            RuleAction::Normal => {
                if is_group(dst) {
                    return self.flood(in_port);
                }
                match self.macs.get(&dst) {
                    Some(&(p, seen)) if now.saturating_sub(seen) < self.ageing => {
                        if p == in_port {
                            Vec::new()
                        } else {
                            vec![p]
                        }
                    }
                    _ => self.flood(in_port),
                }
            }
        }
    }

    fn rule_packets(&self, index: usize) -> u64 {
        self.rules.get(index).map_or(0, |r| r.1)
    }
}
