//! Guest-lab tests that run the submission as a static i386 Linux program under the
//! process VM: as a plain process, in a container, as a unikernel at ring 0, or as that
//! unikernel in a VM under hardware assistance.

use serde::Deserialize;
use vmlab_procvm::{Exit, Process, ProcessConfig};

use crate::manifest::LabManifest;
use crate::spec::TestSpec;
use crate::TestOutcome;

/// How the process VM runs the program (the four ways of `vmlab run --linux --compare`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Way {
    /// A plain process at ring 3 with host pids.
    #[default]
    Process,
    /// A process in a container: its own PID namespace (it is pid 1).
    Container,
    /// Linked with the library OS at ring 0, as a unikernel, on the bare machine.
    Unikernel,
    /// The unikernel as a VM's whole guest, under hardware assistance.
    Vm,
}

impl Way {
    /// The way's name in test files.
    pub const fn name(self) -> &'static str {
        match self {
            Way::Process => "process",
            Way::Container => "container",
            Way::Unikernel => "unikernel",
            Way::Vm => "vm",
        }
    }
}

/// A test's `linux = { … }`: where and how the program runs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinuxRun {
    /// The way it runs.
    #[serde(default)]
    pub way: Way,
    /// The host name uname(2) reports (default: vmlab's).
    #[serde(default)]
    pub hostname: Option<String>,
    /// A memory cap in bytes (a container's limit).
    #[serde(default)]
    pub mem_limit: Option<u64>,
    /// argv after argv[0].
    #[serde(default)]
    pub args: Vec<String>,
    /// Standard input.
    #[serde(default)]
    pub stdin: String,
}

/// The process VM's configuration for `run` with `budget` instructions.
pub fn config(run: &LinuxRun, budget: u64) -> ProcessConfig {
    let base = ProcessConfig::default();
    ProcessConfig {
        args: core::iter::once("prog".to_string())
            .chain(run.args.iter().cloned())
            .collect(),
        stdin: run.stdin.as_bytes().to_vec(),
        max_insns: budget,
        mem_limit: run.mem_limit,
        hostname: run.hostname.clone().unwrap_or(base.hostname.clone()),
        pid_ns: run.way == Way::Container,
        ring0: matches!(run.way, Way::Unikernel | Way::Vm),
        vmm: if run.way == Way::Vm {
            emulator_core::ExecMode::HW_ASSIST
        } else {
            emulator_core::ExecMode::Bare
        },
        ..base
    }
}

/// Runs `elf` as `run` says and checks its output and exit status.
pub fn run_test(lab: &LabManifest, run: &LinuxRun, elf: &[u8], t: &TestSpec) -> TestOutcome {
    let e = &t.expect;
    if !e.regs.is_empty() || !e.mem.is_empty() || !e.pages.is_empty() || !e.exits.is_empty() {
        return TestOutcome::failed(
            t,
            "test error: a Linux-program test checks its output and status only".into(),
        );
    }
    let budget = t.budget.unwrap_or(lab.machine.budget);
    let process = match Process::load(elf, config(run, budget)) {
        Ok(p) => p,
        Err(err) => {
            return TestOutcome::failed(
                t,
                format!("the program could not be started as a static i386 Linux ELF: {err}"),
            )
        }
    };
    let out = process.run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    match &out.exit {
        Exit::Budget => problems.push(format!(
            "did not finish within {budget} instructions (an endless loop?) running as a {}",
            run.way.name()
        )),
        Exit::Signal { signal, reason } => {
            problems.push(format!("killed by signal {signal}: {reason}"))
        }
        Exit::Exited { .. } => {}
    }
    if let Some(want) = e.status {
        let got = out.exit.status();
        if got != want && out.exit != Exit::Budget {
            problems.push(format!("exit status: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &e.serial {
        if *want != stdout {
            problems.push(format!(
                "standard output: expected {want:?}, got {stdout:?}"
            ));
        }
    }
    for s in &e.serial_contains {
        if !stdout.contains(s.as_str()) {
            problems.push(format!(
                "standard output should contain {s:?}; it was {stdout:?}"
            ));
        }
    }
    for s in &e.serial_absent {
        if stdout.contains(s.as_str()) {
            problems.push(format!("standard output should not contain {s:?}"));
        }
    }
    if problems.is_empty() {
        TestOutcome::passed(t)
    } else {
        TestOutcome::failed(t, problems.join("\n"))
    }
}
