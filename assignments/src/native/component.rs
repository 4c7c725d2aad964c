//! Component labs: builds a Rust submission as a small program against the component
//! API (in a scratch cargo project, offline, with a time limit), feeds it each test's
//! cases and compares its answers with the reference implementation's.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::component::{gc_cases, jvm_cases, shadow, shift, switch, CaseSelect};
use crate::native::sandbox::{self, Confinement, Limits, Policy, Step};
use crate::native::{gc_programs, jvm_programs, reference, switch_traces, LabOnDisk};
use crate::spec::TestSpec;
use crate::TestOutcome;
use crate::{precopy_lab, xlate_blocks};

/// The component API's sources, written out as the `assignments` crate a submission builds against.
const API_FILES: &[(&str, &str)] = &[
    ("src/component/mod.rs", include_str!("../component/mod.rs")),
    ("src/component/shift.rs", include_str!("../component/shift.rs")),
    ("src/component/shadow.rs", include_str!("../component/shadow.rs")),
    ("src/component/switch.rs", include_str!("../component/switch.rs")),
    ("src/component/procmem.rs", include_str!("../component/procmem.rs")),
    (
        "src/component/memcalls.rs",
        include_str!("../component/memcalls.rs"),
    ),
    (
        "src/component/jvm_bytecodes.rs",
        include_str!("../component/jvm_bytecodes.rs"),
    ),
    ("src/component/jvm_cases.rs", include_str!("../component/jvm_cases.rs")),
    ("src/component/gc_mark.rs", include_str!("../component/gc_mark.rs")),
    ("src/component/gc_cases.rs", include_str!("../component/gc_cases.rs")),
    ("src/component/xlate_alu.rs", include_str!("../component/xlate_alu.rs")),
    (
        "src/component/xlate_cases.rs",
        include_str!("../component/xlate_cases.rs"),
    ),
    (
        "src/component/stop_policy.rs",
        include_str!("../component/stop_policy.rs"),
    ),
    (
        "src/component/precopy_cases.rs",
        include_str!("../component/precopy_cases.rs"),
    ),
    (
        "src/lib.rs",
        "//! vmlab's component-lab API: the traits a submission implements.\nextern crate alloc;\npub mod component;\n",
    ),
    (
        "Cargo.toml",
        "[package]\nname = \"assignments\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nharness = []\n\n[workspace]\n",
    ),
];

/// Answers read from a submission's program, at most.
const MAX_OUTPUT: usize = 8 << 20;
/// Compiler or program diagnostics kept for the student, at most.
pub(super) const MAX_DIAGNOSTICS: usize = 6000;
/// Mismatches listed per test, at most.
const MAX_LISTED: usize = 5;

/// Where and how component submissions are built.
#[derive(Clone, Debug)]
pub struct BuildEnv {
    /// The `cargo` to run.
    pub cargo: PathBuf,
    /// Scratch projects go here (one per submission, removed afterwards).
    pub work_dir: PathBuf,
    /// `CARGO_TARGET_DIR` shared by every build, so the API crate compiles once.
    pub target_dir: PathBuf,
}

impl BuildEnv {
    /// Builds under `root` (`root/work`, `root/target`) with the `cargo` on `$CARGO` or `PATH`.
    pub fn under(root: &Path) -> BuildEnv {
        // Absolute, since the scratch projects name the API crate by path.
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        BuildEnv {
            cargo: std::env::var_os("CARGO")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("cargo")),
            work_dir: root.join("work"),
            target_dir: root.join("target"),
        }
    }
}

/// How a child process ended.
#[derive(Debug)]
struct Finished {
    status: Option<std::process::ExitStatus>,
    timed_out: bool,
    stderr: Vec<u8>,
}

pub(super) fn reader<R: Read + Send + 'static>(
    r: Option<R>,
    limit: usize,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.by_ref().take(limit as u64).read_to_end(&mut buf);
            // Drain the rest so the writer never blocks on a full pipe.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        }
        buf
    })
}

/// The paths of the toolchain `cargo` runs from, and the environment it needs.
struct Toolchain {
    exec: Vec<PathBuf>,
    env: Vec<(&'static str, PathBuf)>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn find_in_path(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn toolchain(cargo: &Path) -> Toolchain {
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".rustup"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"));
    let mut exec: Vec<PathBuf> = ["/usr", "/bin", "/lib", "/lib64"]
        .iter()
        .map(PathBuf::from)
        .collect();
    // Only the proxies of CARGO_HOME: its registry and credentials stay out of reach.
    exec.push(cargo_home.join("bin"));
    exec.push(rustup_home.clone());
    if let Some(real) = find_in_path(cargo).and_then(|c| std::fs::canonicalize(c).ok()) {
        // The toolchain's root, `<root>/bin/cargo`; a rustup proxy finds its
        // toolchain under RUSTUP_HOME instead (its own root is CARGO_HOME, which
        // may hold credentials).
        let proxy = real.file_name().is_some_and(|n| n == "rustup");
        if let Some(root) = real.parent().and_then(Path::parent).filter(|_| !proxy) {
            exec.push(root.to_path_buf());
        }
    }
    let mut env = vec![("RUSTUP_HOME", rustup_home)];
    if let Some(t) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        env.push(("RUSTUP_TOOLCHAIN", PathBuf::from(t)));
    }
    Toolchain { exec, env }
}

/// Files a dynamically linked program reads at start.
const LOADER_FILES: [&str; 2] = ["/etc/ld.so.cache", "/etc/ld.so.conf"];
/// The dynamic loaders a program may be started by.
const LOADERS: [&str; 4] = [
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/ld-linux-x86-64.so.2",
    "/lib/ld-linux-aarch64.so.1",
    "/lib/ld-linux.so.2",
];

/// Where the hidden tests and reference solutions live: out of every sandbox.
fn secrets(lab: &LabOnDisk) -> Vec<PathBuf> {
    let mut s = vec![lab.dir.clone()];
    s.extend(lab.dir.parent().map(Path::to_path_buf));
    s.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("labs"));
    s
}

/// The configuration files cargo and rustup read in the folders above `dir`.
fn config_files_above(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .flat_map(|d| {
            [
                d.join(".cargo/config.toml"),
                d.join(".cargo/config"),
                d.join("rust-toolchain.toml"),
                d.join("rust-toolchain"),
            ]
        })
        .filter(|f| f.is_file())
        .collect()
}

fn compile_policy(
    env: &BuildEnv,
    project: &Path,
    lab: &LabOnDisk,
    tools: &Toolchain,
    limit: Duration,
) -> Policy {
    Policy {
        step: Step::Compile,
        read: LOADER_FILES
            .iter()
            .map(PathBuf::from)
            .chain([env.work_dir.join("api"), PathBuf::from("/dev/urandom")])
            .chain(config_files_above(project))
            .collect(),
        exec: tools.exec.clone(),
        write: vec![
            project.to_path_buf(),
            env.target_dir.clone(),
            PathBuf::from("/dev/null"),
        ],
        secret: secrets(lab),
        limits: Limits {
            cpu_seconds: limit.as_secs() + 1,
            memory_bytes: 8 << 30,
            file_bytes: 512 << 20,
            processes: 512,
        },
    }
}

pub(super) fn run_policy(binary: &Path, lab: &LabOnDisk, limit: Duration) -> Policy {
    Policy {
        step: Step::Run,
        read: LOADER_FILES
            .iter()
            .chain(&["/lib", "/lib64", "/usr/lib"])
            .map(PathBuf::from)
            .collect(),
        exec: LOADERS
            .iter()
            .map(PathBuf::from)
            .chain([binary.to_path_buf()])
            .collect(),
        write: Vec::new(),
        secret: secrets(lab),
        limits: Limits {
            cpu_seconds: limit.as_secs() + 1,
            memory_bytes: 1 << 30,
            file_bytes: 16 << 20,
            processes: 64,
        },
    }
}

/// Spawns `cmd` confined by `policy` in its own process group; `answers`, when given,
/// becomes its fd 3. The error is the grader's.
pub(super) fn spawn(
    mut cmd: Command,
    policy: &Policy,
    answers: Option<&std::io::PipeWriter>,
) -> Result<(Child, Confinement), String> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let confinement = sandbox::confine(&mut cmd, policy, answers.map(AsRawFd::as_raw_fd))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd
        .spawn()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    Ok((child, confinement))
}

/// Waits for `child` at most `limit`, then kills its process group.
pub(super) fn finish(
    mut child: Child,
    limit: Duration,
) -> (Option<std::process::ExitStatus>, bool) {
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > limit => {
                timed_out = true;
                sandbox::kill_group(child.id());
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    // A grandchild may still hold the pipes open: make sure the group is gone.
    sandbox::kill_group(child.id());
    (status, timed_out)
}

/// Runs the confined `cmd` with no input, for at most `limit`.
fn run_limited(
    cmd: Command,
    policy: &Policy,
    limit: Duration,
) -> Result<(Finished, Confinement), String> {
    let (mut child, confinement) = spawn(cmd, policy, None)?;
    drop(child.stdin.take());
    let out = reader(child.stdout.take(), MAX_OUTPUT);
    let err = reader(child.stderr.take(), 1 << 20);
    let (status, timed_out) = finish(child, limit);
    let _ = out.join();
    Ok((
        Finished {
            status,
            timed_out,
            stderr: err.join().unwrap_or_default(),
        },
        confinement,
    ))
}

pub(super) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    if text.len() <= MAX_DIAGNOSTICS {
        return text.to_string();
    }
    let mut start = text.len() - MAX_DIAGNOSTICS;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A built submission program (removed, with its scratch project and every build
/// artifact of its package, when dropped: only the shared API crate stays cached).
pub(super) struct Built {
    project: PathBuf,
    pub(super) binary: PathBuf,
    /// The package's name (`submission-<pid>-<n>`).
    name: String,
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.project);
        let _ = std::fs::remove_file(&self.binary);
        let Some(debug) = self.binary.parent() else {
            return;
        };
        let _ = std::fs::remove_file(debug.join(format!("{}.d", self.name)));
        let crate_name = self.name.replace('-', "_");
        for (dir, prefix) in [
            ("deps", format!("{crate_name}-")),
            (".fingerprint", format!("{}-", self.name)),
            ("incremental", format!("{crate_name}-")),
        ] {
            let Ok(entries) = std::fs::read_dir(debug.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let path = e.path();
                    let _ = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                }
            }
        }
    }
}

/// Writes `text` to `path` unless it already holds it (so cargo sees no change).
fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Written aside and renamed into place: a grader building beside this one (a
    // batch's other job, or another test) reads the old file or the new one, never a
    // half-written one.
    let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
    let aside = path.with_extension(format!("part-{}-{n}", std::process::id()));
    std::fs::write(&aside, text).map_err(|e| format!("{}: {e}", aside.display()))?;
    std::fs::rename(&aside, path).map_err(|e| {
        let _ = std::fs::remove_file(&aside);
        format!("{}: {e}", path.display())
    })
}

/// Builds `source` into a program that serves `component`'s cases. For the pre-copy
/// lab `unsafe` is forbidden in the submission: a case line carries every round, and
/// the policy may see only those its `history` shows it. Other labs keep `unsafe`
/// (the sandbox, not the compiler, contains what it does). `Err(Ok(msg))`
/// is the submission's fault (it does not compile); `Err(Err(msg))` the grader's.
fn build(
    lab: &LabOnDisk,
    source: &str,
    env: &BuildEnv,
    limit: Duration,
) -> Result<(Built, Confinement), Result<String, String>> {
    let component = lab.manifest.component.as_deref().unwrap_or_default();
    let (module, trait_name) = match component {
        "shift-rotate" => ("shift", "ShiftRotate"),
        "shadow-fill" => ("shadow", "ShadowFill"),
        "learning-switch" => ("switch", "FlowSwitch"),
        "procvm-memory" => ("procmem", "MemoryCalls"),
        "jvm-bytecodes" => ("jvm_cases", "IntBytecodes"),
        "gc-mark" => ("gc_cases", "Marker"),
        "xlate-alu" => ("xlate_cases", "AluFamily"),
        "precopy-stop" => ("precopy_cases", "StopPolicy"),
        other => {
            return Err(Err(format!(
                "lab.toml names an unknown component {other:?}"
            )))
        }
    };
    let api = env.work_dir.join("api");
    for (file, text) in API_FILES {
        write_if_changed(&api.join(file), text).map_err(Err)?;
    }
    let root = if component == "precopy-stop" {
        "#![forbid(unsafe_code)]\n\n"
    } else {
        ""
    };
    let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
    let name = format!("submission-{}-{n}", std::process::id());
    let project = env.work_dir.join(&name);
    let files = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\nassignments = {{ path = {:?} }}\n\n[workspace]\n",
                api.display().to_string()
            ),
        ),
        (
            "src/main.rs",
            format!(
                "{root}mod submission;\n\nfn main() {{\n    assignments::component::{module}::serve(&submission::Submission);\n}}\n"
            ),
        ),
        ("src/submission.rs", source.to_string()),
    ];
    for (file, text) in &files {
        write_if_changed(&project.join(file), text).map_err(Err)?;
    }
    let binary = env.target_dir.join("debug").join(&name);
    let built = Built {
        project: project.clone(),
        binary: binary.clone(),
        name: name.clone(),
    };
    let tools = toolchain(&env.cargo);
    let tmp = project.join("tmp");
    for dir in [&tmp, &env.target_dir] {
        std::fs::create_dir_all(dir).map_err(|e| Err(format!("{}: {e}", dir.display())))?;
    }
    let mut path = vec![];
    path.extend(find_in_path(&env.cargo).and_then(|c| c.parent().map(Path::to_path_buf)));
    path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    let mut cmd = Command::new(&env.cargo);
    cmd.args([
        "build",
        "--offline",
        "--quiet",
        "--message-format",
        "short",
        "--manifest-path",
    ])
    .arg(project.join("Cargo.toml"))
    .current_dir(&project)
    .env_clear()
    .envs(tools.env.iter().map(|(k, v)| (k, v)))
    .env("PATH", std::env::join_paths(path).unwrap_or_default())
    .env("HOME", &project)
    .env("CARGO_HOME", project.join("cargo-home"))
    .env("TMPDIR", &tmp)
    .env("CARGO_TARGET_DIR", &env.target_dir)
    .env("CARGO_INCREMENTAL", "0")
    .env("CARGO_TERM_COLOR", "never");
    let policy = compile_policy(env, &project, lab, &tools, limit);
    let (done, confinement) = run_limited(cmd, &policy, limit).map_err(Err)?;
    if done.timed_out {
        return Err(Ok(format!(
            "the submission did not finish compiling within {} s",
            limit.as_secs()
        )));
    }
    if !done.status.is_some_and(|s| s.success()) || !binary.is_file() {
        // Cargo says "could not compile" for errors in the code; anything else (a
        // toolchain that does not start, an unreadable manifest) is the grader's.
        if !String::from_utf8_lossy(&done.stderr).contains("could not compile") {
            return Err(Err(format!(
                "cargo failed before compiling the submission ({}): {}",
                done.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no exit status".into()),
                tail(&done.stderr)
            )));
        }
        // Paths of the grading machine: the project becomes relative, the toolchain a name.
        let mut diag = tail(&done.stderr)
            .replace(&format!("{}/", project.display()), "")
            .replace(&env.work_dir.display().to_string(), "");
        for (name, dir) in &tools.env {
            diag = diag.replace(&dir.display().to_string(), &format!("${name}"));
        }
        return Err(Ok(format!(
            "the submission does not compile (it must define `pub struct Submission` and `impl {trait_name} for Submission`):\n{diag}"
        )));
    }
    Ok((built, confinement))
}

/// One test's lines to send and how to judge each answer.
type Judge = Box<dyn Fn(usize, &str) -> Result<(), String>>;

/// The lines of `cases` and a judge that compares each answer by `compare`; a case
/// set that could not be built fails its one line with the reason.
fn judged<C: 'static>(
    cases: Result<Vec<C>, String>,
    line: fn(&C) -> String,
    compare: fn(&C, &str) -> Result<(), String>,
) -> (Vec<String>, Judge) {
    match cases {
        Ok(cases) => (
            cases.iter().map(line).collect(),
            Box::new(move |i, got| compare(&cases[i], got)),
        ),
        Err(e) => {
            let msg = format!("test error: {e}");
            (vec![String::new()], Box::new(move |_, _| Err(msg.clone())))
        }
    }
}

fn cases_for(component: &str, select: &CaseSelect) -> (Vec<String>, Judge) {
    match component {
        "shift-rotate" => {
            let cases = shift::cases(select);
            let lines = cases.iter().map(shift::Case::to_line).collect();
            let reference = reference::CoreShift;
            (
                lines,
                Box::new(move |i, got| {
                    let c = cases[i];
                    let want = shift::ShiftRotate::exec(
                        &reference, c.op, c.size, c.value, c.count, c.eflags,
                    );
                    c.compare(want, got)
                }),
            )
        }
        "jvm-bytecodes" => judged(
            jvm_programs::cases(select),
            jvm_cases::Case::to_line,
            |c, got| c.compare(&c.answer(&reference::jvm_bytecodes::Submission), got),
        ),
        "gc-mark" => judged(
            gc_programs::cases(select),
            gc_cases::HeapCase::to_line,
            |c, got| c.compare(&c.answer(&reference::gc_mark::Submission), got),
        ),
        "xlate-alu" => judged(
            xlate_blocks::cases(select),
            xlate_blocks::Block::to_line,
            xlate_blocks::Block::judge,
        ),
        "precopy-stop" => judged(
            precopy_lab::cases(select),
            precopy_lab::Scenario::to_line,
            precopy_lab::Scenario::judge,
        ),
        "learning-switch" => {
            let traces = switch_traces::cases(select);
            let lines = traces.iter().map(switch::Trace::to_line).collect();
            (
                lines,
                Box::new(move |i, got| {
                    let t = &traces[i];
                    t.compare(&t.answer(&switch_traces::VmlabSwitch), got)
                }),
            )
        }
        _ => {
            let cases = shadow::cases(select);
            let lines = cases.iter().map(shadow::FillInput::to_line).collect();
            let reference = reference::shadow_fill::Submission;
            (
                lines,
                Box::new(move |i, got| {
                    let c = &cases[i];
                    shadow::compare(c, shadow::ShadowFill::fill(&reference, c), got)
                }),
            )
        }
    }
}

/// A component submission's outcomes, and the sandbox protections this machine
/// could not give (named, never skipped silently).
#[derive(Clone, Debug)]
pub struct Graded {
    /// One outcome per test.
    pub outcomes: Vec<TestOutcome>,
    /// What the sandbox lacked here (empty when fully confined).
    pub unprotected: Vec<String>,
}

/// Grades a component submission on `tests`: one build, then one run per test. The
/// error is the grader's (a broken toolchain, an unknown component), with details
/// for the staff.
pub fn grade(
    lab: &LabOnDisk,
    source: &[u8],
    tests: &[&TestSpec],
    env: &BuildEnv,
) -> Result<Graded, String> {
    let policy = &lab.manifest.grading;
    let all_fail = |why: String| -> Result<Graded, String> {
        Ok(Graded {
            outcomes: tests
                .iter()
                .map(|t| TestOutcome::failed(t, why.clone()))
                .collect(),
            unprotected: Vec::new(),
        })
    };
    if source.is_empty() {
        return all_fail("the submission is empty (0 bytes)".into());
    }
    if source.len() > policy.max_submission_bytes {
        return all_fail(format!(
            "the submission is {} bytes; at most {} bytes are accepted",
            source.len(),
            policy.max_submission_bytes
        ));
    }
    let text = match std::str::from_utf8(source) {
        Ok(t) if !t.contains('\0') => t,
        Ok(_) => {
            return all_fail("the submission is not Rust source: it contains NUL bytes".into())
        }
        Err(e) => {
            return all_fail(format!(
                "the submission is not Rust source: it is not UTF-8 text (bad byte at offset {})",
                e.valid_up_to()
            ))
        }
    };
    let (built, confinement) =
        match build(lab, text, env, Duration::from_secs(policy.build_seconds)) {
            Ok(b) => b,
            Err(Ok(student)) => return all_fail(student),
            Err(Err(grader)) => return Err(grader),
        };
    let component = lab.manifest.component.as_deref().unwrap_or_default();
    let mut unprotected = confinement.missing;
    let mut outcomes = Vec::new();
    for t in tests {
        let limit = Duration::from_secs(policy.run_seconds);
        let (o, c) = if component == "procvm-memory" {
            super::procmem::run_test(lab, &built, t, limit, env)?
        } else {
            run_test(component, lab, &built, t, limit)?
        };
        for m in c.missing {
            if !unprotected.contains(&m) {
                unprotected.push(m);
            }
        }
        outcomes.push(o);
    }
    Ok(Graded {
        outcomes,
        unprotected,
    })
}

/// How long one case may take before it counts as unanswered.
pub(super) const CASE_LIMIT: Duration = Duration::from_secs(2);
/// Added to the first case of each start of the program, for loading it on a busy
/// grading machine.
pub(super) const START_ALLOWANCE: Duration = Duration::from_secs(3);
/// Restarts after a case hangs or kills the program, per test, at most.
const MAX_RESTARTS: usize = 5;

/// What the program did with one case.
enum Answer {
    Line(String),
    TimedOut,
    Died(String),
    NotRun,
}

/// What one test's runs of the program left.
struct Runs {
    answers: Vec<Answer>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stopped: bool,
    confinement: Confinement,
}

/// Feeds `lines` to the program, one answer awaited per case (at most
/// [`CASE_LIMIT`]); a case that hangs or kills the program is lost alone: the program
/// restarts at the next case, within the test's `limit` in all.
fn run_cases(
    built: &Built,
    lab: &LabOnDisk,
    lines: &[String],
    limit: Duration,
) -> Result<Runs, String> {
    let started = Instant::now();
    let mut runs = Runs {
        answers: Vec::with_capacity(lines.len()),
        stdout: Vec::new(),
        stderr: Vec::new(),
        stopped: false,
        confinement: Confinement::default(),
    };
    let policy = run_policy(&built.binary, lab, limit);
    let mut restarts = 0;
    while runs.answers.len() < lines.len() {
        let first = runs.answers.len();
        let (answer_rx, answer_tx) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let mut cmd = Command::new(&built.binary);
        cmd.env_clear()
            .env("VMLAB_ANSWER_FD", "3")
            .current_dir(built.binary.parent().unwrap_or(Path::new("/")));
        let (mut child, confinement) = spawn(cmd, &policy, Some(&answer_tx))?;
        drop(answer_tx);
        runs.confinement = confinement;
        let mut input = lines[first..].join("\n");
        input.push('\n');
        let stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                let _ = s.write_all(input.as_bytes());
            }
        });
        let out = reader(child.stdout.take(), MAX_DIAGNOSTICS);
        let err = reader(child.stderr.take(), MAX_DIAGNOSTICS);
        let (tx, rx) = std::sync::mpsc::channel();
        let answers = std::thread::spawn(move || {
            use std::io::BufRead;
            let mut r = std::io::BufReader::new(answer_rx.take(MAX_OUTPUT as u64));
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                if tx
                    .send(line.trim_end_matches(['\n', '\r']).to_string())
                    .is_err()
                {
                    break;
                }
                line.clear();
            }
        });
        let mut lost = None;
        let mut wait = CASE_LIMIT + START_ALLOWANCE;
        while runs.answers.len() < lines.len() {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                runs.stopped = true;
                break;
            }
            let answer = rx.recv_timeout(wait.min(left));
            wait = CASE_LIMIT;
            match answer {
                Ok(a) => runs.answers.push(Answer::Line(a)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    lost = Some(Answer::TimedOut);
                    break;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    lost = Some(Answer::Died(String::new()));
                    break;
                }
            }
        }
        let (status, _) = finish(child, Duration::ZERO);
        let _ = writer.join();
        let _ = answers.join();
        for (buf, h) in [(&mut runs.stdout, out), (&mut runs.stderr, err)] {
            buf.extend(h.join().unwrap_or_default());
        }
        match lost {
            Some(Answer::Died(_)) => runs.answers.push(Answer::Died(
                status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no exit status".into()),
            )),
            Some(a) => runs.answers.push(a),
            None => {}
        }
        restarts += 1;
        if runs.stopped || restarts > MAX_RESTARTS {
            break;
        }
    }
    while runs.answers.len() < lines.len() {
        runs.answers.push(Answer::NotRun);
    }
    Ok(runs)
}

fn run_test(
    component: &str,
    lab: &LabOnDisk,
    built: &Built,
    t: &TestSpec,
    limit: Duration,
) -> Result<(TestOutcome, Confinement), String> {
    let Some(select) = &t.cases else {
        return Ok((
            TestOutcome::failed(t, "test error: a component test needs `cases`".into()),
            Confinement::default(),
        ));
    };
    let (lines, judge) = cases_for(component, select);
    if lines.is_empty() {
        return Ok((
            TestOutcome::failed(t, "test error: the test selects no cases".into()),
            Confinement::default(),
        ));
    }
    let runs = run_cases(built, lab, &lines, limit)?;
    let mut wrong = Vec::new();
    let mut right = 0usize;
    let mut not_run = 0usize;
    for (i, (line, answer)) in lines.iter().zip(&runs.answers).enumerate() {
        match answer {
            Answer::Line(a) if a.starts_with("panic:") => wrong.push(format!("case {line}: {a}")),
            Answer::Line(a) => match judge(i, a) {
                Ok(()) => right += 1,
                Err(e) => wrong.push(e),
            },
            Answer::TimedOut => wrong.push(format!(
                "case {line}: no answer within {} s (too slow, or an endless loop)",
                CASE_LIMIT.as_secs()
            )),
            Answer::Died(status) => {
                wrong.push(format!("case {line}: the program ended on it ({status})"))
            }
            Answer::NotRun => not_run += 1,
        }
    }
    let total = lines.len();
    let mut message = Vec::new();
    if runs.stopped {
        message.push(format!(
            "the program was stopped after {} s (too slow, or an endless loop) with {not_run} of {total} cases not run",
            limit.as_secs(),
        ));
    } else if not_run > 0 {
        message.push(format!(
            "the program was given up after it hung or ended on {} cases, with {not_run} of {total} cases not run",
            MAX_RESTARTS + 1
        ));
    }
    if !wrong.is_empty() {
        message.push(format!(
            "{} of {total} cases differ from the reference:",
            wrong.len(),
        ));
        message.extend(wrong.iter().take(MAX_LISTED).map(|w| format!("  {w}")));
        if wrong.len() > MAX_LISTED {
            message.push(format!("  … and {} more", wrong.len() - MAX_LISTED));
        }
    }
    let err = tail(&runs.stderr);
    if !message.is_empty() && !err.is_empty() {
        message.push(format!("its error output:\n{err}"));
    }
    let printed = tail(&runs.stdout);
    if !printed.is_empty() {
        message.push(format!(
            "its standard output (shown only; answers travel on their own channel):\n{printed}"
        ));
    }
    let outcome = if right == total && wrong.is_empty() && not_run == 0 {
        let mut o = TestOutcome::passed(t);
        o.message = message.join("\n");
        o
    } else {
        TestOutcome {
            name: t.name.clone(),
            passed: false,
            score: super::round2(t.points * right as f64 / total as f64),
            max_score: t.points,
            message: format!("{right} of {total} cases right.\n{}", message.join("\n")),
        }
    };
    Ok((outcome, runs.confinement))
}
