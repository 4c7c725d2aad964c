//! Every step of every Linux demo, run as the lab runs it (the same worker command,
//! natively), and every claim its manifest makes about the step.

use lab_ui::demos;
use lab_ui::demos_linux;
use lab_ui::worker::linux::{self, LinuxReport};
use vmlab_demos::kind_linux::LinuxExpect;

/// The claims of `expect` that report `r` contradicts, each starting with its key.
fn broken_claims(expect: &LinuxExpect, r: &LinuxReport) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(text) = &expect.stdout {
        if !r.stdout.contains(text.as_str()) {
            bad.push(format!("stdout: {text:?} claimed, it reads {:?}", r.stdout));
        }
    }
    if let Some(text) = &expect.stdout_lacks {
        if r.stdout.contains(text.as_str()) {
            bad.push(format!("stdout-lacks: {text:?} is in {:?}", r.stdout));
        }
    }
    let first = r.processes.first();
    let (state, status) = match first.map(|p| p.end.as_str()) {
        _ if r.paused => ("paused", None),
        Some(end) if end.starts_with("exited with status ") => (
            "exited",
            end.trim_start_matches("exited with status ").parse().ok(),
        ),
        Some(end) if end.starts_with("killed by signal ") => ("killed", None),
        _ => ("stopped", None),
    };
    if let Some(s) = &expect.state {
        if s != state {
            bad.push(format!(
                "state: {s} claimed, the run is {state} ({})",
                r.status
            ));
        }
    }
    if let Some(want) = expect.status {
        if status != Some(want) {
            bad.push(format!(
                "status: {want} claimed, the status line says {}",
                r.status
            ));
        }
    }
    if let Some(n) = expect.syscalls {
        if r.calls.len() as u64 != n {
            bad.push(format!("syscalls: {n} claimed, {} made", r.calls.len()));
        }
    }
    if let Some(name) = &expect.last_syscall {
        let last = r
            .calls
            .last()
            .map(|c| c.call.split('(').next().unwrap_or(""));
        if last != Some(name.as_str()) {
            bad.push(format!(
                "last-syscall: {name} claimed, the newest is {last:?}"
            ));
        }
    }
    if let Some(pid) = expect.pid_inside {
        let inside = first.and_then(|p| p.ns_pid).unwrap_or(0);
        if inside != pid {
            bad.push(format!(
                "pid-inside: {pid} claimed, the table says {inside}"
            ));
        }
    }
    if let Some(n) = expect.processes {
        if r.processes.len() != n {
            bad.push(format!(
                "processes: {n} claimed, {} in the table",
                r.processes.len()
            ));
        }
    }
    if let Some(same) = expect.same_output {
        if r.ways.is_empty() || r.ways.iter().any(|w| w.same_output != same) {
            bad.push(format!(
                "same-output: {same} claimed, the ways {:?}",
                r.ways
            ));
        }
    }
    for (way, n) in &expect.ring_switches {
        let got = r
            .ways
            .iter()
            .find(|w| &w.way == way)
            .map(|w| w.ring_switches);
        if got != Some(*n) {
            bad.push(format!(
                "ring-switches: {way} {n} claimed, the table says {got:?}"
            ));
        }
    }
    if !expect.throttled.is_empty() {
        let held: Vec<&str> = r
            .ways
            .iter()
            .filter(|w| w.throttled_ns > 0)
            .map(|w| w.way.as_str())
            .collect();
        if held != expect.throttled {
            bad.push(format!(
                "throttled: {:?} claimed, the quota held back {held:?}",
                expect.throttled
            ));
        }
    }
    bad
}

/// The report step `i` of `d` shows.
fn show(d: &demos::Demo, i: usize) -> LinuxReport {
    match demos_linux::command(d, i) {
        Ok(lab_ui::protocol::Command::RunLinux(run)) => {
            linux::run(&run).unwrap_or_else(|e| panic!("{} step {}: {e}", d.id, i + 1))
        }
        other => panic!("{} step {}: {other:?}", d.id, i + 1),
    }
}

#[test]
fn every_step_of_every_linux_demo_does_what_its_text_says() {
    let mut checked = 0;
    for d in vmlab_demos::of_kind(vmlab_demos::Kind::Linux) {
        for (i, step) in d.steps().iter().enumerate() {
            let at = format!("{} step {} ({})", d.id, i + 1, step.title);
            let l = step.linux.as_ref().expect("a Linux step");
            assert!(!l.expect.is_empty(), "{at}: claims nothing");
            let r = show(d, i);
            let bad = broken_claims(&l.expect, &r);
            assert!(bad.is_empty(), "{at}:\n  {}", bad.join("\n  "));
            assert_eq!(!r.ways.is_empty(), l.compare, "{at}: the ways table");
            checked += 1;
        }
    }
    assert!(checked >= 11, "{checked} steps");
}

#[test]
fn a_false_claim_is_reported_by_its_key() {
    let d = demos::find("chroot-namespaces").expect("the demo");
    let r = show(d, 1);
    let lies = LinuxExpect {
        stdout: Some("escaped".into()),
        stdout_lacks: Some(String::new()),
        state: Some("exited".into()),
        status: Some(3),
        syscalls: Some(9),
        last_syscall: Some("chroot".into()),
        pid_inside: Some(7),
        processes: Some(2),
        same_output: Some(true),
        ring_switches: [("unikernel".to_string(), 0)].into_iter().collect(),
        throttled: vec!["container".into()],
    };
    let bad = broken_claims(&lies, &r);
    let keys: Vec<&str> = bad.iter().filter_map(|b| b.split(':').next()).collect();
    assert_eq!(
        keys,
        [
            "stdout",
            "stdout-lacks",
            "state",
            "status",
            "syscalls",
            "last-syscall",
            "pid-inside",
            "processes",
            "same-output",
            "ring-switches",
            "throttled"
        ],
        "{bad:#?}"
    );
}

#[test]
fn a_paused_step_shows_the_process_live_and_the_calls_so_far() {
    let d = demos::find("chroot-namespaces").expect("the demo");
    let r = show(d, 1);
    assert!(r.paused);
    assert!(
        r.status.contains("paused at system call 3 of"),
        "{}",
        r.status
    );
    assert!(r.total_calls > 3);
    assert_eq!(r.processes[0].state, "ready");
    assert_eq!(r.container.pid, (4200, Some(1)));
    assert_eq!(r.container.root, "/jail");
    assert_eq!(
        r.container.mounts,
        [("/jail/data".to_string(), "/srv/data".to_string(), true)]
    );
    let last = show(d, d.steps().len() - 1);
    assert_eq!(last.container.chroot, "naive");
}
