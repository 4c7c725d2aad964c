//! A user-mode process VM: one static i386 Linux program runs at ring 3 on vmlab's
//! CPU, and its system calls (`int 0x80`) are answered by an emulated Linux
//! interface over an in-memory file system, as QEMU's user mode does.
//!
//! The program's address space is real IA-32 paging that the process VM writes;
//! every trap reaches a `hlt` stub at ring 0 (`kernel.rs`), where the host takes over.
#![no_std]

extern crate alloc;

pub mod elf;
pub mod fs;
pub mod kernel;
pub mod space;
mod stack;
pub mod syscall;
pub mod uaccess;

use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::{Machine, MachineConfig, StopReason};
use serde::Serialize;

pub use elf::ElfError;
use space::{Space, PAGE};
pub use syscall::SyscallRecord;

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
    /// Instructions the program retired (the emulated OS's work is not counted).
    pub instructions: u64,
    /// System calls made.
    pub syscalls: u64,
    /// Pages the program had mapped at the end.
    pub pages: u32,
    /// The most pages it had mapped at once.
    pub peak_pages: u32,
    /// The system calls, when traced.
    pub trace: Vec<SyscallRecord>,
}

/// A loaded process, ready to run.
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
    tid_address: u32,
    rng: u64,
    exe_path: String,
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

/// RAM of the machine behind a process.
const RAM_MIB: u32 = 256;

impl Process {
    /// Loads `file` with `cfg`.
    pub fn load(file: &[u8], cfg: ProcessConfig) -> Result<Process, LoadError> {
        let prog = elf::parse(file).map_err(LoadError::Elf)?;
        let mem = |e: &dyn core::fmt::Debug| LoadError::Memory(alloc::format!("{e:?}"));
        let mut m = Machine::new(MachineConfig {
            ram_mib: RAM_MIB,
            ..MachineConfig::default()
        })
        .map_err(|e| mem(&e))?;
        kernel::install(&mut m).map_err(|e| mem(&e))?;
        let limit = cfg
            .mem_limit
            .map(|b| (b / PAGE as u64).min(u32::MAX as u64) as u32);
        let mut space = Space::new(RAM_MIB << 20, limit);
        space.map_kernel(&mut m).map_err(|e| mem(&e))?;
        // Paging on from here, so the loader writes through the process's own tables.
        *m.cpu_mut() = kernel::user_entry(prog.entry, 0);
        let mut end = 0u32;
        for s in &prog.segments {
            let seg_end = s.vaddr + s.mem_size;
            space
                .map_range(&mut m, s.vaddr, seg_end, true)
                .map_err(|_| {
                    LoadError::Memory(alloc::format!(
                        "no memory for the segment at {:#x}",
                        s.vaddr
                    ))
                })?;
            let bytes = &file[s.file_offset as usize..(s.file_offset + s.file_size) as usize];
            Space::poke(&mut m, s.vaddr, bytes).map_err(|e| mem(&e))?;
            end = end.max(seg_end);
        }
        for s in &prog.segments {
            if !s.writable {
                space
                    .protect_range(&mut m, s.vaddr, s.vaddr + s.mem_size, false)
                    .map_err(|e| mem(&e))?;
            }
        }
        let brk = end.checked_add(PAGE - 1).map_or(end, |e| e & !(PAGE - 1));
        space.brk_start = brk;
        space.brk = brk;
        let exe_path = String::from("/proc/self/exe-target");
        let mut p = Process {
            m,
            space,
            fs: fs::Fs::new(&cfg.files, cfg.stdin.clone(), cfg.naive_chroot),
            cfg,
            out: Vec::new(),
            err: Vec::new(),
            trace: Vec::new(),
            syscalls: 0,
            peak_pages: 0,
            tid_address: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            exe_path,
        };
        // readlink("/proc/self/exe") answers an absolute path, as on Linux.
        p.exe_path = p.fs.path(p.cfg.args.first().map_or("prog", String::as_str));
        let esp = stack::build(&mut p, &prog).map_err(|e| mem(&e))?;
        p.m.cpu_mut().gpr[emulator_core::Gpr::Esp as usize] = esp;
        Ok(p)
    }

    /// The machine the process runs on (for views).
    pub fn machine(&self) -> &Machine {
        &self.m
    }

    /// Runs to the end or the budget.
    pub fn run(mut self) -> Outcome {
        let exit = self.run_loop();
        Outcome {
            exit,
            stdout: self.out,
            stderr: self.err,
            instructions: self.m.icount(),
            syscalls: self.syscalls,
            pages: self.space.pages,
            peak_pages: self.peak_pages.max(self.space.pages),
            trace: self.trace,
        }
    }

    fn run_loop(&mut self) -> Exit {
        loop {
            let left = self.cfg.max_insns.saturating_sub(self.m.icount());
            if left == 0 {
                return Exit::Budget;
            }
            match self.m.run(left) {
                StopReason::Halted => {}
                StopReason::BudgetExhausted => return Exit::Budget,
                StopReason::TripleFault => {
                    return Exit::Signal {
                        signal: 9,
                        reason: "the CPU shut down (triple fault)".into(),
                    }
                }
                other => {
                    return Exit::Signal {
                        signal: 9,
                        reason: alloc::format!("the machine stopped: {}", other.name()),
                    }
                }
            }
            let eip = self.m.cpu().eip;
            let Some(vector) = kernel::stub_vector(eip) else {
                return Exit::Signal {
                    signal: 9,
                    reason: alloc::format!("the CPU halted outside the trap stubs at {eip:#x}"),
                };
            };
            self.m.cpu_mut().halted = false;
            self.peak_pages = self.peak_pages.max(self.space.pages);
            if let Some(exit) = self.trap(vector) {
                return exit;
            }
        }
    }

    /// Answers a trap; Some when the process ends.
    fn trap(&mut self, vector: u32) -> Option<Exit> {
        let (at, code) = kernel::trap_frame(&self.m, vector);
        let fault = |signal: u8, what: &str| {
            Some(Exit::Signal {
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
                        return None;
                    }
                }
                let access = if code & 2 != 0 { "write" } else { "read" };
                Some(Exit::Signal {
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
