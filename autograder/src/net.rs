//! `vmlab net`: runs a virtual-network scenario headlessly and prints its MAC tables, flow tables with counters and packets per port, writing pcap captures on request.

use std::path::PathBuf;
use std::process::ExitCode;

use vmlab_net::scenario_file;

use crate::net_vms;
use crate::scenario_cmd;

/// Exit status when the delivery budget ran out before the last tick.
const EXIT_BUDGET: u8 = 124;

/// Arguments of `vmlab net`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (TOML): switches, endpoints, machines, NATs, VXLAN endpoints, links, flows.
    pub scenario: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Capture a port (`NODE` or `NODE:PORT`) into a pcap file; may be repeated.
    #[arg(long, value_name = "PORT=FILE")]
    pub pcap: Vec<String>,
}

fn fail(json: bool, message: &str) -> ExitCode {
    scenario_cmd::fail("net", json, message)
}

/// Runs the scenario and prints the report.
pub fn run(args: Args) -> ExitCode {
    let (name, scenario) = match scenario_cmd::load(&args.scenario, scenario_file::parse) {
        Ok(r) => r,
        Err(e) => return fail(args.json, &e),
    };
    let mut wanted: Vec<(String, PathBuf)> = Vec::new();
    for p in &args.pcap {
        match p.split_once('=') {
            Some((port, file)) if !port.is_empty() && !file.is_empty() => {
                wanted.push((port.to_string(), PathBuf::from(file)));
            }
            _ => return fail(args.json, &format!("--pcap {p:?}: expected PORT=FILE")),
        }
    }
    let ports: Vec<String> = wanted.iter().map(|(p, _)| p.clone()).collect();
    let text = std::fs::read_to_string(&args.scenario).unwrap_or_default();
    let mut machines = match net_vms::boot(&scenario, &args.scenario, &text) {
        Ok(m) => m,
        Err(e) => return fail(args.json, &e),
    };
    let mut capture_error = None;
    let outcome = scenario.run_machines(
        &mut |net| {
            if let Err(e) = scenario_file::add_captures(net, &ports) {
                capture_error = Some(e);
            }
        },
        &mut machines,
    );
    if let Some(e) = capture_error {
        return fail(args.json, &e);
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return fail(args.json, &format!("{name}: {e}")),
    };
    let mut written = Vec::new();
    for (port, file) in &wanted {
        let net = &outcome.network;
        let Some(pcap) = net.port(port).ok().and_then(|at| net.capture_of(at)) else {
            return fail(args.json, &format!("--pcap {port}: no capture"));
        };
        if let Err(e) = std::fs::write(file, pcap.bytes()) {
            return fail(args.json, &format!("--pcap {port}={}: {e}", file.display()));
        }
        written.push(serde_json::json!({
            "port": port, "file": file.display().to_string(), "frames": pcap.records(),
        }));
    }
    let guests = vmlab_netlab::guest_json(&machines);
    if args.json {
        let mut report = scenario_file::report_json(&outcome);
        vmlab_netlab::merge_guests(&mut report, &machines);
        report["ok"] = serde_json::Value::Bool(true);
        report["pcap_files"] = serde_json::Value::Array(written);
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", scenario_file::report_text(&outcome));
        for g in &guests {
            println!(
                "\nvm {} ({}) {} after {} instructions; console:",
                g["name"].as_str().unwrap_or("?"),
                g["mode"].as_str().unwrap_or(""),
                g["stop"].as_str().unwrap_or(""),
                g["instructions"]
            );
            for line in g["serial"].as_str().unwrap_or("").lines() {
                println!("  | {line}");
            }
        }
        for w in &written {
            println!(
                "\npcap {} -> {} ({} frames)",
                w["port"].as_str().unwrap_or(""),
                w["file"].as_str().unwrap_or(""),
                w["frames"]
            );
        }
    }
    if outcome.finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BUDGET)
    }
}
