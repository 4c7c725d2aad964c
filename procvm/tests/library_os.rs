//! The same programs at ring 3 (a process) and at ring 0 (linked with a library OS,
//! as a unikernel runs them): the same output and status, the same work, and no
//! change of privilege for a system call at ring 0.

mod common;

use vmlab_procvm::{Outcome, Process, ProcessConfig};

fn both(name: &str) -> (Outcome, Outcome) {
    let dir = common::work_dir(&format!("libos-{name}"));
    let elf = common::build(name, &dir);
    let run = |ring0| {
        let cfg = ProcessConfig {
            ring0,
            files: vec![("/input.txt".into(), b"one two\nthree\n".to_vec())],
            ..ProcessConfig::default()
        };
        Process::load(&elf, cfg).expect("loads").run()
    };
    (run(false), run(true))
}

fn same_work(name: &str) {
    let (process, unikernel) = both(name);
    assert_eq!(process.stdout, unikernel.stdout, "{name}: the same output");
    assert_eq!(process.exit, unikernel.exit, "{name}: the same end");
    assert_eq!(
        process.syscalls, unikernel.syscalls,
        "{name}: the same calls"
    );
    assert_eq!(
        process.instructions, unikernel.instructions,
        "{name}: the same work"
    );
    assert_eq!(
        process.ring_switches,
        2 * process.syscalls,
        "{name}: two a call at ring 3"
    );
    assert_eq!(unikernel.ring_switches, 0, "{name}: none at ring 0");
    assert!(process.load_pages > 0 && process.load_pages == unikernel.load_pages);
}

#[test]
fn hello_runs_the_same_at_ring_0() {
    same_work("hello");
}

#[test]
fn floats_and_strings_run_the_same_at_ring_0() {
    same_work("floats");
    same_work("strings");
}

#[test]
fn fork_and_wait_run_the_same_at_ring_0() {
    same_work("fork_wait");
}

#[test]
fn a_unikernel_runs_the_same_as_a_vm_under_each_vmm_mode() {
    let dir = common::work_dir("libos-vm");
    let elf = common::build("hello", &dir);
    let run = |vmm| {
        let cfg = ProcessConfig {
            ring0: true,
            vmm,
            ..ProcessConfig::default()
        };
        Process::load(&elf, cfg).expect("loads").run()
    };
    let bare = run(emulator_core::ExecMode::Bare);
    for vmm in [
        emulator_core::ExecMode::HW_ASSIST,
        emulator_core::ExecMode::TRAP_EMULATE,
    ] {
        let vm = run(vmm);
        assert_eq!(vm.stdout, bare.stdout, "{}: the same output", vmm.name());
        assert_eq!(vm.exit, bare.exit, "{}", vmm.name());
        assert_eq!(vm.syscalls, bare.syscalls, "{}", vmm.name());
        assert_eq!(vm.instructions, bare.instructions, "{}", vmm.name());
        assert!(vm.vm_exits > 0, "{}: the VMM took exits", vmm.name());
    }
    assert_eq!(bare.vm_exits, 0);
}
