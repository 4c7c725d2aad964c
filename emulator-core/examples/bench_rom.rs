//! Native benchmark runner: runs a ROM image to its stop and prints one JSON line with
//! the instruction count, the wall time of the run, the MIPS, the VM exits (0 bare),
//! the peak host memory and the serial output. Used by `cargo xtask bench`.
//!
//! Usage: `bench_rom ROM [--mem MiB] [--mode bare|trap-emulate|hw-assist]
//! [--max-insns N] [--general]` (`--general`: the fast tier off).

use std::time::Instant;

use emulator_core::{ExecMode, Machine, MachineConfig};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of this process in seconds (from /proc/self/schedstat; 0 when unavailable).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut rom = None;
    let mut mem = 64u32;
    let mut mode = ExecMode::Bare;
    let mut max = u64::MAX;
    let mut general = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mem" => mem = args.next().and_then(|v| v.parse().ok()).unwrap_or(mem),
            "--max-insns" => max = args.next().and_then(|v| v.parse().ok()).unwrap_or(max),
            "--general" => general = true,
            "--mode" => {
                let name = args.next().unwrap_or_default();
                mode = match name.parse() {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("bench_rom: {e}");
                        std::process::exit(2);
                    }
                }
            }
            _ => rom = Some(a),
        }
    }
    let Some(rom) = rom else {
        eprintln!("usage: bench_rom ROM [--mem MiB] [--mode M] [--max-insns N] [--general]");
        std::process::exit(2);
    };
    let image = match std::fs::read(&rom) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench_rom: cannot read {rom}: {e}");
            std::process::exit(2);
        }
    };
    let cfg = MachineConfig {
        ram_mib: mem,
        mode,
        ..MachineConfig::default()
    };
    let mut m = match Machine::new(cfg) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("bench_rom: {e}");
            std::process::exit(2);
        }
    };
    m.set_fast_tier(!general);
    if let Err(e) = m.load_rom(&image) {
        eprintln!("bench_rom: {rom}: {e}");
        std::process::exit(2);
    }
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let stop = m.run(max);
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let serial = String::from_utf8_lossy(&m.serial_output()).into_owned();
    let exits = m.vmm().map_or(0, |v| v.stats().exits.total);
    println!(
        "{{\"stop\":\"{stop:?}\",\"instructions\":{},\"exits\":{exits},\"seconds\":{secs:.6},\"mips\":{:.2},\"cpu_seconds\":{cpu:.6},\"cpu_mips\":{:.2},\"peak_rss_kib\":{},\"serial\":{:?}}}",
        m.icount(),
        m.icount() as f64 / secs / 1e6,
        m.icount() as f64 / cpu.max(1e-9) / 1e6,
        peak_rss_kib(),
        serial
    );
}
