//! Host demos (`kind = "host"`): the keys of a step that drives the multi-VM host (run to a time or a timeline entry, balloon, migrate, kill the primary), the Host-view parts it is about, its claims, and their checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Kind, Manifest};

/// The parts of the Host view a step can focus (the part of its test id after `host-`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostPart {
    /// The VMs as cards: state, CPU share, steal time, clock.
    Cards,
    /// The memory bars: private, shared, zero, ballooned, swapped.
    Memory,
    /// The timeline of host events.
    Timeline,
    /// The migration chart: pages sent and dirtied per round, downtime.
    Migration,
    /// The fault-tolerance pair: the log, the takeover, the output.
    Ft,
}

impl HostPart {
    /// Every part.
    pub const ALL: [HostPart; 5] = [
        HostPart::Cards,
        HostPart::Memory,
        HostPart::Timeline,
        HostPart::Migration,
        HostPart::Ft,
    ];

    /// The part's `data-testid`.
    pub const fn testid(self) -> &'static str {
        match self {
            HostPart::Cards => "host-cards",
            HostPart::Memory => "host-memory",
            HostPart::Timeline => "host-timeline",
            HostPart::Migration => "host-migration",
            HostPart::Ft => "host-ft",
        }
    }
}

/// The migration modes a step may run.
pub const MIGRATION_MODES: [&str; 2] = ["precopy", "postcopy"];
/// The migration workloads (`guests/migrate/NAME.asm`).
pub const WORKLOADS: [&str; 3] = ["idle", "moderate", "diabolical"];
/// The time policies a step may restart the scenario with.
pub const TIME_POLICIES: [&str; 3] = ["frozen", "lost-ticks", "catch-up"];

/// A balloon request: VM `vm` to `mib` MiB.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalloonTo {
    /// The VM's name.
    pub vm: String,
    /// The target, in MiB.
    pub mib: u32,
}

/// A live migration a step runs: one of [`MIGRATION_MODES`] with one of [`WORKLOADS`].
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateRun {
    /// `precopy` or `postcopy`.
    pub mode: String,
    /// `idle`, `moderate` or `diabolical`.
    pub workload: String,
}

/// A claim about one figure: a text it equals, or bounds it lies within.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(untagged)]
pub enum Claim {
    /// The figure reads this text (`"migration.stop-rule" = "converged"`).
    Is(String),
    /// The figure lies within these bounds (`"vm.b.swapped" = { max = 0 }`).
    Within(Bounds),
}

/// Inclusive bounds; a bound left out does not limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The least value.
    pub min: Option<i64>,
    /// The greatest value.
    pub max: Option<i64>,
}

impl Claim {
    /// Whether a figure that reads `text` and has the value `value` (for a number) holds the claim.
    pub fn holds(&self, text: &str, value: Option<i64>) -> bool {
        match self {
            Claim::Is(t) => t == text,
            Claim::Within(b) => {
                value.is_some_and(|v| b.min.is_none_or(|m| v >= m) && b.max.is_none_or(|m| v <= m))
            }
        }
    }
}

/// One claim of a step, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The figure's name.
    pub figure: String,
    /// What it reads (empty when the view has no such figure).
    pub shown: String,
    /// Whether the claim holds.
    pub holds: bool,
}

/// What a step of a host demo does, before its claims are checked.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostStep {
    /// Restarts the scenario from time 0 before the step's run.
    #[serde(default)]
    pub restart: bool,
    /// Restarts the scenario from time 0 with this time policy (one of [`TIME_POLICIES`]).
    pub time: Option<String>,
    /// Sets VMs' balloon targets now, before the run.
    #[serde(default)]
    pub balloon: Vec<BalloonTo>,
    /// Runs the host to this time, in ms of host time.
    pub to_ms: Option<u64>,
    /// Runs the host until its timeline has an entry containing this text (at most
    /// to the scenario's end).
    pub to_event: Option<String>,
    /// Migrates a guest between two hosts.
    pub migrate: Option<MigrateRun>,
    /// Runs the fault-tolerant pair and kills the primary at this instruction.
    pub kill_primary: Option<u64>,
    /// The Host-view parts the step is about, most important first.
    #[serde(default)]
    pub focus: Vec<HostPart>,
    /// What the narration claims, by figure name (`host.shared-permille`,
    /// `vm.NAME.swapped`, `migration.stop-rule`, …).
    #[serde(default)]
    pub expect: BTreeMap<String, Claim>,
}

/// Checks a host demo: its scenario is TOML with a `[host]` table, and every step
/// has a `host` table with parts to focus, valid names and a claim; machine-only
/// keys are refused. The error starts with the key.
pub fn validate_host(m: &Manifest, scenario: &str) -> Result<(), String> {
    debug_assert_eq!(m.kind, Kind::Host);
    scenario_with(
        m,
        scenario,
        "host",
        "a host demo's guest is a host scenario",
    )?;
    check_steps(m, "host", "a host demo", |s| s.host.as_ref(), check_step)
}

/// Parses a demo's scenario (`m.guest`, TOML), which must have a `[table]`; `what`
/// says what the guest is (`a host demo's guest is a host scenario`).
pub(super) fn scenario_with(
    m: &Manifest,
    scenario: &str,
    table: &str,
    what: &str,
) -> Result<toml::Table, String> {
    let parsed: toml::Table = toml::from_str(scenario).map_err(|e| {
        format!(
            "guest: {}: {}",
            m.guest,
            e.to_string().lines().next().unwrap_or_default()
        )
    })?;
    if !parsed.contains_key(table) {
        return Err(format!("guest: {}: {what} with a [{table}] table", m.guest));
    }
    Ok(parsed)
}

/// Checks the steps of a demo whose steps keep what they run, focus and claim in a
/// `[step.NAME]` table (`name`), found by `table` and checked by `check`; `demo`
/// names the kind in messages (`a host demo`). The error starts with the key.
pub(super) fn check_steps<T>(
    m: &Manifest,
    name: &str,
    demo: &str,
    table: impl Fn(&super::Step) -> Option<&T>,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<(), String> {
    if m.steps.is_empty() {
        return Err("step: a demo needs at least one [[step]]".into());
    }
    for (i, s) in m.steps.iter().enumerate() {
        let key = |k: &str| format!("step[{i}].{k}");
        m.check_step_words(i)?;
        if !s.focus.is_empty() || s.run != super::Run::Look || !s.expect.is_empty() {
            return Err(key(&format!(
                "focus/run/expect: {demo}'s step puts them in its [step.{name}] table"
            )));
        }
        let Some(t) = table(s) else {
            return Err(key(&format!(
                "{name}: {demo}'s step needs a [step.{name}] table"
            )));
        };
        check(t).map_err(|e| key(&format!("{name}.{e}")))?;
    }
    Ok(())
}

/// Checks a step's focus: one to [`super::MAX_FOCUS`] distinct parts of `view`
/// (`the Host-view`), each named by `testid` in messages.
pub(super) fn check_focus<T: PartialEq>(
    focus: &[T],
    view: &str,
    testid: impl Fn(&T) -> &'static str,
) -> Result<(), String> {
    if focus.is_empty() {
        return Err(format!("focus: name the {view} parts the step is about"));
    }
    if focus.len() > super::MAX_FOCUS {
        return Err(format!(
            "focus: at most {} parts fit one projector screen",
            super::MAX_FOCUS
        ));
    }
    for (j, p) in focus.iter().enumerate() {
        if focus[..j].contains(p) {
            return Err(format!("focus: {} twice", testid(p)));
        }
    }
    Ok(())
}

fn check_step(h: &HostStep) -> Result<(), String> {
    check_focus(&h.focus, "Host-view", |p| p.testid())?;
    if let Some(t) = &h.time {
        if !TIME_POLICIES.contains(&t.as_str()) {
            return Err(format!(
                "time: {t:?} is not one of {}",
                TIME_POLICIES.join(", ")
            ));
        }
    }
    if let Some(mr) = &h.migrate {
        if !MIGRATION_MODES.contains(&mr.mode.as_str()) {
            return Err(format!(
                "migrate.mode: {:?} is not one of {}",
                mr.mode,
                MIGRATION_MODES.join(", ")
            ));
        }
        if !WORKLOADS.contains(&mr.workload.as_str()) {
            return Err(format!(
                "migrate.workload: {:?} is not one of {}",
                mr.workload,
                WORKLOADS.join(", ")
            ));
        }
    }
    if h.to_ms.is_some() && h.to_event.is_some() {
        return Err("to-ms/to-event: a step runs to one of them".into());
    }
    if h.expect.is_empty() {
        return Err("expect: a step claims at least one figure".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(step: &str) -> Result<(), String> {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nkind = \"host\"\nguest = \"s.toml\"\nmode = \"hw-assist\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\n{step}"
        ))?;
        m.validate("[host]\npool_mib = 8\n")
    }

    #[test]
    fn a_host_step_needs_focus_and_a_claim() {
        let ok = "[step.host]\nto-ms = 5\nfocus = [\"memory\"]\nexpect = { \"host.merged\" = { min = 1 } }";
        assert_eq!(demo(ok), Ok(()));
        let e = demo("[step.host]\nto-ms = 5\nexpect = { \"host.merged\" = { min = 1 } }");
        assert!(e.unwrap_err().starts_with("step[0].host.focus"));
        let e = demo("[step.host]\nto-ms = 5\nfocus = [\"memory\"]");
        assert!(e.unwrap_err().starts_with("step[0].host.expect"));
        let e =
            demo("focus = [\"log\"]\n[step.host]\nfocus = [\"memory\"]\nexpect = { a = \"b\" }");
        assert!(e.unwrap_err().starts_with("step[0].focus/run/expect"));
        let e = demo("[step.host]\nfocus = [\"memory\"]\nexpect = { a = \"b\" }\nmigrate = { mode = \"precopy\", workload = \"busy\" }");
        assert!(e.unwrap_err().contains("\"busy\" is not one of idle"));
        assert!(demo("").unwrap_err().starts_with("step[0].host:"));
    }

    #[test]
    fn claims_hold_on_text_or_within_bounds() {
        let within = Claim::Within(Bounds {
            min: Some(2),
            max: Some(4),
        });
        assert!(within.holds("3", Some(3)));
        assert!(!within.holds("5", Some(5)));
        assert!(!within.holds("x", None));
        assert!(Claim::Is("converged".into()).holds("converged", None));
        assert!(!Claim::Is("converged".into()).holds("max-rounds", None));
    }
}
