//! The precopy-stop lab's line protocol: a case is one migration's rounds as the
//! pre-copy engine ran them (the rounds do not depend on the policy until it stops),
//! the answer the round after which the submission's policy stops.

use super::stop_policy::{RoundFigures, RoundStatus, StopPolicy, StopRule};

/// Rounds a case offers, at most (the grader stops a policy that never does at the
/// last of them).
pub const MAX_ROUNDS: usize = 64;

/// One migration as a case line carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundsCase {
    /// The scenario's name.
    pub name: String,
    /// Pages of guest memory.
    pub memory_pages: u64,
    /// The link's bandwidth, bytes a second.
    pub bandwidth: u64,
    /// The link's one-way latency, microseconds.
    pub latency_us: u64,
    /// Guest cycles a second.
    pub cycles_per_second: u64,
    /// Bytes in a page on the link.
    pub page_bytes: u64,
    /// Bytes of state the stop-and-copy adds.
    pub state_bytes: u64,
    /// The rounds, in order.
    pub rounds: Vec<RoundFigures>,
}

/// Where the policy stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// After this many rounds, for this reason.
    Stop(u32, StopRule),
    /// Not within the rounds offered.
    Continue,
}

fn number(field: Option<&str>, what: &str) -> Result<u64, String> {
    let f = field.ok_or_else(|| format!("missing {what}"))?;
    f.parse().map_err(|_| format!("bad {what} {f:?}"))
}

impl RoundsCase {
    /// The case as one line: `NAME MEMORY BANDWIDTH LATENCY HZ PAGE STATE sent:dirtied:cycles…`.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "{} {} {} {} {} {} {}",
            self.name,
            self.memory_pages,
            self.bandwidth,
            self.latency_us,
            self.cycles_per_second,
            self.page_bytes,
            self.state_bytes
        );
        for r in &self.rounds {
            line.push_str(&format!(" {}:{}:{}", r.sent, r.dirtied, r.cycles));
        }
        line
    }

    /// Parses [`RoundsCase::to_line`]'s line.
    pub fn parse(line: &str) -> Result<RoundsCase, String> {
        let mut f = line.split_whitespace();
        let name = f.next().ok_or("empty case")?.to_string();
        let mut case = RoundsCase {
            name,
            memory_pages: number(f.next(), "memory size")?,
            bandwidth: number(f.next(), "bandwidth")?,
            latency_us: number(f.next(), "latency")?,
            cycles_per_second: number(f.next(), "clock rate")?,
            page_bytes: number(f.next(), "page size")?,
            state_bytes: number(f.next(), "state size")?,
            rounds: Vec::new(),
        };
        for r in f {
            let mut p = r.split(':');
            case.rounds.push(RoundFigures {
                sent: number(p.next(), "pages sent")?,
                dirtied: number(p.next(), "pages dirtied")?,
                cycles: number(p.next(), "round cycles")?,
            });
            if case.rounds.len() > MAX_ROUNDS {
                return Err(format!("more than {MAX_ROUNDS} rounds"));
            }
        }
        if case.rounds.is_empty() {
            return Err("no rounds".into());
        }
        Ok(case)
    }

    /// Asks `policy` after each round, as the engine does, until it stops.
    pub fn decide(&self, policy: &mut dyn StopPolicy) -> Decision {
        let mut sent_total = 0u64;
        for (i, r) in self.rounds.iter().enumerate() {
            sent_total = sent_total.saturating_add(r.sent);
            let status = RoundStatus {
                rounds: i as u32 + 1,
                sent: r.sent,
                dirtied: r.dirtied,
                round_cycles: r.cycles,
                sent_total,
                memory_pages: self.memory_pages,
                page_bytes: self.page_bytes,
                state_bytes: self.state_bytes,
                bandwidth: self.bandwidth,
                latency_us: self.latency_us,
                cycles_per_second: self.cycles_per_second,
                history: &self.rounds[..=i],
            };
            if let Some(rule) = policy.stop(&status) {
                return Decision::Stop(i as u32 + 1, rule);
            }
        }
        Decision::Continue
    }
}

impl Decision {
    /// The answer line: `stop ROUNDS RULE` or `continue`.
    pub fn to_line(self) -> String {
        match self {
            Decision::Stop(n, rule) => format!("stop {n} {}", rule.name()),
            Decision::Continue => "continue".into(),
        }
    }

    /// Parses [`Decision::to_line`]'s line.
    pub fn parse(line: &str) -> Result<Decision, String> {
        let mut f = line.split_whitespace();
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some("continue"), None, None, None) => Ok(Decision::Continue),
            (Some("stop"), Some(n), Some(rule), None) => Ok(Decision::Stop(
                n.parse().map_err(|_| format!("bad round count {n:?}"))?,
                StopRule::from_name(rule).ok_or_else(|| format!("unknown stop rule {rule:?}"))?,
            )),
            _ => Err(format!("malformed answer {line:?}")),
        }
    }
}

/// The answer of a fresh copy of `policy` to case line `line`.
pub fn answer<P: StopPolicy + Clone>(line: &str, policy: &P) -> Result<String, String> {
    let case = RoundsCase::parse(line)?;
    Ok(case.decide(&mut policy.clone()).to_line())
}

/// Serves a submission's policy (a fresh copy per migration) on standard input.
pub fn serve<P: StopPolicy + Clone>(policy: &P) {
    super::serve(&|line| answer(line, policy));
}
