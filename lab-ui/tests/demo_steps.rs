//! Every lecture demo, step by step as the lab runs it (the same worker commands on
//! the same session, natively), and every claim its manifest makes about each step.

use std::collections::BTreeMap;

use emulator_core::ExecMode;
use lab_ui::assemble::assemble;
use lab_ui::demos::{self, Demo, Run};
use lab_ui::program::Program;
use lab_ui::protocol::{Command, View, ADVANCE_BUDGET, MODE_SWITCH};
use lab_ui::worker::session::{self, Loaded, Session};
use vmlab_demos::Expect;

mod claims_disk;
mod pictures;

/// What the lab shows after a step: the view, and the comparison when the step asks for one.
struct Shown {
    view: View,
    compared: Option<Vec<lab_ui::protocol::ModeRun>>,
    /// Per run of the crossover, its mode and the counters at each stop.
    crossed: Option<Vec<(ExecMode, Vec<lab_ui::protocol::CounterSet>)>>,
}

/// Loads `demo` and replays its steps up to `upto`, as the page does on each step.
fn show(demo: &Demo, program: &Program, upto: usize) -> Shown {
    show_in(demo, program, demos::mode(demo), upto)
}

/// [`show`], with the demo started in `mode` (as a share link with `mode=` does).
fn show_in(demo: &Demo, program: &Program, mode: ExecMode, upto: usize) -> Shown {
    let mut s: Option<Session> = None;
    let mut compared = None;
    let mut crossed = None;
    let mut smp = lab_ui::smp::Smp::default();
    for c in demos::commands(demo, program, mode, upto) {
        match (c, s.as_mut()) {
            (
                Command::Load {
                    image,
                    origin,
                    entry,
                    mode,
                },
                _,
            ) => {
                let loaded = Loaded {
                    image,
                    origin,
                    entry,
                    setup: None,
                    rom: false,
                };
                s = Some(Session::with_smp(loaded, mode, smp).expect("the demo's guest loads"));
            }
            (Command::LoadRom { image, mode }, _) => {
                let loaded = Loaded::rom(image).expect("a ROM's size");
                s = Some(Session::with_smp(loaded, mode, smp).expect("the demo's ROM loads"));
            }
            (Command::SetSmp(o), None) => smp = o,
            (Command::SetDisk(d), Some(s)) => s.set_disk(d).expect("the demo's disk attaches"),
            (Command::DiskSnapshot(n), Some(s)) => s.disk_snapshot(&n).expect("a snapshot"),
            (Command::Advance(until), Some(s)) => {
                s.advance(until, ADVANCE_BUDGET);
            }
            (Command::Translate(a), Some(s)) => s.translate(a),
            (Command::SetExitControls(c), Some(s)) => s.set_exit_controls(c),
            (Command::SetTlb(t), Some(s)) => s.set_tlb(t),
            (Command::SetPtProtect(p), Some(s)) => s.set_pt_protect(p),
            (Command::SetTier { tier, threshold }, Some(s)) => s.set_tier(tier, threshold),
            (Command::ShowMemory { addr, space }, Some(s)) => s.show_memory(addr, space),
            (Command::Compare, Some(s)) => compared = Some(session::compare(s.program())),
            (Command::Crossover(runs), Some(s)) => {
                crossed = Some(session::crossover(s.program(), &runs))
            }
            (other, _) => panic!("{}: a demo sent {other:?}", demo.id),
        }
    }
    let view = s.expect("the first command loads").view(false);
    Shown {
        view,
        compared,
        crossed,
    }
}

fn counters(v: &View) -> BTreeMap<String, u64> {
    let xlate = v.xlate.iter().flat_map(|x| x.rows());
    let virtio = v
        .devices
        .iter()
        .flat_map(|d| d.virtio.iter())
        .flat_map(|d| d.rows());
    v.counters
        .rows()
        .into_iter()
        .chain(xlate)
        .chain(virtio)
        .collect()
}

fn tlb_pages(v: &View) -> Vec<u32> {
    v.tlb
        .iter()
        .filter_map(|l| u32::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .collect()
}

/// The claims of `expect` that the lab does not show after the step; `before` is
/// the view after the previous step.
fn broken_claims(
    expect: &Expect,
    program: &Program,
    v: &View,
    before: Option<&View>,
) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(stop) = &expect.stop {
        if v.stop.split_whitespace().next() != Some(stop.as_str()) {
            bad.push(format!(
                "stop: {stop:?} claimed, the status says {:?}",
                v.stop
            ));
        }
    }
    if let Some(at) = &expect.at {
        if program.symbol(at) != Some(v.linear_eip) {
            let here = program.source_line_at(v.linear_eip).map(|l| l.1);
            bad.push(format!(
                "at: {at} claimed, EIP is {:08x} ({here:?})",
                v.linear_eip
            ));
        }
    }
    if let Some(cpl) = expect.cpl {
        if v.cpu.cpl != cpl {
            bad.push(format!("cpl: {cpl} claimed, CPL reads {}", v.cpu.cpl));
        }
    }
    if let Some(exit) = &expect.exit {
        let last = v
            .new_events
            .iter()
            .rev()
            .find_map(|e| e.reason.strip_prefix("exit:"));
        if last != Some(exit.as_str()) {
            bad.push(format!("exit: {exit} claimed, the newest exit is {last:?}"));
        }
    }
    let (now, then) = (counters(v), before.map(counters).unwrap_or_default());
    for (name, change) in &expect.counters {
        let get = |m: &BTreeMap<String, u64>| m.get(name.as_str()).copied().unwrap_or(0) as i64;
        let seen = get(&now) - get(&then);
        if seen != *change {
            bad.push(format!("counters: {name} changed by {seen}, not {change}"));
        }
    }
    if let Some(d) = &expect.disk {
        bad.extend(claims_disk::broken(d, v, claims_disk::growth(&now, &then)));
    }
    let tlb = tlb_pages(v);
    for page in &expect.tlb_has {
        if !tlb.contains(page) {
            bad.push(format!("tlb-has: no entry for {page:08x} in {:?}", v.tlb));
        }
    }
    for page in &expect.tlb_lacks {
        if tlb.contains(page) {
            bad.push(format!("tlb-lacks: an entry for {page:08x} in {:?}", v.tlb));
        }
    }
    if let Some(text) = &expect.serial {
        if !v.serial_append.contains(text.as_str()) {
            bad.push(format!(
                "serial: {text:?} claimed, the console shows {:?}",
                v.serial_append
            ));
        }
    }
    if let Some(to) = expect.walk {
        let got = v.walk.as_ref().map(|w| w.result.clone());
        if got != Some(Ok(to)) {
            bad.push(format!("walk: {to:08x} claimed, the walk gives {got:?}"));
        }
    }
    for (i, claim) in expect.cpus.iter().enumerate() {
        match v.smp.cpu(i) {
            Some(c) => bad.extend(
                broken_cpu_claims(claim, program, c)
                    .into_iter()
                    .map(|b| format!("cpus[{i}].{b}")),
            ),
            None => bad.push(format!("cpus[{i}]: the machine has no CPU {i}")),
        }
    }
    bad
}

/// The claims about one CPU that its column of the CPU strip does not show.
fn broken_cpu_claims(
    claim: &vmlab_demos::CpuExpect,
    program: &Program,
    c: &lab_ui::smp::CpuView,
) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(st) = &claim.state {
        if c.state.name() != st {
            bad.push(format!("state: {st} claimed, it is {}", c.state.name()));
        }
    }
    if let Some(m) = &claim.mode {
        if c.mode.name() != m {
            bad.push(format!("mode: {m} claimed, it is {}", c.mode.name()));
        }
    }
    if let Some(at) = &claim.at {
        if program.symbol(at) != Some(c.linear_eip) {
            bad.push(format!("at: {at} claimed, EIP is {:08x}", c.linear_eip));
        }
    }
    if let Some(cs) = claim.cs {
        if c.cs != cs {
            bad.push(format!("cs: {cs:#06x} claimed, CS is {:#06x}", c.cs));
        }
    }
    if let Some(cur) = claim.current {
        if c.current != cur {
            bad.push(format!("current: {cur} claimed, it is {}", c.current));
        }
    }
    if let Some(n) = claim.ipis {
        if c.ipis_received != n {
            bad.push(format!(
                "ipis: {n} claimed, it accepted {}",
                c.ipis_received
            ));
        }
    }
    if let Some(irr) = &claim.irr {
        if &c.irr != irr {
            bad.push(format!("irr: {irr:?} claimed, requested {:?}", c.irr));
        }
    }
    if let Some(isr) = &claim.isr {
        if &c.isr != isr {
            bad.push(format!("isr: {isr:?} claimed, in service {:?}", c.isr));
        }
    }
    for page in &claim.tlb_has {
        if !c.tlb.contains(page) {
            bad.push(format!(
                "tlb-has: no entry for {page:08x} in {:08x?}",
                c.tlb
            ));
        }
    }
    for page in &claim.tlb_lacks {
        if c.tlb.contains(page) {
            bad.push(format!("tlb-lacks: an entry for {page:08x}"));
        }
    }
    if let Some(h) = &claim.host {
        if c.host.name() != h {
            bad.push(format!("host: {h} claimed, it is {}", c.host.name()));
        }
    }
    if let Some(n) = claim.spin {
        if c.spin != n {
            bad.push(format!("spin: {n} claimed, it spun {}", c.spin));
        }
    }
    bad
}

#[test]
fn every_step_of_every_demo_does_what_its_text_says() {
    let all = demos::all();
    assert!(all.len() >= 7, "{} demos", all.len());
    let mut checked = 0;
    // VMLAB_DEMO=ID checks one demo (its steps only)
    let only = std::env::var("VMLAB_DEMO").ok();
    for d in all
        .iter()
        .filter(|d| !lab_ui::demos_linux::is_linux(d))
        .filter(|d| only.as_deref().is_none_or(|id| id == d.id))
    {
        let p = demos::assemble(d.source, d.manifest.boot)
            .unwrap_or_else(|e| panic!("{}: {e:?}", d.id));
        let mut before: Option<View> = None;
        for (i, step) in d.steps().iter().enumerate() {
            let at = format!("{} step {} ({})", d.id, i + 1, step.title);
            assert!(!step.expect.is_empty(), "{at}: claims nothing");
            match &step.run {
                Run::To(label) => assert!(p.symbol(label).is_some(), "{at}: no label {label}"),
                Run::ToExit(name) => {
                    assert!(demos::exit_reason(name).is_some(), "{at}: no exit {name}")
                }
                _ => {}
            }
            let shown = show(d, &p, i);
            if step.reruns() {
                // a fresh machine: counters change from zero
                before = None;
            }
            let bad = broken_claims(&step.expect, &p, &shown.view, before.as_ref());
            assert!(bad.is_empty(), "{at}:\n  {}", bad.join("\n  "));
            let pictured = pictures::broken(step, &shown.view, shown.compared.as_deref());
            assert!(pictured.is_empty(), "{at}:\n  {}", pictured.join("\n  "));
            checked += 1;
            if step.compare {
                let runs = shown.compared.expect("a comparison");
                assert_eq!(runs.len(), MODE_SWITCH.len(), "{at}: every mode");
                assert!(runs.iter().all(|r| r.stop == "halted"), "{at}: {runs:?}");
            }
            before = Some(shown.view);
        }
    }
    assert!(checked >= 31 || only.is_some(), "{checked} steps");
}

/// The checker itself: claims that the machine contradicts are reported, each by its key.
#[test]
fn a_false_claim_is_reported() {
    let d = demos::find("trap-emulate").expect("the demo");
    let p = assemble("demo.asm", d.source).expect("assembles");
    let first = show(d, &p, 0).view;
    let second = show(d, &p, 1).view;
    let truth = &d.steps()[1].expect;
    assert!(broken_claims(truth, &p, &second, Some(&first)).is_empty());
    let mut counters = truth.counters.clone();
    counters.insert("vmm.exits".into(), 0);
    let lies = Expect {
        stop: Some("halted".into()),
        at: Some("after_cr0_read".into()),
        cpl: Some(0),
        exit: Some("io".into()),
        counters,
        tlb_has: vec![0x0040_0000],
        tlb_lacks: vec![0x0001_0000],
        serial: Some("VM".into()),
        walk: Some(0),
        jvm: None,
        cpus: vec![vmlab_demos::CpuExpect {
            state: Some("wait-sipi".into()),
            ..Default::default()
        }],
        disk: None,
    };
    let bad = broken_claims(&lies, &p, &second, Some(&first));
    let keys: Vec<&str> = bad.iter().filter_map(|b| b.split(':').next()).collect();
    assert_eq!(
        keys,
        [
            "stop",
            "at",
            "cpl",
            "exit",
            "counters",
            "tlb-has",
            "tlb-lacks",
            "serial",
            "walk",
            "cpus[0].state"
        ],
        "{bad:#?}"
    );
}

/// The page-table panel's shadow line reads the shadow entry itself: after the guest
/// rewrites a PTE without INVLPG it still names the old frame, and the new one after.
#[test]
fn the_shadow_line_shows_a_stale_shadow_entry_until_invlpg() {
    let d = demos::find("shadow-coherence").expect("the demo");
    let p = assemble("demo.asm", d.source).expect("assembles");
    let step = |title: &str| {
        d.steps()
            .iter()
            .position(|s| s.title == title)
            .expect(title)
    };
    let walk = |i: usize| show(d, &p, i).view.walk.expect("the step translates");
    let stale = walk(step("The kernel edits a page table"));
    // the shadow line names host frames: the guest's frame moved by the VMM's map
    let host = |gpa: u32| format!("{:08x}", emulator_core::vmm::p2m::host_of(gpa));
    assert_eq!(stale.result, Ok(0x20_2000), "the guest's tables: {stale:?}");
    assert!(stale.detail.contains(&host(0x20_0000)), "{}", stale.detail);
    assert_eq!(
        stale.host,
        stale
            .result
            .clone()
            .ok()
            .map(emulator_core::vmm::p2m::host_of),
        "the walk's host column: the guest's current frame, moved"
    );
    let fresh = walk(step("INVLPG brings the shadow up to date"));
    assert_eq!(fresh.result, Ok(0x20_2000));
    assert!(fresh.detail.contains(&host(0x20_2000)), "{}", fresh.detail);
    let shadow_hw = "hw-assist-shadow".parse::<ExecMode>().expect("a mode");
    let stale_hw = show_in(d, &p, shadow_hw, step("The kernel edits a page table"))
        .view
        .walk
        .expect("the step translates");
    assert!(
        stale_hw.detail.contains(&host(0x20_0000)),
        "{}",
        stale_hw.detail
    );
    let first = walk(0);
    assert!(
        first.detail.contains("not in the shadow"),
        "{}",
        first.detail
    );
}

#[test]
fn the_crossover_picture_flips_between_the_shadow_vs_nested_phases() {
    use lab_ui::components::pictures::crossover::{self, Phase};
    use lab_ui::protocol::CounterSet;
    let d = demos::find("shadow-vs-nested").expect("the demo");
    let p = assemble("demo.asm", d.source).expect("assembles");
    let (mut cr3, mut tlb) = (Vec::new(), Vec::new());
    // Each mode's pair of steps: CR3 switches from the start, then TLB misses.
    for first in [0, 2, 4] {
        let switched = show(d, &p, first).view;
        let missed = show(d, &p, first + 1).view;
        let none = CounterSet::default();
        let a = crossover::exit_bar(switched.mode, &none, &switched.counters);
        let b = crossover::exit_bar(missed.mode, &switched.counters, &missed.counters);
        // The bars hold every exit cycle the step claims name, from the same run.
        for (bar, step) in [(&a, first), (&b, first + 1)] {
            let claimed = d.steps()[step].expect.counters.get("vmm.exit_cycles");
            assert_eq!(
                claimed.map(|c| *c as u64),
                Some(bar.total()),
                "{}: step {step}",
                bar.mode.name()
            );
        }
        cr3.push(a);
        tlb.push(b);
    }
    let phases = [
        Phase {
            name: "CR3 switches".into(),
            bars: cr3,
        },
        Phase {
            name: "TLB misses".into(),
            bars: tlb,
        },
    ];
    let nested = "hw-assist".parse::<ExecMode>().expect("a mode");
    let shadow = "trap-emulate".parse::<ExecMode>().expect("a mode");
    assert_eq!(crossover::cheapest(&phases[0]), Some(nested));
    assert_eq!(crossover::cheapest(&phases[1]), Some(shadow));
    let svg = crossover::picture(&phases);
    // The last step's own runs, as the page draws them, give the same bars.
    let last = d.steps().len() - 1;
    let crossed = show(d, &p, last)
        .crossed
        .expect("the last step runs the crossover");
    assert_eq!(
        crossover::phases(&d.steps()[last].crossover, &crossed),
        phases
    );
    assert_eq!(svg.matches(r#"class="bar""#).count(), 6);
    assert!(
        svg.contains(
            r#"<g class="bar" data-mode="hw-assist" data-total="50020" data-cheapest="true">"#
        ),
        "{svg}"
    );
    assert!(
        svg.contains(
            r#"<g class="bar" data-mode="trap-emulate" data-total="6600" data-cheapest="true">"#
        ),
        "{svg}"
    );
}

/// The disk claims: a demo's true claims hold, and claims the disk contradicts are
/// reported, each by its key.
#[test]
fn a_false_disk_claim_is_reported() {
    let d = demos::find("disk-cow-snapshots").expect("the demo");
    let p = demos::assemble(d.source, d.manifest.boot).expect("assembles");
    let first = show(d, &p, 0).view;
    let second = show(d, &p, 1).view;
    let truth = d.steps()[1].expect.disk.clone().expect("disk claims");
    let grew = |a: &View, b: &View| {
        let (now, then) = (counters(a), counters(b));
        move |n: &str| {
            let get = |m: &BTreeMap<String, u64>| m.get(n).copied().unwrap_or(0) as i64;
            get(&now) - get(&then)
        }
    };
    assert!(claims_disk::broken(&truth, &second, grew(&second, &first)).is_empty());
    let lies = vmlab_demos::kind_disk::DiskExpect {
        counters_at_least: [("instructions".to_string(), 1_000_000)].into(),
        counters_at_most: [("instructions".to_string(), 0)].into(),
        allocated: Some(0),
        from_backing: Some(8),
        copied_on_write: Some(0),
        shared_clusters: Some(1),
        snapshots: Some(1),
        sectors_written: Some(0),
        sectors_read: Some(0),
    };
    let bad = claims_disk::broken(&lies, &second, grew(&second, &first));
    let keys: Vec<&str> = bad.iter().filter_map(|b| b.split(':').next()).collect();
    assert_eq!(
        keys,
        [
            "disk.counters-at-least",
            "disk.counters-at-most",
            "disk.allocated",
            "disk.from-backing",
            "disk.copied-on-write",
            "disk.shared-clusters",
            "disk.snapshots",
            "disk.sectors-read",
            "disk.sectors-written"
        ],
        "{bad:#?}"
    );
}
