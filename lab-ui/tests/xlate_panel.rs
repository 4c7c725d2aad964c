//! The translating tier in the lab's session: the three tiers leave the same state
//! (the general interpreter is the oracle), the cache panel's region detail shows the
//! passes at work, and its events name what happened, with the write behind an
//! invalidation.

use emulator_core::ExecMode;
use lab_ui::demos;
use lab_ui::program::Program;
use lab_ui::protocol::{Until, View, ADVANCE_BUDGET};
use lab_ui::worker::session::{Loaded, Session};
use lab_ui::xlate::{Tier, XlateLine};

fn program(id: &str) -> Program {
    let demo = vmlab_demos::find(id).expect("the demo exists");
    demos::assemble(demo.source, demo.manifest.boot).expect("the guest assembles")
}

fn session(p: &Program, tier: Tier, threshold: u32) -> Session {
    let loaded = Loaded {
        image: p.image.clone(),
        origin: p.origin,
        entry: emulator_core::FlatEntry::Protected32,
        setup: None,
        rom: false,
    };
    let mut s = Session::new(loaded, ExecMode::Bare).expect("the guest loads");
    s.set_tier(tier, threshold);
    s
}

/// Runs to the next trap; the view after it, and the cache events it brought.
fn to_trap(s: &mut Session, events: &mut Vec<XlateLine>) -> View {
    s.advance(Until::Trap, ADVANCE_BUDGET);
    let v = s.view(false);
    events.extend(v.xlate.iter().flat_map(|x| x.new_events.clone()));
    v
}

#[test]
fn every_tier_leaves_the_interpreters_state() {
    for id in ["xlate-tiers", "xlate-cache", "xlate-smc"] {
        let p = program(id);
        let run = |tier| {
            let mut s = session(&p, tier, 2);
            s.advance(Until::Stop, ADVANCE_BUDGET * 4);
            let v = s.view(false);
            let x = v.xlate.clone().expect("the view has the tier");
            assert_eq!(x.tier, tier);
            (v, x.stats[2])
        };
        let (interp, none) = run(Tier::Interp);
        assert_eq!(none, 0, "{id}: no region runs in the interpreter");
        for tier in [Tier::Fast, Tier::Translate] {
            let (v, translated) = run(tier);
            assert_eq!(v.stop, interp.stop, "{id} {tier:?}");
            assert_eq!(v.icount, interp.icount, "{id} {tier:?}");
            assert_eq!(v.cpu, interp.cpu, "{id} {tier:?}");
            assert_eq!(v.serial_append, interp.serial_append, "{id} {tier:?}");
            if tier == Tier::Translate {
                assert!(
                    translated * 2 > v.icount,
                    "{id}: regions retired {translated} of {} instructions",
                    v.icount
                );
            }
        }
    }
}

#[test]
fn the_loops_region_shows_dead_flags_removed_and_its_wasm() {
    let p = program("xlate-tiers");
    let mut s = session(&p, Tier::Translate, 2);
    let mut events = Vec::new();
    let v = to_trap(&mut s, &mut events);
    let x = v.xlate.expect("the view has the tier");
    let body = p.symbol("loop_body").expect("the label");
    let row = x
        .regions
        .iter()
        .find(|r| r.entry == body)
        .unwrap_or_else(|| panic!("no region at loop_body in {:?}", x.regions));
    assert_eq!(row.instructions, 6, "{row:?}");
    assert_eq!(row.range, (body, p.symbol("loop_done").unwrap() - 2));
    assert!(row.runs >= 1);
    assert!(events
        .iter()
        .any(|e| e.kind == "translate" && e.text.contains(&format!("{body:#010x}"))));
    s.show_region(Some(body));
    let d = s
        .view(false)
        .xlate
        .and_then(|x| x.detail)
        .expect("the region in detail");
    let flags = |ir: &[String]| ir.iter().filter(|l| l.contains("flags = ")).count();
    assert_eq!(d.x86.len(), 6, "{:?}", d.x86);
    assert!(d.x86[0].contains("add eax,ebx"), "{:?}", d.x86);
    assert_eq!(flags(&d.ir_before), 5, "{:#?}", d.ir_before);
    // ADD's, XOR's and the second ADD's records are overwritten unread; SUB's stays,
    // as DEC keeps its CF.
    assert_eq!(flags(&d.ir_after), 2, "{:#?}", d.ir_after);
    assert!(d.ir_after.len() < d.ir_before.len());
    assert!(d.module.len() > 40, "{} bytes", d.module.len());
    // The page prints the module with the region-text printer: the whole module.
    let wasm = vmlab_region_text::wasm_text(&d.module);
    assert_eq!(
        wasm.first().map(String::as_str),
        Some("(module"),
        "{wasm:#?}"
    );
    assert_eq!(wasm.last().map(String::as_str), Some(")"), "{wasm:#?}");
    let has = |s: &str| wasm.iter().any(|l| l.contains(s));
    assert!(has("(func "), "{wasm:#?}");
    assert!(has("(import \"vmlab\" \"load\""), "{wasm:#?}");
    assert!(has("(export \"run\""), "{wasm:#?}");
    assert!(
        wasm.iter().any(|l| l.trim().starts_with("local.get ")),
        "{wasm:#?}"
    );
}

#[test]
fn a_write_to_translated_code_invalidates_with_its_address() {
    let p = program("xlate-smc");
    let mut s = session(&p, Tier::Translate, 2);
    let mut events = Vec::new();
    to_trap(&mut s, &mut events);
    assert!(!events.iter().any(|e| e.kind == "invalidate"));
    to_trap(&mut s, &mut events);
    let write = p.symbol("patched").unwrap() + 1;
    let inval: Vec<_> = events.iter().filter(|e| e.kind == "invalidate").collect();
    assert!(!inval.is_empty(), "{events:?}");
    for e in &inval {
        assert!(
            e.text.contains(&format!("written at {write:#010x}")),
            "{e:?}"
        );
    }
    // Switching the tier flushes the cache.
    s.set_tier(Tier::Fast, 2);
    let v = s.view(false);
    let x = v.xlate.expect("the view has the tier");
    assert!(x.regions.is_empty());
    assert!(
        x.new_events.iter().any(|e| e.kind == "flush"),
        "{:?}",
        x.new_events
    );
}

#[test]
fn chained_regions_are_listed_as_successors_and_events() {
    let p = program("xlate-cache");
    let mut s = session(&p, Tier::Translate, 4);
    let mut events = Vec::new();
    to_trap(&mut s, &mut events);
    let v = to_trap(&mut s, &mut events);
    let x = v.xlate.expect("the view has the tier");
    let entries: Vec<u32> = x.regions.iter().map(|r| r.entry).collect();
    let links: Vec<(u32, u32)> = x
        .regions
        .iter()
        .flat_map(|r| r.successors.iter().map(move |&t| (r.entry, t)))
        .collect();
    assert!(!links.is_empty(), "{:?}", x.regions);
    for (from, to) in &links {
        assert!(entries.contains(to));
        assert!(
            events
                .iter()
                .any(|e| e.text == format!("chain {from:#010x} -> {to:#010x}")),
            "{events:?}"
        );
    }
}
