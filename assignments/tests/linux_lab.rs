//! The guest lab whose program runs under the process VM (`container-or-vm`): graded
//! as a process, in a container and as a unikernel; the reference's verdict as a
//! process is the one real Linux gives under qemu-i386.

use std::path::Path;

use assignments::core_machine::{CoreFactory, VmlabAssembler};
use assignments::native::component::BuildEnv;
use assignments::native::{default_labs_dir, grade, GradeEnv, GradeReport, LabOnDisk, Submission};

fn lab() -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), "container-or-vm").expect("lab loads")
}

fn grade_source(source: &str) -> GradeReport {
    let asm = VmlabAssembler::default();
    let env = GradeEnv {
        factory: &CoreFactory,
        asm: &asm,
        component: BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("linux-lab")),
    };
    let sub = Submission {
        file_name: "where.asm".into(),
        bytes: source.as_bytes().to_vec(),
    };
    grade(&lab(), &sub, &env).expect("the grader works")
}

fn verdicts(r: &GradeReport) -> Vec<(String, bool)> {
    r.tests.iter().map(|t| (t.name.clone(), t.passed)).collect()
}

#[test]
fn the_reference_passes_every_way_and_the_starter_only_the_process() {
    let l = lab();
    let r = grade_source(&std::fs::read_to_string(l.solution_path()).expect("solution"));
    assert_eq!(r.score(), r.max_score(), "{:?}", r.tests);
    assert_eq!(r.tests.len(), l.visible.len() + l.hidden.len());
    let r = grade_source(&std::fs::read_to_string(l.starter_path()).expect("starter"));
    let specs = l.visible.iter().chain(&l.hidden);
    for ((name, passed), spec) in verdicts(&r).into_iter().zip(specs) {
        let says_process = spec.expect.serial.as_deref() == Some("process\n");
        assert_eq!(passed, says_process, "{name}");
    }
    let failed = r.tests.iter().find(|t| !t.passed).expect("a failure");
    assert!(
        failed
            .output
            .contains("expected \"container\\n\", got \"process\\n\""),
        "{}",
        failed.output
    );
}

#[test]
fn a_verdict_by_host_name_fails_the_hidden_settings() {
    // Checks the host name for "container" instead of the pid: wrong where it matters.
    let l = lab();
    let src = std::fs::read_to_string(l.solution_path())
        .expect("solution")
        .replace("cmp eax, 1", "cmp eax, eax");
    let r = grade_source(&src);
    assert!(r.score() < r.max_score());
    let process_tests: Vec<_> = r
        .tests
        .iter()
        .filter(|t| t.name.contains("process"))
        .collect();
    assert!(!process_tests.is_empty());
    assert!(process_tests.iter().any(|t| !t.passed), "{:?}", r.tests);
}

#[test]
fn the_reference_says_process_on_real_linux() {
    let l = lab();
    let src = std::fs::read_to_string(l.solution_path()).expect("solution");
    let elf = vmlab_asm::assemble("where.asm", &src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("container-or-vm-where");
    std::fs::write(&path, &elf).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let q = std::process::Command::new("qemu-i386")
        .arg(&path)
        .output()
        .expect("qemu-i386 runs (cargo xtask test installs qemu-user)");
    let ours = vmlab_procvm::Process::load(&elf, vmlab_procvm::ProcessConfig::default())
        .expect("loads")
        .run();
    assert_eq!(String::from_utf8_lossy(&q.stdout), "process\n");
    assert_eq!(ours.stdout, q.stdout);
    assert_eq!(Some(ours.exit.status()), q.status.code());
}
