//! Introspection of the teaching kernel from outside: the committed profile matches the kernel's assembler symbols, and the process list read from memory agrees with what the kernel prints and with what its processes store.

use emulator_core::{ExecMode, Machine, MachineConfig, StopReason};
use vmlab_host::introspect::{self, Profile, View};
use vmlab_host::introspect_file::{self, KERNEL_PROFILE, KERNEL_SOURCE};

/// Where the user program stores its letter (its first demand-zero page).
const USER_DATA: u32 = 0x60_0000;

fn kernel_machine(mode: ExecMode) -> Machine {
    let out = vmlab_host::guest::assemble_kernel_text("kernel.asm", KERNEL_SOURCE)
        .expect("the kernel assembles");
    let mut m = Machine::new(MachineConfig {
        ram_mib: 16,
        mode,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_rom(&out.bytes).unwrap();
    m
}

fn profile() -> Profile {
    introspect_file::kernel_profile().expect("the committed profile parses")
}

#[test]
fn committed_profile_matches_the_kernels_symbols() {
    let made = introspect_file::make_profile("guests/kernel/kernel.asm", KERNEL_SOURCE).unwrap();
    assert_eq!(
        made, KERNEL_PROFILE,
        "guests/kernel/kernel.profile.toml is stale: run `vmlab introspect --make-profile guests/kernel/kernel.asm`"
    );
    let p = profile();
    assert_eq!(p.count, 2);
    assert_eq!(p.states.len(), 2);
}

/// What the run looked like from outside, checked at every step against the guest's own view.
#[derive(Default)]
struct Seen {
    lines_checked: usize,
    ring3_checked: usize,
    one_exited: Vec<(String, String)>,
    last: Option<View>,
}

fn watch(mode: ExecMode) -> (Seen, String) {
    let p = profile();
    let mut m = kernel_machine(mode);
    let mut seen = Seen::default();
    let mut printed = 0usize;
    for step in 0..200_000 {
        let stop = m.run(100);
        let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
        let lines: Vec<&str> = out.lines().collect();
        let complete = if out.ends_with('\n') {
            lines.len()
        } else {
            lines.len() - 1
        };
        // Every tenth step, at each new line and at the end.
        let done = stop != StopReason::BudgetExhausted;
        if step % 10 != 0 && complete == printed && !done {
            continue;
        }
        let view = introspect::read(&m, &p).unwrap_or_else(|e| panic!("{e}\n{out}"));
        // The kernel prints a line while the process that asked for it is current.
        if complete > printed {
            let line = lines[complete - 1];
            if let Some(rest) = line.strip_prefix("process ") {
                let letter = &rest[..1];
                let cur = view.current_process().expect("a current process");
                assert_eq!(cur.name, letter, "after {line:?}: {view:?}");
                assert_eq!(cur.cr3, m.cpu().cr3, "the current process's CR3 is live");
                seen.lines_checked += 1;
            }
            printed = complete;
        }
        // In ring 3 the running process's own data page holds its letter.
        if m.cpu().cpl == 3 {
            let mut b = [0u8; 1];
            if m.peek_linear(USER_DATA, &mut b).is_ok() && b[0] != 0 {
                let cur = view.current_process().expect("a current process");
                assert_eq!(cur.name.as_bytes(), &b, "{view:?}");
                assert_eq!(cur.eip, Some(m.cpu().eip));
                assert!(cur.eip_live);
                seen.ring3_checked += 1;
            }
        }
        for q in &view.processes {
            if view.current != Some(q.pid) && q.state == "runnable" {
                let eip = q.eip.expect("a waiting process has a saved EIP");
                assert!((p.user_lo..p.user_lo + 0x1000).contains(&eip), "{q:?}");
            }
        }
        let exited: Vec<&introspect::Process> = view
            .processes
            .iter()
            .filter(|q| q.state == "exited")
            .collect();
        if exited.len() == 1 {
            let gone = exited[0].name.clone();
            assert!(
                out.contains(&format!("process {gone} line 3")),
                "process {gone} exited before its last line:\n{out}"
            );
            let cur = view.current_process().unwrap();
            assert_ne!(cur.name, gone, "an exited process is not current");
            seen.one_exited.push((gone, cur.name.clone()));
        }
        seen.last = Some(view);
        if done {
            assert_eq!(stop, StopReason::DebugExit(0), "{out}");
            return (seen, out);
        }
    }
    panic!("the kernel did not finish");
}

#[test]
fn process_list_agrees_with_the_kernels_console_bare_and_under_hw_assist() {
    for mode in [ExecMode::Bare, ExecMode::HW_ASSIST] {
        let (seen, out) = watch(mode);
        assert_eq!(seen.lines_checked, 6, "{mode}: {out}");
        assert!(seen.ring3_checked > 50, "{mode}: {}", seen.ring3_checked);
        assert!(!seen.one_exited.is_empty(), "{mode}: never saw one exited");
        let last = seen.last.unwrap();
        assert!(
            last.processes.iter().all(|q| q.state == "exited"),
            "{last:?}"
        );
        // Every user page beyond the code page came from a demand-zero fault,
        // and the kernel prints how many it served.
        let zero_pages: usize = last.processes.iter().map(|q| q.pages.len() - 1).sum();
        assert!(
            out.contains(&format!(" {zero_pages} demand-zero page faults")),
            "{mode}: {zero_pages} pages:\n{out}"
        );
        let names: Vec<&str> = last.processes.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_ne!(last.processes[0].cr3, last.processes[1].cr3);
    }
}

/// The kernel with both processes started and running.
fn running_kernel() -> Machine {
    let mut m = kernel_machine(ExecMode::Bare);
    assert_eq!(m.run(400_000), StopReason::BudgetExhausted);
    let v = introspect::read(&m, &profile()).unwrap();
    assert_eq!(v.processes.len(), 2, "{v:?}");
    m
}

fn read_after(poke: &[(u32, u32)]) -> Result<View, String> {
    let mut m = running_kernel();
    for (addr, value) in poke {
        m.write_phys(*addr, &value.to_le_bytes()).unwrap();
    }
    introspect::read(&m, &profile())
}

#[test]
fn a_corrupt_table_gives_a_located_error() {
    let p = profile();
    let state1 = p.table + p.entry_size + p.state;
    let e = read_after(&[(state1, 7)]).unwrap_err();
    assert!(
        e.contains(&format!("process 1 state at 0x{state1:x}")),
        "{e}"
    );
    assert!(e.contains("7 is not one of the profile's states"), "{e}");
    let cr3_0 = p.table + p.cr3;
    let e = read_after(&[(cr3_0, 0x0fff_f000)]).unwrap_err();
    assert!(e.contains(&format!("process 0 cr3 at 0x{cr3_0:x}")), "{e}");
    let e = read_after(&[(p.current, 9)]).unwrap_err();
    assert!(e.contains(&format!("current at 0x{:x}", p.current)), "{e}");
    let name1 = p.table + p.entry_size + p.name;
    let e = read_after(&[(name1, 0x0102)]).unwrap_err();
    assert!(e.contains(&format!("process 1 name at 0x{name1:x}")), "{e}");
    // A profile that does not match the kernel: its table is not mapped.
    let m = running_kernel();
    let wrong = Profile {
        table: 0x90_0000,
        ..p.clone()
    };
    let e = introspect::read(&m, &wrong).unwrap_err();
    assert!(e.contains("0x900008 is not mapped under CR3"), "{e}");
}

#[test]
fn garbage_kernel_data_never_panics() {
    let p = profile();
    let mut x: u32 = 0x9e37_79b9;
    let mut errors = 0;
    let mut m = running_kernel();
    for _ in 0..200 {
        for off in (0..0x60).step_by(4) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = if x & 1 == 0 { x } else { x & 0x3 };
            m.write_phys(p.current + off, &v.to_le_bytes()).unwrap();
        }
        if introspect::read(&m, &p).is_err() {
            errors += 1;
        }
    }
    assert!(
        errors > 100,
        "garbage was read as a process list {}/200 times",
        200 - errors
    );
}

#[test]
fn a_bad_profile_file_names_its_line() {
    let text = KERNEL_PROFILE.replace("count = 2", "count = \"two\"");
    let e = introspect_file::parse("k.toml", &text).unwrap_err();
    let line = text.lines().position(|l| l.starts_with("count")).unwrap() + 1;
    assert!(e.starts_with(&format!("k.toml:{line}:")), "{e}");
}

#[test]
fn host_vms_running_the_kernel_report_their_processes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/introspection.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let s = vmlab_host::scenario_file::parse(path, &text).unwrap();
    let (host, report) = s.run().unwrap();
    let mut kernels = 0;
    for (vm, r) in host.vms.iter().zip(&report.vms) {
        let Some(got) = &r.processes else {
            assert!(vm.spec.kernel.is_none(), "{}", r.name);
            continue;
        };
        kernels += 1;
        let view = got.as_ref().unwrap_or_else(|e| panic!("{}: {e}", r.name));
        let console = String::from_utf8_lossy(&vm.machine.serial_output()).into_owned();
        let names: Vec<&str> = view.processes.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["A", "B"], "{}", r.name);
        let all_exited = view.processes.iter().all(|q| q.state == "exited");
        assert_eq!(
            all_exited,
            console.contains("all processes exited"),
            "{}: {console}",
            r.name
        );
        assert_eq!(
            view.current_process().unwrap().cr3,
            vm.machine.cpu().cr3,
            "{}",
            r.name
        );
        // The work counter is the kernel's own count of lines written.
        assert_eq!(r.work, console.matches(" from ring 3").count() as u64);
    }
    assert_eq!(kernels, 2);
    let json = vmlab_host::scenario_file::report_json(&report);
    assert_eq!(json["vms"][1]["processes"]["processes"][1]["name"], "B");
    assert!(json["vms"][2]["processes"].is_null());
    let text = vmlab_host::scenario_file::report_text(&report);
    assert!(
        text.contains("processes of k2, read from outside"),
        "{text}"
    );
}

#[test]
fn an_unknown_workload_is_refused_with_its_key() {
    let text = "[host]\npool_mib = 8\nduration_ms = 5\n\n[[vm]]\nname = \"a\"\nram_mib = 4\nworkload = \"linux\"\n";
    let e = vmlab_host::scenario_file::parse("s.toml", text).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("vm[0].workload") && msg.contains("balloon or kernel"),
        "{msg}"
    );
}
