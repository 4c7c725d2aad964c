//! `vmlab grade`: grades one submission against a lab's visible and hidden tests and
//! writes the platform's result file — always, whatever the submission holds; with
//! `--submissions DIR`, a whole class (see `batch`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assignments::core_machine::{CoreFactory, VmlabAssembler};
use assignments::native::component::BuildEnv;
use assignments::native::{
    default_labs_dir, grade, reject_all, submission_extensions, GradeEnv, GradeReport, LabOnDisk,
    Submission,
};
use assignments::LabManifest;

use crate::formats::Format;

/// Arguments of `vmlab grade`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["submission", "submissions"])))]
pub struct Args {
    /// The lab's id (see `vmlab labs`).
    #[arg(long)]
    pub lab: String,
    /// The submission: a file, a zip, or a folder holding exactly one submission file.
    #[arg(long)]
    pub submission: Option<PathBuf>,
    /// A whole class: one submission (file, zip or folder) per entry of this folder;
    /// `--out` is then the CSV of results.
    #[arg(long, conflicts_with = "format")]
    pub submissions: Option<PathBuf>,
    /// Submissions graded at once with `--submissions` (default: the CPUs).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// The result file's platform.
    #[arg(long, value_enum, default_value = "gradescope")]
    pub format: Format,
    /// Where to write the result file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The folder holding the lab folders (default: the source tree's `assignments/labs`).
    #[arg(long)]
    pub labs_dir: Option<PathBuf>,
    /// Scratch folder for component-lab builds (default: a `vmlab-grading` temp folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// A file to append the details of grader failures to (they always go to stderr).
    #[arg(long)]
    pub staff_log: Option<PathBuf>,
}

/// The scratch folder for component builds: `given`, or a `vmlab-grading` temp folder.
pub fn work_dir(given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::temp_dir().join("vmlab-grading"))
}

/// Runs `f` with what grading `lab` needs: the core, the assembler with the lab's
/// image limit, and component builds under `work`.
pub fn with_grade_env<R>(lab: &LabManifest, work: &Path, f: impl FnOnce(&GradeEnv<'_>) -> R) -> R {
    let asm = VmlabAssembler {
        max_output_bytes: lab.grading.max_image_bytes.saturating_mul(4),
    };
    f(&GradeEnv {
        factory: &CoreFactory,
        asm: &asm,
        component: BuildEnv::under(work),
    })
}

/// What a student sees when grading failed on the grader's side.
pub const GRADER_FAILED: &str = "This submission could not be graded because of a problem on the grading machine, not in your work; the course staff have been given the details.";

/// The report, or the grader's failure: (a report for the student, details for the staff).
fn grade_report(args: &Args) -> Result<GradeReport, (GradeReport, String)> {
    let labs_dir = args.labs_dir.clone().unwrap_or_else(default_labs_dir);
    let lab = LabOnDisk::load(&labs_dir, &args.lab)
        .map_err(|e| (GradeReport::failure(&args.lab, GRADER_FAILED.into()), e))?;
    let policy = &lab.manifest.grading;
    let path = args.submission.as_deref().unwrap_or(Path::new("."));
    let sub = match Submission::read(
        path,
        submission_extensions(&lab.manifest),
        policy.max_submission_bytes,
    ) {
        Ok(s) => s,
        Err(e) => return Ok(reject_all(&lab, &e)),
    };
    let work = work_dir(args.work_dir.as_deref());
    let graded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_grade_env(&lab.manifest, &work, |env| grade(&lab, &sub, env))
    }));
    match graded {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err((reject_all(&lab, GRADER_FAILED), e)),
        Err(_) => Err((
            reject_all(&lab, GRADER_FAILED),
            "the grader panicked while grading this submission".into(),
        )),
    }
}

/// Writes the staff's details of a grader failure to standard error (hidden from
/// students on Gradescope) and, with `--staff-log`, appends them to that file.
fn log_for_staff(args: &Args, details: &str) {
    let line = format!(
        "vmlab grade: grader error on lab {} with {}: {details}",
        args.lab,
        args.submission
            .as_deref()
            .unwrap_or(Path::new("-"))
            .display()
    );
    eprintln!("{line}");
    if let Some(path) = &args.staff_log {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            eprintln!("vmlab grade: cannot write {}: {e}", path.display());
        }
    }
}

/// `vmlab grade`: exit code 0 when the submission was graded (whatever its score),
/// 2 when it could not be (unknown lab, broken lab files, a grader failure); the
/// results file is written either way.
pub fn run(args: Args) -> ExitCode {
    if let Some(dir) = &args.submissions {
        return crate::batch::run(&args, dir);
    }
    let (report, graded) = match grade_report(&args) {
        Ok(r) => (r, true),
        Err((r, details)) => {
            log_for_staff(&args, &details);
            (r, false)
        }
    };
    let json = crate::formats::render(&report, args.format, graded);
    let text = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "{}".into());
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text + "\n") {
                eprintln!("vmlab grade: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
        None => println!("{text}"),
    }
    let mut err = std::io::stderr();
    for t in &report.tests {
        let _ = writeln!(
            err,
            "{} {:>5}/{:<5} {}",
            if t.passed { "PASS" } else { "FAIL" },
            t.score,
            t.max_score,
            t.name
        );
    }
    let _ = writeln!(err, "{}", report.output);
    if graded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
