//! `vmlab introspect`: runs a kernel ROM for N instructions, then reads its process list and current process from outside through a profile; `--make-profile` writes the teaching kernel's profile from its symbols.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use emulator_core::{ExecMode, Machine, MachineConfig};
use vmlab_host::{introspect, introspect_file};

use crate::{asm, scenario_cmd};

/// Arguments of `vmlab introspect`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The profile is --profile, else FILE's stem with .profile.toml next to it \
(guests/kernel/kernel.asm has guests/kernel/kernel.profile.toml). With --json the report is \
{ok, file, at, stop, instructions, console, introspection: {current, cpu_cr3, cpl, processes: \
[{pid, name, state, cr3, user_pages, frames, eip, eip_source, current}]}}."
)]
pub struct Args {
    /// The kernel: a NASM source (.asm, assembled into a 64 KiB ROM) or a ROM image.
    pub file: PathBuf,
    /// Instructions to run before reading the process list.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(0..=10_000_000_000))]
    pub at: u64,
    /// The profile (TOML) that says where the kernel keeps its processes.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Print the profile made from FILE's assembler symbols (the teaching kernel's layout) and stop.
    #[arg(long)]
    pub make_profile: bool,
    /// The VMM mode the kernel runs under.
    #[arg(long, default_value = "bare",
          value_parser = PossibleValuesParser::new(ExecMode::ALL.map(ExecMode::name))
              .try_map(|s| s.parse::<ExecMode>()))]
    pub mode: ExecMode,
    /// Guest RAM in MiB.
    #[arg(long, value_name = "MiB", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub mem: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn is_asm(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "asm")
}

fn default_profile(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    file.with_file_name(format!("{stem}.profile.toml"))
}

fn machine(args: &Args) -> Result<Machine, String> {
    let name = args.file.display().to_string();
    let rom = if is_asm(&args.file) {
        asm::assemble_file(&args.file, &[], &[])
            .map_err(|e| e.to_string())?
            .bytes
    } else {
        std::fs::read(&args.file).map_err(|e| format!("cannot read {name}: {e}"))?
    };
    let mut m = Machine::new(MachineConfig {
        ram_mib: args.mem,
        mode: args.mode,
        ..MachineConfig::default()
    })
    .map_err(|e| e.to_string())?;
    m.load_rom(&rom).map_err(|e| format!("{name}: {e}"))?;
    Ok(m)
}

/// Runs `vmlab introspect`.
pub fn run(args: Args) -> ExitCode {
    let fail = |m: &str| scenario_cmd::fail("introspect", args.json, m);
    let name = args.file.display().to_string();
    if args.make_profile {
        let made = std::fs::read_to_string(&args.file)
            .map_err(|e| format!("cannot read {name}: {e}"))
            .and_then(|src| introspect_file::make_profile(&name, &src));
        return match made {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    let profile_path = args
        .profile
        .clone()
        .unwrap_or_else(|| default_profile(&args.file));
    let profile = match scenario_cmd::load(&profile_path, introspect_file::parse) {
        Ok((_, p)) => p,
        Err(e) => {
            return fail(&format!(
                "{e} (the profile; give --profile, or make one with --make-profile)"
            ))
        }
    };
    let mut m = match machine(&args) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let stop = m.run(args.at);
    let ran = m.counters().instructions;
    let console = String::from_utf8_lossy(&m.serial_output()).into_owned();
    let view = match introspect::read(&m, &profile) {
        Ok(v) => v,
        Err(e) => return fail(&format!("{name} after {ran} instructions: {e}")),
    };
    if args.json {
        let v = serde_json::json!({
            "ok": true,
            "file": name,
            "at": args.at,
            "stop": stop.name(),
            "instructions": ran,
            "console": console,
            "introspection": introspect_file::view_json(&view),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "{name}: {ran} instructions ({}); the guest's console:",
            stop.name()
        );
        for line in console.lines() {
            println!("  | {line}");
        }
        println!(
            "processes read from guest memory with {}:",
            profile_path.display()
        );
        print!("{}", introspect_file::view_text(&view));
    }
    ExitCode::SUCCESS
}
