//! Guest labs graded end to end on the core with vmlab's assembler: every reference
//! solution scores full marks, every starter less, and wrong or malformed
//! submissions get partial or zero scores with messages that say what went wrong.

use std::path::Path;
use std::time::Instant;

use assignments::core_machine::{CoreFactory, VmlabAssembler};
use assignments::native::component::BuildEnv;
use assignments::native::{
    default_labs_dir, grade, list, GradeEnv, GradeReport, LabOnDisk, Submission,
};
use assignments::LabKind;

fn grade_bytes(lab: &LabOnDisk, file_name: &str, bytes: &[u8]) -> GradeReport {
    let asm = VmlabAssembler::default();
    let env = GradeEnv {
        factory: &CoreFactory,
        asm: &asm,
        component: BuildEnv::under(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-grading")),
    };
    let sub = Submission {
        file_name: file_name.into(),
        bytes: bytes.to_vec(),
    };
    grade(lab, &sub, &env).expect("the grader works")
}

fn lab(id: &str) -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), id).expect("lab loads")
}

fn failures(r: &GradeReport) -> String {
    r.tests
        .iter()
        .filter(|t| !t.passed)
        .map(|t| format!("{}: {}", t.name, t.output))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Labs whose tests need the VMM modes of the core.
fn needs_vmm(lab: &LabOnDisk) -> bool {
    lab.visible
        .iter()
        .chain(&lab.hidden)
        .any(|t| t.mode != emulator_core::ExecMode::Bare)
}

/// Whether the core's machine runs a VMM in `trap-emulate` mode (it reports exits).
fn vmm_available() -> bool {
    use assignments::target::MachineFactory;
    let cfg = emulator_core::MachineConfig {
        mode: emulator_core::ExecMode::TRAP_EMULATE,
        ..emulator_core::MachineConfig::default()
    };
    CoreFactory
        .create(cfg)
        .is_ok_and(|m| m.sensitive_reports().is_some())
}

#[test]
fn every_reference_scores_full_marks_and_every_starter_less() {
    for lab in list(&default_labs_dir())
        .into_iter()
        .map(|l| l.expect("lab loads"))
    {
        if lab.manifest.kind != LabKind::Guest {
            continue;
        }
        let id = &lab.manifest.id;
        let solution = std::fs::read(lab.solution_path()).expect("solution");
        let started = Instant::now();
        let r = grade_bytes(&lab, "solution.asm", &solution);
        let took = started.elapsed();
        assert!(r.max_score() > 0.0);
        if needs_vmm(&lab) && !vmm_available() {
            // Until the core runs its VMM, only the bare-machine tests can pass.
            eprintln!("{id}: the machine runs no VMM: checking the bare-machine tests only");
            let all: Vec<_> = lab.visible.iter().chain(&lab.hidden).collect();
            for (t, spec) in r.tests.iter().zip(all) {
                if spec.mode == emulator_core::ExecMode::Bare {
                    assert!(t.passed, "{id}: reference fails {}: {}", t.name, t.output);
                }
            }
        } else {
            assert_eq!(
                r.score(),
                r.max_score(),
                "{id}: reference fails:\n{}",
                failures(&r)
            );
        }
        // Under a second per submission (optimized; unoptimized test builds get 3 s,
        // and 15 s for labs whose tests run the submission as a VM of the host).
        let on_host = lab
            .visible
            .iter()
            .chain(&lab.hidden)
            .any(|t| t.balloon.is_some());
        let limit = match (cfg!(debug_assertions), on_host) {
            (true, true) => 15.0,
            (true, false) => 3.0,
            (false, _) => 1.0,
        };
        assert!(took.as_secs_f64() < limit, "{id}: grading took {took:?}");
        let starter = std::fs::read(lab.starter_path()).expect("starter");
        let r = grade_bytes(&lab, "starter.asm", &starter);
        assert!(
            r.score() < r.max_score(),
            "{id}: the starter scores full marks"
        );
        assert!(r.tests.iter().all(|t| t.passed || !t.output.is_empty()));
    }
}

const WARMUP_TABLE: &str =
    "org 0x10000\nbits 32\ntable: dd strlen, reverse, adler32, itoa, puts, gcd\n";

fn warmup_with(body: &str) -> GradeReport {
    let src = format!("{WARMUP_TABLE}{body}");
    grade_bytes(&lab("asm-warmup"), "mine.asm", src.as_bytes())
}

fn output_of<'a>(r: &'a GradeReport, name_start: &str) -> &'a str {
    &r.tests
        .iter()
        .find(|t| t.name.starts_with(name_start))
        .unwrap_or_else(|| panic!("no test {name_start}"))
        .output
}

#[test]
fn a_partly_right_submission_earns_the_points_of_what_is_right() {
    let r = warmup_with(
        "strlen: xor eax, eax\n.l: cmp byte [esi+eax], 0\n je .d\n inc eax\n jmp .l\n.d: ret\n\
         reverse:\nadler32:\nitoa:\nputs:\ngcd: ret\n",
    );
    assert!(
        r.tests
            .iter()
            .filter(|t| t.name.contains("strlen"))
            .all(|t| t.passed),
        "{}",
        failures(&r)
    );
    assert!(
        r.score() > 0.0 && r.score() < r.max_score() / 2.0,
        "{}",
        r.score()
    );
    assert!(
        output_of(&r, "gcd(48, 18)").contains("eax: expected 0x00000006 (6), got 0x00000030 (48)")
    );
    assert!(output_of(&r, "reverse(\"abcde\")").contains("memory at 0x20000: expected"));
    assert!(output_of(&r, "puts(").contains("serial output differs at byte 0"));
}

#[test]
fn clobbered_registers_and_missing_returns_are_named() {
    let r = warmup_with(
        "strlen: mov ebx, 1\n xor eax, eax\n ret\nreverse:\nadler32:\nitoa:\nputs:\ngcd: hlt\n",
    );
    assert!(output_of(&r, "strlen(\"\")").is_empty() || r.tests[1].passed);
    assert!(
        output_of(&r, "strlen(\"hello\")").contains("ebx: expected 0xb0b0b0b0"),
        "{}",
        failures(&r)
    );
    assert!(output_of(&r, "gcd(48, 18)").contains("instead of returning to its caller"));
}

#[test]
fn source_that_does_not_assemble_scores_zero_with_the_line() {
    let r = warmup_with("strlen: mov eax,\nreverse: ret\nadler32:\nitoa:\nputs:\ngcd: ret\n");
    assert_eq!(r.score(), 0.0);
    let out = &r.tests[0].output;
    assert!(out.contains("does not assemble"), "{out}");
    assert!(out.contains("submission.asm:4"), "{out}");
}

#[test]
fn endless_loops_triple_faults_and_floods_are_stopped_and_explained() {
    let r = warmup_with("strlen: jmp strlen\nreverse:\nadler32:\nitoa:\ngcd: ret\nputs: mov dx, 0x3f8\n.l: out dx, al\n jmp .l\n");
    assert!(
        output_of(&r, "strlen(\"hello\")").contains("did not finish within 200000 instructions")
    );
    let flood = output_of(&r, "puts(");
    assert!(flood.contains("did not finish"), "{flood}");
    assert!(
        flood.len() < 2000,
        "the message stays short: {} bytes",
        flood.len()
    );
    let r = warmup_with("strlen: lidt [null_idt]\n int3\nreverse:\nadler32:\nitoa:\nputs:\ngcd: ret\nnull_idt: dw 0\n dd 0\n");
    let triple = output_of(&r, "strlen(\"hello\")");
    assert!(triple.contains("triple-faulted"), "{}", failures(&r));
    assert!(triple.contains("the last exceptions:"), "{triple}");
}

#[test]
fn empty_garbage_huge_and_binary_submissions_get_a_clear_zero() {
    let lab = lab("asm-warmup");
    let r = grade_bytes(&lab, "empty.asm", b"");
    assert_eq!(r.score(), 0.0);
    assert!(r.tests.iter().all(|t| t.output.contains("empty")));
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = grade_bytes(&lab, "garbage.asm", &garbage);
    assert_eq!(r.score(), 0.0);
    assert!(
        r.tests[0].output.contains("not assembly source"),
        "{}",
        r.tests[0].output
    );
    let huge = "; padding\n".repeat(40_000);
    let r = grade_bytes(&lab, "huge.asm", huge.as_bytes());
    assert!(
        r.tests[0].output.contains("at most"),
        "{}",
        r.tests[0].output
    );
    let r = grade_bytes(&lab, "whitespace.asm", b"  \n\t\n");
    assert!(r.tests[0].output.contains("no code"));
    let no_org = std::fs::read_to_string(lab.solution_path())
        .expect("solution")
        .replace("org 0x10000", "");
    let r = grade_bytes(&lab, "no-org.asm", no_org.as_bytes());
    assert_eq!(r.score(), 0.0);
    assert!(
        r.tests[0].output.contains("is `org 0x10000` missing?"),
        "{}",
        r.tests[0].output
    );
    // A flat binary whose routine table points nowhere.
    let r = grade_bytes(&lab, "garbage.bin", &garbage);
    assert_eq!(r.score(), 0.0);
    assert!(
        r.tests[0].output.contains("routine table entry 0"),
        "{}",
        r.tests[0].output
    );
    // The reference, assembled to a flat binary, is graded like its source.
    let image = VmlabAssembler::default()
        .assemble_file(&std::fs::read_to_string(lab.solution_path()).expect("solution"))
        .expect("assembles");
    let r = grade_bytes(&lab, "solution.bin", &image);
    assert_eq!(r.score(), r.max_score());
}

#[test]
fn page_tables_with_the_wrong_rights_are_reported_per_region() {
    let lab = lab("page-tables");
    let solution = std::fs::read_to_string(lab.solution_path()).expect("solution");
    // User pages mapped supervisor-only, and CR0.WP left clear.
    let wrong = solution
        .replace("add eax, 0x200007", "add eax, 0x200003")
        .replace("or eax, 0x80010000", "or eax, 0x80000000");
    let r = grade_bytes(&lab, "wrong.asm", wrong.as_bytes());
    assert!(r.score() > 0.0 && r.score() < r.max_score());
    let user = output_of(&r, "2 user pages");
    assert!(user.contains("expected user"), "{user}");
    assert!(output_of(&r, "paging is on").contains("cr0: expected bits"));
    assert!(r
        .tests
        .iter()
        .find(|t| t.name.starts_with("first 4 MiB"))
        .is_some_and(|t| t.passed));
}

fn solution_with(id: &str, from: &str, to: &str) -> GradeReport {
    let lab = lab(id);
    let solution = std::fs::read_to_string(lab.solution_path()).expect("solution");
    assert!(
        solution.contains(from),
        "{id}: {from:?} not in the solution"
    );
    let wrong = solution.replace(from, to);
    grade_bytes(&lab, "wrong.asm", wrong.as_bytes())
}

#[test]
fn a_page_fault_handler_that_leaves_the_error_code_on_the_stack_loses_the_later_steps() {
    let r = solution_with(
        "interrupts",
        "        popa\n        add esp, 4\n        iret",
        "        popa\n        iret",
    );
    assert!(
        r.score() > 0.0 && r.score() < r.max_score(),
        "{}",
        r.score()
    );
    assert!(r.tests[0].passed, "the #PF report itself is right");
    let back = output_of(&r, "the faulting write completes");
    assert!(back.contains("read back"), "{back}");
}

#[test]
fn a_system_call_gate_with_dpl_0_faults_from_ring_3_and_the_message_shows_it() {
    let r = solution_with("interrupts", "mov dx, 0xee00", "mov dx, 0x8e00");
    let syscall = output_of(&r, "a system call from ring 3");
    assert!(
        syscall.contains("general protection fault from ring 3, error 00000402"),
        "{syscall}"
    );
    assert!(r.tests[0].passed);
    assert!(r.score() < r.max_score());
}

#[test]
fn a_red_pill_that_always_says_vmm_fails_on_the_bare_machine() {
    let r = solution_with(
        "red-pill",
        "        test ebx, ebx\n        jz .say",
        "        jmp .say_vmm\n        test ebx, ebx\n        jz .say\n.say_vmm:",
    );
    let bare = output_of(&r, "bare machine: the verdict is bare");
    assert!(bare.contains("expected …\"verdict: bare\\n\""), "{bare}");
    assert!(r.score() < r.max_score());
}

#[test]
fn serial_input_debug_exit_and_absent_output_are_checked() {
    use assignments::harness::{prepare, run_all};
    use assignments::spec::TestFile;
    let lab = assignments::LabManifest::parse(
        "id = \"echo\"\ntitle = \"echo\"\norder = 99\nkind = \"guest\"\n[machine]\nbudget = 100000\n",
    )
    .expect("manifest");
    let tests = TestFile::parse(
        "echo tests",
        r#"
[[test]]
name = "echoes a line, then exits with 7"
serial_input = "hi\n"
[test.expect]
stop = "debug-exit"
exit_code = 7
serial = "hi"
serial_absent = ["\n"]

[[test]]
name = "waits forever without input"
[test.expect]
serial = ""
"#,
    )
    .expect("tests");
    let src = "org 0x10000\nbits 32\nread: mov dx, 0x3fd\n.w: in al, dx\n test al, 1\n jz .w\n mov dx, 0x3f8\n in al, dx\n cmp al, 10\n je done\n out dx, al\n jmp read\ndone: mov dx, 0xf4\n mov al, 7\n out dx, al\n cli\n hlt\n";
    let prepared = prepare(&lab, &VmlabAssembler::default(), src.as_bytes(), false);
    let out = run_all(&lab, &CoreFactory, &prepared, src.as_bytes(), &tests.tests);
    assert!(out[0].passed, "{}", out[0].message);
    assert!(!out[1].passed);
    assert!(
        out[1]
            .message
            .contains("did not finish within 100000 instructions"),
        "{}",
        out[1].message
    );
}

/// What the browser's "Run visible tests" button calls.
#[test]
fn the_browser_entry_point_runs_only_the_visible_tests() {
    let lab = lab("asm-warmup");
    let solution = std::fs::read_to_string(lab.solution_path()).expect("solution");
    let out = assignments::run_visible_tests("asm-warmup", &solution);
    assert_eq!(out.len(), lab.visible.len());
    assert!(out.iter().all(|o| o.passed), "{out:?}");
    assert!(out.iter().all(|o| !o.name.starts_with("hidden")));
    let starter = std::fs::read_to_string(lab.starter_path()).expect("starter");
    let out = assignments::run_visible_tests("asm-warmup", &starter);
    assert!(out.iter().any(|o| o.passed) && out.iter().any(|o| !o.passed));
    let out = assignments::run_visible_tests("shift-rotate", "pub struct Submission;");
    assert_eq!(out.len(), 1);
    assert!(
        out[0].message.contains("graded natively"),
        "{}",
        out[0].message
    );
    let out = assignments::run_visible_tests("no-such-lab", "hlt");
    assert!(
        out[0].message.contains("the labs are: "),
        "{}",
        out[0].message
    );
}

#[test]
fn the_virtio_lab_checks_which_sector_changed_and_what_it_holds() {
    let lab = lab("virtio-blk");
    let solution = std::fs::read_to_string(lab.solution_path()).expect("solution");
    // A driver that writes one sector too far, and one that writes what it never read.
    let off_by_one = solution.replacen(
        "        mov ebx, [dst]\n",
        "        mov ebx, [dst]\n        inc ebx\n",
        1,
    );
    let no_read = solution.replacen("        mov ecx, F_WRITE ", "        xor ecx, ecx ", 1);
    assert_ne!(off_by_one, solution);
    assert_ne!(no_read, solution);
    let r = grade_bytes(&lab, "solution.asm", off_by_one.as_bytes());
    let first = &r.tests[0];
    assert!(!first.passed);
    assert!(
        first
            .output
            .contains("disk: sectors changed: 10; expected 9"),
        "{}",
        first.output
    );
    let r = grade_bytes(&lab, "solution.asm", no_read.as_bytes());
    let first = &r.tests[0];
    assert!(
        !first.passed,
        "a read whose buffer the device may not write fails"
    );
    assert!(r.score() < r.max_score());
}

#[test]
fn a_spinlock_without_an_atomic_exchange_tears_lines_at_the_finest_quantum() {
    let r = solution_with(
        "smp-bringup",
        "    mov eax, 1\n    xchg eax, [console_lock]    ; atomic test-and-set\n    test eax, eax\n    jz .got\n",
        "    mov eax, [console_lock]\n    mov dword [console_lock], 1\n    test eax, eax\n    jz .got\n",
    );
    assert!(r.tests[0].passed, "one CPU cannot race");
    let fine = output_of(&r, "four CPUs, quantum 1");
    assert!(fine.contains("cpu"), "{fine}");
    assert!(r.score() < r.max_score(), "{}", failures(&r));
}
