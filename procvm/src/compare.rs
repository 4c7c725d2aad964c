//! One program run four ways for the container-beside-VM comparison: as a process,
//! in a container (a PID namespace with the given mounts, host name and limits), at
//! ring 0 linked with the library OS as a unikernel, and that unikernel as the whole
//! guest of a VM under hardware assistance; what each cost.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::{LoadError, Outcome, Process, ProcessConfig};

/// One way of running the program and what it cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Way {
    /// process, container or unikernel.
    pub way: String,
    /// How it is isolated.
    pub isolation: String,
    /// Its exit status (128 + N for signal N).
    pub status: i32,
    /// Instructions the program retired (the guest's time).
    pub instructions: u64,
    /// System calls the emulated OS answered (the OS's work, done on the host).
    pub syscalls: u64,
    /// Changes of privilege level.
    pub ring_switches: u64,
    /// VM exits the VMM took (the VM's cost; 0 without a VMM).
    pub vm_exits: u64,
    /// Context switches between its processes.
    pub switches: u64,
    /// Processes it made.
    pub processes: usize,
    /// Pages set up before its first instruction.
    pub load_pages: u32,
    /// The most pages mapped at once.
    pub peak_pages: u32,
    /// Instructions before its first system call (start-up in the program).
    pub startup_instructions: u64,
    /// Virtual time from start to end.
    pub elapsed_ns: u64,
    /// Virtual time the CPU quota held it back.
    pub throttled_ns: u64,
    /// Its output is the same as the process's.
    pub same_output: bool,
}

fn way(name: &'static str, isolation: &'static str, o: &Outcome, reference: &[u8]) -> Way {
    Way {
        way: name.into(),
        isolation: isolation.into(),
        status: o.exit.status(),
        instructions: o.instructions,
        syscalls: o.syscalls,
        ring_switches: o.ring_switches,
        vm_exits: o.vm_exits,
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

/// Runs `file` the four ways; `base` holds the container's options.
pub fn three_ways(file: &[u8], base: &ProcessConfig) -> Result<Vec<(Way, Outcome)>, LoadError> {
    let plain = ProcessConfig {
        trace: true,
        pid_ns: false,
        cpu_quota: None,
        mounts: Vec::new(),
        hostname: "vmlab".into(),
        mem_limit: None,
        ring0: false,
        ..base.clone()
    };
    let container = ProcessConfig {
        trace: true,
        pid_ns: true,
        ring0: false,
        ..base.clone()
    };
    let unikernel = ProcessConfig {
        ring0: true,
        ..plain.clone()
    };
    let first = Process::load(file, plain)?.run();
    let reference = first.stdout.clone();
    let mut out = alloc::vec![(
        way(
            "process",
            "its own address space at ring 3",
            &first,
            &reference
        ),
        first
    )];
    let container = Process::load(file, container)?.run();
    out.push((
        way(
            "container",
            "a process in a PID namespace, with the mounts, host name and limits given",
            &container,
            &reference,
        ),
        container,
    ));
    let vm = ProcessConfig {
        vmm: emulator_core::ExecMode::HW_ASSIST,
        ..unikernel.clone()
    };
    let uni = Process::load(file, unikernel)?.run();
    out.push((
        way(
            "unikernel",
            "the program at ring 0 with the library OS, one address space",
            &uni,
            &reference,
        ),
        uni,
    ));
    let vm = Process::load(file, vm)?.run();
    out.push((
        way(
            "vm",
            "the unikernel as a VM's whole guest, under hardware assistance",
            &vm,
            &reference,
        ),
        vm,
    ));
    Ok(out)
}
