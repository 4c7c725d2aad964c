//! `vmlab run --linux ELF`: a static i386 Linux program under the process VM, with
//! `--strace`, a root folder as its file system, and the container's parts: a host
//! name, a PID namespace, bind mounts, a memory limit and a CPU quota.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use vmlab_procvm::{BindMount, CpuQuota, Process, ProcessConfig};

use crate::run::EXIT_BAD_INPUT;
use crate::run_report;

/// Most bytes `--root` copies into the process's file system.
const ROOT_LIMIT: u64 = 64 << 20;

/// The options of `vmlab run` for a Linux program.
#[derive(Args, Debug, Default)]
pub struct LinuxArgs {
    /// A static i386 Linux program (ET_EXEC or static PIE) to run under the process VM.
    #[arg(long, value_name = "ELF")]
    pub linux: Option<PathBuf>,
    /// Print every system call with its decoded arguments and result (to stderr).
    #[arg(long, requires = "linux")]
    pub strace: bool,
    /// A folder that becomes the program's root directory (its files are copied in; the
    /// program cannot reach anything outside it).
    #[arg(long, value_name = "DIR", requires = "linux")]
    pub root: Option<PathBuf>,
    /// chroot(2) as Linux has it (the current directory stays where it was, so the
    /// classic escape works) instead of the strict root that moves it inside.
    #[arg(long, requires = "linux")]
    pub naive_chroot: bool,
    /// The host name uname(2) reports.
    #[arg(long, value_name = "NAME", default_value = "vmlab", requires = "linux")]
    pub hostname: String,
    /// Most memory the program may map, in bytes (K, M and G suffixes).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, requires = "linux")]
    pub mem_limit: Option<u64>,
    /// Run in a new PID namespace: the program sees itself as pid 1 (the process table
    /// in the report also lists the host's pids).
    #[arg(long, requires = "linux")]
    pub pid_ns: bool,
    /// Bind a host folder into the program's file system, read-only with `:ro`
    /// (repeatable).
    #[arg(long = "mount", value_name = "SRC:DST[:ro]", value_parser = parse_mount, requires = "linux")]
    pub mounts: Vec<MountArg>,
    /// A CPU share: at most N instructions in each PERIOD virtual nanoseconds, for all
    /// the program's processes together (time held back is reported).
    #[arg(long, value_name = "N/PERIOD", value_parser = parse_quota, requires = "linux")]
    pub cpu_quota: Option<CpuQuota>,
    /// Run the program four ways and compare the costs: as a process, in a container
    /// (a PID namespace with the container options given), at ring 0 linked with a
    /// library OS as a unikernel, and that unikernel as a VM under hardware assistance.
    #[arg(long, requires = "linux")]
    pub compare: bool,
    /// An environment variable NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", requires = "linux")]
    pub env: Vec<String>,
    /// The program's arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// A `--mount SRC:DST[:ro]`.
#[derive(Clone, Debug)]
pub struct MountArg {
    source: PathBuf,
    target: String,
    read_only: bool,
}

fn parse_mount(s: &str) -> Result<MountArg, String> {
    let (rest, read_only) = match s.strip_suffix(":ro") {
        Some(r) => (r, true),
        None => (s.strip_suffix(":rw").unwrap_or(s), false),
    };
    let (src, dst) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not SRC:DST or SRC:DST:ro"))?;
    if src.is_empty() || !dst.starts_with('/') {
        return Err(format!(
            "{s:?}: SRC must be a folder and DST an absolute path"
        ));
    }
    Ok(MountArg {
        source: PathBuf::from(src),
        target: dst.into(),
        read_only,
    })
}

fn parse_quota(s: &str) -> Result<CpuQuota, String> {
    let bad = || format!("{s:?} is not N/PERIOD with 0 < N <= PERIOD, such as 50000/100000");
    let (n, p) = s.split_once('/').ok_or_else(bad)?;
    let quota = n.trim().parse::<u64>().map_err(|_| bad())?;
    let period = p.trim().parse::<u64>().map_err(|_| bad())?;
    if quota == 0 || period == 0 || quota > period {
        return Err(bad());
    }
    Ok(CpuQuota { quota, period })
}

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size such as 4096, 64K or 16M"))
}

/// Every file under `dir` as (absolute path inside the root, bytes).
fn read_root(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| format!("--root: cannot list {}: {e}", d.display()))?;
        for e in entries {
            let e = e.map_err(|e| format!("--root: {}: {e}", d.display()))?;
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("--root: {}: {e}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                total += meta.len();
                if total > ROOT_LIMIT {
                    return Err(format!(
                        "--root: {} holds more than {} MiB of files",
                        dir.display(),
                        ROOT_LIMIT >> 20
                    ));
                }
                let rel = path.strip_prefix(dir).map_err(|_| {
                    format!("--root: {} is outside {}", path.display(), dir.display())
                })?;
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("--root: cannot read {}: {e}", path.display()))?;
                out.push((format!("/{}", rel.to_string_lossy()), bytes));
            }
        }
    }
    Ok(out)
}

/// The program's bytes and the configuration the options give.
pub(crate) fn config(
    elf: &Path,
    a: &LinuxArgs,
    max_insns: u64,
) -> Result<(Vec<u8>, ProcessConfig), String> {
    if max_insns == 0 {
        return Err("--max-insns 0 would run nothing: give at least 1".into());
    }
    let file = std::fs::read(elf).map_err(|e| format!("cannot read {}: {e}", elf.display()))?;
    let files = match &a.root {
        Some(dir) => read_root(dir)?,
        None => Vec::new(),
    };
    let mut mounts = Vec::new();
    for m in &a.mounts {
        let files = read_root(&m.source).map_err(|e| e.replacen("--root", "--mount", 1))?;
        mounts.push(BindMount {
            source: m.source.display().to_string(),
            target: m.target.clone(),
            files,
            read_only: m.read_only,
        });
    }
    let name = elf
        .file_name()
        .map_or("prog".into(), |n| n.to_string_lossy().into_owned());
    let cfg = ProcessConfig {
        args: std::iter::once(format!("/{name}"))
            .chain(a.args.iter().cloned())
            .collect(),
        env: a.env.clone(),
        files,
        stdin: Vec::new(),
        max_insns,
        mem_limit: a.mem_limit,
        hostname: a.hostname.clone(),
        trace: a.strace,
        naive_chroot: a.naive_chroot,
        pid_ns: a.pid_ns,
        cpu_quota: a.cpu_quota,
        mounts,
        ring0: false,
        vmm: emulator_core::ExecMode::Bare,
    };
    Ok((file, cfg))
}

fn prepare(elf: &Path, a: &LinuxArgs, max_insns: u64) -> Result<Process, String> {
    let (file, cfg) = config(elf, a, max_insns)?;
    Process::load(&file, cfg).map_err(|e| format!("{}: {e}", elf.display()))
}

/// Runs the program; the exit status is the program's own (128 + N for signal N).
pub fn main(elf: &Path, a: &LinuxArgs, max_insns: u64, json: bool) -> ExitCode {
    if a.compare {
        return crate::linux_compare::main(elf, a, max_insns, json);
    }
    let p = match prepare(elf, a, max_insns) {
        Ok(p) => p,
        Err(e) => {
            if json {
                println!("{}", run_report::error(&e, EXIT_BAD_INPUT));
            }
            eprintln!("vmlab run: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let o = p.run();
    if a.strace {
        let mut err = std::io::stderr().lock();
        let many = o.processes.len() > 1;
        for t in &o.trace {
            if many {
                let _ = writeln!(err, "[{:>10}] [pid {:>5}] {t}", t.icount, t.pid);
            } else {
                let _ = writeln!(err, "[{:>10}] {t}", t.icount);
            }
        }
    }
    let status = o.exit.status().clamp(0, 255) as u8;
    if json {
        let report = serde_json::json!({
            "exit": o.exit,
            "status": status,
            "instructions": o.instructions,
            "syscalls": o.syscalls,
            "pages": o.pages,
            "peak_pages": o.peak_pages,
            "stdout": String::from_utf8_lossy(&o.stdout),
            "stderr": String::from_utf8_lossy(&o.stderr),
            "trace": o.trace,
            "processes": o.processes,
            "mounts": o.mounts,
            "elapsed_ns": o.elapsed_ns,
            "throttled_ns": o.throttled_ns,
            "throttled_periods": o.throttled_periods,
            "switches": o.switches,
        });
        println!("{report}");
    } else {
        let _ = std::io::stdout().write_all(&o.stdout);
        let _ = std::io::stderr().write_all(&o.stderr);
        match &o.exit {
            vmlab_procvm::Exit::Exited { .. } => {}
            other => eprintln!("vmlab run: {}", describe(other)),
        }
    }
    ExitCode::from(status)
}

fn describe(e: &vmlab_procvm::Exit) -> String {
    match e {
        vmlab_procvm::Exit::Exited { status } => format!("exited with {status}"),
        vmlab_procvm::Exit::Signal { signal, reason } => {
            format!("killed by signal {signal}: {reason}")
        }
        vmlab_procvm::Exit::Budget => "the instruction budget ran out".into(),
    }
}
