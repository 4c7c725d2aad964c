//! `vmlab host`: runs a host scenario headlessly (one or several hosts, VMs migrated or failed over between them at timed events) and prints per-migration round tables, per-fail-over output checks, per-VM memory and CPU tables, the event timeline and, for a networked scenario, its network's per-port table.

use std::path::PathBuf;
use std::process::ExitCode;

use vmlab_host::net::NetMode;
use vmlab_host::scenario_file;

use crate::{host_net, scenario_cmd};

/// Exit status when the network's delivery budget ran out before its last tick.
const EXIT_BUDGET: u8 = 124;

/// Arguments of `vmlab host`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (TOML): the hosts, their links and VMs, timed events.
    pub scenario: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Network the VMs on the host's switch `br0` (`bridge`, `nat`) or not (`none`),
    /// replacing the mode of the scenario's `[net]` section.
    #[arg(long, value_name = "MODE", value_parser = ["bridge", "nat", "none"])]
    pub net: Option<String>,
    /// Capture a port of the network (`br0:N`, a VM's name, `nat:0`, `nat:1`,
    /// `outside`) into a pcap file; may be repeated.
    #[arg(long, value_name = "PORT=FILE")]
    pub pcap: Vec<String>,
}

fn fail(json: bool, message: &str) -> ExitCode {
    scenario_cmd::fail("host", json, message)
}

/// Runs the scenario and prints the report.
pub fn run(args: Args) -> ExitCode {
    let over = args.net.as_deref().and_then(NetMode::from_name);
    let parse = |file: &str, text: &str| scenario_file::parse_networked(file, text, over);
    let (name, (scenario, net)) = match scenario_cmd::load(&args.scenario, parse) {
        Ok(r) => r,
        Err(e) => return fail(args.json, &e),
    };
    let pcaps = match host_net::pcap_args(&args.pcap) {
        Ok(p) => p,
        Err(e) => return fail(args.json, &e),
    };
    if net.is_none() && !pcaps.is_empty() {
        return fail(
            args.json,
            &format!("--pcap: {name} has no network (add a [net] section or --net bridge|nat)"),
        );
    }
    if let Some(Err(e)) = net.as_ref().map(|n| host_net::check_ports(n, &pcaps)) {
        return fail(args.json, &format!("{name}: {e}"));
    }
    let report = match scenario.run() {
        Ok((_, r)) => r,
        Err(e) => return fail(args.json, &format!("{name}: {e}")),
    };
    let mut net = net;
    if let Some(n) = net.as_mut().filter(|n| n.follow_shares) {
        n.follow_shares(|name| {
            let vm = report.vms.iter().find(|v| v.name == name)?;
            Some(vm.cpu_share_permille)
        });
    }
    let network = match net.as_ref().map(|n| host_net::run(n, &pcaps)).transpose() {
        Ok(n) => n,
        Err(e) => return fail(args.json, &format!("{name}: {e}")),
    };
    if args.json {
        let mut v = scenario_file::report_json(&report);
        v["ok"] = serde_json::Value::Bool(true);
        v["network"] = network
            .as_ref()
            .map_or(serde_json::Value::Null, |n| n.report.clone());
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", scenario_file::report_text(&report));
        if let Some(n) = &network {
            print!("{}", host_net::text(&n.report));
        }
    }
    if network.as_ref().is_some_and(|n| !n.finished) {
        ExitCode::from(EXIT_BUDGET)
    } else {
        ExitCode::SUCCESS
    }
}
