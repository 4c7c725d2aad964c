//! The manifest keys of a JVM demo (`kind = "jvm"`): the example class it runs, the
//! collector and heap size, per-step collector switches and claims about the frames
//! and the heap, and the check of all of them against the program's Java source.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Manifest, Panel, Run};

#[path = "kind_jit.rs"]
pub mod kind_jit;

/// The modes a JVM demo runs in: the interpreter alone, or with the JIT
/// (`jit-threshold` set).
pub const JVM_MODES: [&str; 2] = ["interpret", "jit"];

/// The collectors a JVM demo may name (as `vmlab jvm --gc` spells them).
pub const COLLECTORS: [&str; 2] = ["mark-sweep", "copying"];

/// The panels a JVM demo's steps may focus: the JVM panel's parts.
pub const JVM_PANELS: [Panel; 5] = [
    Panel::JvmCode,
    Panel::JvmFrames,
    Panel::JvmPool,
    Panel::JvmHeap,
    Panel::JvmCounters,
];

/// `[jvm]`: what the demo runs.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JvmSetup {
    /// The embedded example class whose `main` runs (`Garbage`).
    pub class: String,
    /// The collector it starts with: one of [`COLLECTORS`].
    pub gc: String,
    /// Heap bytes (both halves for the copying collector).
    pub heap: u32,
    /// Invocations plus back edges before a method compiles (mode `jit` only).
    pub jit_threshold: Option<u32>,
}

/// `[step.jvm]`: what a step of a JVM demo changes before it runs.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JvmStep {
    /// Reruns the program from its start under this collector; later steps go on in it.
    pub gc: Option<String>,
    /// Collects once, after the step's run.
    #[serde(default)]
    pub collect: bool,
    /// What the step does with compiled code (mode `jit` only).
    pub jit: Option<kind_jit::JitStep>,
}

/// `[step.expect.jvm]`: what a JVM step claims about the frames and the heap.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JvmExpect {
    /// Frames on the stack after the step.
    pub frames: Option<usize>,
    /// The top frame's method, `Class.name`.
    pub method: Option<String>,
    /// The top frame's pc.
    pub pc: Option<usize>,
    /// The name of the bytecode the top frame is at (`iadd`).
    pub instruction: Option<String>,
    /// The top frame's operand stack, bottom first, as the frame view prints it
    /// (`3`, `5L`, `null`, `@0x10`).
    pub stack: Option<Vec<String>>,
    /// The top frame's locals, in order, printed as in `stack` (`·` for unset).
    pub locals: Option<Vec<String>>,
    /// Heap figures after the step (`objects`, `marked`, `moved`, `free-bytes`,
    /// `used-bytes`), absolute.
    #[serde(default)]
    pub heap: BTreeMap<String, i64>,
    /// The collector the heap is managed by.
    pub collector: Option<String>,
    /// What the step claims about the JIT (mode `jit` only).
    pub jit: Option<kind_jit::JitExpect>,
}

/// Whether the Java source declares a class, interface or enum `name`.
fn declares_class(source: &str, name: &str) -> bool {
    source.lines().any(|l| {
        let mut words = l.split(|c: char| !(c.is_alphanumeric() || c == '_'));
        let mut prev = "";
        words.any(|w| {
            let hit = matches!(prev, "class" | "interface" | "enum") && w == name;
            if !w.is_empty() {
                prev = w;
            }
            hit
        })
    })
}

/// Whether the Java source mentions `name(` (a method's declaration or call).
fn mentions_method(source: &str, name: &str) -> bool {
    source.match_indices(name).any(|(i, _)| {
        let before = source[..i].chars().next_back();
        let after = source[i + name.len()..].trim_start().starts_with('(');
        after && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Checks a `kind = "jvm"` manifest against the Java source of its program (`guest`).
/// The error starts with the key.
pub fn validate_jvm(m: &Manifest, java_source: &str) -> Result<(), String> {
    if !JVM_MODES.contains(&m.mode.as_str()) {
        return Err(format!(
            "mode: {:?} is not one of {} (a JVM demo's modes)",
            m.mode,
            JVM_MODES.join(", ")
        ));
    }
    let setup = m
        .jvm
        .as_ref()
        .ok_or("jvm: a JVM demo needs a [jvm] table (class, gc, heap)")?;
    if !declares_class(java_source, &setup.class) {
        return Err(format!(
            "jvm.class: {} declares no class {:?}",
            m.guest, setup.class
        ));
    }
    let jit = m.mode == "jit";
    match setup.jit_threshold {
        Some(0) | None if jit => {
            return Err("jvm.jit-threshold: mode jit needs a threshold of at least 1".into())
        }
        Some(_) if !jit => return Err("jvm.jit-threshold: for mode jit only".into()),
        _ => {}
    }
    if !COLLECTORS.contains(&setup.gc.as_str()) {
        return Err(format!(
            "jvm.gc: {:?} is not one of {}",
            setup.gc,
            COLLECTORS.join(", ")
        ));
    }
    if !(256..=1 << 30).contains(&setup.heap) {
        return Err(format!(
            "jvm.heap: {} bytes is outside 256..=1 GiB",
            setup.heap
        ));
    }
    if m.steps.is_empty() {
        return Err("step: a demo needs at least one [[step]]".into());
    }
    let method = |key: String, target: &str| -> Result<(), String> {
        let (class, name) = target
            .split_once('.')
            .ok_or_else(|| format!("{key}: {target:?} is not Class.method"))?;
        if !declares_class(java_source, class) {
            return Err(format!("{key}: {} declares no class {class:?}", m.guest));
        }
        if name != "<init>" && !mentions_method(java_source, name) {
            return Err(format!("{key}: {} has no method {name:?}", m.guest));
        }
        Ok(())
    };
    for (i, s) in m.steps.iter().enumerate() {
        let key = |k: &str| format!("step[{i}].{k}");
        if s.title.trim().is_empty() {
            return Err(key("title: empty"));
        }
        if s.text.trim().is_empty() {
            return Err(key("text: empty"));
        }
        if m.steps[..i].iter().any(|o| o.title == s.title) {
            return Err(key(&format!(
                "title: {:?} is used by an earlier step",
                s.title
            )));
        }
        match &s.run {
            Run::Instructions(0) => return Err(key("run.instructions: must be at least 1")),
            Run::To(t) => method(key("run.to"), t)?,
            Run::ToTrap | Run::ToExit(_) => {
                return Err(key(
                    "run: a JVM demo runs bytecodes, to a method, to-gc or to-end",
                ))
            }
            _ => {}
        }
        if s.focus.is_empty() {
            return Err(key("focus: name the panels the step is about"));
        }
        if s.focus.len() > super::MAX_FOCUS {
            return Err(key(&format!(
                "focus: at most {} panels fit one projector screen",
                super::MAX_FOCUS
            )));
        }
        for (j, p) in s.focus.iter().enumerate() {
            let jit_panel = jit && kind_jit::JIT_PANELS.contains(p);
            if !JVM_PANELS.contains(p) && !jit_panel {
                return Err(key(&format!(
                    "focus: {} is not a part of the JVM panel",
                    p.testid()
                )));
            }
            if s.focus[..j].contains(p) {
                return Err(key(&format!("focus: {} twice", p.testid())));
            }
        }
        let machine_only = s.mode.is_some()
            || s.exit_controls.is_some()
            || s.tlb.is_some()
            || s.pt_protect.is_some()
            || s.translate.is_some()
            || s.memory.is_some()
            || s.log.is_some()
            || s.compare
            || !s.crossover.is_empty();
        if machine_only {
            return Err(key("a JVM step sets only run, focus, jvm and expect"));
        }
        if let Some(gc) = s.jvm.as_ref().and_then(|j| j.gc.as_ref()) {
            if !COLLECTORS.contains(&gc.as_str()) {
                return Err(key(&format!(
                    "jvm.gc: {gc:?} is not one of {}",
                    COLLECTORS.join(", ")
                )));
            }
        }
        let step_jit = s.jvm.as_ref().and_then(|j| j.jit.as_ref());
        let expect_jit = s.expect.jvm.as_ref().and_then(|j| j.jit.as_ref());
        if !jit && (step_jit.is_some() || expect_jit.is_some()) {
            return Err(key("jvm.jit: for mode jit only"));
        }
        if step_jit.is_some_and(|j| j.until.is_some()) && s.run != Run::Look {
            return Err(key(
                "run: a step that runs to a JIT event runs nothing else",
            ));
        }
        kind_jit::validate_jit(&key, step_jit, expect_jit, &method)?;
        let e = &s.expect;
        if e.at.is_some()
            || e.cpl.is_some()
            || e.exit.is_some()
            || e.walk.is_some()
            || !e.tlb_has.is_empty()
            || !e.tlb_lacks.is_empty()
        {
            return Err(key(
                "expect: a JVM step claims stop, counters, serial and jvm only",
            ));
        }
        if let Some(j) = &e.jvm {
            if let Some(t) = &j.method {
                method(key("expect.jvm.method"), t)?;
            }
            if let Some(c) = &j.collector {
                if !COLLECTORS.contains(&c.as_str()) {
                    return Err(key(&format!(
                        "expect.jvm.collector: {c:?} is not one of {}",
                        COLLECTORS.join(", ")
                    )));
                }
            }
            for k in j.heap.keys() {
                if !HEAP_FIGURES.contains(&k.as_str()) {
                    return Err(key(&format!(
                        "expect.jvm.heap: {k:?} is not one of {}",
                        HEAP_FIGURES.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The heap figures a step may claim.
pub const HEAP_FIGURES: [&str; 5] = ["objects", "marked", "moved", "free-bytes", "used-bytes"];

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "class Tree {\n  static Tree insert(Tree t) { return t; }\n}\npublic class Garbage {\n  public static void main(String[] a) { Tree.insert(null); }\n}\n";

    fn check(extra: &str, steps: &str) -> Result<Manifest, String> {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nguest = \"G.java\"\nkind = \"jvm\"\nmode = \"interpret\"\n{extra}\n{steps}"
        ))?;
        m.validate(SOURCE)?;
        Ok(m)
    }

    const JVM: &str = "[jvm]\nclass = \"Garbage\"\ngc = \"mark-sweep\"\nheap = 4096\n";

    #[test]
    fn jit_keys_need_mode_jit_and_name_known_events_and_counters() {
        let jit =
            "[jvm]\nclass = \"Garbage\"\ngc = \"mark-sweep\"\nheap = 4096\njit-threshold = 5\n";
        let parse = |mode: &str, extra: &str, steps: &str| {
            let m = Manifest::parse(&format!(
                "title = \"t\"\norder = 1\nguest = \"G.java\"\nkind = \"jvm\"\nmode = \"{mode}\"\n{extra}\n{steps}"
            ))?;
            m.validate(SOURCE)
        };
        let step = "[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"jvm-jit\", \"disasm\"]\n[step.jvm.jit]\nuntil = \"compile\"\nx86 = 2\n[step.expect.jvm.jit]\nevent = \"compile\"\nevent-method = \"Tree.insert\"\nless-than = { steps = \"off.steps\" }\n";
        parse("jit", jit, step).expect("valid");
        let e = parse("interpret", jit, step).expect_err("threshold without mode jit");
        assert!(e.starts_with("jvm.jit-threshold:"), "{e}");
        let e = parse("jit", JVM, step).expect_err("mode jit without a threshold");
        assert!(e.starts_with("jvm.jit-threshold:"), "{e}");
        let e = parse(
            "jit",
            jit,
            &step.replace("\"compile\"\nx86", "\"return\"\nx86"),
        )
        .expect_err("until");
        assert!(e.contains("jvm.jit.until"), "{e}");
        let e = parse("jit", jit, &step.replace("x86 = 2", "x86 = 0")).expect_err("x86");
        assert!(e.contains("jvm.jit.x86"), "{e}");
        let e = parse(
            "jit",
            jit,
            &step.replace("event = \"compile\"", "event = \"osr\""),
        )
        .expect_err("event");
        assert!(e.contains("expect.jvm.jit.event"), "{e}");
        let e = parse("jit", jit, &step.replace("Tree.insert", "Tree.remove")).expect_err("method");
        assert!(e.contains("event-method"), "{e}");
        let e = parse("jit", jit, &step.replace("off.steps", "cycles")).expect_err("counter");
        assert!(e.contains("less-than"), "{e}");
        let e = parse(
            "jit",
            jit,
            &step.replace("[step.jvm.jit]", "run = \"to-end\"\n[step.jvm.jit]"),
        )
        .expect_err("run and until");
        assert!(e.contains("runs nothing else"), "{e}");
    }

    #[test]
    fn a_jvm_demo_names_a_class_of_its_source_and_jvm_panels() {
        let ok = check(
            JVM,
            "[[step]]\ntitle = \"a\"\ntext = \"b\"\nrun = { to = \"Tree.insert\" }\nfocus = [\"jvm-frames\"]\n[step.jvm]\ngc = \"copying\"\n[step.expect.jvm]\nframes = 2\nheap = { objects = 3 }\n",
        )
        .expect("valid");
        assert_eq!(ok.jvm.as_ref().map(|j| j.heap), Some(4096));
        assert_eq!(
            ok.steps[0].expect.jvm.as_ref().and_then(|j| j.frames),
            Some(2)
        );
        let step = "[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"jvm-frames\"]\n";
        let e = check("", step).expect_err("no [jvm]");
        assert!(e.starts_with("jvm:"), "{e}");
        let e = check(&JVM.replace("Garbage", "Missing"), step).expect_err("no such class");
        assert!(e.starts_with("jvm.class:"), "{e}");
        let e = check(&JVM.replace("mark-sweep", "g1"), step).expect_err("collector");
        assert!(e.starts_with("jvm.gc:"), "{e}");
        let e = check(JVM, &step.replace("jvm-frames", "registers")).expect_err("machine panel");
        assert!(e.contains("not a part of the JVM panel"), "{e}");
        let e = check(JVM, &format!("{step}run = {{ to = \"Tree.remove\" }}\n"))
            .expect_err("no such method");
        assert!(e.starts_with("step[0].run.to:"), "{e}");
        let e = check(JVM, &format!("{step}run = \"to-trap\"\n")).expect_err("a trap");
        assert!(e.starts_with("step[0].run:"), "{e}");
        let e = check(
            JVM,
            &format!("{step}[step.expect.jvm]\nheap = {{ pages = 1 }}\n"),
        )
        .expect_err("unknown figure");
        assert!(e.contains("expect.jvm.heap"), "{e}");
    }
}
