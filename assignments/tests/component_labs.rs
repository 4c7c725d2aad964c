//! Component labs graded end to end: the reference solutions score full marks, the
//! starters less, and broken submissions get the scores and messages they deserve.

use std::path::Path;

use assignments::native::component::{grade as grade_graded, BuildEnv};
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

fn grade(
    lab: &LabOnDisk,
    source: &[u8],
    tests: &[&assignments::spec::TestSpec],
    env: &BuildEnv,
) -> Vec<TestOutcome> {
    grade_graded(lab, source, tests, env)
        .expect("the grader works")
        .outcomes
}

fn total(outcomes: &[TestOutcome]) -> (f64, f64) {
    (
        outcomes.iter().map(|o| o.score).sum(),
        outcomes.iter().map(|o| o.max_score).sum(),
    )
}

#[test]
fn references_score_full_marks_and_starters_less() {
    for id in [
        "shift-rotate",
        "shadow-fill",
        "learning-switch",
        "jvm-bytecodes",
        "gc-mark",
    ] {
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

/// The shadow-fill lab's reference agrees with the core's VMM: its guest page walk
/// (true faults, error codes, A/D updates) and its shadow entries.
#[test]
fn the_shadow_fill_reference_agrees_with_the_cores_vmm() {
    use assignments::component::shadow::{cases, FillResult, ShadowFill};
    use assignments::component::CaseSelect;
    use assignments::native::reference::shadow_fill::Submission;
    use emulator_core::mmu::walk;
    use emulator_core::mmu::PagingRegs;
    use emulator_core::state::{cr0, cr4};
    use emulator_core::vmm::guest::{access, PhysMem};
    use emulator_core::vmm::shadow::shadow_entry;
    use emulator_core::Exception;
    use std::collections::HashMap;

    struct Mem(HashMap<u32, u8>);
    impl PhysMem for Mem {
        fn read_u8(&mut self, phys: u32) -> u8 {
            self.0.get(&phys).copied().unwrap_or(0)
        }
        fn write_u8(&mut self, phys: u32, value: u8) {
            self.0.insert(phys, value);
        }
    }

    const CR3: u32 = 0x0000_1000;
    let select = CaseSelect {
        edge: true,
        random: 20_000,
        seed: 0x5eed,
        ..CaseSelect::default()
    };
    let mut compared = 0;
    for c in cases(&select) {
        let pde_at = CR3 + (c.linear >> 22) * 4;
        let pte_at = (c.pde & 0xffff_f000) + ((c.linear >> 12) & 0x3ff) * 4;
        if pte_at & !3 == pde_at & !3 {
            continue; // the table would overlap the directory entry
        }
        let mut mem = Mem(HashMap::new());
        mem.write_u32(pde_at, c.pde);
        mem.write_u32(pte_at, c.pte);
        let regs = PagingRegs {
            cr0: cr0::PE | cr0::PG | if c.wp { cr0::WP } else { 0 },
            cr3: CR3,
            cr4: if c.pse { cr4::PSE } else { 0 },
        };
        let acc = if c.write { access::WRITE } else { 0 } | if c.user { access::USER } else { 0 };
        let core = walk(&mut mem, regs, c.linear, acc);
        let mut case = c;
        case.host_base = 0;
        let want = Submission.fill(&case);
        match (core, want) {
            (
                Err(Exception::PageFault { error_code, .. }),
                FillResult::TrueFault { error_code: e },
            ) => {
                assert_eq!(error_code, e, "{}", case.describe());
            }
            (
                Ok(m),
                FillResult::Fill {
                    shadow_pte,
                    guest_pde,
                    guest_pte,
                },
            ) => {
                assert_eq!(
                    shadow_entry(&m, acc, c.wp),
                    shadow_pte,
                    "shadow PTE: {}",
                    case.describe()
                );
                assert_eq!(
                    mem.read_u32(pde_at),
                    guest_pde,
                    "guest PDE: {}",
                    case.describe()
                );
                if !case.large() {
                    assert_eq!(
                        mem.read_u32(pte_at),
                        guest_pte,
                        "guest PTE: {}",
                        case.describe()
                    );
                }
            }
            (core, want) => panic!(
                "{}: the core gives {core:?}, the reference {want:?}",
                case.describe()
            ),
        }
        compared += 1;
    }
    assert!(compared > 20_000, "{compared} cases compared");
}

/// The shift-rotate reference with `code` run first in `exec`.
fn reference_with(code: &str) -> Vec<u8> {
    let lab = lab("shift-rotate");
    let solution = std::fs::read_to_string(lab.solution_path()).expect("solution");
    let head = "-> (u32, u32) {";
    let at = solution.find(head).expect("exec") + head.len();
    format!("{}\n{code}\n{}", &solution[..at], &solution[at..]).into_bytes()
}

#[test]
fn printing_to_standard_output_costs_nothing_and_is_shown_apart() {
    let lab = lab("shift-rotate");
    let src = reference_with("println!(\"debug: {op:?} {value:#x}\");");
    let outcomes = grade(&lab, &src, &[&lab.visible[0]], &env());
    let o = &outcomes[0];
    assert!(o.passed && o.score == o.max_score, "{o:?}");
    assert!(o.message.contains("standard output"), "{}", o.message);
    assert!(o.message.contains("debug: Rol"), "{}", o.message);
}

#[test]
fn a_case_that_hangs_costs_that_case_alone() {
    let mut lab = lab("shift-rotate");
    lab.manifest.grading.run_seconds = 10;
    let src = reference_with(
        "if op == ShiftOp::Rol && size == 8 && value == 1 && count == 1 && eflags == 2 { loop { std::hint::spin_loop() } }",
    );
    let tests: Vec<_> = lab.visible.iter().take(2).collect();
    let outcomes = grade(&lab, &src, &tests, &env());
    let rol = &outcomes[0];
    let cases = 3 * 6 * 13 * 2;
    assert!(!rol.passed);
    assert_eq!(
        rol.score,
        assignments::native::round2(rol.max_score * (cases - 1) as f64 / cases as f64),
        "{}",
        rol.message
    );
    assert!(rol
        .message
        .contains(&format!("{} of {cases} cases right", cases - 1)));
    assert!(
        rol.message.contains("no answer within 2 s"),
        "{}",
        rol.message
    );
    assert!(outcomes[1].passed, "{:?}", outcomes[1]);
}
