//! Migrate and kill-the-primary as timed events of a host scenario: pre-copy of the moderate workload converges, the diabolical one hits a stop rule and post-copy completes, a fail-over loses no output, a migrated VM ends as one that never moved, and bad files give located errors.

use vmlab_host::cluster::Cluster;
use vmlab_host::scenario::{Action, Scenario};
use vmlab_host::scenario_file::{parse, report_json, report_text};
use vmlab_migrate::StopRule;

const PRECOPY: &str = include_str!("../scenarios/migrate-precopy.toml");
const DIABOLICAL: &str = include_str!("../scenarios/migrate-diabolical.toml");
const FT: &str = include_str!("../scenarios/ft-failover.toml");

fn run(name: &str, text: &str) -> (Cluster, vmlab_host::scenario::Report) {
    let s = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
    s.run_all().unwrap_or_else(|e| panic!("{e}"))
}

fn ram(c: &Cluster, vm: &str) -> Vec<u8> {
    let m = &c.vm(vm).expect("the VM lives").machine;
    (0..m.ram_pages() as u32)
        .flat_map(|p| m.ram_page(p).to_vec())
        .collect()
}

#[test]
fn precopy_of_the_moderate_workload_converges_with_shrinking_rounds() {
    let (c, r) = run("migrate-precopy.toml", PRECOPY);
    assert_eq!(r.migrations.len(), 1);
    let m = &r.migrations[0];
    let p = m.precopy.as_ref().expect("a pre-copy");
    assert_eq!(p.stop_rule, StopRule::Converged, "{:?}", p.rounds);
    assert!(p.rounds.len() >= 2, "{:?}", p.rounds);
    for w in p.rounds.windows(2) {
        assert!(w[1].sent < w[0].sent, "rounds shrink: {:?}", p.rounds);
    }
    assert!(
        p.downtime_cycles < p.all_memory_cycles,
        "downtime {} below one round of all memory {}",
        p.downtime_cycles,
        p.all_memory_cycles
    );
    // the VM lives on b and ran its workload to the end there
    let web = r.vms.iter().find(|v| v.name == "web").expect("web");
    assert_eq!(web.host, "b");
    assert!(web.serial.ends_with("done\n"), "{}", web.serial);
    assert_eq!(c.vm("web").map(|v| v.state.name()), Some("stopped"));
    assert!(m.resumed_at > m.at_ms * 100_000);
}

#[test]
fn the_migrated_vm_ends_as_one_that_never_moved() {
    let moved = parse("migrate-precopy.toml", PRECOPY).unwrap();
    let mut still: Scenario = moved.clone();
    still
        .events
        .retain(|e| !matches!(e.action, Action::Migrate { .. }));
    let (a, ra) = moved.run_all().unwrap();
    let (b, rb) = still.run_all().unwrap();
    let serial = |r: &vmlab_host::scenario::Report| {
        r.vms
            .iter()
            .find(|v| v.name == "web")
            .map(|v| v.serial.clone())
    };
    assert_eq!(serial(&ra), serial(&rb));
    assert!(serial(&ra).is_some_and(|s| s.ends_with("done\n")));
    let (va, vb) = (a.vm("web").unwrap(), b.vm("web").unwrap());
    // the guest's state is the same but its clock (the move's downtime was caught
    // up); a halted CPU woken at a slice's end may run its `hlt; jmp` loop once
    // more in one run than in the other
    let (mut ca, mut cb) = (va.machine.cpu().clone(), vb.machine.cpu().clone());
    (ca.tsc, cb.tsc) = (0, 0);
    assert_eq!(ca, cb);
    let (ia, ib) = (va.machine.icount(), vb.machine.icount());
    assert!(ia.abs_diff(ib) <= 2, "instructions {ia} and {ib}");
    assert!(ram(&a, "web") == ram(&b, "web"), "RAM bit-identical");
}

#[test]
fn diabolical_precopy_hits_a_stop_rule_and_postcopy_completes() {
    let (c, r) = run("migrate-diabolical.toml", DIABOLICAL);
    assert_eq!(r.migrations.len(), 2);
    let pre = r.migrations[0].precopy.as_ref().expect("pre-copy of d1");
    assert!(
        matches!(
            pre.stop_rule,
            StopRule::MaxSent | StopRule::MaxRounds | StopRule::NoProgress
        ),
        "{:?}",
        pre.stop_rule
    );
    assert!(
        pre.final_pages >= 256,
        "the dirty set stays large: {}",
        pre.final_pages
    );
    let post = r.migrations[1].postcopy.as_ref().expect("post-copy of d2");
    assert_eq!(
        post.demand_faults + post.prepaged + post.pushed,
        post.memory_pages,
        "every page arrived once"
    );
    assert!(post.demand_faults > 0);
    assert!(post.downtime_cycles < pre.downtime_cycles);
    for vm in ["d1", "d2"] {
        let v = c.vm(vm).expect("lives");
        assert_eq!(c.names[c.locate(vm).unwrap().0], "b");
        assert_eq!(v.state.name(), "running", "{vm} runs on after the move");
    }
}

#[test]
fn killing_the_primary_loses_no_output() {
    let s = parse("ft-failover.toml", FT).unwrap();
    let (c, r) = s.run_all().unwrap();
    assert_eq!(r.failovers.len(), 1);
    let f = &r.failovers[0];
    assert!(f.output_ok(), "lost {} duplicated {}", f.lost, f.duplicated);
    assert!(f.same_state);
    assert!(f.ft.epochs > 0 && f.ft.killed_at.is_some());
    assert!(f.ft.takeover_at <= f.ft.killed_at);
    let svc = r.vms.iter().find(|v| v.name == "svc").unwrap();
    assert_eq!(svc.host, "b");
    // the whole output equals a run whose primary never died
    let mut calm = s.clone();
    calm.events.clear();
    let (_, rc) = calm.run_all().unwrap();
    let reference = rc.vms.iter().find(|v| v.name == "svc").unwrap();
    assert!(reference.serial.ends_with("done\n"), "{}", reference.serial);
    assert_eq!(svc.serial, reference.serial);
    assert_eq!(c.vm("svc").unwrap().state.name(), "stopped");
}

#[test]
fn the_reports_carry_the_tables() {
    let (_, r) = run("migrate-precopy.toml", PRECOPY);
    let text = report_text(&r);
    for needle in [
        "migration of web from a to b",
        "round",
        "stopped by converged",
        "memory (MiB)",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    let j = report_json(&r);
    assert_eq!(j["hosts"].as_array().map(Vec::len), Some(2));
    let rounds = j["migrations"][0]["rounds"].as_array().expect("rounds");
    assert!(rounds.len() >= 2);
    assert!(rounds[0]["sent"].as_u64() > rounds[1]["sent"].as_u64());
    assert_eq!(j["migrations"][0]["stop_rule"], "converged");
    let (_, r) = run("ft-failover.toml", FT);
    let j = report_json(&r);
    assert_eq!(j["failovers"][0]["no_gap_no_duplicate"], true);
    assert!(report_text(&r).contains("no gap, no duplicate"));
}

fn error(text: &str) -> vmlab_host::scenario_file::FileError {
    match parse("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

const TWO: &str = "duration_ms = 100\n\n[[host]]\nname = \"a\"\npool_mib = 16\ntime = \"frozen\"\n\n[[host]]\nname = \"b\"\npool_mib = 16\n\n[[link]]\nhosts = [\"a\", \"b\"]\nbandwidth = 125000000\nlatency_us = 100\n\n[[vm]]\nname = \"v\"\nram_mib = 4\nhost = \"a\"\n";

#[test]
fn bad_moves_are_located() {
    let ev = |body: &str| format!("{TWO}\n[[event]]\nat_ms = 10\nvm = \"v\"\n{body}");
    // (text, the line the error names, key, message)
    let cases: [(String, &str, &str, &str); 7] = [
        (
            ev("action = \"migrate\"\nto = \"c\"\n"),
            "to = ",
            "event[0].to",
            "no host is called \"c\"",
        ),
        (
            ev("action = \"migrate\"\nto = \"a\"\n"),
            "to = ",
            "event[0].to",
            "on a already",
        ),
        (
            ev("action = \"kill-primary\"\n"),
            "action = ",
            "event[0].action",
            "not fault tolerant",
        ),
        (
            ev("action = \"migrate\"\nto = \"b\"\nmode = \"sideways\"\n"),
            "mode = ",
            "event[0].mode",
            "unknown mode",
        ),
        (
            TWO.replace("host = \"a\"", "host = \"c\""),
            "host = \"c\"",
            "vm[0].host",
            "no host is called",
        ),
        (
            format!("{TWO}ft = {{ backup = \"a\" }}\n"),
            "ft = ",
            "vm[0].ft",
            "the primary runs on",
        ),
        (
            TWO.replace("hosts = [\"a\", \"b\"]", "hosts = [\"a\", \"z\"]"),
            "hosts = ",
            "link[0].hosts",
            "no host is called \"z\"",
        ),
    ];
    for (text, at, key, message) in cases {
        let e = error(&text);
        assert!(e.message.contains(message), "{e} (wanted {message})");
        assert_eq!(e.key, key, "{e}");
        let line = text.lines().position(|l| l.starts_with(at)).map(|i| i + 1);
        assert_eq!(Some(e.line), line, "{e}\n{text}");
    }
    // a migration between hosts no link joins
    let no_link = TWO.replace(
        "[[link]]\nhosts = [\"a\", \"b\"]\nbandwidth = 125000000\nlatency_us = 100\n",
        "",
    );
    let e = error(&format!(
        "{no_link}\n[[event]]\nat_ms = 10\nvm = \"v\"\naction = \"migrate\"\nto = \"b\"\n"
    ));
    assert!(e.message.contains("no [[link]] joins a and b"), "{e}");
    // a fault-tolerant VM's primary host keeps time frozen
    let warm = TWO.replace("time = \"frozen\"\n", "");
    let e = error(&format!("{warm}ft = {{ backup = \"b\" }}\n"));
    assert!(e.message.contains("frozen") && e.key == "vm[0].ft", "{e}");
}
