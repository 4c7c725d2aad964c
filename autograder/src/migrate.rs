//! `vmlab migrate` and `vmlab ft`: live migration of a guest between two machines over
//! a modeled link (pre-copy rounds or post-copy), and a fault-tolerant run whose
//! primary dies, with the per-round table, downtime and the serial output.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, StopReason};
use serde_json::json;
use vmlab_migrate::clock::{run_until, Budget};
use vmlab_migrate::transfer::destination_for;
use vmlab_migrate::{
    postcopy, precopy, FaultTolerance, Link, MigrateError, PostcopyOptions, XenPolicy,
};

/// Exit status of a guest or an option that is wrong.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of a migration or run that failed (budget, divergence).
const EXIT_FAILED: u8 = 1;
/// Guest cycles a millisecond (the nominal 100 MHz CPU).
const CYCLES_PER_MS: u64 = emulator_core::devices::pit::CPU_HZ / 1000;

/// The guest and machine both commands take.
#[derive(clap::Args, Debug)]
pub struct GuestArgs {
    /// The guest: a flat binary, or NASM source (`.asm`; `%include` files are looked up
    /// beside it, in `../include` from it, and in `-I` directories).
    #[arg(long)]
    pub guest: PathBuf,
    /// Directory searched for `%include` files.
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,
    /// Define a preprocessor macro for `.asm` guests: `-D NAME` or `-D NAME=VALUE`.
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    pub defines: Vec<String>,
    /// Load address; the guest starts there in flat 32-bit protected mode.
    #[arg(long, default_value = "0x10000", value_parser = crate::run::parse_addr)]
    pub load: u32,
    /// RAM in MiB.
    #[arg(long, default_value_t = 16)]
    pub ram: u32,
    /// How the guest runs: bare, trap-emulate, hw-assist, hw-assist-shadow, ...
    #[arg(long, default_value = "bare")]
    pub exec: String,
    /// Most instructions executed in all.
    #[arg(long, default_value_t = 2_000_000_000)]
    pub max_insns: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `vmlab migrate`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub guest: GuestArgs,
    /// `precopy` (rounds, then stop-and-copy) or `postcopy` (stop, resume, fault pages in).
    #[arg(long, default_value = "precopy")]
    pub mode: String,
    /// Link bandwidth, bytes a second.
    #[arg(long, default_value_t = 125_000_000)]
    pub bandwidth: u64,
    /// Link latency, microseconds one way.
    #[arg(long, default_value_t = 100)]
    pub latency: u64,
    /// Guest milliseconds the guest runs on the source before the migration starts.
    #[arg(long, default_value_t = 2)]
    pub warmup_ms: u64,
    /// Guest milliseconds the guest runs on the destination after it resumed.
    #[arg(long, default_value_t = 50)]
    pub after_ms: u64,
    /// Post-copy: pages pre-paged on each side of a faulted page.
    #[arg(long, default_value_t = 8)]
    pub prepage: u32,
}

/// Arguments of `vmlab ft`.
#[derive(clap::Args, Debug)]
pub struct FtArgs {
    #[command(flatten)]
    pub guest: GuestArgs,
    /// The primary dies when it has retired this many instructions.
    #[arg(long)]
    pub kill_at: u64,
    /// Instructions per epoch (log shipped, output released at its end).
    #[arg(long, default_value_t = 2_000)]
    pub epoch: u64,
    /// Serial input `ICOUNT:TEXT`: TEXT arrives on COM1 when ICOUNT instructions have retired; may be repeated.
    #[arg(long, value_name = "ICOUNT:TEXT")]
    pub input: Vec<String>,
}

fn fail(json: bool, command: &str, status: u8, message: &str) -> ExitCode {
    if json {
        let kind = if status == EXIT_BAD_INPUT {
            "bad-input"
        } else {
            "failed"
        };
        println!(
            "{}",
            json!({ "ok": false, "error": { "kind": kind, "message": message } })
        );
    } else {
        eprintln!("vmlab {command}: {message}");
    }
    ExitCode::from(status)
}

fn assemble(path: &Path, args: &GuestArgs) -> Result<Vec<u8>, String> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let here = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut dirs = vec![here.clone(), here.join("../include")];
    dirs.extend(args.include_dirs.iter().cloned());
    let include = |n: &str| -> Option<String> {
        dirs.iter()
            .find_map(|d| std::fs::read_to_string(d.join(n)).ok())
    };
    let opts = vmlab_asm::Options {
        defines: args
            .defines
            .iter()
            .map(|d| vmlab_asm::parse_define(d))
            .collect(),
        include: Some(&include),
        ..Default::default()
    };
    vmlab_asm::assemble(&name, &source, &opts)
        .map(|o| o.bytes)
        .map_err(|e| e.to_string())
}

/// The machine with the guest loaded, ready to run.
fn machine(args: &GuestArgs) -> Result<Machine, String> {
    let mode: ExecMode = args
        .exec
        .parse()
        .map_err(|e| format!("--exec {}: {e}", args.exec))?;
    let image = if args.guest.extension().is_some_and(|e| e == "asm") {
        assemble(&args.guest, args)?
    } else {
        std::fs::read(&args.guest).map_err(|e| format!("{}: {e}", args.guest.display()))?
    };
    let mut m = Machine::new(MachineConfig {
        ram_mib: args.ram,
        mode,
        ..MachineConfig::default()
    })
    .map_err(|e| format!("--ram {}: {e}", args.ram))?;
    m.load_flat(args.load, &image, FlatEntry::Protected32)
        .map_err(|e| format!("{}: {e}", args.guest.display()))?;
    Ok(m)
}

fn ms(cycles: u64) -> f64 {
    cycles as f64 / CYCLES_PER_MS as f64
}

/// Runs `vmlab migrate`.
pub fn migrate(args: MigrateArgs) -> ExitCode {
    let json = args.guest.json;
    let bad = |m: &str| fail(json, "migrate", EXIT_BAD_INPUT, m);
    let link = match Link::new(args.bandwidth, args.latency) {
        Ok(l) => l,
        Err(e) => return bad(&format!("--bandwidth/--latency: {e}")),
    };
    if args.mode != "precopy" && args.mode != "postcopy" {
        return bad(&format!(
            "--mode {}: expected precopy or postcopy",
            args.mode
        ));
    }
    let mut src = match machine(&args.guest) {
        Ok(m) => m,
        Err(e) => return bad(&e),
    };
    match migrate_run(&args, link, &mut src) {
        Ok(report) => {
            print_migration(&report, json);
            ExitCode::SUCCESS
        }
        Err(e) => fail(json, "migrate", EXIT_FAILED, &e.to_string()),
    }
}

fn migrate_run(
    args: &MigrateArgs,
    link: Link,
    src: &mut Machine,
) -> Result<serde_json::Value, MigrateError> {
    let mut budget = Budget::new(args.guest.max_insns);
    let warm = args.warmup_ms.saturating_mul(CYCLES_PER_MS);
    let t0 = src.cpu().tsc;
    run_until(src, t0.saturating_add(warm), &mut budget, "the warm-up")?;
    let before = src.serial_output().len();
    let mut dst = destination_for(src)?;
    let wall = std::time::Instant::now();
    let migration = if args.mode == "precopy" {
        let r = precopy(src, &mut dst, link, &mut XenPolicy::default(), &mut budget)?;
        serde_json::to_value(&r)
    } else {
        let opts = PostcopyOptions {
            prepage: args.prepage,
            ..PostcopyOptions::default()
        };
        let r = postcopy(src, &mut dst, link, opts, &mut budget)?;
        serde_json::to_value(&r)
    }
    .unwrap_or_default();
    let wall_ms = wall.elapsed().as_secs_f64() * 1000.0;
    let resumed = dst.cpu().tsc;
    let stop = run_until(
        &mut dst,
        resumed.saturating_add(args.after_ms.saturating_mul(CYCLES_PER_MS)),
        &mut budget,
        "the run on the destination",
    )?;
    let out = dst.serial_output();
    let split = before.min(out.len());
    Ok(json!({
        "ok": true,
        "mode": args.mode,
        "migration": migration,
        "wall_ms": wall_ms,
        "destination": {
            "stop": stop.unwrap_or(StopReason::BudgetExhausted).name(),
            "icount": dst.icount(),
        },
        "serial_before": String::from_utf8_lossy(&out[..split]),
        "serial_after": String::from_utf8_lossy(&out[split..]),
    }))
}

fn print_migration(r: &serde_json::Value, json: bool) {
    if json {
        println!("{r}");
        return;
    }
    let m = &r["migration"];
    let cyc = |v: &serde_json::Value| ms(v.as_u64().unwrap_or(0));
    println!(
        "{} over {} bytes/s, {} us: {} pages of memory",
        r["mode"].as_str().unwrap_or(""),
        m["link"]["bandwidth"],
        m["link"]["latency_us"],
        m["memory_pages"]
    );
    if let Some(rounds) = m["rounds"].as_array() {
        println!("{:>5} {:>8} {:>8} {:>10}", "round", "sent", "dirtied", "ms");
        for x in rounds {
            let n = |k: &str| x[k].as_u64().unwrap_or(0);
            println!(
                "{:>5} {:>8} {:>8} {:>10.3}",
                n("index"),
                n("sent"),
                n("dirtied"),
                cyc(&x["cycles"])
            );
        }
        println!(
            "stop rule: {}; stop-and-copy: {} pages",
            m["stop_rule"].as_str().unwrap_or(""),
            m["final_pages"]
        );
        println!(
            "downtime: {:.3} ms (all memory at once: {:.3} ms); total {:.3} ms; {} pages sent; {} dirty-log exits",
            cyc(&m["downtime_cycles"]),
            cyc(&m["all_memory_cycles"]),
            cyc(&m["total_cycles"]),
            m["pages_sent"],
            m["dirty_log_exits"]
        );
    } else {
        println!(
            "downtime: {:.3} ms; demand faults: {}; pre-paged: {}; pushed: {}; stall: {:.3} ms; ran {:.3} ms until the last page",
            cyc(&m["downtime_cycles"]),
            m["demand_faults"],
            m["prepaged"],
            m["pushed"],
            cyc(&m["stall_cycles"]),
            cyc(&m["run_cycles"])
        );
    }
    println!("wall time: {:.1} ms", r["wall_ms"].as_f64().unwrap_or(0.0));
    println!("--- serial output before the migration");
    print!("{}", r["serial_before"].as_str().unwrap_or(""));
    println!("--- serial output on the destination");
    print!("{}", r["serial_after"].as_str().unwrap_or(""));
}

fn parse_input(s: &str) -> Result<(u64, Vec<u8>), String> {
    let (at, text) = s
        .split_once(':')
        .ok_or_else(|| format!("--input {s:?}: expected ICOUNT:TEXT"))?;
    let at = at
        .parse()
        .map_err(|e| format!("--input {s:?}: instruction count: {e}"))?;
    Ok((at, text.as_bytes().to_vec()))
}

/// Runs `vmlab ft`.
pub fn ft(args: FtArgs) -> ExitCode {
    let json = args.guest.json;
    let bad = |m: &str| fail(json, "ft", EXIT_BAD_INPUT, m);
    let inputs = match args
        .input
        .iter()
        .map(|s| parse_input(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(i) => i,
        Err(e) => return bad(&e),
    };
    let primary = match machine(&args.guest) {
        Ok(m) => m,
        Err(e) => return bad(&e),
    };
    let ft = FaultTolerance {
        epoch: args.epoch,
        kill_at: Some(args.kill_at),
        end: args.guest.max_insns,
        inputs,
    };
    let rep = match ft.run(
        primary,
        &mut Budget::new(args.guest.max_insns.saturating_mul(2)),
    ) {
        Ok(r) => r,
        Err(e) => return fail(json, "ft", EXIT_FAILED, &e.to_string()),
    };
    if json {
        let mut v = serde_json::to_value(&rep).unwrap_or_default();
        v["ok"] = json!(true);
        v["output"] = json!(String::from_utf8_lossy(&rep.output));
        println!("{v}");
        return ExitCode::SUCCESS;
    }
    println!(
        "{} epochs acknowledged; logged {} interrupts and {} inputs",
        rep.epochs, rep.logged_interrupts, rep.logged_inputs
    );
    match (rep.killed_at, rep.takeover_at) {
        (Some(k), Some(t)) => println!(
            "primary killed at instruction {k}; {} bytes of its output withheld; backup took over at instruction {t}",
            rep.withheld_bytes
        ),
        _ => println!("the primary ran to the end"),
    }
    println!(
        "released: {} bytes by the primary, {} by the backup; ended: {} at instruction {}",
        rep.released_by_primary, rep.released_by_backup, rep.stop, rep.icount
    );
    println!("--- serial output the world saw");
    print!("{}", String::from_utf8_lossy(&rep.output));
    ExitCode::SUCCESS
}
