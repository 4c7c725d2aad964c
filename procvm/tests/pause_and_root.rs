//! A run paused after a number of system calls (what a demo step shows), and a
//! program started inside a root folder by the runtime, strict or naive, with the
//! chroot escape of the chroot-and-namespaces demo's program.

use vmlab_procvm::task::State;
use vmlab_procvm::{Exit, Outcome, Process, ProcessConfig};

fn jail_program() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../demos/chroot-namespaces/jail.asm"
    );
    let src = std::fs::read_to_string(path).expect("the demo's program");
    vmlab_asm::assemble("jail.asm", &src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes
}

fn config(naive_chroot: bool) -> ProcessConfig {
    ProcessConfig {
        files: vec![
            ("/secret.txt".into(), b"the host's secret\n".to_vec()),
            ("/jail/readme".into(), b"inside\n".to_vec()),
        ],
        trace: true,
        naive_chroot,
        ..ProcessConfig::default()
    }
}

fn run(root: Option<&str>, naive: bool, pause: Option<u64>) -> Outcome {
    let mut p = Process::load(&jail_program(), config(naive)).expect("loads");
    if let Some(r) = root {
        p.enter_root(r).expect("the root exists");
    }
    if let Some(n) = pause {
        p.pause_after(n);
    }
    p.run()
}

fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_paused_run_stops_after_its_calls_with_the_process_still_live() {
    let whole = run(None, false, None);
    assert!(!whole.paused);
    assert_eq!(whole.exit, Exit::Exited { status: 0 });
    for n in [1, 3, 4, 9] {
        let o = run(None, false, Some(n));
        assert!(o.paused, "after {n}");
        assert_eq!(o.syscalls, n);
        assert_eq!(o.trace.len() as u64, n);
        let lines = |t: &[vmlab_procvm::SyscallRecord]| {
            t.iter()
                .map(|r| format!("{} {r}", r.icount))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&o.trace), lines(&whole.trace[..n as usize]));
        assert_eq!(o.processes[0].state, State::Ready, "after {n}");
        assert!(o.processes[0].exit.is_none());
        let written: usize = whole.trace[..n as usize]
            .iter()
            .filter(|t| t.name == "write")
            .map(|t| t.ret as usize)
            .sum();
        assert_eq!(o.stdout, whole.stdout[..written], "after {n}");
    }
    assert_eq!(run(None, false, Some(3)).trace[2].name, "uname");
    let past = run(None, false, Some(whole.syscalls + 5));
    assert!(!past.paused, "a pause past the end lets the program end");
    assert_eq!(past.exit, whole.exit);
}

#[test]
fn on_the_host_the_program_reads_the_secret() {
    let o = run(None, false, None);
    let out = stdout(&o);
    assert!(out.contains("root: jail secret.txt\n"), "{out}");
    assert!(
        out.contains("/secret.txt says: the host's secret\n"),
        "{out}"
    );
}

#[test]
fn in_a_strict_root_the_escape_fails_and_in_a_naive_one_it_works() {
    let strict = run(Some("/jail"), false, None);
    let out = stdout(&strict);
    assert!(out.contains("root: readme\n"), "{out}");
    assert!(out.contains("/secret.txt is not there"), "{out}");
    assert!(out.contains("escape failed"), "{out}");
    assert_eq!(strict.exit, Exit::Exited { status: 0 });
    let naive = run(Some("/jail"), true, None);
    let out = stdout(&naive);
    assert!(
        out.contains("root: readme\n"),
        "the root is the same: {out}"
    );
    assert!(
        out.contains("escaped! /secret.txt says: the host's secret"),
        "{out}"
    );
    assert_eq!(naive.exit, Exit::Exited { status: 3 });
    let chroots: Vec<_> = naive.trace.iter().filter(|t| t.name == "chroot").collect();
    assert_eq!(chroots.len(), 2);
    let mut p = Process::load(&jail_program(), config(false)).expect("loads");
    let e = p.enter_root("/nowhere").expect_err("no such folder");
    assert_eq!(e, "root /nowhere: ENOENT");
}

/// The container-vs-vm demo's program prints what it prints under qemu-i386, with
/// the same exit status.
#[test]
fn the_three_ways_demo_program_runs_as_under_qemu() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../demos/container-vs-vm/work.asm"
    );
    let src = std::fs::read_to_string(path).expect("the demo's program");
    let elf = vmlab_asm::assemble("work.asm", &src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-work");
    std::fs::write(&out, &elf).expect("write the program");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let q = std::process::Command::new("qemu-i386")
        .arg(&out)
        .output()
        .expect("qemu-i386 runs (cargo xtask test installs qemu-user)");
    let o = Process::load(&elf, ProcessConfig::default())
        .expect("loads")
        .run();
    assert!(!q.stdout.is_empty());
    assert_eq!(stdout(&o), String::from_utf8_lossy(&q.stdout));
    assert_eq!(o.exit.status(), q.status.code().expect("an exit code"));
}
