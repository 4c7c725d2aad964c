//! `vmlab grade --submissions DIR`: grades a whole class. Each submission is graded
//! by a child `vmlab grade`, `--jobs` at a time, so one that crashes or hangs the
//! grader still gets its row; the results go to a CSV with every test's points, and
//! a summary with a score histogram closes the run.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use assignments::native::{default_labs_dir, round2, LabOnDisk};

use crate::grade::{work_dir, Args};

/// How one student's grading ended.
#[derive(Clone, Debug)]
struct Row {
    student: String,
    /// `graded`, `grader-error` or `grader-crashed`.
    status: &'static str,
    score: f64,
    max_score: f64,
    /// Points by test name.
    points: Vec<(String, f64)>,
}

/// The students: every entry of `dir` but hidden ones, in name order.
fn students(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    entries.sort();
    Ok(entries)
}

/// The child's results.json, read back into a row.
fn row_from(student: &str, json: &serde_json::Value, status: &'static str) -> Row {
    let points = json["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?.to_string(), t["score"].as_f64()?)))
        .collect();
    Row {
        student: student.to_string(),
        status,
        score: json["score"].as_f64().unwrap_or(0.0),
        max_score: 0.0,
        points,
    }
}

/// Grades one submission in a child process, for at most `limit`.
fn grade_one(
    args: &Args,
    labs: &Path,
    (student, path): &(String, PathBuf),
    work: &Path,
    out: &Path,
    limit: Duration,
) -> Row {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("vmlab"));
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(me);
    cmd.args(["grade", "--lab", &args.lab, "--labs-dir"])
        .arg(labs)
        .arg("--submission")
        .arg(path)
        .arg("--out")
        .arg(out)
        .arg("--work-dir")
        .arg(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(log) = &args.staff_log {
        cmd.arg("--staff-log").arg(log);
    }
    let crashed = Row {
        student: student.clone(),
        status: "grader-crashed",
        score: 0.0,
        max_score: 0.0,
        points: Vec::new(),
    };
    let Ok(mut child) = cmd.spawn() else {
        return crashed;
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let json = std::fs::read_to_string(out)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    match (status.and_then(|s| s.code()), json) {
        (Some(0), Some(j)) => row_from(student, &j, "graded"),
        (Some(_), Some(j)) => row_from(student, &j, "grader-error"),
        _ => crashed,
    }
}

/// A CSV field, quoted when it must be.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn write_csv(path: Option<&Path>, tests: &[String], rows: &[Row]) -> Result<(), String> {
    let mut text = String::new();
    let header: Vec<String> = ["student", "status", "score", "max_score"]
        .iter()
        .map(|s| s.to_string())
        .chain(tests.iter().map(|t| csv(t)))
        .collect();
    text.push_str(&header.join(","));
    text.push('\n');
    for r in rows {
        let mut fields = vec![
            csv(&r.student),
            r.status.to_string(),
            r.score.to_string(),
            r.max_score.to_string(),
        ];
        for t in tests {
            fields.push(
                r.points
                    .iter()
                    .find(|(n, _)| n == t)
                    .map(|(_, p)| p.to_string())
                    .unwrap_or_default(),
            );
        }
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The closing summary: counts by status, mean and median, and a histogram of
/// scores in tenths of the maximum.
fn summary(rows: &[Row], max: f64) -> Vec<String> {
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let mut scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    scores.sort_by(f64::total_cmp);
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    let n = scores.len();
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => scores[n / 2],
        _ => (scores[n / 2 - 1] + scores[n / 2]) / 2.0,
    };
    let mut lines = vec![format!(
        "{} submissions: {} graded, {} grader errors, {} grader crashes; mean {}, median {} of {max}",
        rows.len(),
        count("graded"),
        count("grader-error"),
        count("grader-crashed"),
        round2(mean),
        round2(median)
    )];
    let mut buckets = [0usize; 10];
    for s in &scores {
        let tenth = if max > 0.0 {
            (s / max * 10.0) as usize
        } else {
            0
        };
        buckets[tenth.min(9)] += 1;
    }
    let widest = buckets.iter().copied().max().unwrap_or(0).max(1);
    for (i, n) in buckets.iter().enumerate() {
        let bar = "#".repeat((n * 40).div_ceil(widest));
        lines.push(format!(
            "{:>3}–{:<3}% {n:>5} {bar}",
            i * 10,
            if i == 9 { 100 } else { i * 10 + 9 }
        ));
    }
    lines
}

/// `vmlab grade --submissions DIR`: 0 when every row was written (whatever the
/// scores), 2 when the lab or the folder cannot be read.
pub fn run(args: &Args, dir: &Path) -> ExitCode {
    let labs = args.labs_dir.clone().unwrap_or_else(default_labs_dir);
    let labs = std::path::absolute(&labs).unwrap_or(labs);
    let lab = match LabOnDisk::load(&labs, &args.lab) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vmlab grade: {e}");
            return ExitCode::from(2);
        }
    };
    let students = match students(dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vmlab grade: {e}");
            return ExitCode::from(2);
        }
    };
    let tests: Vec<String> = lab
        .visible
        .iter()
        .chain(&lab.hidden)
        .map(|t| t.name.clone())
        .collect();
    let max: f64 = round2(
        lab.visible
            .iter()
            .chain(&lab.hidden)
            .map(|t| t.points)
            .sum(),
    );
    let g = &lab.manifest.grading;
    let limit = Duration::from_secs(g.build_seconds + g.run_seconds * tests.len() as u64 + 60);
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let work = std::path::absolute(work_dir(args.work_dir.as_deref()))
        .unwrap_or_else(|_| work_dir(args.work_dir.as_deref()));
    let total = students.len();
    let queue = Mutex::new(students.into_iter().enumerate().collect::<VecDeque<_>>());
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; total]);
    let done = AtomicUsize::new(0);
    let progress = std::io::stderr().is_terminal();
    std::thread::scope(|s| {
        for job in 0..jobs.min(total.max(1)) {
            let (queue, rows, done, labs) = (&queue, &rows, &done, &labs);
            let job_work = work.join(format!("job-{job}"));
            // The guard is dropped inside `and_then`: the queue is locked only to pop.
            let next = move || queue.lock().ok().and_then(|mut q| q.pop_front());
            s.spawn(move || {
                while let Some((i, entry)) = next() {
                    let out = job_work.join("results.json");
                    let _ = std::fs::create_dir_all(&job_work);
                    let mut row = grade_one(args, labs, &entry, &job_work, &out, limit);
                    row.max_score = max;
                    if let Ok(mut r) = rows.lock() {
                        r[i] = Some(row);
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if progress {
                        let filled = n * 30 / total.max(1);
                        eprint!(
                            "\r[{}{}] {n}/{total} submissions",
                            "=".repeat(filled),
                            " ".repeat(30 - filled)
                        );
                    }
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let rows: Vec<Row> = rows
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    if let Err(e) = write_csv(args.out.as_deref(), &tests, &rows) {
        eprintln!("vmlab grade: {e}");
        return ExitCode::from(2);
    }
    let mut err = std::io::stderr();
    for line in summary(&rows, max) {
        let _ = writeln!(err, "{line}");
    }
    ExitCode::SUCCESS
}
