//! The process VM against QEMU's user mode: each C program in `tests/programs/` is
//! built with `gcc -m32 -static` and run under both; standard output, standard error
//! and the exit status must be the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use vmlab_procvm::{Exit, Process, ProcessConfig};

const ARGS: &[&str] = &["first", "two words"];
const ENV: &[&str] = &["HOME=/", "WHO=students"];
const INPUT: &str = "one two three\nfour five\n\nsix\n";

fn work_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("procvm")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a work folder");
    d
}

/// Builds `programs/NAME.c` into the work folder.
fn build(name: &str, dir: &Path) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(format!("{name}.c"));
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args(["-m32", "-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-lm")
        .status()
        .expect("gcc runs (cargo xtask test installs gcc-multilib)");
    assert!(st.success(), "gcc -m32 -static failed on {}", src.display());
    std::fs::read(out).expect("the built program")
}

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

fn vmlab(name: &str, elf: &[u8]) -> (Vec<u8>, Vec<u8>, i32, Exit) {
    let cfg = ProcessConfig {
        args: std::iter::once(format!("./{name}"))
            .chain(ARGS.iter().map(|s| s.to_string()))
            .collect(),
        env: ENV.iter().map(|s| s.to_string()).collect(),
        files: vec![("/input.txt".into(), INPUT.as_bytes().to_vec())],
        ..ProcessConfig::default()
    };
    let o = Process::load(elf, cfg).expect("the program loads").run();
    let status = o.exit.status();
    (o.stdout, o.stderr, status, o.exit)
}

fn same_as_qemu(name: &str) -> Exit {
    let dir = work_dir(name);
    let elf = build(name, &dir);
    let (qout, qerr, qstatus) = qemu(name, &dir);
    let (out, err, status, exit) = vmlab(name, &elf);
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
    exit
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
