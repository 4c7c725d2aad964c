//! The JIT steps of a JVM demo: runs to the next compile, entry or deopt, steps the
//! staged compiled code's x86 in the JIT's machine, reruns with the JIT off for the
//! comparison, and checks a step's claims about the JIT.

use vmlab_jvm::jit::EventKind;
use vmlab_jvm::{Outcome, Vm};

use crate::jvm_player::{JvmPlayer, STEP_BUDGET};
use crate::manifest::kind_jvm::kind_jit::{JitExpect, JitStep};

/// Most stops at compiled code one step passes on its way to its event.
const MAX_STOPS: u32 = 1_000_000;

/// What one run towards an event did.
enum Ran {
    /// The program ended (how).
    Ended(String),
    /// It stopped before compiled code.
    Staged,
    /// The budget ran out.
    Budget,
}

/// Steps and x86 instructions the VM has taken.
fn spent(vm: &Vm) -> u64 {
    vm.steps.saturating_add(vm.jit.stats.x86_instructions)
}

/// Runs on (entering staged code first) until the VM stops before compiled code.
fn run_to_stage(vm: &mut Vm, left: u64) -> Result<Ran, String> {
    vm.jit.stop_at_entry = true;
    let o = vm.run(left.max(1)).map_err(|e| e.to_string());
    vm.jit.stop_at_entry = false;
    Ok(match o? {
        Outcome::Budget if vm.jit.staged.is_some() => Ran::Staged,
        Outcome::Budget => Ran::Budget,
        Outcome::Finished => Ran::Ended("finished".into()),
        Outcome::Uncaught { class, .. } => Ran::Ended(format!("uncaught {class}")),
    })
}

fn kind_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Compile => "compile",
        EventKind::NotCompiled => "not-compiled",
        EventKind::Deopt => "deopt",
    }
}

/// Plays a step's JIT keys, after its `run`.
pub(crate) fn play(p: &mut JvmPlayer, j: &JitStep) -> Result<(), String> {
    if let Some(until) = &j.until {
        let stop = run_until(p.vm_mut(), until)?;
        p.set_stop(stop);
    }
    if let Some(n) = j.x86 {
        let vm = p.vm_mut();
        let s = vm.jit.staged.ok_or(
            "jvm.jit.x86: no compiled code is staged (run to a compile or an entry first)",
        )?;
        if !s.loaded {
            vm.load_staged().map_err(|e| e.to_string())?;
        }
        let m = vm
            .jit_machine_mut()
            .ok_or("jvm.jit.x86: the JIT has no machine")?;
        for _ in 0..n {
            if m.cpu().halted {
                break;
            }
            m.step();
        }
        p.set_stop("x86".into());
    }
    if j.compare_off {
        p.compare_off()?;
    }
    Ok(())
}

/// Runs to the next JIT event `until` (one of `UNTIL`: `compile` and `entry` stop
/// before compiled code runs, `deopt` once it has left for the interpreter) within
/// [`STEP_BUDGET`]; returns why it stopped: `compiled`, `staged`, `deopt`,
/// `finished`, `uncaught CLASS` or `budget`.
pub fn run_until(vm: &mut Vm, until: &str) -> Result<String, String> {
    let start = spent(vm);
    let (compiled, deopts) = (vm.jit.stats.compiled, vm.jit.stats.deopts);
    for _ in 0..MAX_STOPS {
        let left = STEP_BUDGET.saturating_sub(spent(vm) - start);
        if left == 0 {
            return Ok("budget".into());
        }
        if until == "deopt" && vm.jit.staged.is_some() {
            vm.enter_staged(left).map_err(|e| e.to_string())?;
            if vm.jit.stats.deopts > deopts {
                return Ok("deopt".into());
            }
            if vm.frames.is_empty() {
                return Ok("finished".into());
            }
            continue;
        }
        match run_to_stage(vm, left)? {
            Ran::Ended(how) => return Ok(how),
            Ran::Budget => return Ok("budget".into()),
            Ran::Staged => match until {
                "entry" => return Ok("staged".into()),
                "compile" if vm.jit.stats.compiled > compiled => return Ok("compiled".into()),
                _ => {}
            },
        }
    }
    Ok("budget".into())
}

/// Adds the JIT claims of `e` the player does not bear out to `bad`.
pub(crate) fn check(p: &JvmPlayer, e: &JitExpect, bad: &mut Vec<String>) {
    let vm = p.vm();
    let staged = vm.jit.staged;
    if let Some(want) = e.staged {
        if staged.is_some() != want {
            bad.push(format!("jit.staged: claims {want}, it is {staged:?}"));
        }
    }
    let last = vm.jit.events.last();
    if let Some(k) = &e.event {
        let got = last.map(|l| kind_name(l.kind));
        if got != Some(k.as_str()) {
            bad.push(format!("jit.event: claims {k}, the last is {got:?}"));
        }
    }
    if let Some(m) = &e.event_method {
        // Events name `Class.name(desc)`.
        let got = last.map(|l| l.method.split('(').next().unwrap_or_default());
        if got != Some(m.as_str()) {
            bad.push(format!("jit.event-method: claims {m}, it is {got:?}"));
        }
    }
    if let Some(pc) = e.event_pc {
        if last.map(|l| l.pc) != Some(pc) {
            bad.push(format!(
                "jit.event-pc: claims {pc}, it is {:?}",
                last.map(|l| l.pc)
            ));
        }
    }
    if e.x86_at.is_some() || e.x86_in_bytecode.is_some() {
        let at = staged.and_then(|s| {
            let region = vm.jit.regions.get(s.region)?;
            let eip = vm.jit.machine_ref()?.cpu().eip;
            region.bytecode_pcs(eip)
        });
        if let Some(pc) = e.x86_at {
            let holds = at.is_some_and(|(a, b)| (a..=b).contains(&pc));
            if !holds {
                bad.push(format!(
                    "jit.x86-at: claims the x86 of pc {pc}, EIP is in that of {at:?}"
                ));
            }
        }
        if let Some(want) = e.x86_in_bytecode {
            if at.is_some() != want {
                bad.push(format!(
                    "jit.x86-in-bytecode: claims {want}, EIP is in the x86 of {at:?}"
                ));
            }
        }
    }
    let counters = p.counters();
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    for (k, want) in &e.at_least {
        if get(k) < *want {
            bad.push(format!(
                "jit.at-least: {k} is {}, not at least {want}",
                get(k)
            ));
        }
    }
    for (a, b) in &e.less_than {
        if get(a) >= get(b) {
            bad.push(format!(
                "jit.less-than: {a} is {}, not less than {b}, {}",
                get(a),
                get(b)
            ));
        }
    }
    if let Some(f) = e.interpreted_factor_at_least {
        let (off, on) = (get("off.steps"), get("steps"));
        if off < on.saturating_mul(i64::from(f)) {
            bad.push(format!(
                "jit.interpreted-factor-at-least: {off} bytecodes with the JIT off are not {f} times the {on} with it on"
            ));
        }
    }
}
