//! The learning-switch lab tells one wrong behaviour from another: a switch with an
//! off-by-one ageing loses only the ageing traces, one that breaks priority ties the
//! wrong way loses only flow traces, and each message names the first frame that differs.

use std::path::Path;

use assignments::native::component::{grade, BuildEnv};
use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::TestOutcome;

fn grade_visible(source: &str) -> Vec<TestOutcome> {
    let lab = LabOnDisk::load(&default_labs_dir(), "learning-switch").expect("lab loads");
    let env = BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("switch-grading"));
    let tests: Vec<_> = lab.visible.iter().collect();
    grade(&lab, source.as_bytes(), &tests, &env)
        .expect("the grader works")
        .outcomes
}

fn solution_with(from: &str, to: &str) -> String {
    let lab = LabOnDisk::load(&default_labs_dir(), "learning-switch").expect("lab loads");
    let text = std::fs::read_to_string(lab.solution_path()).expect("solution");
    assert!(text.contains(from), "the solution has {from:?}");
    text.replace(from, to)
}

fn passed(outcomes: &[TestOutcome]) -> Vec<(String, bool)> {
    outcomes
        .iter()
        .map(|o| (o.name.split(':').next().unwrap_or("").to_string(), o.passed))
        .collect()
}

#[test]
fn an_ageing_off_by_one_fails_only_the_ageing_traces() {
    let out = grade_visible(&solution_with(
        "now.saturating_sub(seen) < self.ageing",
        "now.saturating_sub(seen) <= self.ageing",
    ));
    assert_eq!(
        passed(&out),
        [
            ("hub".into(), true),
            ("learn".into(), true),
            ("age".into(), false),
            ("flows".into(), true)
        ]
    );
    let age = &out[2];
    assert!(
        age.message
            .contains("age: an entry is valid for exactly `ageing` ticks: frame 4 (at 19 on port 2, 02:00:00:00:00:13 > 02:00:00:00:00:12 type 0x0800 ICMP): expected ports 0,1, got 1"),
        "{}",
        age.message
    );
    assert!(age.score > 0.0 && age.score < age.max_score, "{age:?}");
}

#[test]
fn a_reversed_priority_tie_fails_only_flow_traces() {
    let out = grade_visible(&solution_with(
        "r.priority > self.rules[b].0.priority",
        "r.priority >= self.rules[b].0.priority",
    ));
    assert_eq!(
        passed(&out),
        [
            ("hub".into(), true),
            ("learn".into(), true),
            ("age".into(), true),
            ("flows".into(), false)
        ]
    );
    assert!(
        out[3]
            .message
            .contains("flows: the higher priority wins, then the older rule: frame 1"),
        "{}",
        out[3].message
    );
}
