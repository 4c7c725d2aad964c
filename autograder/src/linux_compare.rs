//! `vmlab run --linux ELF --compare`: the same program as a process, in a container
//! and as a unikernel (ring 0 with a library OS), side by side: instructions, system
//! calls, privilege changes, context switches, memory, start-up and virtual time.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use vmlab_procvm::{Outcome, Process, ProcessConfig};

use crate::linux::LinuxArgs;
use crate::run::EXIT_BAD_INPUT;
use crate::run_report;

/// One way of running the program and what it cost.
#[derive(Serialize)]
struct Way {
    /// process, container or unikernel.
    way: &'static str,
    /// How it is isolated.
    isolation: &'static str,
    status: i32,
    /// Instructions the program retired (the guest's time).
    instructions: u64,
    /// System calls the emulated OS answered (the OS's work, done on the host).
    syscalls: u64,
    /// Changes of privilege level.
    ring_switches: u64,
    /// Context switches between its processes.
    switches: u64,
    /// Processes it made.
    processes: usize,
    /// Pages set up before its first instruction.
    load_pages: u32,
    /// The most pages mapped at once.
    peak_pages: u32,
    /// Instructions before its first system call (start-up in the program).
    startup_instructions: u64,
    /// Virtual time from start to end.
    elapsed_ns: u64,
    /// Virtual time the CPU quota held it back.
    throttled_ns: u64,
    /// Its output is the same as the process's.
    same_output: bool,
}

fn way(name: &'static str, isolation: &'static str, o: &Outcome, reference: &[u8]) -> Way {
    Way {
        way: name,
        isolation,
        status: o.exit.status(),
        instructions: o.instructions,
        syscalls: o.syscalls,
        ring_switches: o.ring_switches,
        switches: o.switches,
        processes: o.processes.len(),
        load_pages: o.load_pages,
        peak_pages: o.peak_pages,
        startup_instructions: o.trace.first().map_or(o.instructions, |t| t.icount),
        elapsed_ns: o.elapsed_ns,
        throttled_ns: o.throttled_ns,
        same_output: o.stdout == reference,
    }
}

/// Runs the three ways; the exit status is the process's.
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
    let plain = ProcessConfig {
        trace: true,
        pid_ns: false,
        cpu_quota: None,
        mounts: Vec::new(),
        hostname: "vmlab".into(),
        mem_limit: None,
        ..base.clone()
    };
    let configs = [
        ProcessConfig { ..plain.clone() },
        ProcessConfig {
            trace: true,
            pid_ns: true,
            ..base
        },
        ProcessConfig {
            ring0: true,
            ..plain
        },
    ];
    let mut outcomes = Vec::new();
    for cfg in configs {
        match Process::load(&file, cfg) {
            Ok(p) => outcomes.push(p.run()),
            Err(e) => return fail(format!("{}: {e}", elf.display())),
        }
    }
    let reference = outcomes[0].stdout.clone();
    let ways = [
        way(
            "process",
            "its own address space at ring 3",
            &outcomes[0],
            &reference,
        ),
        way(
            "container",
            "a process in a PID namespace, with the mounts, host name and limits given",
            &outcomes[1],
            &reference,
        ),
        way(
            "unikernel",
            "the program at ring 0 with the library OS, one address space",
            &outcomes[2],
            &reference,
        ),
    ];
    if json {
        println!(
            "{}",
            serde_json::json!({ "compare": ways, "stdout": String::from_utf8_lossy(&reference) })
        );
    } else {
        println!(
            "{:<10} {:>6} {:>12} {:>9} {:>8} {:>8} {:>6} {:>12} {:>14} {:>12}",
            "way",
            "status",
            "instructions",
            "syscalls",
            "rings",
            "switches",
            "pages",
            "startup",
            "elapsed ns",
            "throttled ns"
        );
        for w in &ways {
            println!(
                "{:<10} {:>6} {:>12} {:>9} {:>8} {:>8} {:>6} {:>12} {:>14} {:>12}",
                w.way,
                w.status,
                w.instructions,
                w.syscalls,
                w.ring_switches,
                w.switches,
                w.peak_pages,
                w.startup_instructions,
                w.elapsed_ns,
                w.throttled_ns
            );
        }
    }
    ExitCode::from(outcomes[0].exit.status().clamp(0, 255) as u8)
}
