//! Component labs: builds a Rust submission as a small program against the component
//! API (in a scratch cargo project, offline, with a time limit), feeds it each test's
//! cases and compares its answers with the reference implementation's.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::component::{shadow, shift, CaseSelect};
use crate::native::{reference, LabOnDisk};
use crate::spec::TestSpec;
use crate::TestOutcome;

/// The component API's sources, written out as the `assignments` crate a submission builds against.
const API_FILES: &[(&str, &str)] = &[
    ("src/component/mod.rs", include_str!("../component/mod.rs")),
    ("src/component/shift.rs", include_str!("../component/shift.rs")),
    ("src/component/shadow.rs", include_str!("../component/shadow.rs")),
    (
        "src/lib.rs",
        "//! vmlab's component-lab API: the traits a submission implements.\npub mod component;\n",
    ),
    (
        "Cargo.toml",
        "[package]\nname = \"assignments\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nharness = []\n",
    ),
];

/// Answers read from a submission's program, at most.
const MAX_OUTPUT: usize = 8 << 20;
/// Compiler or program diagnostics kept for the student, at most.
const MAX_DIAGNOSTICS: usize = 6000;
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
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn reader<R: Read + Send + 'static>(
    r: Option<R>,
    limit: usize,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(r) = r {
            let _ = r.take(limit as u64).read_to_end(&mut buf);
        }
        buf
    })
}

fn kill_group(child: &mut Child) {
    // The child leads its own process group: end it and everything it started.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

/// Runs `cmd` with `input` on stdin, for at most `limit`.
fn run_limited(mut cmd: Command, input: Vec<u8>, limit: Duration) -> Result<Finished, String> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
        }
    });
    let out = reader(child.stdout.take(), MAX_OUTPUT);
    let err = reader(child.stderr.take(), 1 << 20);
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > limit => {
                timed_out = true;
                kill_group(&mut child);
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    // A grandchild may still hold the pipes open: make sure the group is gone.
    kill_group(&mut child);
    let _ = writer.join();
    Ok(Finished {
        status,
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn tail(bytes: &[u8]) -> String {
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
struct Built {
    project: PathBuf,
    binary: PathBuf,
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

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds `source` into a program that serves `component`'s cases. `Err(Ok(msg))`
/// is the submission's fault (it does not compile); `Err(Err(msg))` the grader's.
fn build(
    component: &str,
    source: &str,
    env: &BuildEnv,
    limit: Duration,
) -> Result<Built, Result<String, String>> {
    let (module, trait_name) = match component {
        "shift-rotate" => ("shift", "ShiftRotate"),
        "shadow-fill" => ("shadow", "ShadowFill"),
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
                "mod submission;\n\nfn main() {{\n    assignments::component::{module}::serve(&submission::Submission);\n}}\n"
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
    .env("CARGO_TARGET_DIR", &env.target_dir)
    .env_remove("RUSTFLAGS")
    .env("CARGO_INCREMENTAL", "0")
    .env("CARGO_TERM_COLOR", "never");
    let done = run_limited(cmd, Vec::new(), limit).map_err(Err)?;
    if done.timed_out {
        return Err(Ok(format!(
            "the submission did not finish compiling within {} s",
            limit.as_secs()
        )));
    }
    if !done.status.is_some_and(|s| s.success()) || !binary.is_file() {
        let diag = tail(&done.stderr).replace(&project.display().to_string(), "");
        return Err(Ok(format!(
            "the submission does not compile (it must define `pub struct Submission` and `impl {trait_name} for Submission`):\n{diag}"
        )));
    }
    Ok(built)
}

/// One test's lines to send and how to judge each answer.
type Judge = Box<dyn Fn(usize, &str) -> Result<(), String>>;

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

/// Grades a component submission on `tests`: one build, then one run per test.
pub fn grade(
    lab: &LabOnDisk,
    source: &[u8],
    tests: &[&TestSpec],
    env: &BuildEnv,
) -> Vec<TestOutcome> {
    let policy = &lab.manifest.grading;
    let all_fail = |why: String| -> Vec<TestOutcome> {
        tests
            .iter()
            .map(|t| TestOutcome::failed(t, why.clone()))
            .collect()
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
    let component = lab.manifest.component.as_deref().unwrap_or_default();
    let built = match build(
        component,
        text,
        env,
        Duration::from_secs(policy.build_seconds),
    ) {
        Ok(b) => b,
        Err(Ok(student)) => return all_fail(student),
        Err(Err(grader)) => {
            return all_fail(format!(
                "grader error (not the submission's fault): {grader}"
            ))
        }
    };
    tests
        .iter()
        .map(|t| {
            run_test(
                component,
                &built,
                t,
                Duration::from_secs(policy.run_seconds),
            )
        })
        .collect()
}

fn run_test(component: &str, built: &Built, t: &TestSpec, limit: Duration) -> TestOutcome {
    let Some(select) = &t.cases else {
        return TestOutcome::failed(t, "test error: a component test needs `cases`".into());
    };
    let (lines, judge) = cases_for(component, select);
    if lines.is_empty() {
        return TestOutcome::failed(t, "test error: the test selects no cases".into());
    }
    let mut input = lines.join("\n");
    input.push('\n');
    let mut cmd = Command::new("sh");
    // At most 1 GiB of memory and 16 MiB of files for the submission's program.
    cmd.arg("-c")
        .arg("ulimit -v 1048576 -f 32768 2>/dev/null; exec \"$0\"")
        .arg(&built.binary);
    let done = match run_limited(cmd, input.into_bytes(), limit) {
        Ok(d) => d,
        Err(e) => return TestOutcome::failed(t, format!("grader error: {e}")),
    };
    let out = String::from_utf8_lossy(&done.stdout);
    let answers: Vec<&str> = out.lines().collect();
    let mut wrong = Vec::new();
    let mut right = 0usize;
    for (i, line) in lines.iter().enumerate() {
        match answers.get(i) {
            Some(a) if a.starts_with("panic:") => wrong.push(format!("case {line}: {a}")),
            Some(a) => match judge(i, a) {
                Ok(()) => right += 1,
                Err(e) => wrong.push(e),
            },
            None => break,
        }
    }
    let answered = answers.len().min(lines.len());
    let mut message = Vec::new();
    if done.timed_out {
        message.push(format!(
            "the program was stopped after {} s (too slow, or an endless loop) having answered {answered} of {} cases",
            limit.as_secs(),
            lines.len()
        ));
    } else if answered < lines.len() {
        message.push(format!(
            "the program ended after answering {answered} of {} cases ({})",
            lines.len(),
            done.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no exit status".into())
        ));
        let err = tail(&done.stderr);
        if !err.is_empty() {
            message.push(format!("its error output:\n{err}"));
        }
    }
    if !wrong.is_empty() {
        message.push(format!(
            "{} of {} cases differ from the reference:",
            wrong.len(),
            lines.len()
        ));
        message.extend(wrong.iter().take(MAX_LISTED).map(|w| format!("  {w}")));
        if wrong.len() > MAX_LISTED {
            message.push(format!("  … and {} more", wrong.len() - MAX_LISTED));
        }
    }
    let total = lines.len();
    if right == total && message.is_empty() {
        return TestOutcome::passed(t);
    }
    TestOutcome {
        name: t.name.clone(),
        passed: false,
        score: super::round2(t.points * right as f64 / total as f64),
        max_score: t.points,
        message: format!("{right} of {total} cases right.\n{}", message.join("\n")),
    }
}
