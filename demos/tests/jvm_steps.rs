//! Plays every step of every JVM demo natively and checks what its text claims: the
//! frames, the heap, the counters and the output; the heap stays consistent after
//! each step, and a demo run to its end prints what `java` prints.

use std::collections::BTreeMap;
use std::process::Command;

use vmlab_demos::jvm_player::JvmPlayer;
use vmlab_demos::{of_kind, Kind, Run};

/// Every reference held by an object or a frame names an object on the heap.
fn dangling(p: &JvmPlayer) -> Vec<String> {
    let vm = p.vm();
    let mut bad = Vec::new();
    for (a, o) in &vm.heap.objects {
        for r in o.body.refs() {
            if !vm.heap.objects.contains_key(&r) {
                bad.push(format!(
                    "object {a:#x} refers to {r:#x}, which is not on the heap"
                ));
            }
        }
    }
    for f in vm.frame_views() {
        for v in f.locals.iter().chain(&f.stack) {
            if let vmlab_jvm::heap::Value::Ref(r) = v {
                if *r != 0 && !vm.heap.objects.contains_key(r) {
                    bad.push(format!(
                        "{}.{} holds {r:#x}, not on the heap",
                        f.class, f.method
                    ));
                }
            }
        }
    }
    bad
}

/// `java`'s output for an embedded example, when `java` is installed.
fn java_output(class: &str) -> Option<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../jvm/examples");
    let out = Command::new("java")
        .args(["-cp", dir, class])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_step_of_every_jvm_demo_does_what_its_text_says() {
    let demos: Vec<_> = of_kind(Kind::Jvm).collect();
    let ids: Vec<&str> = demos.iter().map(|d| d.id).collect();
    for want in ["stack-machine", "garbage-collection", "jit"] {
        assert!(ids.contains(&want), "no {want} demo in {ids:?}");
    }
    for d in demos {
        let mut p = JvmPlayer::start(&d.manifest).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        let mut before: Option<BTreeMap<String, i64>> = None;
        for (i, step) in d.steps().iter().enumerate() {
            let at = format!("{} step {} ({})", d.id, i + 1, step.title);
            assert!(!step.expect.is_empty(), "{at}: claims nothing");
            if step.jvm.as_ref().is_some_and(|j| j.gc.is_some()) {
                before = None;
            }
            p.play(step).unwrap_or_else(|e| panic!("{at}: {e}"));
            let bad = p.broken_claims(&step.expect, before.as_ref());
            assert!(bad.is_empty(), "{at}:\n  {}", bad.join("\n  "));
            let dangling = dangling(&p);
            assert!(dangling.is_empty(), "{at}:\n  {}", dangling.join("\n  "));
            if step.run == Run::ToEnd {
                let class = &d.manifest.jvm.as_ref().expect("a JVM demo").class;
                match java_output(class) {
                    Some(out) => assert_eq!(p.vm().stdout, out, "{at}: java prints otherwise"),
                    None => eprintln!("{at}: java is not installed; its output is not compared"),
                }
            }
            before = Some(p.counters());
        }
    }
}

#[test]
fn the_player_at_a_step_is_the_player_stepped_there() {
    let d = of_kind(Kind::Jvm)
        .find(|d| d.id == "stack-machine")
        .expect("the stack-machine demo");
    let p = JvmPlayer::at_step(&d.manifest, 4).expect("plays");
    let mut q = JvmPlayer::start(&d.manifest).expect("starts");
    for s in &d.steps()[..5] {
        q.play(s).expect("plays");
    }
    assert_eq!(p.counters(), q.counters());
    assert_eq!(p.vm().frame_views().len(), q.vm().frame_views().len());
    assert_eq!(p.stop(), "stepped");
}

#[test]
fn a_false_claim_is_reported_with_its_key() {
    let d = of_kind(Kind::Jvm)
        .find(|d| d.id == "stack-machine")
        .expect("the stack-machine demo");
    let p = JvmPlayer::at_step(&d.manifest, 1).expect("plays");
    let lies = vmlab_demos::Manifest::parse(
        "title = \"t\"\norder = 1\nguest = \"G.java\"\nkind = \"jvm\"\nmode = \"interpret\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"jvm-frames\"]\n[step.expect]\nstop = \"finished\"\nserial = \"nothing\"\ncounters = { steps = 2 }\n[step.expect.jvm]\nframes = 3\nmethod = \"Tree.insert\"\npc = 9\ninstruction = \"iadd\"\nstack = [\"8\"]\nlocals = []\nheap = { objects = 0 }\ncollector = \"copying\"\n",
    )
    .expect("parses");
    let bad = p.broken_claims(&lies.steps[0].expect, None);
    let keys: Vec<&str> = bad.iter().filter_map(|b| b.split(':').next()).collect();
    assert_eq!(
        keys,
        [
            "stop",
            "counters",
            "serial",
            "frames",
            "method",
            "pc",
            "instruction",
            "stack",
            "locals",
            "heap.objects",
            "collector"
        ],
        "{bad:#?}"
    );
    let truth = &d.steps()[1].expect;
    assert!(p.broken_claims(truth, None).is_empty());
}

#[test]
fn false_jit_claims_are_reported_with_their_keys() {
    let d = of_kind(Kind::Jvm)
        .find(|d| d.id == "jit")
        .expect("the jit demo");
    // Stopped before compiled code, its frame loaded and three x86 instructions in.
    let p = JvmPlayer::at_step(&d.manifest, 3).expect("plays");
    assert_eq!(p.stop(), "x86");
    let lies = vmlab_demos::Manifest::parse(
        "title = \"t\"\norder = 1\nguest = \"G.java\"\nkind = \"jvm\"\nmode = \"jit\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"jvm-jit\"]\n[step.expect.jvm.jit]\nstaged = false\nevent = \"deopt\"\nevent-method = \"Hot.main\"\nevent-pc = 13\nx86-at = 25\nx86-in-bytecode = false\nat-least = { \"jit.compiled\" = 5 }\nless-than = { \"steps\" = \"off.steps\" }\ninterpreted-factor-at-least = 2\n",
    )
    .expect("parses");
    let bad = p.broken_claims(&lies.steps[0].expect, None);
    let keys: Vec<&str> = bad.iter().filter_map(|b| b.split(':').next()).collect();
    assert_eq!(
        keys,
        [
            "jit.staged",
            "jit.event",
            "jit.event-method",
            "jit.event-pc",
            "jit.x86-at",
            "jit.x86-in-bytecode",
            "jit.at-least",
            "jit.less-than",
            "jit.interpreted-factor-at-least"
        ],
        "{bad:#?}"
    );
    let before = JvmPlayer::at_step(&d.manifest, 2)
        .expect("plays")
        .counters();
    let truth = &d.steps()[3].expect;
    assert!(p.broken_claims(truth, Some(&before)).is_empty());
}
