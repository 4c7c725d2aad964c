//! The process VM against QEMU's user mode: each C program in `tests/programs/` is
//! built with `gcc -m32 -static` and run under both; standard output, standard error
//! and the exit status must be the same.

use std::path::Path;
use std::process::Command;

use vmlab_procvm::{Exit, Outcome, Process, ProcessConfig};

mod common;
use common::{build, work_dir};

const ARGS: &[&str] = &["first", "two words"];
const ENV: &[&str] = &["HOME=/", "WHO=students"];
const INPUT: &str = "one two three\nfour five\n\nsix\n";

/// (stdout, stderr, status) under qemu-i386, a signal as 128 + its number.
fn qemu(name: &str, dir: &Path) -> (Vec<u8>, Vec<u8>, i32) {
    std::fs::write(dir.join("input.txt"), INPUT).expect("input file");
    // Command passes a cleared environment's variables in sorted order, as ENV lists them.
    let out = Command::new("qemu-i386")
        .env_clear()
        .envs(ENV.iter().filter_map(|kv| kv.split_once('=')))
        .arg(format!("./{name}"))
        .args(ARGS)
        .current_dir(dir)
        .output()
        .expect("qemu-i386 runs (cargo xtask test installs qemu-user)");
    use std::os::unix::process::ExitStatusExt;
    let status = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    (out.stdout, out.stderr, status)
}

fn vmlab(
    name: &str,
    elf: &[u8],
    extra: Vec<(String, Vec<u8>)>,
) -> (Vec<u8>, Vec<u8>, i32, Outcome) {
    let mut files = vec![("/input.txt".into(), INPUT.as_bytes().to_vec())];
    files.extend(extra);
    let cfg = ProcessConfig {
        args: std::iter::once(format!("./{name}"))
            .chain(ARGS.iter().map(|s| s.to_string()))
            .collect(),
        env: ENV.iter().map(|s| s.to_string()).collect(),
        files,
        ..ProcessConfig::default()
    };
    let o = Process::load(elf, cfg).expect("the program loads").run();
    let status = o.exit.status();
    (o.stdout.clone(), o.stderr.clone(), status, o)
}

fn same_as_qemu(name: &str) -> Exit {
    same_as_qemu_with(name, &[]).exit
}

/// Runs `name` under both; the programs in `others` are built beside it (and put in
/// the process VM's file system) for it to execve.
fn same_as_qemu_with(name: &str, others: &[&str]) -> Outcome {
    let dir = work_dir(name);
    let elf = build(name, &dir);
    let extra = others
        .iter()
        .map(|o| (format!("/{o}"), build(o, &dir)))
        .collect();
    let (qout, qerr, qstatus) = qemu(name, &dir);
    let (out, err, status, outcome) = vmlab(name, &elf, extra);
    let exit = outcome.exit.clone();
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&qout),
        "{name}: standard output differs from qemu-i386's"
    );
    // QEMU prints its own line for a fatal signal; compare the program's own output.
    let qerr = String::from_utf8_lossy(&qerr);
    let qerr: String = qerr
        .lines()
        .filter(|l| !l.starts_with("qemu:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&err),
        qerr,
        "{name}: standard error differs"
    );
    assert_eq!(status, qstatus, "{name}: exit status differs ({exit:?})");
    outcome
}

#[test]
fn hello_prints_and_exits_with_its_status() {
    assert_eq!(same_as_qemu("hello"), Exit::Exited { status: 7 });
}

#[test]
fn args_and_environment_arrive_as_linux_passes_them() {
    assert_eq!(same_as_qemu("args_env"), Exit::Exited { status: 3 });
}

#[test]
fn file_io_reads_writes_stats_and_lists() {
    assert_eq!(same_as_qemu("fileio"), Exit::Exited { status: 0 });
}

#[test]
fn malloc_heavy_program_uses_brk_and_mmap() {
    assert_eq!(same_as_qemu("malloc_heavy"), Exit::Exited { status: 0 });
}

#[test]
fn string_processing_matches() {
    assert_eq!(same_as_qemu("strings"), Exit::Exited { status: 0 });
}

#[test]
fn floating_point_runs_on_the_x87() {
    assert_eq!(same_as_qemu("floats"), Exit::Exited { status: 0 });
}

#[test]
fn a_null_write_is_sigsegv() {
    match same_as_qemu("crash") {
        Exit::Signal { signal: 11, reason } => assert!(reason.contains("0x00000000"), "{reason}"),
        other => panic!("expected SIGSEGV, got {other:?}"),
    }
}

#[test]
fn fork_and_wait_give_each_child_its_copy_and_its_status() {
    let o = same_as_qemu_with("fork_wait", &[]);
    assert_eq!(o.exit, Exit::Exited { status: 5 });
    // The first process and its four children, each with its own pid and end.
    assert_eq!(o.processes.len(), 5, "{:?}", o.processes);
    let ends: Vec<i32> = o.processes[1..]
        .iter()
        .map(|p| p.exit.as_ref().map_or(-1, Exit::status))
        .collect();
    assert_eq!(ends, [11, 21, 31, 128 + 15]);
    assert!(o.processes[1..]
        .iter()
        .all(|p| p.ppid == o.processes[0].pid));
}

#[test]
fn a_pipe_carries_more_than_a_slice_between_parent_and_child() {
    let o = same_as_qemu_with("pipes", &[]);
    assert_eq!(o.exit, Exit::Exited { status: 0 });
    assert!(
        o.switches > 2,
        "the two processes took turns: {}",
        o.switches
    );
}

#[test]
fn execve_runs_another_static_program_from_the_file_system() {
    let o = same_as_qemu_with("exec", &["exec_child"]);
    assert_eq!(o.exit, Exit::Exited { status: 0 });
    assert_eq!(o.processes[1].program, "/exec_child");
}

/// Runs `escape` with a jail and a secret outside it.
fn escape(naive_chroot: bool) -> (String, Exit) {
    let dir = work_dir(if naive_chroot {
        "escape-naive"
    } else {
        "escape"
    });
    let elf = build("escape", &dir);
    let cfg = ProcessConfig {
        args: vec!["/escape".into()],
        files: vec![
            ("/secret.txt".into(), b"the host's secret\n".to_vec()),
            ("/jail/readme".into(), b"inside\n".to_vec()),
        ],
        naive_chroot,
        ..ProcessConfig::default()
    };
    let o = Process::load(&elf, cfg).expect("loads").run();
    (String::from_utf8_lossy(&o.stdout).into_owned(), o.exit)
}

#[test]
fn the_chroot_escape_works_on_a_naive_chroot_and_not_on_a_strict_one() {
    let (out, exit) = escape(true);
    assert!(
        out.contains("escaped! /secret.txt says: the host's secret"),
        "{out}"
    );
    assert_eq!(exit, Exit::Exited { status: 3 });
    let (out, exit) = escape(false);
    assert!(
        out.contains("inside the jail, /secret.txt is not there"),
        "{out}"
    );
    assert!(out.contains("escape failed"), "{out}");
    assert!(out.contains("after climbing: cwd /\n"), "{out}");
    assert_eq!(exit, Exit::Exited { status: 0 });
}
