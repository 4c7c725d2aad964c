//! The JIT keys of a JVM demo: what a step does with compiled code (run to the next
//! compile, entry or deopt; step the staged x86; run again with the JIT off) and what
//! it claims about the JIT (its last event, where the x86 is, counter inequalities).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Panel;

/// The JIT events a step may run to: `compile` and `entry` stop before compiled code
/// runs (it is staged), `deopt` once compiled code has left for the interpreter.
pub const UNTIL: [&str; 3] = ["compile", "entry", "deopt"];

/// The kinds of JIT event a step may claim was the last (as the lab names them).
pub const EVENTS: [&str; 3] = ["compile", "not-compiled", "deopt"];

/// The counters a JIT step may compare: the player's counters with these prefixes.
pub const COUNTERS: [&str; 9] = [
    "steps",
    "off.steps",
    "jit.compiled",
    "jit.entries",
    "jit.deopts",
    "jit.returns",
    "jit.x86-instructions",
    "jit.bytecodes-compiled",
    "jit.code-bytes",
];

/// The panels a JIT demo's steps may focus besides the JVM panel's parts: the JIT
/// view, and the machine panels the staged x86 opens in.
pub const JIT_PANELS: [Panel; 4] = [
    Panel::JvmJit,
    Panel::Disasm,
    Panel::Registers,
    Panel::Memory,
];

/// Most x86 instructions one step may step.
pub const MAX_X86: u32 = 10_000;

/// `[step.jvm.jit]`: what a step does with compiled code (after its `run`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JitStep {
    /// Runs to the next JIT event of this kind: one of [`UNTIL`].
    pub until: Option<String>,
    /// Loads the staged frame into the JIT's machine (once) and steps this many x86
    /// instructions there; the VM itself does not move.
    pub x86: Option<u32>,
    /// Runs the program again from its start with the JIT off, to its end, so that
    /// `off.steps` holds the bytecodes it interpreted.
    #[serde(default)]
    pub compare_off: bool,
}

/// `[step.expect.jvm.jit]`: what a step claims about the JIT.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JitExpect {
    /// Whether compiled code waits to be entered.
    pub staged: Option<bool>,
    /// The kind of the last JIT event: one of [`EVENTS`].
    pub event: Option<String>,
    /// The last event's method, `Class.name`.
    pub event_method: Option<String>,
    /// The last event's bytecode pc.
    pub event_pc: Option<usize>,
    /// The JIT machine's EIP is in the x86 of this bytecode pc of the staged region.
    pub x86_at: Option<usize>,
    /// Whether the JIT machine's EIP is in the staged region's code for some bytecode
    /// (not in its out-of-line exits, not outside it).
    pub x86_in_bytecode: Option<bool>,
    /// Counters (absolute) at least these values.
    #[serde(default)]
    pub at_least: BTreeMap<String, i64>,
    /// Counter pairs: the first is smaller than the second.
    #[serde(default)]
    pub less_than: BTreeMap<String, String>,
    /// `off.steps` is at least this many times `steps`: the bytecodes the interpreter
    /// no longer runs.
    pub interpreted_factor_at_least: Option<u32>,
}

fn counter(key: &str, name: &str) -> Result<(), String> {
    if COUNTERS.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "{key}: {name:?} is not one of {}",
            COUNTERS.join(", ")
        ))
    }
}

/// Checks a step's JIT keys; `key` prefixes the error, `method` checks a
/// `Class.name` against the demo's source.
pub fn validate_jit(
    key: &dyn Fn(&str) -> String,
    step: Option<&JitStep>,
    expect: Option<&JitExpect>,
    method: &dyn Fn(String, &str) -> Result<(), String>,
) -> Result<(), String> {
    if let Some(s) = step {
        if let Some(u) = &s.until {
            if !UNTIL.contains(&u.as_str()) {
                return Err(key(&format!(
                    "jvm.jit.until: {u:?} is not one of {}",
                    UNTIL.join(", ")
                )));
            }
        }
        if let Some(n) = s.x86 {
            if !(1..=MAX_X86).contains(&n) {
                return Err(key(&format!("jvm.jit.x86: {n} is outside 1..={MAX_X86}")));
            }
        }
    }
    if let Some(e) = expect {
        if let Some(k) = &e.event {
            if !EVENTS.contains(&k.as_str()) {
                return Err(key(&format!(
                    "expect.jvm.jit.event: {k:?} is not one of {}",
                    EVENTS.join(", ")
                )));
            }
        }
        if let Some(m) = &e.event_method {
            method(key("expect.jvm.jit.event-method"), m)?;
        }
        for k in e.at_least.keys() {
            counter(&key("expect.jvm.jit.at-least"), k)?;
        }
        for (a, b) in &e.less_than {
            counter(&key("expect.jvm.jit.less-than"), a)?;
            counter(&key("expect.jvm.jit.less-than"), b)?;
        }
        if e.interpreted_factor_at_least == Some(0) {
            return Err(key(
                "expect.jvm.jit.interpreted-factor-at-least: must be at least 1",
            ));
        }
    }
    Ok(())
}
