//! `vmlab host`: runs a multi-VM host scenario headlessly and prints per-VM memory and CPU tables and the event timeline.

use std::path::PathBuf;
use std::process::ExitCode;

use vmlab_host::scenario_file;

use crate::scenario_cmd;

/// Arguments of `vmlab host`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (TOML): the host, its VMs, timed events.
    pub scenario: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn fail(json: bool, message: &str) -> ExitCode {
    scenario_cmd::fail("host", json, message)
}

/// Runs the scenario and prints the report.
pub fn run(args: Args) -> ExitCode {
    let (name, scenario) = match scenario_cmd::load(&args.scenario, scenario_file::parse) {
        Ok(r) => r,
        Err(e) => return fail(args.json, &e),
    };
    let report = match scenario.run() {
        Ok((_, r)) => r,
        Err(e) => return fail(args.json, &format!("{name}: {e}")),
    };
    if args.json {
        let mut v = scenario_file::report_json(&report);
        v["ok"] = serde_json::Value::Bool(true);
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", scenario_file::report_text(&report));
    }
    ExitCode::SUCCESS
}
