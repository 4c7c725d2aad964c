//! `vmlab check-lab`: checks that a lab can be trusted to grade (its manifest and
//! tests load, its hidden tests exist, the reference gets full marks and the starter
//! less); the Gradescope bundle and its `setup.sh` refuse a lab that fails.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assignments::native::check::{check_lab, LabCheck};
use assignments::native::{default_labs_dir, list, LabOnDisk};

use crate::grade::{with_grade_env, work_dir};

/// Arguments of `vmlab check-lab`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["lab", "all"])))]
pub struct Args {
    /// The lab's id.
    pub lab: Option<String>,
    /// Check every lab.
    #[arg(long)]
    pub all: bool,
    /// The folder holding the lab folders (default: the source tree's `assignments/labs`).
    #[arg(long)]
    pub labs_dir: Option<PathBuf>,
    /// Scratch folder for component-lab builds (default: a `vmlab-grading` temp folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// Checks lab `id`, grading with component builds under `work`.
pub fn check(labs_dir: &Path, id: &str, work: &Path) -> LabCheck {
    match LabOnDisk::load(labs_dir, id) {
        Ok(lab) => with_grade_env(&lab.manifest, work, |env| check_lab(labs_dir, id, env)),
        Err(e) => LabCheck {
            id: id.to_string(),
            problems: vec![e],
            summary: String::new(),
        },
    }
}

/// Prints one lab's result to stderr.
pub fn print(c: &LabCheck) {
    if c.ok() {
        eprintln!("check-lab {}: ok ({})", c.id, c.summary);
    } else {
        eprintln!("check-lab {}: FAILED", c.id);
        for p in &c.problems {
            eprintln!("  {p}");
        }
    }
}

/// `vmlab check-lab`: exit code 0 when every lab checked is fine, 1 otherwise.
pub fn run(args: Args) -> ExitCode {
    let labs_dir = args.labs_dir.unwrap_or_else(default_labs_dir);
    let work = work_dir(args.work_dir.as_deref());
    let ids: Vec<String> = if args.all {
        let mut ids = Vec::new();
        for l in list(&labs_dir) {
            match l {
                Ok(l) => ids.push(l.manifest.id),
                Err(e) => {
                    eprintln!("check-lab: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        if ids.is_empty() {
            eprintln!("check-lab: no lab folder in {}", labs_dir.display());
            return ExitCode::FAILURE;
        }
        ids
    } else {
        args.lab.into_iter().collect()
    };
    let mut ok = true;
    for id in ids {
        let c = check(&labs_dir, &id, &work);
        print(&c);
        ok &= c.ok();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
