//! Benchmark runner for `cargo xtask bench`: runs a host scenario file and prints one JSON line with the instructions the VMs ran, the wall time, the MIPS, the host's peak memory (RSS) and its frame figures.
//!
//! Usage: `bench_host SCENARIO.toml`.

use std::time::Instant;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter_map(|l| l.strip_prefix("VmHWM:"))
        .filter_map(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .next()
        .unwrap_or(0)
}

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bench_host SCENARIO.toml");
        return std::process::ExitCode::from(2);
    };
    let loaded = std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|text| vmlab_host::scenario_file::parse(&path, &text).map_err(|e| e.to_string()));
    let scenario = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench_host: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let (host, report) = match scenario.run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench_host: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let instructions: u64 = host.vms.iter().map(|v| v.machine.icount()).sum();
    println!(
        "{}",
        serde_json::json!({
            "vms": host.vms.len(),
            "instructions": instructions,
            "seconds": secs,
            "mips": instructions as f64 / secs.max(1e-9) / 1e6,
            "peak_rss_kib": peak_rss_kib(),
            "peak_frames": report.peak_frames,
            "peak_unshared": report.peak_unshared,
            "merged": report.merged,
        })
    );
    std::process::ExitCode::SUCCESS
}
