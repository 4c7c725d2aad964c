//! OS-level virtualization in the process VM: a PID namespace (the program is pid 1,
//! the host table lists real pids), a read-only bind mount, the host name, a CPU
//! quota that stretches virtual time, and a memory cap over every process.

mod common;

use vmlab_procvm::task::HOST_PID_BASE;
use vmlab_procvm::{BindMount, CpuQuota, Exit, Outcome, Process, ProcessConfig};

fn run(test: &str, cfg: ProcessConfig) -> (String, Outcome) {
    let dir = common::work_dir(test);
    let elf = common::build("container", &dir);
    let o = Process::load(&elf, cfg).expect("loads").run();
    assert_eq!(o.exit, Exit::Exited { status: 0 }, "{o:?}");
    (String::from_utf8_lossy(&o.stdout).into_owned(), o)
}

fn data_mount(read_only: bool) -> BindMount {
    BindMount {
        source: "/srv/data".into(),
        target: "/data".into(),
        files: vec![("/motd".into(), b"hello from the host\n".to_vec())],
        read_only,
    }
}

/// The line of `out` that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {out}"))
}

#[test]
fn in_a_pid_namespace_the_program_is_pid_1_and_the_host_sees_real_pids() {
    let (out, o) = run(
        "pidns",
        ProcessConfig {
            pid_ns: true,
            hostname: "box1".into(),
            ..ProcessConfig::default()
        },
    );
    assert_eq!(line(&out, "pid "), "pid 1, parent 0, host box1");
    assert_eq!(line(&out, "child: "), "child: pid 2, parent 1");
    assert_eq!(line(&out, "forked "), "forked pid 2");
    let host: Vec<(u32, Option<u32>)> = o.processes.iter().map(|p| (p.pid, p.ns_pid)).collect();
    assert_eq!(
        host,
        [(HOST_PID_BASE, Some(1)), (HOST_PID_BASE + 1, Some(2))]
    );
}

#[test]
fn without_a_namespace_the_program_sees_the_host_pids() {
    let (out, o) = run("hostpids", ProcessConfig::default());
    let me = o.processes[0].pid;
    assert_eq!(
        line(&out, "pid "),
        format!("pid {me}, parent {}, host vmlab", me - 1)
    );
    assert_eq!(
        line(&out, "child: "),
        format!("child: pid {}, parent {me}", o.processes[1].pid)
    );
    assert!(o.processes.iter().all(|p| p.ns_pid.is_none()));
}

#[test]
fn a_read_only_bind_mount_can_be_read_and_not_changed() {
    let (out, o) = run(
        "ro-mount",
        ProcessConfig {
            mounts: vec![data_mount(true)],
            ..ProcessConfig::default()
        },
    );
    assert_eq!(line(&out, "mount: "), "mount: hello from the host");
    assert_eq!(
        line(&out, "write "),
        "write to /data/motd: Read-only file system"
    );
    assert_eq!(line(&out, "mkdir "), "mkdir /data/x: Read-only file system");
    assert_eq!(o.mounts.len(), 1);
    assert!(o.mounts[0].read_only);
    let (out, _) = run(
        "rw-mount",
        ProcessConfig {
            mounts: vec![data_mount(false)],
            ..ProcessConfig::default()
        },
    );
    assert_eq!(line(&out, "write "), "write to /data/motd: allowed");
    assert_eq!(line(&out, "mkdir "), "mkdir /data/x: allowed");
}

fn work_us(out: &str) -> u64 {
    line(out, "work took ")
        .trim_start_matches("work took ")
        .trim_end_matches(" us")
        .parse()
        .expect("a number")
}

#[test]
fn a_cpu_quota_stretches_the_clock_and_counts_throttled_time() {
    let (free_out, free) = run("quota-free", ProcessConfig::default());
    assert_eq!(free.throttled_ns, 0);
    assert_eq!(free.elapsed_ns, free.instructions);
    let (out, capped) = run(
        "quota-capped",
        ProcessConfig {
            cpu_quota: Some(CpuQuota {
                quota: 25_000,
                period: 100_000,
            }),
            ..ProcessConfig::default()
        },
    );
    // The same work (give or take printing other digits); a quarter of each period:
    // about four times the time.
    assert!(capped.instructions.abs_diff(free.instructions) < 1000);
    assert_eq!(capped.elapsed_ns, capped.instructions + capped.throttled_ns);
    let ratio = capped.elapsed_ns as f64 / free.elapsed_ns as f64;
    assert!((3.8..4.2).contains(&ratio), "elapsed ratio {ratio}");
    assert!(capped.throttled_periods >= capped.instructions / 25_000 - 1);
    let (a, b) = (work_us(&free_out), work_us(&out));
    assert!(
        b > 3 * a && b < 5 * a,
        "the program measured {a} us, then {b} us"
    );
}

#[test]
fn the_memory_cap_covers_every_process_so_a_fork_can_fail() {
    // Enough for the program alone, not for a second copy of it.
    let dir = common::work_dir("container-mem");
    let elf = common::build("container", &dir);
    let alone = Process::load(&elf, ProcessConfig::default())
        .expect("loads")
        .run();
    let first_pages = alone.pages as u64;
    let cfg = ProcessConfig {
        mem_limit: Some((first_pages + first_pages / 2) * 4096),
        ..ProcessConfig::default()
    };
    let o = Process::load(&elf, cfg).expect("loads").run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.processes.len(), 1, "the fork was refused: {out}");
    assert!(out.contains("forked pid -1"), "{out}");
}
