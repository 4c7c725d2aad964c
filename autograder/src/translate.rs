//! `vmlab translate`: runs a guest with the translating tier on and prints the regions
//! it translated: the guest x86, the IR as lowered and after the passes, and the Wasm
//! module the backend makes of it in the WebAssembly text format (wasmprinter).

use std::process::ExitCode;

use clap::Args;
use emulator_core::translate::RegionInfo;
use emulator_core::Machine;
use serde_json::{json, Value};

use crate::run::{self, RunArgs, Tier, EXIT_BAD_INPUT};

/// What `vmlab run --tier translate` says natively.
pub const NATIVE_NOTE: &str = "natively the translating tier runs its regions through the IR \
interpreter (exact, not faster); `vmlab translate` prints them";

/// Options of `vmlab translate`.
#[derive(Args, Debug)]
pub struct TranslateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Print only the region entered at this linear address (0x… for hex).
    #[arg(long, value_name = "ADDR")]
    region: Option<String>,
}

/// The translating tier's counts as JSON.
pub fn stats_json(m: &Machine) -> Value {
    let s = m.translate_stats();
    json!({
        "translated": s.translated,
        "runs": s.runs,
        "instructions": s.instructions,
        "invalidated": s.invalidated,
        "share": if m.icount() == 0 { 0.0 } else { s.instructions as f64 / m.icount() as f64 },
    })
}

/// The Wasm backend's module for the region: its size and its text lines.
fn wasm_listing(r: &RegionInfo) -> (usize, Vec<String>) {
    let bytes = emulator_core::translate::wasm::encode(&r.after);
    (bytes.len(), vmlab_region_text::wasm_text(&bytes))
}

fn region_json(r: &RegionInfo) -> Value {
    let (wasm_bytes, wasm) = wasm_listing(r);
    json!({
        "entry": format!("{:#010x}", r.entry),
        "phys": format!("{:#010x}", r.phys),
        "instructions": r.instructions,
        "runs": r.runs,
        "x86": r.x86.lines().collect::<Vec<_>>(),
        "ir_before": r.before.to_string().lines().collect::<Vec<_>>(),
        "ir_after": r.after.to_string().lines().collect::<Vec<_>>(),
        "ops_before": r.before.ops.len(),
        "ops_after": r.after.ops.len(),
        "wasm_bytes": wasm_bytes,
        "wasm": wasm,
        "successors": r.successors.iter().map(|a| format!("{a:#010x}")).collect::<Vec<_>>(),
    })
}

fn print_region(r: &RegionInfo) {
    println!(
        "== region {:#010x} (physical {:#010x}): {} instructions, entered {} times",
        r.entry, r.phys, r.instructions, r.runs
    );
    println!("-- x86");
    print!("{}", r.x86);
    println!("-- IR as lowered ({} operations)", r.before.ops.len());
    print!("{}", r.before);
    println!("-- IR after the passes ({} operations)", r.after.ops.len());
    print!("{}", r.after);
    let (bytes, wasm) = wasm_listing(r);
    println!("-- Wasm module ({bytes} bytes), as text");
    for line in wasm {
        println!("{line}");
    }
    println!();
}

fn fail(json: bool, e: &str) -> ExitCode {
    if json {
        println!("{}", crate::run_report::error(e, EXIT_BAD_INPUT));
    }
    eprintln!("vmlab translate: {e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// `vmlab translate`.
pub fn main(mut args: TranslateArgs) -> ExitCode {
    args.run.tier = Tier::Translate;
    let json = args.run.json;
    let only = match args.region.as_deref().map(run::parse_addr).transpose() {
        Ok(a) => a,
        Err(e) => return fail(json, &format!("--region: {e}")),
    };
    let mut m = match run::prepare(&args.run) {
        Ok(m) => m,
        Err(e) => return fail(json, &e),
    };
    let mut console = std::io::stderr();
    let stop = run::run_machine(&mut m, args.run.max_insns, &mut console);
    let regions: Vec<RegionInfo> = m
        .translated_regions()
        .into_iter()
        .filter(|r| only.is_none_or(|a| a == r.entry))
        .collect();
    if let (Some(a), true) = (only, regions.is_empty()) {
        return fail(
            json,
            &format!("no region was translated at {a:#x} (the run translated {} regions; try without --region)", m.translate_stats().translated),
        );
    }
    if json {
        let v = json!({
            "stop": stop.name(),
            "instructions": m.icount(),
            "translate": stats_json(&m),
            "regions": regions.iter().map(region_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for r in &regions {
            print_region(r);
        }
        let s = m.translate_stats();
        eprintln!(
            "vmlab translate: {} after {} instructions; {} regions translated, {} runs retired {} instructions, {} invalidated",
            stop.name(),
            m.icount(),
            s.translated,
            s.runs,
            s.instructions,
            s.invalidated
        );
    }
    ExitCode::SUCCESS
}
