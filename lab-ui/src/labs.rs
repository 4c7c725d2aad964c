//! The labs the browser offers: the catalog (visible parts only), the visible tests,
//! and the machine a lab's program runs on with a visible test's setup.

use assignments::catalog::visible_lab;
use assignments::core_machine::CoreMachine;
use assignments::spec::TestSpec;
use assignments::{harness, LabKind, LabManifest};
use emulator_core::{Machine, MachineConfig};
use serde::{Deserialize, Serialize};

use crate::components::labpage::LabEntry;
use crate::protocol::TestResult;
use crate::worker::session::Loaded;
use emulator_core::{ExecMode, FlatEntry};

/// Every lab with its statement and starter.
pub fn catalog() -> Vec<LabEntry> {
    assignments::catalog()
        .into_iter()
        .map(|l| LabEntry {
            id: l.id,
            title: l.title,
            statement_md: l.statement_md,
            starter: l.starter,
            guest: l.kind == LabKind::Guest,
        })
        .collect()
}

/// Runs a lab's visible tests on a submission.
pub fn run_visible_tests(lab: &str, source: &str) -> Vec<TestResult> {
    assignments::run_visible_tests(lab, source)
        .into_iter()
        .map(|t| TestResult {
            name: t.name,
            passed: t.passed,
            score: t.score,
            max_score: t.max_score,
            message: t.message,
        })
        .collect()
}

/// Where a lab's program starts: the lab's machine with the setup (registers,
/// memory, stack, routine call) of one of its visible tests. Plain Run uses the
/// first test's setup; "debug this test" uses the test's own.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LabSetup {
    /// The lab's id.
    pub lab: String,
    /// The visible test's index.
    pub test: usize,
}

/// The visible test plain Run starts from.
pub const DEFAULT_TEST: usize = 0;

fn lab_test(setup: &LabSetup) -> Result<(LabManifest, TestSpec), String> {
    let (lab, tests) = visible_lab(&setup.lab)?;
    let t = tests.tests.into_iter().nth(setup.test).ok_or_else(|| {
        format!(
            "lab {} has no visible test number {}",
            setup.lab,
            setup.test + 1
        )
    })?;
    Ok((lab, t))
}

/// Why a test's program does not load on the machine: it is a Linux program that the
/// process VM runs (Run visible tests does; the Linux panel shows it live).
fn linux_program(t: &TestSpec) -> Result<(), String> {
    match &t.linux {
        None => Ok(()),
        Some(run) => Err(format!(
            "This lab's program is a static i386 Linux ELF: Run visible tests runs it under the process VM (this test: as a {}); on the command line, vmlab asm and then vmlab run --linux PROG --compare run it the four ways.",
            run.way.name()
        )),
    }
}

/// What the worker loads for `image` under `setup`: the lab's load address and entry.
pub fn loaded(image: Vec<u8>, setup: LabSetup) -> Result<Loaded, String> {
    let (lab, t) = lab_test(&setup)?;
    linux_program(&t)?;
    Ok(Loaded {
        image,
        origin: lab.machine.load,
        entry: lab.machine.entry,
        setup: Some(setup),
        rom: false,
    })
}

/// A machine in `mode` with `image` loaded and the test's inputs placed, exactly as
/// the grader prepares that test.
pub fn build_machine(setup: &LabSetup, image: &[u8], mode: ExecMode) -> Result<Machine, String> {
    let (lab, t) = lab_test(setup)?;
    let cfg = MachineConfig {
        mode,
        ..harness::machine_config(&lab, &t)
    };
    let mut m = CoreMachine(Machine::new(cfg).map_err(|e| e.to_string())?, None);
    harness::set_up(&lab, &mut m, image, &t)?;
    Ok(m.0)
}

/// What "debug this test" needs to know of a visible test.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TestPlan {
    /// The mode the test runs in.
    pub mode: ExecMode,
    /// The first linear address whose translation the test checks (walked in the
    /// page-table panel).
    pub first_page: Option<u32>,
    /// The test's inputs, one line (`EBX = 00300000, ECX = 00000002`).
    pub setup: String,
}

/// The plan for visible test `test` of `lab`.
pub fn test_plan(lab: &str, test: usize) -> Result<TestPlan, String> {
    let setup = LabSetup {
        lab: lab.to_string(),
        test,
    };
    let (lab, t) = lab_test(&setup)?;
    linux_program(&t)?;
    let mode = t.mode;
    let mut parts: Vec<String> = Vec::new();
    if let Some(n) = t.call {
        parts.push(format!("calls routine {n}"));
    }
    parts.extend(
        t.regs
            .iter()
            .map(|(r, v)| format!("{} = {v:08x}", r.to_uppercase())),
    );
    if t.call.is_none() && lab.machine.entry == FlatEntry::Protected32 {
        parts.push(format!("ESP = {:08x}", harness::STACK_TOP));
    }
    parts.extend(t.mem.iter().map(|m| format!("memory at {:08x}", m.addr)));
    if !t.serial_input.is_empty() {
        parts.push(format!("serial input {:?}", t.serial_input));
    }
    Ok(TestPlan {
        mode,
        first_page: t.expect.pages.first().map(|p| p.linear),
        setup: parts.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator_core::{Gpr, StopReason};

    const PAGE_TABLES_SOLUTION: &str =
        include_str!("../../assignments/labs/page-tables/solution.asm");

    fn image(source: &str) -> Vec<u8> {
        crate::assemble::assemble("lab.asm", source)
            .expect("assembles")
            .image
    }

    #[test]
    fn a_test_setup_gives_the_registers_the_statement_promises() {
        let setup = LabSetup {
            lab: "page-tables".into(),
            test: DEFAULT_TEST,
        };
        let m =
            build_machine(&setup, &image(PAGE_TABLES_SOLUTION), ExecMode::Bare).expect("builds");
        let gpr = &m.cpu().gpr;
        assert_eq!(gpr[Gpr::Ebx as usize], 0x30_0000);
        assert_eq!(gpr[Gpr::Ecx as usize], 2);
        assert_eq!(gpr[Gpr::Esp as usize], harness::STACK_TOP);
        assert_eq!(m.cpu().eip, 0x10000);
    }

    #[test]
    fn a_passing_solution_runs_to_its_end_from_every_test_setup() {
        let img = image(PAGE_TABLES_SOLUTION);
        let tests = visible_lab("page-tables").expect("lab").1.tests.len();
        for test in 0..tests {
            let setup = LabSetup {
                lab: "page-tables".into(),
                test,
            };
            let plan = test_plan("page-tables", test).expect("plan");
            let mut m = build_machine(&setup, &img, plan.mode).expect("builds");
            assert_eq!(m.run(1_000_000), StopReason::Halted, "test {test}");
            assert_eq!(m.cpu().cr3, 0x30_0000, "test {test}");
        }
    }

    #[test]
    fn plans_name_mode_inputs_and_the_page_checked() {
        let p = test_plan("page-tables", 1).expect("plan");
        assert_eq!(p.mode, ExecMode::Bare);
        assert_eq!(p.first_page, Some(0x1000));
        assert_eq!(p.setup, "EBX = 00300000, ECX = 00000002, ESP = 00090000");
        let e = test_plan("page-tables", 99).unwrap_err();
        assert!(e.contains("no visible test number 100"), "{e}");
        let call = test_plan("asm-warmup", 0).expect("plan");
        assert!(call.setup.starts_with("calls routine 0"), "{}", call.setup);
    }

    #[test]
    fn a_linux_program_lab_says_the_process_vm_runs_it_instead_of_loading_it() {
        let e = test_plan("container-or-vm", 1).expect_err("no machine setup");
        assert!(
            e.contains("static i386 Linux ELF") && e.contains("as a container"),
            "{e}"
        );
        let setup = LabSetup {
            lab: "container-or-vm".into(),
            test: DEFAULT_TEST,
        };
        assert!(loaded(vec![0x7f], setup).is_err());
    }
}
