//! `check_lab` on the labs as shipped and on copies broken on purpose: every way a lab
//! can be unfit to grade is found and named.

mod common;

use common::copy_tree;
use std::path::{Path, PathBuf};

use assignments::core_machine::{CoreFactory, VmlabAssembler};
use assignments::native::check::{check_lab, LabCheck};
use assignments::native::component::BuildEnv;
use assignments::native::{default_labs_dir, GradeEnv};

fn check(labs: &Path, id: &str) -> LabCheck {
    let asm = VmlabAssembler::default();
    let env = GradeEnv {
        factory: &CoreFactory,
        asm: &asm,
        component: BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-lab")),
    };
    check_lab(labs, id, &env)
}

/// A fresh copy of lab `id` alone in a labs folder named `name`.
fn copy_of(id: &str, name: &str) -> PathBuf {
    let labs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&labs);
    copy_tree(&default_labs_dir().join(id), &labs.join(id));
    labs
}

fn assert_fails_with(c: &LabCheck, needle: &str) {
    assert!(!c.ok(), "the check passed: {}", c.summary);
    assert!(
        c.problems.iter().any(|p| p.contains(needle)),
        "no problem mentions {needle:?}: {:?}",
        c.problems
    );
}

#[test]
fn the_shipped_guest_lab_passes() {
    let c = check(&default_labs_dir(), "asm-warmup");
    assert!(c.ok(), "{:?}", c.problems);
    assert!(c.summary.contains("reference 28/28"), "{}", c.summary);
}

#[test]
fn a_broken_reference_fails_the_check() {
    let labs = copy_of("asm-warmup", "check-broken-solution");
    let dir = labs.join("asm-warmup");
    let marker = "; reference solution: asm-warmup (vmlab lab 1)\n";
    let starter = std::fs::read_to_string(dir.join("starter.asm")).expect("starter");
    std::fs::write(dir.join("solution.asm"), format!("{marker}{starter}")).expect("write");
    assert_fails_with(
        &check(&labs, "asm-warmup"),
        "solution.asm: the reference fails test",
    );
}

#[test]
fn a_missing_reference_or_hidden_tests_fail_the_check() {
    let labs = copy_of("asm-warmup", "check-missing");
    let dir = labs.join("asm-warmup");
    std::fs::remove_file(dir.join("solution.asm")).expect("rm");
    std::fs::remove_file(dir.join("tests/hidden.toml")).expect("rm");
    let c = check(&labs, "asm-warmup");
    assert_fails_with(&c, "solution.asm: cannot be read");
    assert_fails_with(&c, "tests/hidden.toml is missing");
    // Paths are named from the lab folder, not the grading machine's root.
    assert!(
        c.problems
            .iter()
            .all(|p| !p.contains(&labs.display().to_string())),
        "{:?}",
        c.problems
    );
}

#[test]
fn a_starter_with_full_marks_fails_the_check() {
    let labs = copy_of("asm-warmup", "check-starter");
    let dir = labs.join("asm-warmup");
    std::fs::copy(dir.join("solution.asm"), dir.join("starter.asm")).expect("copy");
    assert_fails_with(&check(&labs, "asm-warmup"), "the starter gets full marks");
}

#[test]
fn an_unknown_component_is_refused() {
    let labs = copy_of("shift-rotate", "check-component");
    let manifest = labs.join("shift-rotate/lab.toml");
    let text = std::fs::read_to_string(&manifest).expect("lab.toml");
    std::fs::write(
        &manifest,
        text.replace(
            "component = \"shift-rotate\"",
            "component = \"bit-twiddle\"",
        ),
    )
    .expect("write");
    assert_fails_with(
        &check(&labs, "shift-rotate"),
        "unknown component \"bit-twiddle\"",
    );
}
