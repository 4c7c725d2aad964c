//! A user-mode process VM: one static i386 Linux program runs at ring 3 on vmlab's
//! CPU, and its system calls (`int 0x80`) are answered by an emulated Linux
//! interface over an in-memory file system, as QEMU's user mode does.
//!
//! Each process's address space is real IA-32 paging that the process VM writes;
//! every trap reaches a `hlt` stub at ring 0 (`kernel.rs`), where the host takes over.
//! Programs fork, exec, wait and talk through pipes; a deterministic scheduler
//! (`sched.rs`) switches between them, optionally inside a PID namespace, with a
//! CPU quota and a memory cap over all of them (a container).
#![no_std]

extern crate alloc;

pub mod compare;
pub mod elf;
pub mod fs;
pub mod kernel;
pub mod memcalls;
pub mod memory;
mod procs;
mod sched;
pub mod space;
mod stack;
pub mod syscall;
pub mod task;
pub mod uaccess;

use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::{Machine, MachineConfig};
use serde::Serialize;

pub use elf::ElfError;
pub use fs::Mount;
use space::{Space, PAGE};
pub use syscall::SyscallRecord;
pub use task::ProcInfo;
use task::Task;

/// How the process is started.
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    /// argv, argv[0] first.
    pub args: Vec<String>,
    /// The environment, `NAME=value`.
    pub env: Vec<String>,
    /// Files preloaded into the file system (absolute path, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// Instruction budget for the whole run.
    pub max_insns: u64,
    /// Most bytes of memory the program may map (a memory limit), if any.
    pub mem_limit: Option<u64>,
    /// The host name uname(2) reports.
    pub hostname: String,
    /// Record every system call for `--strace`.
    pub trace: bool,
    /// chroot(2) as Linux has it, leaving the current directory where it was (the
    /// classic escape then works); otherwise it moves the current directory inside.
    pub naive_chroot: bool,
    /// Run in a new PID namespace: the first process sees itself as pid 1.
    pub pid_ns: bool,
    /// A CPU share: at most `quota` instructions in each `period` of virtual time
    /// (nanoseconds, one instruction each), for all processes together.
    pub cpu_quota: Option<CpuQuota>,
    /// Bind mounts made before the program starts.
    pub mounts: Vec<BindMount>,
    /// Run the program at ring 0, as a unikernel links an application with its library
    /// OS: a system call is then a call into the kernel with no change of privilege
    /// or stack.
    pub ring0: bool,
    /// The machine the program runs on: bare, or a VM under one of the VMM's modes
    /// (a unikernel is a VM's whole guest).
    pub vmm: emulator_core::ExecMode,
}

/// A CPU share as a cgroup's cpu.max gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CpuQuota {
    /// Instructions the processes may run in one period.
    pub quota: u64,
    /// The period, in virtual nanoseconds.
    pub period: u64,
}

/// A folder bound into the file system.
#[derive(Clone, Debug, Default)]
pub struct BindMount {
    /// Where it comes from (shown in the mount table).
    pub source: String,
    /// Where it appears (absolute).
    pub target: String,
    /// Its files, paths relative to the folder.
    pub files: Vec<(String, Vec<u8>)>,
    /// Refuse changes under it.
    pub read_only: bool,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            args: alloc::vec!["prog".into()],
            env: Vec::new(),
            files: Vec::new(),
            stdin: Vec::new(),
            max_insns: 2_000_000_000,
            mem_limit: None,
            hostname: "vmlab".into(),
            trace: false,
            naive_chroot: false,
            pid_ns: false,
            cpu_quota: None,
            mounts: Vec::new(),
            ring0: false,
            vmm: emulator_core::ExecMode::Bare,
        }
    }
}

/// How the process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Exit {
    /// exit or exit_group with this status.
    Exited {
        /// The status (0–255).
        status: u8,
    },
    /// Killed by a signal that the program caused (a fault).
    Signal {
        /// Signal number (11 SIGSEGV, 4 SIGILL, 8 SIGFPE, 5 SIGTRAP, 9 SIGKILL).
        signal: u8,
        /// What happened, with the address.
        reason: String,
    },
    /// The instruction budget ran out.
    Budget,
}

impl Exit {
    /// The status word wait4(2) reports for it.
    pub fn wait_status(&self) -> u32 {
        match self {
            Exit::Exited { status } => (*status as u32) << 8,
            Exit::Signal { signal, .. } => *signal as u32 & 0x7f,
            Exit::Budget => 9,
        }
    }

    /// The status a shell would report: the exit status, or 128 + the signal.
    pub fn status(&self) -> i32 {
        match self {
            Exit::Exited { status } => *status as i32,
            Exit::Signal { signal, .. } => 128 + *signal as i32,
            Exit::Budget => 124,
        }
    }
}

/// A finished run.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// How it ended.
    pub exit: Exit,
    /// Everything written to standard output.
    #[serde(skip)]
    pub stdout: Vec<u8>,
    /// Everything written to standard error.
    #[serde(skip)]
    pub stderr: Vec<u8>,
    /// Instructions every process retired (the emulated OS's work is not counted).
    pub instructions: u64,
    /// System calls made.
    pub syscalls: u64,
    /// Pages the first program had mapped when it ended.
    pub pages: u32,
    /// The most pages all processes had mapped at once.
    pub peak_pages: u32,
    /// The system calls, when traced.
    pub trace: Vec<SyscallRecord>,
    /// The process table at the end, as the host sees it.
    pub processes: Vec<ProcInfo>,
    /// The mount table.
    pub mounts: Vec<Mount>,
    /// Virtual time from start to end, in nanoseconds (instructions plus throttled time).
    pub elapsed_ns: u64,
    /// Virtual time the CPU quota held the processes back, in nanoseconds.
    pub throttled_ns: u64,
    /// Periods in which the quota ran out.
    pub throttled_periods: u64,
    /// Context switches the scheduler made.
    pub switches: u64,
    /// Changes of privilege level (ring 3 to ring 0 and back) for traps.
    pub ring_switches: u64,
    /// User pages set up before the first instruction ran (the start-up cost in memory).
    pub load_pages: u32,
    /// VM exits the VMM took (0 on a bare machine).
    pub vm_exits: u64,
    /// The run stopped after the system calls [`Process::pause_after`] allowed, with
    /// its processes still live (the exit then reads as the budget's).
    pub paused: bool,
}

/// Processes on one machine, ready to run.
#[derive(Debug)]
pub struct Process {
    m: Machine,
    space: Space,
    fs: fs::Fs,
    cfg: ProcessConfig,
    out: Vec<u8>,
    err: Vec<u8>,
    trace: Vec<SyscallRecord>,
    syscalls: u64,
    peak_pages: u32,
    rng: u64,
    /// The process table; `tasks[cur]` runs, its live state in the machine.
    tasks: Vec<Task>,
    cur: usize,
    /// Scheduler and quota bookkeeping.
    clock: sched::Clock,
    ring_switches: u64,
    load_pages: u32,
    /// Who answers brk, mmap2 and munmap.
    memory: Calls,
    /// Stop after this many system calls (a demo step), if set.
    pause_at: Option<u64>,
    /// The run stopped there.
    paused: bool,
}

/// The memory calls a process uses (shared by every process of the run).
struct Calls(alloc::boxed::Box<dyn memcalls::MemoryCalls>);

impl core::fmt::Debug for Calls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MemoryCalls")
    }
}

/// Why a process could not be started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The file is not a program vmlab can run.
    Elf(ElfError),
    /// The machine could not hold it.
    Memory(String),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Elf(e) => e.fmt(f),
            LoadError::Memory(s) => write!(f, "loading: {s}"),
        }
    }
}

/// RAM of the machine behind the processes.
const RAM_MIB: u32 = 256;

/// What a system call or trap asks of the scheduler.
pub(crate) enum Flow {
    /// Go on running (EAX already set, or a new image loaded).
    Go,
    /// The call must wait (a pipe, a child); it is made again later.
    Block,
    /// The process ends.
    End(Exit),
}

impl Process {
    /// Loads `file` with `cfg` as the first process.
    pub fn load(file: &[u8], cfg: ProcessConfig) -> Result<Process, LoadError> {
        let prog = elf::parse(file).map_err(LoadError::Elf)?;
        let mem = |e: &dyn core::fmt::Debug| LoadError::Memory(alloc::format!("{e:?}"));
        let mut m = Machine::new(MachineConfig {
            ram_mib: RAM_MIB,
            mode: cfg.vmm,
            ..MachineConfig::default()
        })
        .map_err(|e| mem(&e))?;
        kernel::install(&mut m).map_err(|e| mem(&e))?;
        let limit = cfg
            .mem_limit
            .map(|b| (b / PAGE as u64).min(u32::MAX as u64) as u32);
        let mut space = Space::new(RAM_MIB << 20, limit);
        space.map_kernel(&mut m).map_err(|e| mem(&e))?;
        let mut fs = fs::Fs::new(&cfg.files, cfg.stdin.clone(), cfg.naive_chroot);
        for b in &cfg.mounts {
            fs.bind(&b.source, &b.target, &b.files, b.read_only);
        }
        let args = cfg.args.clone();
        let env = cfg.env.clone();
        let exe = fs.path(args.first().map_or("prog", String::as_str));
        let mut p = Process {
            m,
            space,
            fs,
            clock: sched::Clock::new(cfg.cpu_quota),
            cfg,
            out: Vec::new(),
            err: Vec::new(),
            trace: Vec::new(),
            syscalls: 0,
            peak_pages: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            tasks: alloc::vec![Task::first()],
            cur: 0,
            ring_switches: 0,
            load_pages: 0,
            memory: Calls(alloc::boxed::Box::new(memory::LinuxMemory)),
            pause_at: None,
            paused: false,
        };
        p.exec_image(file, &prog, &args, &env, exe)
            .map_err(|e| LoadError::Memory(alloc::format!("{e:?}")))?;
        p.load_pages = p.space.used;
        Ok(p)
    }

    /// Answers brk, mmap2 and munmap with `calls` from now on (the process VM's own
    /// are [`memory::LinuxMemory`]).
    pub fn set_memory_calls(&mut self, calls: alloc::boxed::Box<dyn memcalls::MemoryCalls>) {
        self.memory = Calls(calls);
    }

    /// The machine the processes run on (for views).
    pub fn machine(&self) -> &Machine {
        &self.m
    }

    /// Runs every process to its end, or the budget.
    pub fn run(mut self) -> Outcome {
        let exit = self.run_all();
        let processes = self.process_table();
        let first = &self.tasks[0];
        Outcome {
            exit,
            stdout: self.out,
            stderr: self.err,
            instructions: self.m.icount(),
            syscalls: self.syscalls,
            pages: first.pages_at_exit.unwrap_or(self.space.cur.pages),
            peak_pages: self.peak_pages.max(self.space.used),
            trace: self.trace,
            processes,
            mounts: self.fs.mounts.clone(),
            elapsed_ns: self.clock.now(self.m.icount()),
            throttled_ns: self.clock.throttled_ns,
            throttled_periods: self.clock.throttled_periods,
            switches: self.clock.switches,
            ring_switches: self.ring_switches,
            load_pages: self.load_pages,
            vm_exits: self.m.vmm().map_or(0, |v| v.exits.total),
            paused: self.paused,
        }
    }

    /// Makes [`Process::run`] stop once `calls` system calls have been answered, the
    /// processes left as they are then (a demo shows a program part of the way).
    pub fn pause_after(&mut self, calls: u64) {
        self.pause_at = Some(calls);
    }

    /// Starts the program inside `dir` as a container runtime does: its root and its
    /// current directory become `dir` (a chroot the program did not make itself).
    pub fn enter_root(&mut self, dir: &str) -> Result<(), String> {
        let path = self.fs.path(dir);
        let refuse = |e: i32| alloc::format!("root {dir}: {}", syscall::errno_name(e));
        self.fs.chdir(&path).map_err(refuse)?;
        self.fs.chroot(&path).map_err(refuse)?;
        self.fs.chdir("/").map_err(refuse)
    }

    /// Answers a trap of the running process.
    fn trap(&mut self, vector: u32) -> Flow {
        if !self.cfg.ring0 {
            self.ring_switches += 2;
        }
        let (at, code) = kernel::trap_frame(&self.m, vector);
        let fault = |signal: u8, what: &str| {
            Flow::End(Exit::Signal {
                signal,
                reason: alloc::format!("{what} at eip {at:#010x}"),
            })
        };
        match vector {
            0x80 => self.syscall(),
            14 => {
                let cr2 = self.m.cpu().cr2;
                if code & 1 == 0 && (space::STACK_LIMIT..space::USER_TOP).contains(&cr2) {
                    // The stack grows down on demand.
                    if self.space.map(&mut self.m, cr2 & !(PAGE - 1), true).is_ok() {
                        self.m.cpu_mut();
                        return Flow::Go;
                    }
                }
                let access = if code & 2 != 0 { "write" } else { "read" };
                Flow::End(Exit::Signal {
                    signal: 11,
                    reason: alloc::format!(
                        "segmentation fault: {access} of {cr2:#010x} at eip {at:#010x}"
                    ),
                })
            }
            0 => fault(8, "division by zero (#DE)"),
            6 => fault(4, "illegal instruction (#UD)"),
            7 => fault(
                4,
                "an x87 floating-point instruction (vmlab's process VM has no FPU yet)",
            ),
            13 => fault(11, "general protection fault (#GP)"),
            3 | 1 => fault(5, "breakpoint trap"),
            v => fault(11, &alloc::format!("exception vector {v}")),
        }
    }
}
