//! Every host demo, step by step as the Host view plays it, and every claim its manifest makes; and the view's controls on a scenario.

use vmlab_hostlab::demo::{self, check, step};
use vmlab_hostlab::figures::figure;
use vmlab_hostlab::HostLab;

#[test]
fn every_claim_of_every_host_demo_holds() {
    let all = demo::all();
    let ids: Vec<&str> = all.iter().map(|d| d.id).collect();
    for want in [
        "esx-memory",
        "live-migration",
        "ft-failover",
        "credit-scheduler",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    for d in all {
        let mut lab = demo::start(d).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        for (i, s) in d.steps().iter().enumerate() {
            let at = format!("{} step {} ({})", d.id, i + 1, s.title);
            let h = s
                .host
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: no host table"));
            step(&mut lab, h).unwrap_or_else(|e| panic!("{at}: {e}"));
            let checked = check(&lab, h);
            assert!(!checked.is_empty(), "{at}: claims nothing");
            for c in checked {
                assert!(c.holds, "{at}: {} reads {:?}", c.figure, c.shown);
            }
        }
    }
}

const SCENARIO: &str = r#"
[host]
name = "two"
pool_mib = 16
duration_ms = 50
scan_pages = 256

[[vm]]
name = "a"
ram_mib = 4
shared_pages = 64
private_pages = 8

[[vm]]
name = "b"
ram_mib = 4
shared_pages = 64
private_pages = 8

[[event]]
at_ms = 0
vm = "b"
action = "pause"

[[event]]
at_ms = 10
vm = "b"
action = "resume"
"#;

fn num(lab: &HostLab, name: &str) -> i64 {
    figure(lab, name)
        .and_then(|(_, v)| v)
        .unwrap_or_else(|| panic!("no figure {name}"))
}

#[test]
fn the_view_runs_a_scenario_in_steps_with_its_events_and_a_balloon() {
    let mut lab = HostLab::parse("two.toml", SCENARIO).expect("parses");
    lab.advance_to(9).expect("runs");
    assert_eq!(lab.now_ms(), 9);
    assert_eq!(num(&lab, "vm.b.run-ms"), 0, "b is paused until 10 ms");
    assert!(num(&lab, "vm.a.run-ms") >= 8, "a had the CPU alone");
    lab.advance_to(50).expect("runs");
    assert!(num(&lab, "vm.b.run-ms") > 0, "b resumed");
    assert!(lab.finished());
    // stepped or at once, the host ends in the same state
    let (_, whole) = vmlab_host::scenario_file::parse("two.toml", SCENARIO)
        .expect("parses")
        .run()
        .expect("runs");
    assert_eq!(lab.report(), whole);
    // a balloon request from the view
    let mut lab = lab.restart(None).expect("restarts");
    assert_eq!(lab.now_ms(), 0);
    lab.balloon("a", 3).expect("a exists");
    assert!(lab.advance_to_event("balloon:").expect("runs"));
    assert!(num(&lab, "vm.a.ballooned") > 0);
    assert!(lab.balloon("nobody", 3).is_err());
    assert_eq!(figure(&lab, "vm.a.no-such-figure"), None);
    assert_eq!(
        figure(&lab, "migration.rounds"),
        None,
        "nothing migrated yet"
    );
}

#[test]
fn a_bad_scenario_is_refused_with_its_file_and_key() {
    let e = HostLab::parse("bad.toml", "[host]\npool_mib = 0\nduration_ms = 10\n").unwrap_err();
    assert!(e.starts_with("bad.toml:"), "{e}");
    assert!(e.contains("pool_mib"), "{e}");
}

#[test]
fn a_migrated_guest_goes_on_and_precopy_beats_sending_all_memory() {
    let m = vmlab_hostlab::moves::migrate("precopy", "idle").expect("migrates");
    assert_eq!(m.stop_rule, "converged");
    assert!(m.downtime_us < m.all_memory_us, "{m:?}");
    assert!(m.continued, "{m:?}");
    assert!(m.serial_after.contains("tick"), "{:?}", m.serial_after);
    assert!(vmlab_hostlab::moves::migrate("sideways", "idle").is_err());
    assert!(vmlab_hostlab::moves::migrate("precopy", "busy").is_err());
}
