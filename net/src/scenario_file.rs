//! Scenario files in TOML: read into a [`Scenario`] with errors that name the file, line and key, and the run's report as text and JSON.

use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use serde::Deserialize;

use crate::endpoint::Plan;
use crate::flow::{Action, Match};
use crate::network::{Network, Node};
use crate::scenario::{
    ControllerKind, EndpointSpec, FlowSpec, NatSpec, Outcome, Scenario, ScenarioError, SwitchSpec,
    VmSpec, VtepSpec,
};
use crate::wire::{Ipv4Addr, MacAddr};

/// A scenario-file mistake with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file as named by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The key (`endpoint[1].mac`), when known.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.key, self.message
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    capture: Vec<String>,
    run: RawRun,
    #[serde(default)]
    switch: Vec<RawSwitch>,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
    #[serde(default)]
    nat: Vec<RawNat>,
    #[serde(default)]
    vtep: Vec<RawVtep>,
    #[serde(default)]
    vm: Vec<RawVm>,
    #[serde(default)]
    link: Vec<RawLink>,
    #[serde(default)]
    flow: Vec<RawFlow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    ticks: u64,
    #[serde(default = "default_budget")]
    budget: u64,
    #[serde(default)]
    controller: Option<String>,
}

fn default_budget() -> u64 {
    100_000
}

fn default_ageing() -> u64 {
    300
}

fn default_one() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSwitch {
    name: String,
    ports: u16,
    #[serde(default = "default_ageing")]
    ageing: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: String,
    mac: String,
    ip: String,
    gateway: Option<String>,
    ping: Option<String>,
    #[serde(default)]
    count: u32,
    #[serde(default)]
    udp: u32,
    #[serde(default)]
    start: u64,
    #[serde(default = "default_one")]
    interval: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNat {
    name: String,
    inside_mac: String,
    inside_ip: String,
    outside_mac: String,
    outside_ip: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    ip: String,
    mac: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVtep {
    name: String,
    mac: String,
    ip: String,
    vni: u32,
    peers: Vec<RawPeer>,
}

fn default_mode() -> String {
    "bare".into()
}

fn default_slice() -> u64 {
    5_000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    name: String,
    guest: String,
    mac: String,
    #[serde(default)]
    defines: Vec<String>,
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default = "default_slice")]
    slice: u64,
    #[serde(default = "default_nic")]
    nic: String,
}

fn default_nic() -> String {
    "virtio".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    a: String,
    b: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    in_port: Option<u16>,
    eth_src: Option<String>,
    eth_dst: Option<String>,
    ethertype: Option<u16>,
    ip_proto: Option<u8>,
    ip_src: Option<String>,
    ip_dst: Option<String>,
    udp_src: Option<u16>,
    udp_dst: Option<u16>,
}

/// A flow rule as a scenario file writes it; [`flow_spec`] reads it.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    switch: String,
    #[serde(default)]
    priority: u16,
    #[serde(default, rename = "match")]
    matches: RawMatch,
    actions: Vec<String>,
    #[serde(default)]
    at: u64,
}

fn mac(key: String, s: &str) -> Result<MacAddr, ScenarioError> {
    MacAddr::parse(s).ok_or_else(|| ScenarioError {
        key,
        message: format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
    })
}

fn ip(key: String, s: &str) -> Result<Ipv4Addr, ScenarioError> {
    Ipv4Addr::parse(s).ok_or_else(|| ScenarioError {
        key,
        message: format!("{s:?} is not an IPv4 address"),
    })
}

/// `a.b.c.d/n` (or without `/n`: `default` bits).
fn ip_prefix(key: String, s: &str, default: u8) -> Result<(Ipv4Addr, u8), ScenarioError> {
    let (a, n) = match s.split_once('/') {
        Some((a, n)) => match n.parse::<u8>() {
            Ok(n) if n <= 32 => (a, n),
            _ => {
                return Err(ScenarioError {
                    key,
                    message: format!("{s:?}: the prefix length must be 0..=32"),
                })
            }
        },
        None => (s, default),
    };
    Ok((ip(key, a)?, n))
}

fn convert(raw: RawFile) -> Result<Scenario, ScenarioError> {
    let controller = match raw.run.controller.as_deref() {
        None | Some("none") => ControllerKind::None,
        Some("l2") => ControllerKind::L2,
        Some(other) => {
            return Err(ScenarioError {
                key: "run.controller".into(),
                message: format!("{other:?}: the controllers are \"none\" and \"l2\""),
            })
        }
    };
    let mut s = Scenario {
        ticks: raw.run.ticks,
        budget: raw.run.budget,
        controller,
        captures: raw.capture,
        ..Scenario::default()
    };
    for r in raw.switch {
        s.switches.push(SwitchSpec {
            name: r.name,
            ports: r.ports,
            ageing: r.ageing,
        });
    }
    for (i, r) in raw.endpoint.into_iter().enumerate() {
        let k = |f: &str| format!("endpoint[{i}].{f}");
        let (addr, prefix) = ip_prefix(k("ip"), &r.ip, 24)?;
        let plan = match &r.ping {
            Some(t) => Some(Plan {
                target: ip(k("ping"), t)?,
                pings: r.count,
                udp: r.udp,
                start: r.start,
                interval: r.interval,
            }),
            None if r.count > 0 || r.udp > 0 => {
                return Err(ScenarioError {
                    key: k("count"),
                    message: "pings or UDP echoes need a target: set `ping`".into(),
                })
            }
            None => None,
        };
        s.endpoints.push(EndpointSpec {
            name: r.name,
            mac: mac(k("mac"), &r.mac)?,
            ip: addr,
            prefix,
            gateway: r
                .gateway
                .as_deref()
                .map(|g| ip(k("gateway"), g))
                .transpose()?,
            plan,
        });
    }
    for (i, r) in raw.nat.into_iter().enumerate() {
        let k = |f: &str| format!("nat[{i}].{f}");
        let (inside_ip, inside_prefix) = ip_prefix(k("inside_ip"), &r.inside_ip, 24)?;
        s.nats.push(NatSpec {
            name: r.name,
            inside_mac: mac(k("inside_mac"), &r.inside_mac)?,
            inside_ip,
            inside_prefix,
            outside_mac: mac(k("outside_mac"), &r.outside_mac)?,
            outside_ip: ip(k("outside_ip"), &r.outside_ip)?,
        });
    }
    for (i, r) in raw.vtep.into_iter().enumerate() {
        let k = |f: &str| format!("vtep[{i}].{f}");
        let mut peers = Vec::new();
        for p in &r.peers {
            peers.push((ip(k("peers"), &p.ip)?, mac(k("peers"), &p.mac)?));
        }
        s.vteps.push(VtepSpec {
            name: r.name,
            mac: mac(k("mac"), &r.mac)?,
            ip: ip(k("ip"), &r.ip)?,
            vni: r.vni,
            peers,
        });
    }
    for (i, r) in raw.vm.into_iter().enumerate() {
        if !matches!(r.nic.as_str(), "virtio" | "ne2000") {
            return Err(ScenarioError {
                key: format!("vm[{i}].nic"),
                message: format!("{:?}: the NIC is \"virtio\" or \"ne2000\"", r.nic),
            });
        }
        s.vms.push(VmSpec {
            mac: mac(format!("vm[{i}].mac"), &r.mac)?,
            name: r.name,
            guest: r.guest,
            defines: r.defines,
            mode: r.mode,
            slice: r.slice,
            nic: r.nic,
        });
    }
    s.links = raw.link.into_iter().map(|l| (l.a, l.b)).collect();
    for (i, r) in raw.flow.into_iter().enumerate() {
        s.flows.push(flow_spec(&format!("flow[{i}]"), r)?);
    }
    Ok(s)
}

/// A flow table's rule as written (`switch`, `priority`, `match`, `actions`, `at`) read
/// into its [`FlowSpec`], its mistakes named under `table` (`flow[2]` gives
/// `flow[2].actions`). Other scenario files with flow rules read them with this.
pub fn flow_spec(table: &str, r: RawFlow) -> Result<FlowSpec, ScenarioError> {
    let k = |f: &str| format!("{table}.{f}");
    let m = &r.matches;
    let matches = Match {
        in_port: m.in_port,
        eth_src: m
            .eth_src
            .as_deref()
            .map(|v| mac(k("match"), v))
            .transpose()?,
        eth_dst: m
            .eth_dst
            .as_deref()
            .map(|v| mac(k("match"), v))
            .transpose()?,
        ethertype: m.ethertype,
        ip_proto: m.ip_proto,
        ip_src: m
            .ip_src
            .as_deref()
            .map(|v| ip_prefix(k("match"), v, 32))
            .transpose()?,
        ip_dst: m
            .ip_dst
            .as_deref()
            .map(|v| ip_prefix(k("match"), v, 32))
            .transpose()?,
        l4_src: m.udp_src,
        l4_dst: m.udp_dst,
    };
    let mut actions = Vec::new();
    for a in &r.actions {
        actions.push(Action::parse(a).ok_or_else(|| ScenarioError {
            key: k("actions"),
            message: format!(
                "{a:?} is not an action (output:N, flood, normal, controller, drop, set_eth_dst:MAC, set_eth_src:MAC)"
            ),
        })?);
    }
    Ok(FlowSpec {
        switch: r.switch,
        priority: r.priority,
        matches,
        actions,
        at: r.at,
    })
}

/// The 1-based line of `key` (`flow[1].actions`, `run.ticks`, `capture[0]`) in `text`:
/// the line of the field inside the right table, else the table's header, else 1.
pub fn locate(text: &str, key: &str) -> usize {
    let (table_part, field) = match key.split_once('.') {
        Some((t, f)) => (t, Some(f)),
        None => (key, None),
    };
    let (table, index) = match table_part.split_once('[') {
        Some((t, rest)) => (t, rest.trim_end_matches(']').parse::<usize>().unwrap_or(0)),
        None => (table_part, 0),
    };
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let field_at = |l: &str, name: &str| {
        l.trim_start()
            .strip_prefix(name)
            .is_some_and(|r| r.trim_start().starts_with('='))
    };
    let lines: Vec<&str> = text.lines().collect();
    // A top-level key (such as `capture`) lives before the first header.
    if field.is_none() && !lines.iter().any(|l| is_single_or_array(l, table)) {
        return lines
            .iter()
            .take_while(|l| !is_header(l))
            .position(|l| field_at(l, table))
            .map_or(1, |i| i + 1);
    }
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate() {
        if is_single_or_array(l, table) {
            if seen == index {
                let Some(f) = field else { return i + 1 };
                return lines[i + 1..]
                    .iter()
                    .take_while(|l| !is_header(l))
                    .position(|l| field_at(l, f))
                    .map_or(i + 1, |j| i + 2 + j);
            }
            seen += 1;
        }
    }
    1
}

fn is_single_or_array(line: &str, table: &str) -> bool {
    let t = line.trim();
    t == format!("[[{table}]]") || t == format!("[{table}]")
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads a scenario from `text` (the contents of `file`).
pub fn parse(file: &str, text: &str) -> Result<Scenario, FileError> {
    let raw: RawFile = crate::toml_de::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        FileError {
            file: file.into(),
            line,
            key: String::new(),
            message: e.message().trim().to_string(),
        }
    })?;
    let located = |e: ScenarioError| FileError {
        file: file.into(),
        line: locate(text, &e.key),
        key: e.key,
        message: e.message,
    };
    let s = convert(raw).map_err(located)?;
    s.build().map_err(located)?;
    Ok(s)
}

/// The report of a run as JSON.
pub fn report_json(out: &Outcome) -> serde_json::Value {
    network_json(&out.network, out.finished, out.controller_flows)
}

/// The report of a network as it stands (after a run, or between ticks of one):
/// `finished` is false when the delivery budget ran out, `controller_flows` the flows
/// the controller program installed.
pub fn network_json(net: &Network, finished: bool, controller_flows: u64) -> serde_json::Value {
    use serde_json::json;
    let now = net.now();
    let link_of = |name: &str, port: u16| -> Option<String> {
        let me = net.port(&format!("{name}:{port}")).ok()?;
        net.links().iter().find_map(|&(a, b)| {
            if a == me {
                Some(net.port_name(b))
            } else if b == me {
                Some(net.port_name(a))
            } else {
                None
            }
        })
    };
    let mut switches = vec![];
    let mut endpoints = vec![];
    let mut nats = vec![];
    let mut vteps = vec![];
    let mut vms = vec![];
    for (name, node) in net.nodes() {
        match node {
            Node::Switch(sw) => switches.push(json!({
                "name": name,
                "mac_table": sw.macs().entries(now).iter().map(|e| json!({
                    "mac": e.mac.to_string(), "port": e.port, "age": now.saturating_sub(e.seen),
                })).collect::<Vec<_>>(),
                "flows": sw.flows().flows().iter().map(|f| json!({
                    "id": f.id, "priority": f.priority, "match": f.matches.to_string(),
                    "actions": f.actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "packets": f.packets, "bytes": f.bytes,
                })).collect::<Vec<_>>(),
                "ports": sw.counters().iter().enumerate().map(|(p, c)| json!({
                    "port": p, "link": link_of(name, p as u16),
                    "rx_packets": c.rx_packets, "rx_bytes": c.rx_bytes,
                    "tx_packets": c.tx_packets, "tx_bytes": c.tx_bytes, "dropped": c.dropped,
                    "flow_hits": c.flow_hits,
                })).collect::<Vec<_>>(),
            })),
            Node::Endpoint(e) => endpoints.push(json!({
                "name": name, "mac": e.mac.to_string(), "ip": e.ip.to_string(),
                "arp_requests": e.stats.arp_requests, "pings_sent": e.stats.pings_sent,
                "ping_replies": e.stats.ping_replies, "udp_sent": e.stats.udp_sent,
                "udp_replies": e.stats.udp_replies, "answered": e.stats.answered,
                "received": e.stats.received,
            })),
            Node::Nat(n) => nats.push(json!({
                "name": name, "out": n.counters.out, "back": n.counters.back,
                "dropped": n.counters.dropped,
                "mappings": n.mappings().iter().map(|m| json!({
                    "proto": if m.proto == crate::wire::PROTO_ICMP { "icmp" } else { "udp" },
                    "inside": format!("{}:{}", m.inside_ip, m.inside_port),
                    "outside_port": m.outside_port, "packets": m.packets,
                })).collect::<Vec<_>>(),
            })),
            Node::Vtep(v) => vteps.push(json!({
                "name": name, "vni": v.vni, "encapsulated": v.counters.encapsulated,
                "decapsulated": v.counters.decapsulated, "refused": v.counters.refused,
            })),
            Node::Vm(v) => vms.push(json!({
                "name": name, "sent": v.sent, "received": v.received, "dropped": v.dropped,
            })),
        }
    }
    json!({
        "ticks": now,
        "finished": finished,
        "delivered": net.delivered,
        "lost": net.lost,
        "controller_flows": controller_flows,
        "switches": switches,
        "endpoints": endpoints,
        "nats": nats,
        "vteps": vteps,
        "vms": vms,
        "captures": net.captures().iter().map(|c| json!({
            "port": net.port_name(c.at), "frames": c.pcap.records(),
        })).collect::<Vec<_>>(),
    })
}

/// The report of a run as text: MAC tables, flow tables with counters, packets per port.
pub fn report_text(out: &Outcome) -> String {
    use core::fmt::Write;
    let j = report_json(out);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ran {} ticks, {} frames delivered, {} lost{}",
        j["ticks"],
        j["delivered"],
        j["lost"],
        if out.finished {
            ""
        } else {
            " (delivery budget exhausted)"
        }
    );
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    for sw in list(&j["switches"]) {
        let _ = writeln!(s, "\nswitch {}", sw["name"].as_str().unwrap_or("?"));
        let _ = writeln!(s, "  MAC table:");
        for e in list(&sw["mac_table"]) {
            let _ = writeln!(
                s,
                "    {}  port {}  age {}",
                e["mac"].as_str().unwrap_or(""),
                e["port"],
                e["age"]
            );
        }
        let _ = writeln!(s, "  flows:");
        for f in list(&sw["flows"]) {
            let actions: Vec<String> = list(&f["actions"])
                .iter()
                .map(|a| a.as_str().unwrap_or("").to_string())
                .collect();
            let _ = writeln!(
                s,
                "    #{} priority {} {} -> {}  packets {} bytes {}",
                f["id"],
                f["priority"],
                f["match"].as_str().unwrap_or(""),
                actions.join(","),
                f["packets"],
                f["bytes"]
            );
        }
        let _ = writeln!(s, "  ports:");
        for p in list(&sw["ports"]) {
            let _ = writeln!(
                s,
                "    {} ({})  rx {} tx {} dropped {}",
                p["port"],
                p["link"].as_str().unwrap_or("unlinked"),
                p["rx_packets"],
                p["tx_packets"],
                p["dropped"]
            );
        }
    }
    for e in list(&j["endpoints"]) {
        let _ = writeln!(
            s,
            "\nendpoint {} {}: pings {} sent, {} answered; udp {} sent, {} echoed",
            e["name"].as_str().unwrap_or("?"),
            e["ip"].as_str().unwrap_or(""),
            e["pings_sent"],
            e["ping_replies"],
            e["udp_sent"],
            e["udp_replies"]
        );
    }
    for n in list(&j["nats"]) {
        let _ = writeln!(
            s,
            "\nnat {}: {} out, {} back, {} dropped, {} mappings",
            n["name"].as_str().unwrap_or("?"),
            n["out"],
            n["back"],
            n["dropped"],
            list(&n["mappings"]).len()
        );
    }
    for v in list(&j["vms"]) {
        let _ = writeln!(
            s,
            "\nvm {}: {} frames sent, {} received, {} dropped",
            v["name"].as_str().unwrap_or("?"),
            v["sent"],
            v["received"],
            v["dropped"]
        );
    }
    for v in list(&j["vteps"]) {
        let _ = writeln!(
            s,
            "\nvtep {} vni {}: {} encapsulated, {} decapsulated, {} refused",
            v["name"].as_str().unwrap_or("?"),
            v["vni"],
            v["encapsulated"],
            v["decapsulated"],
            v["refused"]
        );
    }
    s
}

/// Adds captures named `PORT` to a network before it runs (for `--pcap PORT=FILE`).
pub fn add_captures(net: &mut Network, ports: &[String]) -> Result<(), String> {
    for p in ports {
        let at = net.port(p).map_err(|e| format!("--pcap {e}"))?;
        net.capture(at);
    }
    Ok(())
}
