//! `vmlab run --linux`: a C program built with `gcc -m32 -static` runs with its own
//! exit status, `--root` is its file system, `--strace` lists its calls, and `--json`
//! reports all of it; a file that is not a program is refused with its offset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("linux_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a work folder");
    d
}

fn gcc(dir: &Path, name: &str, src: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).expect("source");
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args(["-m32", "-static", "-O2", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .expect("gcc runs (cargo xtask test installs gcc-multilib)");
    assert!(st.success(), "gcc -m32 -static failed");
    out
}

fn vmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs")
}

const CAT: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char host[65];
    gethostname(host, sizeof host);
    printf("host %s, %d args, last %s\n", host, argc, argv[argc - 1]);
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 9; }
    char line[100];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    return 0;
}
"#;

#[test]
fn a_program_reads_its_root_and_exits_with_its_status() {
    let d = dir("root");
    let prog = gcc(&d, "cat", CAT);
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/motd"), "welcome to the jail\n").unwrap();
    let p = prog.to_str().unwrap();
    let r = root.to_str().unwrap();
    let out = vmlab(&[
        "run",
        "--linux",
        p,
        "--root",
        r,
        "--hostname",
        "box1",
        "--",
        "/etc/motd",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "host box1, 2 args, last /etc/motd\nwelcome to the jail\n"
    );
    // `..` cannot climb out of the root: /../../etc/motd is still the jail's file.
    let out = vmlab(&["run", "--linux", p, "--root", r, "--", "/../../../etc/motd"]);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("welcome to the jail\n"));
    // A file outside the root is not there.
    let out = vmlab(&["run", "--linux", p, "--root", r, "--", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(9));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "/etc/passwd: No such file or directory\n"
    );
}

#[test]
fn json_reports_exit_output_and_trace() {
    let d = dir("json");
    let prog = gcc(&d, "cat", CAT);
    let out = vmlab(&[
        "run",
        "--linux",
        prog.to_str().unwrap(),
        "--strace",
        "--json",
        "--",
        "/none",
    ]);
    assert_eq!(out.status.code(), Some(9));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    assert_eq!(v["exit"]["kind"], "exited");
    assert_eq!(v["status"], 9);
    assert_eq!(v["stderr"], "/none: No such file or directory\n");
    let trace = v["trace"].as_array().expect("a trace");
    assert!(
        trace
            .iter()
            .any(|t| t["name"] == "openat" && t["ret"] == -2),
        "{trace:?}"
    );
    assert_eq!(trace.last().unwrap()["name"], "exit_group");
    assert!(v["instructions"].as_u64().unwrap() > 1000);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("openat("),
        "--strace lines on stderr"
    );
}

#[test]
fn a_non_program_is_refused_with_its_offset() {
    let d = dir("bad");
    let f = d.join("notes.txt");
    std::fs::write(&f, "plain text").unwrap();
    let out = vmlab(&["run", "--linux", f.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    let msg = v.to_string();
    assert!(
        msg.contains("at byte 0x0") && msg.contains("magic"),
        "{msg}"
    );
}

#[test]
fn a_container_has_its_pid_namespace_mounts_and_cpu_quota() {
    let d = dir("container");
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../procvm/tests/programs/container.c"),
    )
    .expect("the container program's source");
    let prog = gcc(&d, "container", &src);
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("motd"), "bound from the host\n").unwrap();
    let mount = format!("{}:/data:ro", data.display());
    let out = vmlab(&[
        "run",
        "--linux",
        prog.to_str().unwrap(),
        "--pid-ns",
        "--hostname",
        "box2",
        "--mount",
        &mount,
        "--cpu-quota",
        "50000/100000",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    let stdout = v["stdout"].as_str().expect("stdout");
    assert!(
        stdout.starts_with("pid 1, parent 0, host box2\n"),
        "{stdout}"
    );
    assert!(stdout.contains("mount: bound from the host\n"), "{stdout}");
    assert!(
        stdout.contains("write to /data/motd: Read-only file system\n"),
        "{stdout}"
    );
    let procs = v["processes"].as_array().expect("the process table");
    assert_eq!(procs.len(), 2);
    assert_eq!(procs[0]["ns_pid"], 1);
    assert_eq!(procs[1]["ns_pid"], 2);
    assert_ne!(procs[0]["pid"], 1, "the host sees its own pid");
    assert_eq!(v["mounts"][0]["target"], "/data");
    assert_eq!(v["mounts"][0]["read_only"], true);
    let (elapsed, insns) = (
        v["elapsed_ns"].as_u64().unwrap(),
        v["instructions"].as_u64().unwrap(),
    );
    assert_eq!(elapsed, insns + v["throttled_ns"].as_u64().unwrap());
    assert!(
        elapsed > insns * 19 / 10,
        "half the CPU: about twice the time ({elapsed} vs {insns})"
    );
}

#[test]
fn a_bad_quota_or_mount_is_refused_by_name() {
    let out = vmlab(&["run", "--linux", "x", "--cpu-quota", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("N/PERIOD"));
    let out = vmlab(&["run", "--linux", "x", "--mount", "nocolon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SRC:DST"));
}

#[test]
fn compare_runs_the_program_as_a_process_a_container_and_a_unikernel() {
    let d = dir("compare");
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../procvm/tests/programs/fork_wait.c"),
    )
    .expect("the fork_wait program's source");
    let prog = gcc(&d, "fork_wait", &src);
    let out = vmlab(&[
        "run",
        "--linux",
        prog.to_str().unwrap(),
        "--compare",
        "--cpu-quota",
        "50000/100000",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    let ways = v["compare"].as_array().expect("four ways");
    let names: Vec<&str> = ways.iter().map(|w| w["way"].as_str().unwrap()).collect();
    assert_eq!(names, ["process", "container", "unikernel", "vm"]);
    for w in ways {
        assert_eq!(w["status"], 5, "{w}");
        assert_eq!(w["same_output"], true, "{w}");
        assert_eq!(w["processes"], 5, "{w}");
    }
    let n = |i: usize, k: &str| ways[i][k].as_u64().unwrap();
    assert_eq!(n(0, "ring_switches"), 2 * n(0, "syscalls"));
    assert_eq!(n(2, "ring_switches"), 0);
    assert_eq!(n(2, "vm_exits"), 0, "the unikernel on the bare machine");
    assert!(n(3, "vm_exits") > 0, "the VM's system calls are exits");
    assert_eq!(n(3, "instructions"), n(2, "instructions"));
    assert_eq!(n(0, "throttled_ns"), 0);
    assert!(n(1, "throttled_ns") > 0, "the container has the quota");
    assert!(n(1, "elapsed_ns") > n(0, "elapsed_ns"));
}
