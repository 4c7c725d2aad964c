//! One grading result, three platforms' result files: Gradescope's `results.json`,
//! PrairieLearn's external-grader `results.json` and the JSON GitHub Classroom's
//! autograding reporter reads. `docs/grading-platforms.md` says which field is what.

use assignments::native::{round2, GradeReport, GradedTest};
use assignments::Visibility;
use serde_json::{json, Value};

/// The result file's platform (`vmlab grade --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Gradescope's autograder `results.json`.
    Gradescope,
    /// PrairieLearn's external grader `results.json`.
    Prairielearn,
    /// GitHub Classroom: the result its autograding reporter reads (base64 it into a
    /// step output).
    Github,
}

/// `report` in `format`'s shape. `graded` is false when the grader itself failed:
/// PrairieLearn then does not count the attempt, GitHub shows an error.
pub fn render(report: &GradeReport, format: Format, graded: bool) -> Value {
    match format {
        Format::Gradescope => gradescope(report),
        Format::Prairielearn => prairielearn(report, graded),
        Format::Github => github(report, graded),
    }
}

/// Gradescope's `results.json` (the autograder specification's format): hidden
/// tests carry their visibility, and Gradescope hides them.
pub fn gradescope(report: &GradeReport) -> Value {
    let tests: Vec<Value> = report
        .tests
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "name": t.name,
                "number": format!("{}", i + 1),
                "score": t.score,
                "max_score": t.max_score,
                "status": if t.passed { "passed" } else { "failed" },
                "output": t.output,
                "visibility": t.visibility.name(),
            })
        })
        .collect();
    json!({
        "score": report.score(),
        "execution_time": report.execution_time,
        "output": report.output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// A test as a platform without hidden tests shows it: a visible test as it is, a
/// hidden one by number only, with its points and no detail.
fn shown(t: &GradedTest, hidden_number: usize) -> (String, String) {
    if t.visibility == Visibility::Visible {
        (t.name.clone(), t.output.clone())
    } else {
        (
            format!("hidden test {hidden_number}"),
            if t.passed { "passed" } else { "failed" }.to_string(),
        )
    }
}

/// Each test with the name and output it may show.
fn shown_tests(report: &GradeReport) -> Vec<(&GradedTest, String, String)> {
    let mut hidden = 0;
    report
        .tests
        .iter()
        .map(|t| {
            if t.visibility != Visibility::Visible {
                hidden += 1;
            }
            let (name, output) = shown(t, hidden);
            (t, name, output)
        })
        .collect()
}

/// PrairieLearn's external-grader `results.json`: `score` in 0–1, tests with
/// `points` and `max_points`. PrairieLearn shows every test at once, so hidden
/// tests appear by number only.
pub fn prairielearn(report: &GradeReport, graded: bool) -> Value {
    let max = report.max_score();
    let tests: Vec<Value> = shown_tests(report)
        .into_iter()
        .map(|(t, name, output)| {
            json!({
                "name": name,
                "points": t.score,
                "max_points": t.max_score,
                "message": if t.passed { "passed" } else { "failed" },
                "output": output,
            })
        })
        .collect();
    let mut v = json!({
        "gradable": graded,
        "message": report.output,
        "output": report.output,
        "tests": tests,
    });
    if graded {
        v["score"] = json!(if max > 0.0 {
            round2(report.score() / max * 100.0) / 100.0
        } else {
            0.0
        });
    } else {
        v["format_errors"] = json!([report.output]);
    }
    v
}

/// GitHub Classroom's autograding result (`version` 1): the reporter sums the tests'
/// `score` against `max_score`. The run logs are public to the student, so hidden
/// tests appear by number only.
pub fn github(report: &GradeReport, graded: bool) -> Value {
    let tests: Vec<Value> = shown_tests(report)
        .into_iter()
        .map(|(t, name, output)| {
            json!({
                "name": name,
                "status": if !graded { "error" } else if t.passed { "pass" } else { "fail" },
                "message": output,
                "score": t.score,
                "line_no": 0,
                "filename": "",
                "test_code": "",
            })
        })
        .collect();
    let status = if !graded {
        "error"
    } else if report.tests.iter().all(|t| t.passed) {
        "pass"
    } else {
        "fail"
    };
    json!({
        "version": 1,
        "status": status,
        "max_score": report.max_score(),
        "tests": tests,
    })
}
