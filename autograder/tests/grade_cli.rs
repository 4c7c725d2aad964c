//! `vmlab grade`, `vmlab labs` and `vmlab gradescope-bundle` as a TA runs them:
//! results.json is always written and always has Gradescope's shape.

use std::path::{Path, PathBuf};
use std::process::Command;

fn vmlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
}

fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assignments/labs")
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Runs `vmlab grade` and returns its exit code and the parsed results.json.
fn grade(lab: &str, submission: &Path, labs: &Path, out_dir: &Path) -> (i32, serde_json::Value) {
    let log = out_dir.join("staff.log");
    let (code, json, _) = grade_with(vmlab(), lab, submission, labs, out_dir, &log);
    (code, json)
}

/// Runs `vmlab grade` as `cmd`: its exit code, results.json and standard error.
fn grade_with(
    mut cmd: Command,
    lab: &str,
    submission: &Path,
    labs: &Path,
    out_dir: &Path,
    staff_log: &Path,
) -> (i32, serde_json::Value, String) {
    let out = out_dir.join("results.json");
    let status = cmd
        .args(["grade", "--lab", lab, "--labs-dir"])
        .arg(labs)
        .arg("--submission")
        .arg(submission)
        .arg("--out")
        .arg(&out)
        .arg("--work-dir")
        .arg(out_dir.join("work"))
        .arg("--staff-log")
        .arg(staff_log)
        .output()
        .expect("vmlab runs");
    let text = std::fs::read_to_string(&out).expect("results.json is written");
    let json = serde_json::from_str(&text).expect("results.json is JSON");
    check_schema(&json);
    (
        status.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&status.stderr).into_owned(),
    )
}

/// What a student reads about a grader failure: one plain sentence, no command line,
/// no path of the grading machine.
fn assert_plain_grader_failure(j: &serde_json::Value) {
    let texts = std::iter::once(&j["output"]).chain(
        j["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| &t["output"]),
    );
    for t in texts {
        let t = t.as_str().expect("text");
        assert!(t.contains("problem on the grading machine"), "{t}");
        assert!(!t.contains('/') && !t.contains("cargo"), "{t}");
    }
}

/// Gradescope's results.json: a numeric score, and tests with name, score,
/// max_score, status and visibility from the allowed sets.
fn check_schema(j: &serde_json::Value) {
    let score = j["score"].as_f64().expect("score is a number");
    assert!(j["execution_time"].as_f64().is_some());
    assert!(j["output"].is_string());
    let tests = j["tests"].as_array().expect("tests is an array");
    let mut sum = 0.0;
    for t in tests {
        assert!(t["name"].as_str().is_some_and(|n| !n.is_empty()));
        let s = t["score"].as_f64().expect("test score");
        let m = t["max_score"].as_f64().expect("test max_score");
        assert!((0.0..=m).contains(&s), "{t}");
        assert!(matches!(t["status"].as_str(), Some("passed" | "failed")));
        assert!(matches!(
            t["visibility"].as_str(),
            Some("visible" | "hidden" | "after_due_date" | "after_published")
        ));
        assert!(t["output"].is_string());
        sum += s;
    }
    assert!((sum - score).abs() < 0.01, "score {score} is the sum {sum}");
}

#[test]
fn grading_the_reference_gives_full_marks_and_hides_hidden_tests_until_the_due_date() {
    let dir = scratch("cli-reference");
    let sub = labs_dir().join("asm-warmup/solution.asm");
    let (code, j) = grade("asm-warmup", &sub, &labs_dir(), &dir);
    assert_eq!(code, 0);
    let tests = j["tests"].as_array().expect("tests");
    let max: f64 = tests.iter().filter_map(|t| t["max_score"].as_f64()).sum();
    assert_eq!(j["score"].as_f64(), Some(max));
    assert!(tests.iter().any(|t| t["visibility"] == "visible"));
    assert!(tests.iter().any(|t| t["visibility"] == "after_due_date"));
    assert!(tests.iter().all(|t| t["status"] == "passed"));
}

#[test]
fn a_folder_submission_is_found_by_its_extension() {
    let dir = scratch("cli-folder");
    let sub = dir.join("submission");
    std::fs::create_dir_all(&sub).expect("dir");
    std::fs::copy(
        labs_dir().join("asm-warmup/starter.asm"),
        sub.join("mine.asm"),
    )
    .expect("copy");
    std::fs::write(sub.join("README.txt"), "not graded").expect("write");
    let (code, j) = grade("asm-warmup", &sub, &labs_dir(), &dir);
    assert_eq!(code, 0);
    assert!(j["score"].as_f64().is_some_and(|s| s > 0.0));
    std::fs::write(sub.join("other.asm"), "hlt").expect("write");
    let (_, j) = grade("asm-warmup", &sub, &labs_dir(), &dir);
    assert_eq!(j["score"].as_f64(), Some(0.0));
    assert!(j["tests"][0]["output"]
        .as_str()
        .is_some_and(|o| o.contains("several candidate files")));
    let empty = dir.join("nothing");
    std::fs::create_dir_all(&empty).expect("dir");
    let (_, j) = grade("asm-warmup", &empty, &labs_dir(), &dir);
    assert!(j["tests"][0]["output"]
        .as_str()
        .is_some_and(|o| o.contains("no submission file")));
}

#[test]
fn an_unknown_lab_or_a_broken_manifest_still_writes_valid_results() {
    let dir = scratch("cli-broken");
    let sub = labs_dir().join("asm-warmup/solution.asm");
    let (code, j, staff) = grade_with(
        vmlab(),
        "no-such-lab",
        &sub,
        &labs_dir(),
        &dir,
        &dir.join("staff.log"),
    );
    assert_eq!(code, 2);
    assert_plain_grader_failure(&j);
    assert!(staff.contains("no lab called"), "{staff}");
    assert_eq!(j["score"].as_f64(), Some(0.0));
    assert!(
        j["score"].as_f64().is_some_and(|s| s.is_sign_positive()),
        "a score of -0 reads oddly in results.json: {}",
        j["score"]
    );

    let labs = dir.join("labs");
    std::fs::create_dir_all(labs.join("broken/tests")).expect("dir");
    std::fs::write(
        labs.join("broken/lab.toml"),
        "id = \"broken\"\ntitle = 3\n[[[",
    )
    .expect("write");
    std::fs::write(labs.join("broken/tests/visible.toml"), "").expect("write");
    let (code, j, staff) = grade_with(vmlab(), "broken", &sub, &labs, &dir, &dir.join("staff.log"));
    assert_eq!(code, 2);
    assert_plain_grader_failure(&j);
    assert!(staff.contains("lab.toml"), "{staff}");

    let missing = dir.join("does-not-exist.asm");
    let (code, j) = grade("asm-warmup", &missing, &labs_dir(), &dir);
    assert_eq!(code, 0);
    assert_eq!(j["score"].as_f64(), Some(0.0));
}

#[test]
fn vmlab_labs_lists_every_lab() {
    let out = vmlab()
        .args(["labs", "--json", "--labs-dir"])
        .arg(labs_dir())
        .output()
        .expect("runs");
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = j
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    for id in [
        "asm-warmup",
        "page-tables",
        "interrupts",
        "red-pill",
        "paravirt",
        "shadow-fill",
        "shift-rotate",
        "learning-switch",
        "jvm-bytecodes",
        "gc-mark",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[test]
fn the_gradescope_bundle_has_setup_and_run_autograder() {
    let dir = scratch("cli-bundle");
    let zip = dir.join("asm-warmup.zip");
    let out = vmlab()
        .args(["gradescope-bundle", "--lab", "asm-warmup", "--out"])
        .arg(&zip)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(&zip).expect("zip written")).expect("a zip");
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let mode = archive
        .by_name("setup.sh")
        .expect("setup.sh")
        .unix_mode()
        .unwrap_or(0);
    assert_ne!(mode & 0o111, 0, "setup.sh is executable: {mode:o}");
    let names = names.join("\n");
    for f in [
        "setup.sh",
        "run_autograder",
        "lab-id",
        "bin/vmlab",
        "labs/asm-warmup/tests/hidden.toml",
        "vmlab/Cargo.lock",
    ] {
        assert!(names.contains(f), "{f} missing from the bundle");
    }
    // The folder form, then the autograder run as Gradescope runs it, on a submission.
    let folder = dir.join("bundle");
    let out = vmlab()
        .args(["gradescope-bundle", "--lab", "asm-warmup", "--out"])
        .arg(&folder)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let run = std::fs::read_to_string(folder.join("run_autograder")).expect("run_autograder");
    assert!(run.contains("--submission /autograder/submission"));
    assert!(run.contains("/autograder/results/results.json"));
    assert_eq!(
        std::fs::read_to_string(folder.join("lab-id")).expect("lab-id"),
        "asm-warmup"
    );
    let (code, j) = grade(
        "asm-warmup",
        &labs_dir().join("asm-warmup/solution.asm"),
        &folder.join("labs"),
        &dir,
    );
    assert_eq!(code, 0);
    assert!(j["score"].as_f64().is_some_and(|s| s > 0.0));
    // The bundle holds a copy of vmlab: do not leave it behind.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_component_lab_grades_with_a_relative_work_dir() {
    let dir = scratch("cli-component");
    let out = vmlab()
        .current_dir(&dir)
        .args([
            "grade",
            "--lab",
            "shadow-fill",
            "--work-dir",
            "work",
            "--out",
            "results.json",
            "--labs-dir",
        ])
        .arg(labs_dir())
        .arg("--submission")
        .arg(labs_dir().join("shadow-fill/solution.rs"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).expect("written"))
            .expect("json");
    check_schema(&j);
    let max: f64 = j["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["max_score"].as_f64())
        .sum();
    assert_eq!(j["score"].as_f64(), Some(max), "{j}");
}

#[test]
fn a_broken_toolchain_is_a_grader_error_told_plainly_and_logged_for_staff() {
    let dir = scratch("cli-broken-cargo");
    let log = dir.join("staff.log");
    let mut cmd = vmlab();
    cmd.env("CARGO", dir.join("no-such-cargo"));
    let sub = labs_dir().join("shift-rotate/solution.rs");
    let (code, j, staff) = grade_with(cmd, "shift-rotate", &sub, &labs_dir(), &dir, &log);
    assert_eq!(code, 2, "{staff}");
    assert_eq!(j["score"].as_f64(), Some(0.0));
    assert_plain_grader_failure(&j);
    assert!(staff.contains("no-such-cargo"), "{staff}");
    let logged = std::fs::read_to_string(&log).expect("the staff log is written");
    assert!(logged.contains("no-such-cargo"), "{logged}");
}

#[test]
fn check_lab_passes_on_every_shipped_lab() {
    let dir = scratch("cli-check-all");
    let out = vmlab()
        .args(["check-lab", "--all", "--labs-dir"])
        .arg(labs_dir())
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let labs = std::fs::read_dir(labs_dir())
        .expect("labs dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().join("lab.toml").is_file())
        })
        .count();
    assert!(labs >= 8, "{labs} lab folders");
    assert_eq!(err.matches(": ok (").count(), labs, "{err}");
}

#[test]
fn the_bundle_refuses_a_lab_without_its_reference_and_setup_checks_the_lab() {
    let dir = scratch("cli-bundle-refuses");
    let labs = dir.join("labs");
    let lab = labs.join("asm-warmup");
    std::fs::create_dir_all(lab.join("tests")).expect("mkdir");
    for f in [
        "lab.toml",
        "statement.md",
        "starter.asm",
        "tests/visible.toml",
        "tests/hidden.toml",
    ] {
        std::fs::copy(labs_dir().join("asm-warmup").join(f), lab.join(f)).expect("copy");
    }
    let bundle = || {
        vmlab()
            .args(["gradescope-bundle", "--lab", "asm-warmup", "--labs-dir"])
            .arg(&labs)
            .arg("--out")
            .arg(dir.join("bundle"))
            .output()
            .expect("runs")
    };
    let out = bundle();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("solution.asm: cannot be read"), "{err}");
    assert!(!dir.join("bundle").exists());

    std::fs::copy(
        labs_dir().join("asm-warmup/solution.asm"),
        lab.join("solution.asm"),
    )
    .expect("copy");
    let out = bundle();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let setup = std::fs::read_to_string(dir.join("bundle/setup.sh")).expect("setup.sh");
    assert!(setup.contains("set -euo pipefail"));
    assert!(setup.contains("./bin/vmlab check-lab"), "{setup}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_summary_students_see_before_the_due_date_counts_visible_tests_only() {
    let dir = scratch("cli-hidden-totals");
    let sub = labs_dir().join("asm-warmup/starter.asm");
    let (code, j) = grade("asm-warmup", &sub, &labs_dir(), &dir);
    assert_eq!(code, 0);
    let tests = j["tests"].as_array().expect("tests");
    let visible: Vec<_> = tests
        .iter()
        .filter(|t| t["visibility"] == "visible")
        .collect();
    let hidden = tests.len() - visible.len();
    assert!(hidden > 0);
    let passed = visible.iter().filter(|t| t["status"] == "passed").count();
    let score: f64 = visible.iter().filter_map(|t| t["score"].as_f64()).sum();
    let max: f64 = visible.iter().filter_map(|t| t["max_score"].as_f64()).sum();
    let all_max: f64 = tests.iter().filter_map(|t| t["max_score"].as_f64()).sum();
    let output = j["output"].as_str().expect("output");
    assert!(
        output.contains(&format!(
            "{passed} of {} visible tests passed, {score} of {max} points",
            visible.len()
        )),
        "{output}"
    );
    assert!(
        !output.contains(&format!("of {} tests", tests.len())),
        "{output}"
    );
    assert!(
        !output.contains(&format!("of {all_max} points")),
        "{output}"
    );
}

/// Runs `vmlab grade --format FORMAT` on the asm-warmup starter (or with a broken
/// lab folder when `broken`): its exit code and JSON.
fn grade_as(format: &str, dir: &Path, broken: bool) -> (i32, serde_json::Value) {
    let out_file = dir.join(format!("{format}.json"));
    let labs = if broken {
        dir.join("no-labs")
    } else {
        labs_dir()
    };
    let out = vmlab()
        .args([
            "grade",
            "--lab",
            "asm-warmup",
            "--format",
            format,
            "--labs-dir",
        ])
        .arg(labs)
        .arg("--submission")
        .arg(labs_dir().join("asm-warmup/starter.asm"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("runs");
    let text = std::fs::read_to_string(&out_file).expect("written");
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&text).expect("JSON"),
    )
}

/// Only `allowed` keys, and the ones in `required` present.
fn check_keys(v: &serde_json::Value, allowed: &[&str], required: &[&str]) {
    let m = v.as_object().expect("an object");
    for k in m.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "unexpected field {k:?} in {v}"
        );
    }
    for k in required {
        assert!(m.contains_key(*k), "missing field {k:?} in {v}");
    }
}

fn hidden_names() -> Vec<String> {
    let text =
        std::fs::read_to_string(labs_dir().join("asm-warmup/tests/hidden.toml")).expect("hidden");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_string())
        .collect()
}

/// PrairieLearn's external grader results (docs/externalGrading.md of PrairieLearn):
/// `gradable`, `score` in [0, 1], `message`, `output`, `tests[]` with `name`,
/// `description`, `points`, `max_points`, `message`, `output`, `images`.
#[test]
fn prairielearn_results_have_its_documented_fields() {
    let dir = scratch("cli-prairielearn");
    let (code, j) = grade_as("prairielearn", &dir, false);
    assert_eq!(code, 0);
    check_keys(
        &j,
        &[
            "gradable",
            "score",
            "message",
            "output",
            "images",
            "tests",
            "format_errors",
        ],
        &["gradable", "score"],
    );
    assert_eq!(j["gradable"], true);
    let tests = j["tests"].as_array().expect("tests");
    let (mut points, mut max) = (0.0, 0.0);
    for t in tests {
        check_keys(
            t,
            &[
                "name",
                "description",
                "points",
                "max_points",
                "message",
                "output",
                "images",
            ],
            &["name", "points", "max_points"],
        );
        let p = t["points"].as_f64().expect("points");
        let m = t["max_points"].as_f64().expect("max_points");
        assert!((0.0..=m).contains(&p), "{t}");
        points += p;
        max += m;
    }
    let score = j["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score));
    assert!(
        score > 0.0 && score < 1.0,
        "the starter earns part: {score}"
    );
    assert!(
        (score - points / max).abs() < 0.01,
        "{score} vs {points}/{max}"
    );
    let text = j.to_string();
    for name in hidden_names() {
        assert!(!text.contains(&name), "hidden test {name:?} is shown");
    }
    let (code, j) = grade_as("prairielearn", &dir, true);
    assert_eq!(code, 2);
    assert_eq!(j["gradable"], false);
    assert!(j.get("score").is_none());
}

/// GitHub Classroom's autograding reporter reads `status` (`pass`/`fail`/`error`),
/// `max_score` and `tests[]` with `name`, `status`, `message` and `score`.
#[test]
fn github_classroom_results_have_the_reporters_fields() {
    let dir = scratch("cli-github");
    let (code, j) = grade_as("github", &dir, false);
    assert_eq!(code, 0);
    check_keys(
        &j,
        &["version", "status", "max_score", "tests"],
        &["version", "status", "max_score", "tests"],
    );
    assert_eq!(j["version"], 1);
    assert_eq!(j["status"], "fail", "the starter fails some tests");
    let tests = j["tests"].as_array().expect("tests");
    let mut total = 0.0;
    for t in tests {
        check_keys(
            t,
            &[
                "name",
                "status",
                "message",
                "score",
                "line_no",
                "filename",
                "test_code",
                "duration",
            ],
            &["name", "status", "message", "score"],
        );
        assert!(matches!(t["status"].as_str(), Some("pass" | "fail")), "{t}");
        total += t["score"].as_f64().expect("score");
    }
    let max = j["max_score"].as_f64().expect("max_score");
    assert!(total > 0.0 && total < max, "{total}/{max}");
    let text = j.to_string();
    for name in hidden_names() {
        assert!(!text.contains(&name), "hidden test {name:?} is shown");
    }
    let (code, j) = grade_as("github", &dir, true);
    assert_eq!(code, 2);
    assert_eq!(j["status"], "error");
}

/// Grades the asm-warmup class in `class` at `--jobs 2`: the CSV and the summary.
fn grade_class(dir: &Path, class: &Path) -> (String, String) {
    let csv = dir.join("results.csv");
    let out = vmlab()
        .args(["grade", "--lab", "asm-warmup", "--jobs", "2", "--labs-dir"])
        .arg(labs_dir())
        .arg("--submissions")
        .arg(class)
        .arg("--out")
        .arg(&csv)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (std::fs::read_to_string(&csv).expect("results.csv"), err)
}

#[test]
fn a_whole_class_is_graded_into_one_csv_with_a_histogram() {
    let dir = scratch("cli-batch");
    let class = dir.join("class");
    std::fs::create_dir_all(class.join("erin")).expect("mkdir");
    let lab = labs_dir().join("asm-warmup");
    std::fs::copy(lab.join("solution.asm"), class.join("alice.asm")).expect("copy");
    std::fs::copy(lab.join("starter.asm"), class.join("bob, jr.asm")).expect("copy");
    std::fs::write(class.join("dave.asm"), "").expect("write");
    std::fs::create_dir_all(class.join("carol/lab1")).expect("mkdir");
    std::fs::copy(lab.join("solution.asm"), class.join("carol/lab1/mine.asm")).expect("copy");
    let (text, err) = grade_class(&dir, &class);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "a header and one row per student:\n{text}");
    let header = lines[0];
    assert!(
        header.starts_with("student,status,score,max_score,"),
        "{header}"
    );
    assert!(
        header.contains("\"strlen(\"\"hello\"\") = 5\""),
        "names are quoted: {header}"
    );
    let row = |who: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("no row for {who}:\n{text}"))
            .to_string()
    };
    assert!(
        row("alice.asm,graded,28,28,").ends_with(",1"),
        "{}",
        row("alice")
    );
    assert!(row("\"bob, jr.asm\",graded,8,28,").contains(",0,"));
    assert!(row("carol,graded,28,28").len() > 20);
    assert!(row("dave.asm,graded,0,28").len() > 20);
    assert!(row("erin,graded,0,28").len() > 20);
    assert!(
        err.contains(
            "5 submissions: 5 graded, 0 grader errors, 0 grader crashes; mean 12.8, median 8 of 28"
        ),
        "{err}"
    );
    assert!(err.contains(" 90–100%     2 "), "{err}");
}

/// 200 generated submissions (right, wrong, empty, binary garbage, oversized, two
/// candidates, nested, zipped) at `--jobs 2`: 200 rows, none lost.
#[test]
fn two_hundred_generated_submissions_give_two_hundred_rows() {
    let dir = scratch("cli-batch-200");
    let class = dir.join("class");
    std::fs::create_dir_all(&class).expect("mkdir");
    let lab = labs_dir().join("asm-warmup");
    let solution = std::fs::read(lab.join("solution.asm")).expect("solution");
    let starter = std::fs::read(lab.join("starter.asm")).expect("starter");
    for i in 0..200 {
        let who = class.join(format!("student{i:03}"));
        match i % 8 {
            0 => std::fs::write(who.with_extension("asm"), &solution),
            1 => std::fs::write(who.with_extension("asm"), &starter),
            2 => std::fs::write(who.with_extension("asm"), b""),
            3 => std::fs::write(
                who.with_extension("bin"),
                [0xcd, 0x03, 0xff, 0xfe, 0x0f, 0x0b],
            ),
            4 => std::fs::write(who.with_extension("asm"), vec![b';'; 1 << 20]),
            5 => std::fs::create_dir_all(&who)
                .and_then(|()| std::fs::write(who.join("a.asm"), b"hlt"))
                .and_then(|()| std::fs::write(who.join("b.asm"), b"hlt")),
            6 => std::fs::create_dir_all(who.join("deep/er"))
                .and_then(|()| std::fs::write(who.join("deep/er/x.asm"), &solution)),
            _ => std::fs::write(who.with_extension("asm"), b"times 100000000 db 0x90\n"),
        }
        .expect("write");
    }
    let (text, err) = grade_class(&dir, &class);
    assert_eq!(text.lines().count(), 201, "{err}");
    let full = text
        .lines()
        .filter(|l| l.contains(",graded,28,28,"))
        .count();
    assert_eq!(
        full, 50,
        "the 25 solutions and 25 nested solutions get full marks"
    );
    assert!(err.contains("200 submissions: 200 graded"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The PrairieLearn bundle: a Docker build context whose entrypoint, run as
/// PrairieLearn runs it (here on a `/grade` laid out in a scratch folder), writes
/// PrairieLearn's results.
#[test]
fn the_prairielearn_bundle_grades_what_prairielearn_mounts() {
    let dir = scratch("cli-pl-bundle");
    let bundle = dir.join("bundle");
    let out = vmlab()
        .args(["prairielearn-bundle", "--lab", "asm-warmup", "--out"])
        .arg(&bundle)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docker = std::fs::read_to_string(bundle.join("Dockerfile")).expect("Dockerfile");
    assert!(docker.contains("COPY . /vmlab-grader") && docker.contains("setup.sh"));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("info.json")).expect("info"))
            .expect("json");
    assert_eq!(
        info["externalGradingOptions"]["entrypoint"],
        "/vmlab-grader/entrypoint"
    );
    let grade = dir.join("grade");
    std::fs::create_dir_all(grade.join("student")).expect("mkdir");
    std::fs::copy(
        labs_dir().join("asm-warmup/solution.asm"),
        grade.join("student/answer.asm"),
    )
    .expect("copy");
    let st = Command::new(bundle.join("entrypoint"))
        .env("GRADE", &grade)
        .output()
        .expect("the entrypoint runs");
    assert!(st.status.success());
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(grade.join("results/results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(results["gradable"], true);
    assert_eq!(results["score"].as_f64(), Some(1.0), "{results}");
    let zip = vmlab()
        .args(["prairielearn-bundle", "--lab", "asm-warmup", "--out"])
        .arg(dir.join("x.zip"))
        .output()
        .expect("runs");
    assert!(!zip.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
