//! `vmlab run --linux ELF --compare`: the same program as a process, in a container
//! and as a unikernel (ring 0 with a library OS), side by side: instructions, system
//! calls, privilege changes, context switches, memory, start-up and virtual time.

use std::path::Path;
use std::process::ExitCode;

use vmlab_procvm::compare;

use crate::linux::LinuxArgs;
use crate::run::EXIT_BAD_INPUT;
use crate::run_report;

/// Runs the four ways; the exit status is the process's.
pub fn main(elf: &Path, a: &LinuxArgs, max_insns: u64, json: bool) -> ExitCode {
    let fail = |e: String| {
        if json {
            println!("{}", run_report::error(&e, EXIT_BAD_INPUT));
        }
        eprintln!("vmlab run: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let (file, base) = match crate::linux::config(elf, a, max_insns) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let runs = match compare::three_ways(&file, &base) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", elf.display())),
    };
    let ways: Vec<&compare::Way> = runs.iter().map(|(w, _)| w).collect();
    let first = &runs[0].1;
    if json {
        println!(
            "{}",
            serde_json::json!({ "compare": ways, "stdout": String::from_utf8_lossy(&first.stdout) })
        );
    } else {
        println!(
            "{:<10} {:>6} {:>12} {:>9} {:>8} {:>8} {:>8} {:>6} {:>12} {:>14} {:>12}",
            "way",
            "status",
            "instructions",
            "syscalls",
            "rings",
            "exits",
            "switches",
            "pages",
            "startup",
            "elapsed ns",
            "throttled ns"
        );
        for w in ways {
            println!(
                "{:<10} {:>6} {:>12} {:>9} {:>8} {:>8} {:>8} {:>6} {:>12} {:>14} {:>12}",
                w.way,
                w.status,
                w.instructions,
                w.syscalls,
                w.ring_switches,
                w.vm_exits,
                w.switches,
                w.peak_pages,
                w.startup_instructions,
                w.elapsed_ns,
                w.throttled_ns
            );
        }
    }
    ExitCode::from(first.exit.status().clamp(0, 255) as u8)
}
