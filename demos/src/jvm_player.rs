//! The player of `kind = "jvm"` demos: boots the embedded example class a manifest
//! names under its collector and heap size, runs each step (bytecodes, to a method,
//! to the next collection, to the end; the JIT's steps are in `jit_player.rs`), and
//! checks a step's claims against the frames, the heap and the counters.

use std::collections::BTreeMap;

use vmlab_jvm::examples::EXAMPLES;
use vmlab_jvm::heap::Value;
use vmlab_jvm::{GcKind, Outcome, Vm, VmConfig};

use crate::manifest::kind_jvm::JvmExpect;
use crate::{Expect, Manifest, Run, Step};

/// Bytecodes one step may run at most.
pub const STEP_BUDGET: u64 = 5_000_000;
/// Bytecodes the run with the JIT off may take.
const OFF_BUDGET: u64 = 50_000_000;

/// A JVM demo being played.
pub struct JvmPlayer {
    vm: Vm<'static>,
    class: String,
    heap: u32,
    /// The JIT threshold (0: off).
    jit: u32,
    stop: String,
    /// Bytecodes the program interpreted run with the JIT off (`compare-off`).
    off_steps: Option<u64>,
}

impl core::fmt::Debug for JvmPlayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JvmPlayer")
            .field("class", &self.class)
            .field("stop", &self.stop)
            .finish()
    }
}

fn boot(class: &str, gc: &str, heap: u32, jit: u32) -> Result<Vm<'static>, String> {
    let gc = GcKind::parse(gc).ok_or_else(|| format!("jvm.gc: unknown collector {gc:?}"))?;
    let config = VmConfig {
        gc,
        heap_bytes: heap,
        jit_threshold: jit,
        ..VmConfig::default()
    };
    Vm::new(&EXAMPLES, class, config).map_err(|e| format!("jvm.class: {e}"))
}

impl JvmPlayer {
    /// The demo's program, loaded and not yet run.
    pub fn start(m: &Manifest) -> Result<JvmPlayer, String> {
        let setup = m.jvm.as_ref().ok_or("jvm: the demo has no [jvm] table")?;
        let jit = setup.jit_threshold.unwrap_or(0);
        Ok(JvmPlayer {
            vm: boot(&setup.class, &setup.gc, setup.heap, jit)?,
            class: setup.class.clone(),
            heap: setup.heap,
            jit,
            stop: "loaded".into(),
            off_steps: None,
        })
    }

    /// The demo played from its start through step `upto`.
    pub fn at_step(m: &Manifest, upto: usize) -> Result<JvmPlayer, String> {
        let mut p = JvmPlayer::start(m)?;
        for (i, s) in m.steps.iter().enumerate().take(upto.saturating_add(1)) {
            p.play(s).map_err(|e| format!("step[{i}]: {e}"))?;
        }
        Ok(p)
    }

    /// The machine.
    pub fn vm(&self) -> &Vm<'static> {
        &self.vm
    }

    /// The machine, for a view that goes on running it.
    pub fn into_vm(self) -> Vm<'static> {
        self.vm
    }

    /// Bytecodes the program interpreted with the JIT off, once a step compared.
    pub fn off_steps(&self) -> Option<u64> {
        self.off_steps
    }

    /// Why the last step stopped: `loaded`, `stepped`, `reached`, `collected`,
    /// `finished`, `uncaught CLASS`, `budget`, or after a JIT step `compiled`,
    /// `staged`, `deopt` or `x86`.
    pub fn stop(&self) -> &str {
        &self.stop
    }

    /// Whether the top frame is at the entry of `Class.method`.
    fn at_entry(&self, target: &str) -> bool {
        let Some((class, name)) = target.split_once('.') else {
            return false;
        };
        self.vm.frames.last().is_some_and(|f| {
            f.pc == 0
                && self.vm.classes.name(f.class) == class
                && self
                    .vm
                    .method_label(f.class, f.method)
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('('))
        })
    }

    /// Steps until `done` holds after a bytecode, the program ends or the budget runs out.
    fn run_until(&mut self, hit: &str, done: impl Fn(&JvmPlayer) -> bool) -> Result<(), String> {
        for _ in 0..STEP_BUDGET {
            if let Some(o) = self.vm.step().map_err(|e| e.to_string())? {
                self.stop = ended(&o);
                return Ok(());
            }
            if done(self) {
                self.stop = hit.into();
                return Ok(());
            }
        }
        self.stop = "budget".into();
        Ok(())
    }

    /// Plays one step from where the previous one left the machine.
    pub fn play(&mut self, step: &Step) -> Result<(), String> {
        if let Some(gc) = step.jvm.as_ref().and_then(|j| j.gc.as_ref()) {
            self.vm = boot(&self.class, gc, self.heap, self.jit)?;
            self.stop = "loaded".into();
        }
        match &step.run {
            Run::Look => {}
            Run::Instructions(n) => {
                let o = self.vm.run(u64::from(*n)).map_err(|e| e.to_string())?;
                self.stop = match o {
                    Outcome::Budget => "stepped".into(),
                    o => ended(&o),
                };
            }
            Run::To(target) => self.run_until("reached", |p| p.at_entry(target))?,
            Run::ToGc => {
                let before = self.vm.heap.stats.collections;
                self.run_until("collected", |p| p.vm.heap.stats.collections > before)?;
            }
            Run::ToEnd => {
                let o = self.vm.run(STEP_BUDGET).map_err(|e| e.to_string())?;
                self.stop = match o {
                    Outcome::Budget => "budget".into(),
                    o => ended(&o),
                };
            }
            Run::ToTrap | Run::ToExit(_) => {
                return Err("run: a JVM demo has no traps or VM exits".into())
            }
        }
        if step.jvm.as_ref().is_some_and(|j| j.collect) {
            self.vm.collect();
            self.stop = "collected".into();
        }
        if let Some(j) = step.jvm.as_ref().and_then(|j| j.jit.as_ref()) {
            crate::jit_player::play(self, j)?;
        }
        Ok(())
    }

    /// The machine, for the JIT steps.
    pub(crate) fn vm_mut(&mut self) -> &mut Vm<'static> {
        &mut self.vm
    }

    /// Records why a step stopped.
    pub(crate) fn set_stop(&mut self, stop: String) {
        self.stop = stop;
    }

    /// Runs the program again from its start with the JIT off, to its end; keeps the
    /// bytecodes it interpreted.
    pub(crate) fn compare_off(&mut self) -> Result<(), String> {
        let setup_gc = self.vm.heap.kind.name();
        let mut off = boot(&self.class, setup_gc, self.heap, 0)?;
        match off.run(OFF_BUDGET).map_err(|e| e.to_string())? {
            Outcome::Finished => {
                self.off_steps = Some(off.steps);
                Ok(())
            }
            o => Err(format!(
                "jvm.jit.compare-off: with the JIT off the program did not finish: {}",
                ended(&o)
            )),
        }
    }

    /// The counters a step's `counters` claims are about: `steps` (bytecodes),
    /// `gc.collections`, `gc.bytes-reclaimed`, `gc.objects-reclaimed`,
    /// `gc.objects-moved`, `gc.pause-steps` (all collections), `heap.objects`.
    pub fn counters(&self) -> BTreeMap<String, i64> {
        let s = &self.vm.heap.stats;
        let j = &self.vm.jit.stats;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        [
            ("steps", n(self.vm.steps)),
            ("gc.collections", n(s.collections)),
            ("gc.bytes-reclaimed", n(s.bytes_reclaimed)),
            ("gc.objects-reclaimed", n(s.objects_reclaimed)),
            ("gc.objects-moved", n(s.objects_moved)),
            ("gc.pause-steps", n(s.total_pause_steps)),
            ("heap.objects", n(self.vm.heap.objects.len() as u64)),
            ("off.steps", n(self.off_steps.unwrap_or(0))),
            ("jit.compiled", n(j.compiled)),
            ("jit.entries", n(j.entries)),
            ("jit.deopts", n(j.deopts)),
            ("jit.returns", n(j.returns)),
            ("jit.x86-instructions", n(j.x86_instructions)),
            ("jit.bytecodes-compiled", n(j.bytecodes_compiled)),
            ("jit.code-bytes", n(j.code_bytes)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The heap figures a step's `[step.expect.jvm] heap` claims are about.
    pub fn heap_figures(&self) -> BTreeMap<String, i64> {
        let snap = self.vm.heap_snapshot();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let count = |f: &dyn Fn(&vmlab_jvm::heap::SnapObject) -> bool| {
            n(snap.objects.iter().filter(|o| f(o)).count() as u64)
        };
        let free: u64 = match snap.from_space {
            // The copying collector's free space is the rest of the current half.
            Some(_) => snap.free.first().map_or(0, |&(_, l)| u64::from(l)),
            None => snap.free.iter().map(|&(_, l)| u64::from(l)).sum(),
        };
        [
            ("objects", n(snap.objects.len() as u64)),
            ("marked", count(&|o| o.marked)),
            ("moved", count(&|o| o.moved_from.is_some())),
            ("free-bytes", n(free)),
            ("used-bytes", n(u64::from(snap.used))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The claims of `expect` the machine does not bear out, each with what it shows;
    /// `before` holds the counters before the step (none: from zero).
    pub fn broken_claims(
        &self,
        expect: &Expect,
        before: Option<&BTreeMap<String, i64>>,
    ) -> Vec<String> {
        let mut bad = Vec::new();
        if let Some(stop) = &expect.stop {
            let first = self.stop.split_whitespace().next().unwrap_or_default();
            if first != stop {
                bad.push(format!(
                    "stop: claims {stop}, the player says {}",
                    self.stop
                ));
            }
        }
        let now = self.counters();
        for (k, want) in &expect.counters {
            let Some(v) = now.get(k) else {
                bad.push(format!("counters: no counter {k:?}"));
                continue;
            };
            let was = before.and_then(|b| b.get(k)).copied().unwrap_or(0);
            if v - was != *want {
                bad.push(format!("counters: {k} changed by {}, not {want}", v - was));
            }
        }
        if let Some(text) = &expect.serial {
            if !self.vm.stdout.contains(text.as_str()) {
                bad.push(format!(
                    "serial: standard output lacks {text:?}: {:?}",
                    self.vm.stdout
                ));
            }
        }
        if let Some(j) = &expect.jvm {
            self.check_jvm(j, &mut bad);
        }
        bad
    }

    fn check_jvm(&self, j: &JvmExpect, bad: &mut Vec<String>) {
        let views = self.vm.frame_views();
        let top = views.last();
        if let Some(n) = j.frames {
            if views.len() != n {
                bad.push(format!("frames: claims {n}, there are {}", views.len()));
            }
        }
        if let Some(m) = &j.method {
            let here = top.map(|f| {
                let name = f.method.split('(').next().unwrap_or_default();
                format!("{}.{name}", f.class)
            });
            if here.as_deref() != Some(m.as_str()) {
                bad.push(format!("method: claims {m}, the top frame is in {here:?}"));
            }
        }
        if let Some(pc) = j.pc {
            if top.map(|f| f.pc) != Some(pc) {
                bad.push(format!("pc: claims {pc}, it is {:?}", top.map(|f| f.pc)));
            }
        }
        if let Some(i) = &j.instruction {
            if top.map(|f| f.instruction.as_str()) != Some(i.as_str()) {
                bad.push(format!(
                    "instruction: claims {i}, it is {:?}",
                    top.map(|f| &f.instruction)
                ));
            }
        }
        let texts = |vs: &[Value]| vs.iter().map(Value::to_string).collect::<Vec<_>>();
        if let Some(s) = &j.stack {
            let got = top.map(|f| texts(&f.stack)).unwrap_or_default();
            if &got != s {
                bad.push(format!("stack: claims {s:?}, it is {got:?}"));
            }
        }
        if let Some(l) = &j.locals {
            let got = top.map(|f| texts(&f.locals)).unwrap_or_default();
            if &got != l {
                bad.push(format!("locals: claims {l:?}, they are {got:?}"));
            }
        }
        let figures = self.heap_figures();
        for (k, want) in &j.heap {
            match figures.get(k) {
                Some(v) if v == want => {}
                Some(v) => bad.push(format!("heap.{k}: claims {want}, it is {v}")),
                None => bad.push(format!("heap: no figure {k:?}")),
            }
        }
        if let Some(e) = &j.jit {
            crate::jit_player::check(self, e, bad);
        }
        if let Some(c) = &j.collector {
            if self.vm.heap.kind.name() != c {
                bad.push(format!(
                    "collector: claims {c}, the heap is {}",
                    self.vm.heap.kind.name()
                ));
            }
        }
    }
}

fn ended(o: &Outcome) -> String {
    match o {
        Outcome::Finished => "finished".into(),
        Outcome::Budget => "budget".into(),
        Outcome::Uncaught { class, .. } => format!("uncaught {class}"),
    }
}
