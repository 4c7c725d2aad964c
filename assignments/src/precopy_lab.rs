//! The precopy-stop lab: its scenarios (workload × link × memory), the rounds vmlab's
//! pre-copy engine runs on each, the limits the reference's figures set, and the
//! judging of a policy's stop by a real migration (checked to move the guest whole).
//! The native grader and the lab page (with the reference and starter compiled in) use it.

use emulator_core::devices::pit::CPU_HZ;
use emulator_core::ExecMode;
use vmlab_migrate::clock::{run_until, Budget};
use vmlab_migrate::link::{cycles_to_us, PAGE_BYTES, STATE_BYTES};
use vmlab_migrate::transfer::destination_for;
use vmlab_migrate::{precopy, Link, PrecopyReport};

use crate::component::precopy_cases::{Decision, RoundsCase, MAX_ROUNDS};
use crate::component::stop_policy::{RoundFigures, RoundStatus, StopPolicy, StopRule, XenPolicy};
use crate::component::CaseSelect;
use crate::TestOutcome;

#[path = "../labs/precopy-stop/solution.rs"]
mod solution;
#[path = "../labs/precopy-stop/starter.rs"]
mod starter;

/// The lab's id.
pub const LAB: &str = "precopy-stop";

/// Timer ticks the workloads run before they halt (longer than any migration here).
const END_TICKS: u32 = 4096;
/// Guest time the workload runs before the migration starts (2 ms).
const WARMUP: u64 = CPU_HZ / 500;
/// Most instructions one migration may take.
const BUDGET: u64 = 400_000_000;

/// One migration to grade a policy on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScenarioSpec {
    /// Its name (what a test's `select` names).
    pub name: &'static str,
    /// The workload of `guests/migrate/`.
    pub workload: &'static str,
    /// Guest memory, MiB.
    pub ram_mib: u32,
    /// Link bandwidth, bytes a second.
    pub bandwidth: u64,
    /// Link latency one way, microseconds.
    pub latency_us: u64,
}

/// Every scenario of the lab's tests.
pub const SCENARIOS: [ScenarioSpec; 7] = [
    ScenarioSpec {
        name: "idle-1g",
        workload: "idle",
        ram_mib: 4,
        bandwidth: 125_000_000,
        latency_us: 100,
    },
    ScenarioSpec {
        name: "moderate-1g",
        workload: "moderate",
        ram_mib: 4,
        bandwidth: 125_000_000,
        latency_us: 100,
    },
    ScenarioSpec {
        name: "diabolical-1g",
        workload: "diabolical",
        ram_mib: 4,
        bandwidth: 125_000_000,
        latency_us: 100,
    },
    ScenarioSpec {
        name: "moderate-slow-link",
        workload: "moderate",
        ram_mib: 4,
        bandwidth: 12_000_000,
        latency_us: 1000,
    },
    ScenarioSpec {
        name: "moderate-16m-10g",
        workload: "moderate",
        ram_mib: 16,
        bandwidth: 1_250_000_000,
        latency_us: 50,
    },
    ScenarioSpec {
        name: "diabolical-8m-10g",
        workload: "diabolical",
        ram_mib: 8,
        bandwidth: 1_250_000_000,
        latency_us: 50,
    },
    ScenarioSpec {
        name: "moderate-wan",
        workload: "moderate",
        ram_mib: 4,
        bandwidth: 125_000_000,
        latency_us: 20_000,
    },
];

/// What one migration cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// Pre-copy rounds run.
    pub rounds: u32,
    /// Why they stopped.
    pub rule: StopRule,
    /// Guest time stood still, microseconds.
    pub downtime_us: u64,
    /// Bytes sent in all.
    pub bytes: u64,
}

impl Figures {
    fn of(r: &PrecopyReport) -> Figures {
        Figures {
            rounds: r.rounds.len() as u32,
            rule: r.stop_rule,
            downtime_us: cycles_to_us(r.downtime_cycles),
            bytes: r.bytes_sent,
        }
    }
}

/// The backstop every policy runs under: Xen's caps without its convergence rule.
fn backstop() -> XenPolicy {
    XenPolicy {
        min_dirty: 0,
        ..XenPolicy::default()
    }
}

/// Stops after `rounds` rounds for `rule`, or at the backstop, recording every round.
struct StopAt {
    rounds: Option<(u32, StopRule)>,
    seen: Vec<RoundFigures>,
}

impl StopPolicy for StopAt {
    fn stop(&mut self, s: &RoundStatus<'_>) -> Option<StopRule> {
        self.seen = s.history.to_vec();
        match self.rounds {
            Some((n, rule)) if s.rounds >= n => Some(rule),
            _ if s.history.len() >= MAX_ROUNDS => Some(StopRule::MaxRounds),
            _ => backstop().stop(s),
        }
    }
}

/// Migrates `spec`'s guest, stopping after `stop` rounds (or at the backstop), and
/// checks the destination holds exactly the stopped source's RAM and CPU.
fn migrate(
    spec: &ScenarioSpec,
    stop: Option<(u32, StopRule)>,
) -> Result<(PrecopyReport, Vec<RoundFigures>), String> {
    let at = |e: String| format!("scenario {}: {e}", spec.name);
    let mut src = vmlab_hostlab::moves::machine_of(
        spec.workload,
        ExecMode::HW_ASSIST,
        spec.ram_mib,
        END_TICKS,
    )
    .map_err(at)?;
    let link = Link::new(spec.bandwidth, spec.latency_us).map_err(|e| at(e.to_string()))?;
    let mut budget = Budget::new(BUDGET);
    let t0 = src.cpu().tsc;
    run_until(&mut src, t0 + WARMUP, &mut budget, "the warm-up").map_err(|e| at(e.to_string()))?;
    let mut dst = destination_for(&src).map_err(|e| at(e.to_string()))?;
    let mut policy = StopAt {
        rounds: stop,
        seen: Vec::new(),
    };
    let report = precopy(&mut src, &mut dst, link, &mut policy, &mut budget)
        .map_err(|e| at(e.to_string()))?;
    let (a, b) = (src.snapshot(), dst.snapshot());
    if a.cpu() != b.cpu() {
        return Err(at("the migrated CPU state differs from the source's".into()));
    }
    if let Some(p) = a
        .ram()
        .chunks(4096)
        .zip(b.ram().chunks(4096))
        .position(|(x, y)| x != y)
    {
        return Err(at(format!(
            "the migrated RAM differs from the source's at page {p:#x}"
        )));
    }
    Ok((report, policy.seen))
}

/// A scenario ready to grade: its rounds, and the reference's and Xen's figures.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// What it migrates, over what.
    pub spec: ScenarioSpec,
    /// The rounds the engine runs until the backstop, as the case line carries them.
    pub case: RoundsCase,
    /// The reference policy's figures.
    pub reference: Figures,
    /// Xen's rules' figures.
    pub xen: Figures,
    /// Most downtime that passes, microseconds.
    pub downtime_limit_us: u64,
    /// Most bytes that pass.
    pub bytes_limit: u64,
}

/// A limit: 1.25 × the reference's figure, never looser than Xen's, never tighter
/// than the reference's.
fn limit(reference: u64, xen: u64) -> u64 {
    (reference.saturating_mul(5) / 4).min(xen).max(reference)
}

/// The figures of a policy that stops after the decision `d` on `case`.
fn run_decision(spec: &ScenarioSpec, case: &RoundsCase, d: Decision) -> Result<Figures, String> {
    let stop = match d {
        Decision::Stop(n, rule) if n >= 1 && n as usize <= case.rounds.len() => Some((n, rule)),
        Decision::Stop(n, _) => {
            return Err(format!(
                "scenario {}: stopped after round {n}, but rounds 1 to {} were run",
                spec.name,
                case.rounds.len()
            ))
        }
        Decision::Continue => None,
    };
    let (report, seen) = migrate(spec, stop)?;
    if !case.rounds.starts_with(&seen) {
        return Err(format!(
            "scenario {}: the engine's rounds changed between runs",
            spec.name
        ));
    }
    Ok(Figures::of(&report))
}

impl Scenario {
    /// Runs the engine on `spec` to its backstop and with the reference and Xen.
    pub fn prepare(spec: ScenarioSpec) -> Result<Scenario, String> {
        let (_, rounds) = migrate(&spec, None)?;
        let case = RoundsCase {
            name: spec.name.into(),
            memory_pages: u64::from(spec.ram_mib) * 256,
            bandwidth: spec.bandwidth,
            latency_us: spec.latency_us,
            cycles_per_second: CPU_HZ,
            page_bytes: PAGE_BYTES,
            state_bytes: STATE_BYTES,
            rounds,
        };
        let reference = run_decision(&spec, &case, case.decide(&mut solution::Submission))?;
        let xen = run_decision(&spec, &case, case.decide(&mut XenPolicy::default()))?;
        Ok(Scenario {
            spec,
            downtime_limit_us: limit(reference.downtime_us, xen.downtime_us),
            bytes_limit: limit(reference.bytes, xen.bytes),
            case,
            reference,
            xen,
        })
    }

    /// The case line sent to a submission.
    pub fn to_line(&self) -> String {
        self.case.to_line()
    }

    /// The figures of the migration stopped where `answer` says, with the verdict.
    pub fn figures(&self, answer: &str) -> Result<(Figures, Result<(), String>), String> {
        let d = Decision::parse(answer).map_err(|e| format!("scenario {}: {e}", self.spec.name))?;
        let f = run_decision(&self.spec, &self.case, d)?;
        let mut over = Vec::new();
        if f.downtime_us > self.downtime_limit_us {
            over.push("downtime");
        }
        if f.bytes > self.bytes_limit {
            over.push("bytes sent");
        }
        let verdict = if over.is_empty() {
            Ok(())
        } else {
            Err(self.describe(&f, &over.join(" and ")))
        };
        Ok((f, verdict))
    }

    fn describe(&self, f: &Figures, over: &str) -> String {
        format!(
            "scenario {}: over the {over} limit: {} rounds, stopped ({}), downtime {} us (limit {} us), {} bytes sent (limit {}); the reference: {} rounds, {} us, {} bytes; Xen's rules: {} rounds, {} us, {} bytes",
            self.spec.name, f.rounds, f.rule.name(), f.downtime_us, self.downtime_limit_us, f.bytes, self.bytes_limit,
            self.reference.rounds, self.reference.downtime_us, self.reference.bytes,
            self.xen.rounds, self.xen.downtime_us, self.xen.bytes
        )
    }

    /// Judges a submission's answer: `Err` names the limit it failed, with the figures.
    pub fn judge(&self, answer: &str) -> Result<(), String> {
        self.figures(answer)?.1
    }
}

/// The scenarios `select` names (all when it names none).
pub fn cases(select: &CaseSelect) -> Result<Vec<Scenario>, String> {
    for name in &select.select {
        if !SCENARIOS.iter().any(|s| s.name == name) {
            return Err(format!("unknown scenario {name:?}"));
        }
    }
    SCENARIOS
        .iter()
        .filter(|s| select.select.is_empty() || select.select.iter().any(|n| n == s.name))
        .map(|s| Scenario::prepare(*s))
        .collect()
}

/// A policy the page can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The lab's reference.
    Reference,
    /// The lab's starter.
    Starter,
    /// Xen's rules.
    Xen,
}

impl Policy {
    /// The policy's answer to `case`.
    pub fn decide(self, case: &RoundsCase) -> Decision {
        match self {
            Policy::Reference => case.decide(&mut solution::Submission),
            Policy::Starter => case.decide(&mut starter::Submission),
            Policy::Xen => case.decide(&mut XenPolicy::default()),
        }
    }
}

/// One scenario as the page shows it for one policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioView {
    /// The scenario.
    pub spec: ScenarioSpec,
    /// Its rounds (to the backstop).
    pub rounds: Vec<RoundFigures>,
    /// The policy's figures.
    pub figures: Figures,
    /// The limits: downtime (us) and bytes.
    pub limits: (u64, u64),
    /// `None` when within the limits, else why not.
    pub wrong: Option<String>,
}

/// Runs the lab's visible tests with `policy`, as the grader does (a test's score is
/// the share of its scenarios within the limits), with each scenario's figures.
pub fn run_visible(policy: Policy) -> (Vec<TestOutcome>, Vec<ScenarioView>) {
    let tests = match crate::catalog::visible_lab(LAB) {
        Ok((_, file)) => file.tests,
        Err(e) => {
            let o = TestOutcome {
                name: "setup".into(),
                passed: false,
                score: 0.0,
                max_score: 0.0,
                message: e,
            };
            return (vec![o], Vec::new());
        }
    };
    let mut views = Vec::new();
    let outcomes = tests
        .iter()
        .map(|t| {
            let scenarios = t
                .cases
                .as_ref()
                .ok_or_else(|| "a component test needs `cases`".to_string())
                .and_then(cases);
            let scenarios = match scenarios {
                Ok(s) if !s.is_empty() => s,
                Ok(_) => return TestOutcome::failed(t, "the test selects no cases".into()),
                Err(e) => return TestOutcome::failed(t, format!("test error: {e}")),
            };
            let mut wrong = Vec::new();
            for s in &scenarios {
                let answer = policy.decide(&s.case).to_line();
                match s.figures(&answer) {
                    Ok((f, verdict)) => {
                        views.push(ScenarioView {
                            spec: s.spec,
                            rounds: s.case.rounds.clone(),
                            figures: f,
                            limits: (s.downtime_limit_us, s.bytes_limit),
                            wrong: verdict.clone().err(),
                        });
                        wrong.extend(verdict.err());
                    }
                    Err(e) => wrong.push(e),
                }
            }
            if wrong.is_empty() {
                return TestOutcome::passed(t);
            }
            let total = scenarios.len();
            let right = total - wrong.len();
            TestOutcome {
                name: t.name.clone(),
                passed: false,
                score: (t.points * right as f64 / total as f64 * 100.0).round() / 100.0,
                max_score: t.points,
                message: format!("{right} of {total} cases right.\n{}", wrong.join("\n")),
            }
        })
        .collect();
    (outcomes, views)
}
