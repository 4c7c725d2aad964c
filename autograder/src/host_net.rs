//! `vmlab host`'s network: the scenario's networked VMs booted as machines running the peer guest and played on the host's switch by the network runner (`vmlab_netlab::GuestMachines`), with pcap captures per port and the per-port table as text and JSON.

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::{json, Value};
use vmlab_host::net::{HostNet, NetMode, NAT, OUTSIDE, SWITCH};
use vmlab_net::scenario_file;
use vmlab_netlab::GuestMachines;

/// The network's run: its report (the `network` key of `vmlab host --json`) and
/// whether it ran to its last tick (false when the delivery budget ran out).
pub struct NetRun {
    /// The report.
    pub report: Value,
    /// False when the delivery budget ran out first.
    pub finished: bool,
}

/// Reads `--pcap PORT=FILE` arguments.
pub fn pcap_args(args: &[String]) -> Result<Vec<(String, PathBuf)>, String> {
    args.iter()
        .map(|p| match p.split_once('=') {
            Some((port, file)) if !port.is_empty() && !file.is_empty() => {
                Ok((port.to_string(), PathBuf::from(file)))
            }
            _ => Err(format!("--pcap {p:?}: expected PORT=FILE")),
        })
        .collect()
}

/// Checks that every port of `pcaps` is on the network, before anything runs; the
/// error lists the ports there are.
pub fn check_ports(net: &HostNet, pcaps: &[(String, PathBuf)]) -> Result<(), String> {
    let scenario = net.scenario().map_err(|e| e.to_string())?;
    let mut network = scenario.build().map_err(|e| e.to_string())?;
    let ports: Vec<String> = pcaps.iter().map(|(p, _)| p.clone()).collect();
    scenario_file::add_captures(&mut network, &ports).map_err(|e| {
        let names: Vec<&str> = net.vms.iter().map(|v| v.name.as_str()).collect();
        format!(
            "{e}; the ports are {SWITCH}:0..{}, the VMs {}{}",
            scenario.switches[0].ports - 1,
            names.join(", "),
            if net.mode == NetMode::Nat {
                format!(", {NAT}:0, {NAT}:1 and {OUTSIDE}")
            } else {
                String::new()
            }
        )
    })
}

/// Boots the networked VMs, runs the network with the `pcaps` captures written to
/// their files, and returns its report.
pub fn run(net: &HostNet, pcaps: &[(String, PathBuf)]) -> Result<NetRun, String> {
    let scenario = net.scenario().map_err(|e| e.to_string())?;
    let images = vmlab_netlab::guests::images(&scenario)?;
    let mut machines = GuestMachines::boot(&scenario, &images)
        .map_err(|e| format!("net: VM {:?}: {}: {}", net.vms[e.vm].name, e.key, e.message))?;
    let ports: Vec<String> = pcaps.iter().map(|(p, _)| p.clone()).collect();
    let mut capture_error = None;
    let outcome = scenario
        .run_machines(
            &mut |n| {
                if let Err(e) = scenario_file::add_captures(n, &ports) {
                    capture_error = Some(e);
                }
            },
            &mut machines,
        )
        .map_err(|e| e.to_string())?;
    if let Some(e) = capture_error {
        return Err(e);
    }
    let mut written = Vec::new();
    for (port, file) in pcaps {
        let n = &outcome.network;
        let Some(pcap) = n.port(port).ok().and_then(|at| n.capture_of(at)) else {
            return Err(format!("--pcap {port}: no capture"));
        };
        std::fs::write(file, pcap.bytes())
            .map_err(|e| format!("--pcap {port}={}: {e}", file.display()))?;
        written.push(json!({
            "port": port, "file": file.display().to_string(), "frames": pcap.records(),
        }));
    }
    let mut full = scenario_file::report_json(&outcome);
    vmlab_netlab::merge_guests(&mut full, &machines);
    Ok(NetRun {
        report: report(net, &full, written),
        finished: outcome.finished,
    })
}

/// The `network` report from the network runner's report `full`.
fn report(net: &HostNet, full: &Value, pcap_files: Vec<Value>) -> Value {
    let switch = &full["switches"][0];
    let ports: Vec<Value> = switch["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            json!({
                "port": format!("{SWITCH}:{}", p["port"]),
                "link": p["link"],
                "frames_in": p["rx_packets"], "bytes_in": p["rx_bytes"],
                "frames_out": p["tx_packets"], "bytes_out": p["tx_bytes"],
                "drops": p["dropped"], "flow_hits": p["flow_hits"],
            })
        })
        .collect();
    let vms: Vec<Value> = net
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let g = full["vms"]
                .as_array()
                .and_then(|a| a.iter().find(|g| g["name"] == v.name.as_str()))
                .cloned()
                .unwrap_or(Value::Null);
            json!({
                "name": v.name, "nic": v.nic, "mode": v.mode.name(), "slice": v.slice,
                "ip": HostNet::ip(i).to_string(), "mac": HostNet::mac(i).to_string(),
                "port": format!("{SWITCH}:{i}"),
                "stop": g["stop"], "debug_exit_value": g["debug_exit_value"],
                "instructions": g["instructions"],
                "frames_sent": g["sent"], "frames_received": g["received"],
                "serial": g["serial"],
            })
        })
        .collect();
    json!({
        "mode": net.mode.name(),
        "switch": SWITCH,
        "ticks": full["ticks"],
        "finished": full["finished"],
        "delivered": full["delivered"],
        "lost": full["lost"],
        "ports": ports,
        "mac_table": switch["mac_table"],
        "flows": switch["flows"],
        "vms": vms,
        "nat": full["nats"].get(0).cloned().unwrap_or(Value::Null),
        "outside": full["endpoints"].get(0).cloned().unwrap_or(Value::Null),
        "pcap_files": pcap_files,
    })
}

/// The network report as text: a line on the run, the per-port table, the flow
/// rules with their counters, each VM's result and the captures written.
pub fn text(r: &Value) -> String {
    let mut o = String::new();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let _ = writeln!(
        o,
        "\nnetwork ({} on {}): {} ticks, {} frames delivered, {} lost{}",
        s(&r["mode"]),
        s(&r["switch"]),
        r["ticks"],
        r["delivered"],
        r["lost"],
        if r["finished"] == true {
            ""
        } else {
            " (delivery budget exhausted)"
        }
    );
    let _ = writeln!(
        o,
        "{:<8} {:<10} {:>9} {:>9} {:>10} {:>10} {:>6} {:>9}",
        "port", "link", "frames-in", "bytes-in", "frames-out", "bytes-out", "drops", "flow-hits"
    );
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    for p in list(&r["ports"]) {
        let _ = writeln!(
            o,
            "{:<8} {:<10} {:>9} {:>9} {:>10} {:>10} {:>6} {:>9}",
            s(&p["port"]),
            p["link"].as_str().unwrap_or("-"),
            n(&p["frames_in"]),
            n(&p["bytes_in"]),
            n(&p["frames_out"]),
            n(&p["bytes_out"]),
            n(&p["drops"]),
            n(&p["flow_hits"])
        );
    }
    for f in list(&r["flows"]) {
        let actions: Vec<String> = list(&f["actions"]).iter().map(s).collect();
        let _ = writeln!(
            o,
            "flow #{} priority {} {} -> {}: {} packets, {} bytes",
            f["id"],
            f["priority"],
            s(&f["match"]),
            actions.join(","),
            f["packets"],
            f["bytes"]
        );
    }
    for v in list(&r["vms"]) {
        let last = s(&v["serial"]).lines().last().unwrap_or("").to_string();
        let _ = writeln!(
            o,
            "vm {} {} ({}, {}): {} {} after {} instructions: {}",
            s(&v["name"]),
            s(&v["ip"]),
            s(&v["nic"]),
            s(&v["mode"]),
            s(&v["stop"]),
            v["debug_exit_value"],
            v["instructions"],
            last
        );
    }
    if r["nat"].is_object() {
        let n = &r["nat"];
        let _ = writeln!(
            o,
            "nat: {} out, {} back, {} dropped; outside {} answered {}",
            n["out"],
            n["back"],
            n["dropped"],
            s(&r["outside"]["ip"]),
            r["outside"]["answered"]
        );
    }
    for w in list(&r["pcap_files"]) {
        let _ = writeln!(
            o,
            "pcap {} -> {} ({} frames)",
            s(&w["port"]),
            s(&w["file"]),
            w["frames"]
        );
    }
    o
}
