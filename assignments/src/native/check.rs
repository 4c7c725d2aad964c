//! A lab's self-check before it is used to grade: the manifest and tests load, the
//! hidden tests exist, the reference gets full marks and the starter less.

use std::path::Path;

use crate::native::{grade, round2, secret_markers_of, GradeEnv, LabOnDisk, Submission};

/// What checking one lab found.
#[derive(Clone, Debug)]
pub struct LabCheck {
    /// The lab's id.
    pub id: String,
    /// Each problem, naming the file (relative to the lab folder) and what is wrong.
    pub problems: Vec<String>,
    /// What was checked, for the log.
    pub summary: String,
}

impl LabCheck {
    /// No problem was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn read_source(lab: &LabOnDisk, path: &Path) -> Result<Submission, String> {
    let name = path
        .strip_prefix(&lab.dir)
        .unwrap_or(path)
        .display()
        .to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: cannot be read ({e})"))?;
    Ok(Submission {
        file_name: name,
        bytes,
    })
}

/// Checks lab `id` under `labs_dir`, grading its reference and starter with `env`.
pub fn check_lab(labs_dir: &Path, id: &str, env: &GradeEnv<'_>) -> LabCheck {
    let mut check = LabCheck {
        id: id.to_string(),
        problems: Vec::new(),
        summary: String::new(),
    };
    let lab = match LabOnDisk::load(labs_dir, id) {
        Ok(l) => l,
        Err(e) => {
            check.problems.push(e);
            return check;
        }
    };
    if !lab.dir.join("tests/hidden.toml").is_file() {
        check.problems.push("tests/hidden.toml is missing".into());
    } else if lab.hidden.is_empty() {
        check
            .problems
            .push("tests/hidden.toml holds no test".into());
    }
    if let Err(e) = secret_markers_of(&lab) {
        check.problems.push(e);
    }
    let mut scores = Vec::new();
    for (what, path) in [
        ("reference", lab.solution_path()),
        ("starter", lab.starter_path()),
    ] {
        let sub = match read_source(&lab, &path) {
            Ok(s) => s,
            Err(e) => {
                check.problems.push(e);
                continue;
            }
        };
        let report = match grade(&lab, &sub, env) {
            Ok(r) => r,
            Err(e) => {
                check.problems.push(format!(
                    "grading the {what} failed on the grader's side: {e}"
                ));
                continue;
            }
        };
        let (score, max) = (report.score(), report.max_score());
        scores.push(format!("{what} {score}/{max}"));
        if what == "reference" {
            for t in report.tests.iter().filter(|t| !t.passed) {
                check.problems.push(format!(
                    "{}: the reference fails test {:?}: {}",
                    sub.file_name, t.name, t.output
                ));
            }
            if max <= 0.0 {
                check
                    .problems
                    .push("the lab's tests are worth no points".into());
            }
        } else if round2(score) >= max {
            check.problems.push(format!(
                "{}: the starter gets full marks ({score}/{max}); it must get less",
                sub.file_name
            ));
        }
    }
    check.summary = format!(
        "{} visible and {} hidden tests; {}",
        lab.visible.len(),
        lab.hidden.len(),
        scores.join(", ")
    );
    check
}
