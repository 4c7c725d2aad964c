//! The precopy-stop lab: the reference stays within every scenario's limits and is
//! never worse than Xen's rules, the starter and a never-stopping policy fail some,
//! answers that are malformed or out of range are named, and the native grader gives
//! the reference full marks, the starter less and hostile submissions a valid result.

use std::path::Path;

use assignments::component::precopy_cases::{answer, Decision, RoundsCase};
use assignments::component::stop_policy::{RoundStatus, StopPolicy, StopRule, XenPolicy};
use assignments::component::CaseSelect;
use assignments::native::component::{grade, BuildEnv};
use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::precopy_lab::{cases, Policy, Scenario, SCENARIOS};
use assignments::TestOutcome;

fn lab() -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), "precopy-stop").expect("lab loads")
}

fn all() -> Vec<Scenario> {
    cases(&CaseSelect::default()).expect("scenarios")
}

/// Never stops: the backstop ends its rounds.
#[derive(Clone)]
struct Never;

impl StopPolicy for Never {
    fn stop(&mut self, _: &RoundStatus<'_>) -> Option<StopRule> {
        None
    }
}

#[test]
fn the_reference_is_within_every_limit_and_never_worse_than_xen() {
    let scenarios = all();
    assert_eq!(scenarios.len(), SCENARIOS.len());
    let mut better = 0;
    for s in &scenarios {
        let (f, verdict) = s
            .figures(&Policy::Reference.decide(&s.case).to_line())
            .expect("the reference's migration runs");
        assert_eq!(verdict, Ok(()), "{}", s.spec.name);
        assert_eq!(f, s.reference, "{}: the same run twice", s.spec.name);
        assert!(
            f.downtime_us <= s.xen.downtime_us,
            "{}: {f:?} vs {:?}",
            s.spec.name,
            s.xen
        );
        assert!(
            f.bytes <= s.xen.bytes,
            "{}: {f:?} vs {:?}",
            s.spec.name,
            s.xen
        );
        if f.bytes < s.xen.bytes {
            better += 1;
        }
        // round 0 sends all memory; the downtime beats sending all memory at once
        assert_eq!(s.case.rounds[0].sent, u64::from(s.spec.ram_mib) * 256);
        let all_memory_us = (u64::from(s.spec.ram_mib) << 20) * 1_000_000 / s.spec.bandwidth;
        assert!(
            f.downtime_us < all_memory_us + s.spec.latency_us,
            "{}",
            s.spec.name
        );
    }
    // where the guest outruns the link, stopping early saves bytes Xen sends again
    assert!(better >= 3, "the reference beats Xen on {better} scenarios");
}

#[test]
fn the_starter_and_a_policy_that_never_stops_fail_some_limits_with_the_figures() {
    let scenarios = all();
    let failed = scenarios
        .iter()
        .filter_map(|s| s.judge(&Policy::Starter.decide(&s.case).to_line()).err())
        .collect::<Vec<_>>();
    assert!(
        failed.len() >= 2 && failed.len() < scenarios.len(),
        "{failed:#?}"
    );
    assert!(
        failed.iter().any(|m| m.contains("over the downtime limit")
            && m.contains("moderate-1g")
            && m.contains("the reference: 2 rounds")),
        "{failed:#?}"
    );
    let diabolical = scenarios
        .iter()
        .find(|s| s.spec.name == "diabolical-1g")
        .expect("scenario");
    let never = answer(&diabolical.to_line(), &Never).expect("answers");
    assert_eq!(never, "continue");
    let (f, verdict) = diabolical.figures(&never).expect("runs");
    assert_eq!(f.rule, StopRule::MaxSent, "the backstop stops it");
    let msg = verdict.expect_err("over the bytes limit");
    assert!(msg.contains("over the bytes sent limit"), "{msg}");
    // Xen's rules themselves pass where the reference's figures are theirs
    let idle = &scenarios[0];
    assert_eq!(
        idle.judge(&Policy::Xen.decide(&idle.case).to_line()),
        Ok(())
    );
}

#[test]
fn case_lines_and_answers_round_trip_and_bad_answers_are_named() {
    let s = all()
        .into_iter()
        .find(|s| s.spec.name == "moderate-1g")
        .expect("scenario");
    let parsed = RoundsCase::parse(&s.to_line()).expect("parses");
    assert_eq!(parsed, s.case);
    assert_eq!(
        parsed.decide(&mut XenPolicy::default()),
        Decision::Stop(s.xen.rounds, StopRule::Converged)
    );
    for (bad, why) in [
        ("stop 0 converged", "stopped after round 0"),
        ("stop 999 converged", "stopped after round 999"),
        ("stop 2 sideways", "unknown stop rule"),
        ("go on", "malformed answer"),
        ("", "malformed answer"),
    ] {
        let e = s.judge(bad).expect_err(bad);
        assert!(e.contains(why) && e.contains("moderate-1g"), "{bad}: {e}");
    }
    assert!(RoundsCase::parse("x 1 2 3").is_err());
    assert!(RoundsCase::parse("x 1 2 3 4 5 6 1:a:3").is_err());
    assert!(cases(&CaseSelect {
        select: vec!["nowhere".into()],
        ..Default::default()
    })
    .is_err());
}

fn grade_source(source: &[u8]) -> Vec<TestOutcome> {
    let lab = lab();
    let tests: Vec<_> = lab.visible.iter().chain(&lab.hidden).collect();
    let env = BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-grading"));
    grade(&lab, source, &tests, &env)
        .expect("the grader works")
        .outcomes
}

fn total(o: &[TestOutcome]) -> (f64, f64) {
    (
        o.iter().map(|o| o.score).sum(),
        o.iter().map(|o| o.max_score).sum(),
    )
}

#[test]
fn natively_the_reference_scores_full_marks_the_starter_less_and_hostile_code_is_contained() {
    let lab = lab();
    let reference = grade_source(&std::fs::read(lab.solution_path()).expect("solution"));
    let (score, max) = total(&reference);
    assert!(max > 0.0 && score == max, "{reference:#?}");

    let starter = grade_source(&std::fs::read(lab.starter_path()).expect("starter"));
    let (score, max) = total(&starter);
    assert!(score > 0.0 && score < max, "{starter:#?}");
    assert!(starter
        .iter()
        .any(|o| o.message.contains("over the downtime limit")));

    let hostile = br#"
use assignments::component::stop_policy::{RoundStatus, StopPolicy, StopRule};
#[derive(Clone)]
pub struct Submission;
impl StopPolicy for Submission {
    fn stop(&mut self, s: &RoundStatus<'_>) -> Option<StopRule> {
        if s.memory_pages == 1024 && s.bandwidth == 125_000_000 && s.latency_us == 100 {
            if s.history[0].dirtied < 50 { panic!("no idle guests here") }
            if s.history[0].dirtied > 300 { loop { std::hint::black_box(0u64); } }
            let v: Vec<u8> = vec![1; 8 << 30];
            return if v[12345] == 1 { None } else { Some(StopRule::Converged) };
        }
        Some(StopRule::Converged)
    }
}
"#;
    let outcomes = grade_source(hostile);
    assert_eq!(outcomes.len(), reference.len());
    let text: String = outcomes.iter().map(|o| o.message.clone()).collect();
    assert!(text.contains("panic: no idle guests here"), "{text}");
    assert!(text.contains("no answer within"), "{text}");
    let (score, max) = total(&outcomes);
    assert!(score < max, "{outcomes:#?}");
}

#[test]
fn a_policy_cannot_read_the_rounds_ahead_of_the_one_it_is_asked_about() {
    // The case line carries every round; `history` shows the policy only those so far.
    // Reading past it takes `unsafe`, which submissions may not use.
    let peeking = br#"
use assignments::component::stop_policy::{RoundStatus, StopPolicy, StopRule};
#[derive(Clone)]
pub struct Submission;
impl StopPolicy for Submission {
    fn stop(&mut self, s: &RoundStatus<'_>) -> Option<StopRule> {
        let all = unsafe { std::slice::from_raw_parts(s.history.as_ptr(), s.history.len() + 1) };
        (all[s.history.len()].dirtied < 50).then_some(StopRule::Converged)
    }
}
"#;
    let outcomes = grade_source(peeking);
    assert!(!outcomes.is_empty());
    assert!(outcomes.iter().all(|o| o.score == 0.0), "{outcomes:#?}");
    let text: String = outcomes.iter().map(|o| o.message.clone()).collect();
    assert!(text.contains("unsafe"), "{text}");
}
