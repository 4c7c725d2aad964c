//! Grading the procvm-memory lab: real static i386 programs (the lab's `programs/`,
//! C built with `gcc -m32 -static`, assembly with vmlab-asm) run under the process VM
//! twice, once with its own memory calls and once with the submission's, which answer
//! each brk, mmap2 and munmap over a pipe; the output, the exit status and the pages
//! mapped at the end must be the same.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use vmlab_procvm::memcalls::{Areas, MemoryCalls, MmapArgs, PageMap};
use vmlab_procvm::{Outcome, Process, ProcessConfig};

use super::component::{
    finish, reader, run_policy, spawn, tail, BuildEnv, Built, CASE_LIMIT, MAX_DIAGNOSTICS,
    START_ALLOWANCE,
};
use super::sandbox::Confinement;
use super::LabOnDisk;
use crate::component::procmem::{runs, to_line, Call, Change, Done};
use crate::spec::TestSpec;
use crate::TestOutcome;

/// Instructions each program may run.
const BUDGET: u64 = 400_000_000;

/// A program of the lab, built.
#[derive(Clone, Debug)]
pub struct Program {
    /// Its name (the file's stem).
    pub name: String,
    /// The static ELF.
    pub elf: Vec<u8>,
}

/// Builds the programs a test selects (all of `programs/` when it selects none): `.c`
/// with `gcc -m32 -static -O2`, `.asm` with vmlab-asm. The error is the grader's.
pub fn programs(lab: &LabOnDisk, select: &[String], work: &Path) -> Result<Vec<Program>, String> {
    let dir = lab.dir.join("programs");
    let mut names: Vec<String> = if select.is_empty() {
        let mut n: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let p = e.path();
                let ext = p.extension()?.to_str()?;
                matches!(ext, "c" | "asm").then(|| p.file_stem()?.to_str().map(String::from))?
            })
            .collect();
        n.sort();
        n
    } else {
        select.to_vec()
    };
    names.dedup();
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    names
        .into_iter()
        .map(|name| {
            let c = dir.join(format!("{name}.c"));
            let asm = dir.join(format!("{name}.asm"));
            let elf = if c.is_file() {
                let out = work.join(&name);
                let st = Command::new("gcc")
                    .args(["-m32", "-static", "-O2", "-o"])
                    .arg(&out)
                    .arg(&c)
                    .output()
                    .map_err(|e| {
                        format!("gcc -m32 -static (Debian's gcc-multilib) does not start: {e}")
                    })?;
                if !st.status.success() {
                    return Err(format!(
                        "gcc -m32 -static failed on {}: {}",
                        c.display(),
                        String::from_utf8_lossy(&st.stderr)
                    ));
                }
                std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?
            } else if asm.is_file() {
                let src =
                    std::fs::read_to_string(&asm).map_err(|e| format!("{}: {e}", asm.display()))?;
                vmlab_asm::assemble(&format!("{name}.asm"), &src, &vmlab_asm::Options::default())
                    .map_err(|e| format!("{}: {e}", asm.display()))?
                    .bytes
            } else {
                return Err(format!(
                    "lab {}: no program {name} (.c or .asm) in programs/",
                    lab.manifest.id
                ));
            };
            Ok(Program { name, elf })
        })
        .collect()
}

/// The process VM's settings for a lab program.
pub fn config(name: &str) -> ProcessConfig {
    ProcessConfig {
        args: vec![name.to_string()],
        max_insns: BUDGET,
        ..ProcessConfig::default()
    }
}

/// The submission's program, answering one call per line.
struct Session {
    child: Option<(Child, ChildStdin, Receiver<String>)>,
    built: PathBuf,
    policy: super::sandbox::Policy,
    confinement: Confinement,
    /// Diagnostics: its standard error and output.
    stderr: Vec<std::thread::JoinHandle<Vec<u8>>>,
    /// The first thing that went wrong in this program's run.
    failure: Option<String>,
    calls: u64,
    deadline: Instant,
    /// What went wrong on the grader's side (the program could not be started).
    grader_error: Option<String>,
}

impl Session {
    fn start(&mut self) -> Result<(), String> {
        let (answer_rx, answer_tx) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let mut cmd = Command::new(&self.built);
        cmd.env_clear()
            .env("VMLAB_ANSWER_FD", "3")
            .current_dir(self.built.parent().unwrap_or(Path::new("/")));
        let (mut child, confinement) = spawn(cmd, &self.policy, Some(&answer_tx))?;
        drop(answer_tx);
        self.confinement = confinement;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        self.stderr
            .push(reader(child.stderr.take(), MAX_DIAGNOSTICS));
        self.stderr
            .push(reader(child.stdout.take(), MAX_DIAGNOSTICS));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::{BufRead, Read};
            let mut r = std::io::BufReader::new(answer_rx.take(64 << 20));
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                if tx.send(line.trim_end().to_string()).is_err() {
                    break;
                }
                line.clear();
            }
        });
        self.child = Some((child, stdin, rx));
        Ok(())
    }

    fn stop(&mut self) {
        if let Some((child, stdin, _)) = self.child.take() {
            drop(stdin);
            let _ = finish(child, Duration::ZERO);
        }
    }

    /// Sends one call; the answer line, or why there is none.
    fn ask(&mut self, line: &str) -> Result<String, String> {
        let first = self.child.is_none();
        if first {
            if let Err(e) = self.start() {
                self.grader_error.get_or_insert(e.clone());
                return Err(e);
            }
        }
        let Some((_, stdin, rx)) = &mut self.child else {
            return Err("the program did not start".into());
        };
        if writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            self.stop();
            return Err("the program ended".into());
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        let wait = if first {
            CASE_LIMIT + START_ALLOWANCE
        } else {
            CASE_LIMIT
        };
        match rx.recv_timeout(wait.min(left)) {
            Ok(a) => Ok(a),
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(format!(
                    "no answer within {} s (too slow, or an endless loop)",
                    wait.min(left).as_secs()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stop();
                Err("the program ended on it".into())
            }
        }
    }
}

/// The submission's memory calls, answered over the pipe and applied to the real pages.
struct Remote(Rc<RefCell<Session>>);

impl Remote {
    fn call(
        &self,
        areas: &mut Areas,
        pm: &mut dyn PageMap,
        call: Call,
    ) -> Option<Result<u32, i32>> {
        let mut s = self.0.borrow_mut();
        if s.failure.is_some() {
            return None;
        }
        s.calls += 1;
        let mut mapped = std::collections::BTreeSet::new();
        let mut p = 0;
        while let Some(q) = pm.next_mapped(p) {
            mapped.insert(q);
            p = q + vmlab_procvm::memcalls::PAGE;
        }
        let free = pm.free_pages();
        let line = to_line(areas, free, &runs(&mapped), &call);
        let what = match call {
            Call::Brk(w) => format!("brk({w:#x})"),
            Call::Mmap2(m) => format!(
                "mmap2({:#x}, {:#x}, {}, {:#x}, …)",
                m.addr, m.len, m.prot, m.flags
            ),
            Call::Munmap(a, l) => format!("munmap({a:#x}, {l:#x})"),
        };
        let done = match s.ask(&line) {
            Ok(a) if a.starts_with("panic:") || a.starts_with("error:") => Err(a),
            Ok(a) => Done::from_line(&a).map_err(|e| format!("answered {a:?}: {e}")),
            Err(e) => Err(e),
        };
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                s.failure = Some(format!("call {} {what}: {e}", s.calls));
                return None;
            }
        };
        for c in &done.changes {
            let r = match *c {
                Change::Map(a, b, w) => (a..b).step_by(4096).try_for_each(|q| pm.map(q, w)),
                Change::Unmap(a, b) => {
                    (a..b).step_by(4096).for_each(|q| pm.unmap(q));
                    Ok(())
                }
            };
            if r.is_err() {
                s.failure = Some(format!(
                    "call {} {what}: mapping {c:?} failed in the real address space (out of user space or memory)",
                    s.calls
                ));
                return None;
            }
        }
        *areas = done.areas;
        Some(done.result)
    }
}

impl MemoryCalls for Remote {
    fn brk(&self, areas: &mut Areas, pm: &mut dyn PageMap, want: u32) -> u32 {
        let old = areas.brk;
        match self.call(areas, pm, Call::Brk(want)) {
            Some(Ok(v)) => v,
            _ => old,
        }
    }
    fn mmap2(&self, areas: &mut Areas, pm: &mut dyn PageMap, args: &MmapArgs) -> Result<u32, i32> {
        self.call(areas, pm, Call::Mmap2(*args))
            .unwrap_or(Err(vmlab_procvm::memcalls::ENOMEM))
    }
    fn munmap(
        &self,
        areas: &mut Areas,
        pm: &mut dyn PageMap,
        addr: u32,
        len: u32,
    ) -> Result<u32, i32> {
        self.call(areas, pm, Call::Munmap(addr, len))
            .unwrap_or(Err(vmlab_procvm::memcalls::EINVAL))
    }
}

/// Runs `p` with the process VM's own memory calls.
pub fn reference_run(p: &Program) -> Result<Outcome, String> {
    Process::load(&p.elf, config(&p.name))
        .map(Process::run)
        .map_err(|e| format!("{}: {e}", p.name))
}

fn clip(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b);
    if t.len() <= 300 {
        return format!("{t:?}");
    }
    let mut end = 300;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &t[..end])
}

/// Grades one test: each selected program, as the reference and with the submission.
pub(super) fn run_test(
    lab: &LabOnDisk,
    built: &Built,
    t: &TestSpec,
    limit: Duration,
    env: &BuildEnv,
) -> Result<(TestOutcome, Confinement), String> {
    let select = t
        .cases
        .as_ref()
        .map(|c| c.select.clone())
        .unwrap_or_default();
    let progs = programs(lab, &select, &env.work_dir.join("procvm-programs"))?;
    let session = Rc::new(RefCell::new(Session {
        child: None,
        built: built.binary.clone(),
        policy: run_policy(&built.binary, lab, limit),
        confinement: Confinement::default(),
        stderr: Vec::new(),
        failure: None,
        calls: 0,
        deadline: Instant::now() + limit,
        grader_error: None,
    }));
    let mut wrong = Vec::new();
    for p in &progs {
        let want = reference_run(p)?;
        {
            let mut s = session.borrow_mut();
            s.failure = None;
            s.calls = 0;
        }
        let mut proc =
            Process::load(&p.elf, config(&p.name)).map_err(|e| format!("{}: {e}", p.name))?;
        proc.set_memory_calls(Box::new(Remote(Rc::clone(&session))));
        let got = proc.run();
        let s = session.borrow();
        if let Some(e) = &s.grader_error {
            return Err(e.clone());
        }
        let mut problems = Vec::new();
        if let Some(f) = &s.failure {
            problems.push(f.clone());
        }
        if got.stdout != want.stdout {
            problems.push(format!(
                "standard output: expected {}, got {}",
                clip(&want.stdout),
                clip(&got.stdout)
            ));
        }
        if got.exit != want.exit {
            problems.push(format!(
                "exit: expected {:?}, got {:?}",
                want.exit, got.exit
            ));
        }
        if got.pages != want.pages {
            problems.push(format!(
                "pages mapped at the end: expected {}, got {} (pages leaked or lost)",
                want.pages, got.pages
            ));
        }
        if !problems.is_empty() {
            wrong.push(format!("{}: {}", p.name, problems.join("; ")));
        }
    }
    let mut s = session.borrow_mut();
    s.stop();
    let diag: Vec<u8> = s
        .stderr
        .drain(..)
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    let total = progs.len();
    let right = total - wrong.len();
    let outcome = if wrong.is_empty() {
        TestOutcome::passed(t)
    } else {
        let mut msg = format!(
            "{right} of {total} programs ran as with vmlab's memory calls.\n{}",
            wrong.join("\n")
        );
        let d = tail(&diag);
        if !d.is_empty() {
            msg.push_str(&format!("\nits output:\n{d}"));
        }
        TestOutcome {
            name: t.name.clone(),
            passed: false,
            score: super::round2(t.points * right as f64 / total.max(1) as f64),
            max_score: t.points,
            message: msg,
        }
    };
    let confinement = std::mem::take(&mut s.confinement);
    Ok((outcome, confinement))
}
