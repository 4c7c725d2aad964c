//! The balloon-driver lab graded end to end on the multi-VM host: the reference gets
//! full marks, the starter less, and drivers with the classic mistakes lose the tests
//! that catch them, with messages that name the mistake.

use std::path::Path;

use assignments::core_machine::{CoreFactory, VmlabAssembler};
use assignments::native::check::check_lab;
use assignments::native::component::BuildEnv;
use assignments::native::{default_labs_dir, grade, GradeEnv, GradeReport, LabOnDisk, Submission};

fn env_in<R>(f: impl FnOnce(&GradeEnv<'_>) -> R) -> R {
    let asm = VmlabAssembler::default();
    let env = GradeEnv {
        factory: &CoreFactory,
        asm: &asm,
        component: BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("balloon-lab")),
    };
    f(&env)
}

fn lab() -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), "balloon-driver").expect("lab loads")
}

fn grade_source(source: &str) -> GradeReport {
    let sub = Submission {
        file_name: "driver.asm".into(),
        bytes: source.as_bytes().to_vec(),
    };
    env_in(|env| grade(&lab(), &sub, env)).expect("the grader works")
}

/// The reference driver as a student would write it: the framework, then the driver's text.
fn driver_with(from: &str, to: &str) -> String {
    let driver = vmlab_host::guest::DRIVER_INC;
    assert!(driver.contains(from), "the driver has no {from:?}");
    format!(
        "%include \"balloon_guest.inc\"\n{}",
        driver.replacen(from, to, 1)
    )
}

fn output<'a>(r: &'a GradeReport, name_start: &str) -> &'a str {
    &r.tests
        .iter()
        .find(|t| t.name.starts_with(name_start))
        .expect("the test exists")
        .output
}

#[test]
fn check_lab_gives_the_reference_full_marks_and_the_starter_less() {
    let c = env_in(|env| check_lab(&default_labs_dir(), "balloon-driver", env));
    assert!(c.ok(), "{:?}", c.problems);
    assert!(c.summary.contains("reference 15/15"), "{}", c.summary);
    assert!(c.summary.contains("starter 1/15"), "{}", c.summary);
}

#[test]
fn the_drivers_text_written_out_gets_full_marks() {
    let started = std::time::Instant::now();
    let r = grade_source(&driver_with("", ""));
    eprintln!("graded in {:?}", started.elapsed());
    assert_eq!(r.score(), r.max_score(), "{:?}", r.tests);
}

#[test]
fn including_vmlabs_own_driver_is_refused() {
    let r = grade_source("%include \"balloon_guest.inc\"\n%include \"balloon_driver.inc\"\n");
    assert_eq!(r.score(), 0.0);
    assert!(
        output(&r, "inflate to 200").contains("write `balloon_step` yourself"),
        "{}",
        output(&r, "inflate to 200")
    );
}

#[test]
fn a_driver_that_keeps_the_cache_on_given_pages_is_caught_writing_them() {
    // The cache is never told to give up its top pages: it fills pages the host reclaimed.
    let r = grade_source(&driver_with("    mov [fill_top], edx", "    nop"));
    let out = output(&r, "the balloon grows into the page cache");
    assert!(
        out.contains("after giving it to the balloon") || out.contains("above the balloon's page"),
        "{out}"
    );
    assert!(output(&r, "inflate to 200").contains("passed"));
    assert!(r.score() < r.max_score());
}

#[test]
fn a_driver_that_gives_the_cache_first_loses_its_data_or_writes_given_pages() {
    // Inflating from the bottom of the region takes pages the cache holds and uses.
    let r = grade_source(&driver_with(
        "    neg edx\n    add edx, REGION_END\n    cmp edx, REGION_START",
        "    sub edx, 4096\n    add edx, REGION_START\n    cmp edx, REGION_START",
    ));
    let out = output(&r, "inflate to 200");
    assert!(
        out.contains("lost its contents")
            || out.contains("after giving it to the balloon")
            || out.contains("above the balloon's page"),
        "{out}"
    );
    // The guest rewrites its working set every round: the host sees the write.
    let out = output(&r, "hidden: the guest keeps writing");
    assert!(
        out.contains("the guest wrote page 0x") && out.contains("after giving it to the balloon"),
        "{out}"
    );
    assert!(r.score() < r.max_score());
}

#[test]
fn a_driver_that_never_deflates_misses_the_lower_targets() {
    let r = grade_source(&driver_with("    jb .deflate", "    jb .done"));
    let out = output(&r, "inflate to 200");
    assert!(
        out.contains(
            "step 2 (target 0 pages): the host holds 200 pages of the balloon; expected 0"
        ),
        "{out}"
    );
    assert!(output(&r, "target 0").contains("passed"));
}

#[test]
fn a_driver_that_forgets_its_count_is_told_the_count_disagrees() {
    let r = grade_source(&driver_with("    inc dword [balloon]", "    nop"));
    assert!(
        r.tests
            .iter()
            .any(|t| t.output.contains("`balloon` count says")
                || t.output.contains("the host holds")),
        "{:?}",
        r.tests
    );
    assert!(r.score() < r.max_score());
}

#[test]
fn a_test_file_with_a_workload_out_of_range_is_a_test_error_not_a_panic() {
    let lab = lab();
    let file = assignments::spec::TestFile::parse(
        "huge.toml",
        "[[test]]\nname = \"huge\"\nmode = \"hw-assist\"\nballoon = { steps = [{ target = 1, ms = 1 }], shared_pages = 4294967295, private_pages = 9 }\n\n[[test]]\nname = \"long\"\nmode = \"hw-assist\"\nballoon = { steps = [{ target = 1, ms = 4294967295 }, { target = 1, ms = 9 }] }\n\n[[test]]\nname = \"bare\"\nballoon = { steps = [{ target = 1, ms = 1 }] }\n",
    )
    .expect("parses");
    let source = std::fs::read(lab.solution_path()).expect("solution");
    for t in &file.tests {
        let run = t.balloon.as_ref().expect("a balloon test");
        let out = assignments::balloon_test::run_test(&lab.manifest, run, &source, t);
        assert!(!out.passed);
        assert!(out.message.starts_with("test error:"), "{}", out.message);
    }
}
