//! A Linux program under the process VM, run in the worker for the Linux panel: what
//! the page asks for, and the report it draws (output, system calls, process table).

use serde::{Deserialize, Serialize};
use vmlab_procvm::{Exit, ProcessConfig};

use super::linux_setup::{self, Container, ContainerView, LinuxStop};

/// Instructions a run may take.
pub const BUDGET: u64 = 50_000_000;

/// A program to run.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct LinuxRun {
    /// Its file name (argv[0] is `/NAME`).
    pub name: String,
    /// The ELF file.
    pub elf: Vec<u8>,
    /// Its arguments after argv[0].
    pub args: Vec<String>,
    /// The host name uname(2) reports (empty: `vmlab`).
    pub hostname: String,
    /// Run it in a PID namespace.
    pub pid_ns: bool,
    /// Also run it in a container and as a unikernel, for the side-by-side table.
    pub compare: bool,
    /// Its root folder, chroot, mounts and limits.
    pub container: Container,
    /// The host's files.
    pub files: Vec<(String, Vec<u8>)>,
    /// How far each demo step up to this one ran it; empty: to its end.
    pub stops: Vec<LinuxStop>,
}

/// One system call in the strace table.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LinuxCall {
    /// Instructions retired when it was made.
    pub icount: u64,
    /// The caller's pid, as it sees it.
    pub pid: u32,
    /// The call with its arguments.
    pub call: String,
    /// Its result.
    pub result: String,
}

/// One row of the process table.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LinuxProc {
    /// The host's pid.
    pub pid: u32,
    /// The pid inside the PID namespace, if any.
    pub ns_pid: Option<u32>,
    /// The parent's host pid.
    pub ppid: u32,
    /// The program it runs.
    pub program: String,
    /// Where it is in its life (ready, blocked, zombie, reaped).
    pub state: String,
    /// How it ended.
    pub end: String,
    /// Instructions it retired.
    pub instructions: u64,
    /// System calls it made.
    pub syscalls: u64,
}

/// What one run gave.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LinuxReport {
    /// How it ended, with its counts.
    pub status: String,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its system calls.
    pub calls: Vec<LinuxCall>,
    /// Every process it made, the first one first.
    pub processes: Vec<LinuxProc>,
    /// The four ways side by side, when asked for.
    pub ways: Vec<vmlab_procvm::compare::Way>,
    /// The container the program ran in.
    pub container: Box<ContainerView>,
    /// It stopped where the demo step ends, with its processes still live.
    pub paused: bool,
    /// System calls of the whole run (more than `calls` when it paused).
    pub total_calls: u64,
}

fn describe(e: &Exit) -> String {
    match e {
        Exit::Exited { status } => format!("exited with status {status}"),
        Exit::Signal { signal, reason } => format!("killed by signal {signal}: {reason}"),
        Exit::Budget => format!("stopped: {BUDGET} instructions used up"),
    }
}

/// Loads and runs `r`; an ELF the process VM refuses is an error naming where.
pub fn run(r: &LinuxRun) -> Result<LinuxReport, String> {
    let mut cfg = ProcessConfig {
        args: std::iter::once(format!("/{}", r.name))
            .chain(r.args.iter().cloned())
            .collect(),
        max_insns: BUDGET,
        hostname: if r.hostname.is_empty() {
            "vmlab".into()
        } else {
            r.hostname.clone()
        },
        trace: true,
        pid_ns: r.pid_ns,
        ..ProcessConfig::default()
    };
    linux_setup::configure(&mut cfg, &r.container, &r.files);
    let hostname = cfg.hostname.clone();
    let refused = |e: String| format!("{}: {e}", r.name);
    let whole = linux_setup::load(&r.elf, cfg.clone(), &r.container)
        .map_err(refused)?
        .run();
    let total_calls = whole.syscalls;
    let pause = linux_setup::pause_point(&r.stops, &whole.trace, total_calls).map_err(refused)?;
    let o = match (r.stops.is_empty(), pause) {
        (false, Some(n)) => {
            let mut p = linux_setup::load(&r.elf, cfg.clone(), &r.container).map_err(refused)?;
            p.pause_after(n);
            p.run()
        }
        _ => whole,
    };
    let ways = if r.compare {
        let runs =
            vmlab_procvm::compare::three_ways(&r.elf, &cfg).map_err(|e| refused(e.to_string()))?;
        runs.into_iter().map(|(w, _)| w).collect()
    } else {
        Vec::new()
    };
    let calls = o
        .trace
        .iter()
        .map(|t| {
            let line = t.to_string();
            let (call, result) = line.rsplit_once(" = ").unwrap_or((&line, ""));
            LinuxCall {
                icount: t.icount,
                pid: t.pid,
                call: call.to_owned(),
                result: result.to_owned(),
            }
        })
        .collect();
    let processes = o
        .processes
        .iter()
        .map(|p| LinuxProc {
            pid: p.pid,
            ns_pid: p.ns_pid,
            ppid: p.ppid,
            program: p.program.clone(),
            state: format!("{:?}", p.state).to_lowercase(),
            end: p.exit.as_ref().map_or_else(String::new, describe),
            instructions: p.instructions,
            syscalls: p.syscalls,
        })
        .collect();
    let container = Box::new(linux_setup::view(&r.container, &hostname, r.pid_ns, &o));
    let ended = if o.paused {
        format!("paused at system call {} of {}", o.syscalls, total_calls)
    } else {
        describe(&o.exit)
    };
    Ok(LinuxReport {
        status: format!(
            "{} {} after {} instructions and {} system calls in {} process{} ({} pages mapped at most)",
            r.name,
            ended,
            o.instructions,
            o.syscalls,
            o.processes.len(),
            if o.processes.len() == 1 { "" } else { "es" },
            o.peak_pages
        ),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        calls,
        processes,
        ways,
        container,
        paused: o.paused,
        total_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Vec<u8> {
        let src = std::fs::read_to_string(format!(
            "{}/../guests/linux/{name}.asm",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("the example's source");
        vmlab_asm::assemble("x.asm", &src, &vmlab_asm::Options::default())
            .expect("assembles")
            .bytes
    }

    #[test]
    fn the_fork_example_reports_two_processes_in_a_pid_namespace() {
        let r = run(&LinuxRun {
            name: "fork".into(),
            elf: example("fork"),
            args: vec![],
            hostname: String::new(),
            pid_ns: true,
            compare: false,
            ..LinuxRun::default()
        })
        .expect("runs");
        assert!(r.status.contains("exited with status 0"), "{}", r.status);
        assert!(r.status.contains("in 2 processes"), "{}", r.status);
        assert_eq!(
            r.stdout,
            "child: running in a copy of the parent\nparent: the child ended with status 3\n"
        );
        let pids: Vec<_> = r
            .processes
            .iter()
            .map(|p| (p.ns_pid, p.end.as_str()))
            .collect();
        assert_eq!(
            pids,
            [
                (Some(1), "exited with status 0"),
                (Some(2), "exited with status 3")
            ]
        );
        assert_eq!(r.processes[1].ppid, r.processes[0].pid);
        assert!(r
            .calls
            .iter()
            .any(|c| c.pid == 2 && c.call.starts_with("write")));
    }

    #[test]
    fn compare_reports_the_four_ways_with_the_process_as_the_main_run() {
        let r = run(&LinuxRun {
            name: "fork".into(),
            elf: example("fork"),
            args: vec![],
            hostname: "box".into(),
            pid_ns: false,
            compare: true,
            ..LinuxRun::default()
        })
        .expect("runs");
        let names: Vec<_> = r.ways.iter().map(|w| w.way.as_str()).collect();
        assert_eq!(names, ["process", "container", "unikernel", "vm"]);
        assert!(r.ways.iter().all(|w| w.same_output && w.status == 0));
        assert_eq!(r.ways[2].ring_switches, 0);
        assert_eq!(r.ways[0].ring_switches, 2 * r.ways[0].syscalls);
        assert!(
            r.processes.iter().all(|p| p.ns_pid.is_none()),
            "the process way"
        );
    }

    #[test]
    fn a_file_that_is_not_a_program_is_refused_by_name() {
        let e = run(&LinuxRun {
            name: "notes.txt".into(),
            elf: b"hello".to_vec(),
            args: vec![],
            hostname: String::new(),
            pid_ns: false,
            compare: false,
            ..LinuxRun::default()
        })
        .expect_err("refused");
        assert!(e.starts_with("notes.txt: ELF: at byte"), "{e}");
    }
}
