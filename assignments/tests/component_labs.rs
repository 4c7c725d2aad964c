//! Component labs graded end to end: the reference solutions score full marks, the
//! starters less, and broken submissions get the scores and messages they deserve.

use std::path::Path;

use assignments::native::component::{grade, BuildEnv};
use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::TestOutcome;

fn env() -> BuildEnv {
    BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-grading"))
}

fn lab(id: &str) -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), id).expect("lab loads")
}

fn grade_source(lab: &LabOnDisk, source: &[u8]) -> Vec<TestOutcome> {
    let tests: Vec<_> = lab.visible.iter().chain(&lab.hidden).collect();
    grade(lab, source, &tests, &env())
}

fn total(outcomes: &[TestOutcome]) -> (f64, f64) {
    (
        outcomes.iter().map(|o| o.score).sum(),
        outcomes.iter().map(|o| o.max_score).sum(),
    )
}

#[test]
fn references_score_full_marks_and_starters_less() {
    for id in ["shift-rotate", "shadow-fill"] {
        let lab = lab(id);
        let solution = std::fs::read(lab.solution_path()).expect("solution");
        let outcomes = grade_source(&lab, &solution);
        for o in &outcomes {
            assert!(
                o.passed,
                "{id}: reference fails {:?}: {}",
                o.name, o.message
            );
        }
        let (score, max) = total(&outcomes);
        assert!(max > 0.0 && score == max, "{id}: {score}/{max}");

        let starter = std::fs::read(lab.starter_path()).expect("starter");
        let outcomes = grade_source(&lab, &starter);
        let (score, max) = total(&outcomes);
        assert!(score < max, "{id}: the starter scores {score}/{max}");
        assert!(outcomes
            .iter()
            .any(|o| !o.passed && o.message.contains("differ from the reference")));
    }
}

#[test]
fn a_submission_that_does_not_compile_scores_zero_with_the_compiler_errors() {
    let lab = lab("shift-rotate");
    let src = b"use assignments::component::shift::*;\npub struct Submission;\nimpl ShiftRotate for Submission {\n    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {\n        (value, undefined_name)\n    }\n}\n";
    let outcomes = grade_source(&lab, src);
    assert_eq!(total(&outcomes).0, 0.0);
    let msg = &outcomes[0].message;
    assert!(msg.contains("does not compile"), "{msg}");
    assert!(msg.contains("undefined_name"), "{msg}");
    assert!(msg.contains("submission.rs:5"), "{msg}");
}

#[test]
fn empty_garbage_and_huge_submissions_are_refused_with_a_reason() {
    let lab = lab("shadow-fill");
    let empty = grade_source(&lab, b"");
    assert!(empty
        .iter()
        .all(|o| o.score == 0.0 && o.message.contains("empty")));
    let garbage = grade_source(&lab, &[0xff, 0xfe, 0x00, 0x13, 0x37]);
    assert!(garbage
        .iter()
        .all(|o| o.score == 0.0 && o.message.contains("not Rust source")));
    let huge = vec![b'/'; lab.manifest.grading.max_submission_bytes + 1];
    let huge = grade_source(&lab, &huge);
    assert!(huge
        .iter()
        .all(|o| o.score == 0.0 && o.message.contains("at most")));
}

#[test]
fn an_endless_loop_is_stopped_by_the_time_limit() {
    let mut lab = lab("shift-rotate");
    lab.manifest.grading.run_seconds = 2;
    let src = b"use assignments::component::shift::*;\npub struct Submission;\nimpl ShiftRotate for Submission {\n    fn exec(&self, _op: ShiftOp, _size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {\n        if count == 0 { return (value, eflags); }\n        loop { std::hint::spin_loop(); }\n    }\n}\n";
    let started = std::time::Instant::now();
    let outcomes = grade(&lab, src, &[&lab.visible[0]], &env());
    assert!(started.elapsed().as_secs() < 60);
    let o = &outcomes[0];
    assert!(!o.passed);
    assert!(o.message.contains("stopped after 2 s"), "{}", o.message);
}

#[test]
fn panics_answer_only_their_case_and_wrong_answers_earn_partial_credit() {
    let lab = lab("shift-rotate");
    // Right for count 0 (flags and value unchanged), a panic for SAR, wrong otherwise.
    let src = b"use assignments::component::shift::*;\npub struct Submission;\nimpl ShiftRotate for Submission {\n    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {\n        let v = value & if size == 32 { u32::MAX } else { (1 << size) - 1 };\n        if count & 31 == 0 { return (v, eflags); }\n        if op == ShiftOp::Sar { panic!(\"no SAR yet\"); }\n        (v ^ 1, eflags)\n    }\n}\n";
    let outcomes = grade(&lab, src, &lab.visible.iter().collect::<Vec<_>>(), &env());
    let sar = outcomes
        .iter()
        .find(|o| o.name.starts_with("sar"))
        .expect("sar test");
    assert!(sar.message.contains("panic: no SAR yet"), "{}", sar.message);
    let shl = outcomes
        .iter()
        .find(|o| o.name.starts_with("shl"))
        .expect("shl test");
    assert!(shl.score > 0.0 && shl.score < shl.max_score, "{shl:?}");
    assert!(shl.message.contains("expected result"), "{}", shl.message);
}
