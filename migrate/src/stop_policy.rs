//! The pre-copy stop policy's interface: what a policy sees after each round, its
//! answer, and Xen's rules. Only `core` is used, so the precopy-stop lab's API crate
//! compiles this very file.

/// Why pre-copy stopped iterating.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StopRule {
    /// Few pages were dirtied in the last round: the writable working set is small.
    Converged,
    /// The most rounds were done.
    MaxRounds,
    /// The pages sent reached the limit (a multiple of memory).
    MaxSent,
    /// The guest stopped by itself (halted for good, exited).
    GuestStopped,
    /// The rounds stopped helping: the dirty set no longer shrinks.
    NoProgress,
}

impl StopRule {
    /// Every rule, in order.
    pub const ALL: [StopRule; 5] = [
        StopRule::Converged,
        StopRule::MaxRounds,
        StopRule::MaxSent,
        StopRule::GuestStopped,
        StopRule::NoProgress,
    ];

    /// Its kebab-case name.
    pub const fn name(self) -> &'static str {
        match self {
            StopRule::Converged => "converged",
            StopRule::MaxRounds => "max-rounds",
            StopRule::MaxSent => "max-sent",
            StopRule::GuestStopped => "guest-stopped",
            StopRule::NoProgress => "no-progress",
        }
    }

    /// The rule named `name`.
    pub fn from_name(name: &str) -> Option<StopRule> {
        StopRule::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// One round done, as a policy sees it in the history.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RoundFigures {
    /// Pages sent in the round.
    pub sent: u64,
    /// Pages the guest dirtied during it (the next round's pages).
    pub dirtied: u64,
    /// How long the round took, in guest cycles.
    pub cycles: u64,
}

/// What a stop policy sees after each round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RoundStatus<'a> {
    /// Rounds done (1 after round 0).
    pub rounds: u32,
    /// Pages sent in the round just done.
    pub sent: u64,
    /// Pages the guest dirtied during it (the next round's pages).
    pub dirtied: u64,
    /// Guest cycles the round just done took.
    pub round_cycles: u64,
    /// Pages sent in all rounds so far.
    pub sent_total: u64,
    /// Pages of guest memory.
    pub memory_pages: u64,
    /// Bytes in a page on the link.
    pub page_bytes: u64,
    /// Bytes of CPU and device state the stop-and-copy sends besides the pages.
    pub state_bytes: u64,
    /// The link's bandwidth, bytes a second.
    pub bandwidth: u64,
    /// The link's one-way latency, microseconds.
    pub latency_us: u64,
    /// Guest cycles a second.
    pub cycles_per_second: u64,
    /// Every round so far, in order (the last is the round just done).
    pub history: &'a [RoundFigures],
}

impl RoundStatus<'_> {
    /// Bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent_total.saturating_mul(self.page_bytes)
    }

    /// The downtime a stop now would give, in microseconds: the dirty pages and the
    /// state over the link, and its latency.
    pub fn downtime_now_us(&self) -> u64 {
        let bytes = self
            .dirtied
            .saturating_mul(self.page_bytes)
            .saturating_add(self.state_bytes);
        let wire = u128::from(bytes) * 1_000_000 / u128::from(self.bandwidth.max(1));
        u64::try_from(wire)
            .unwrap_or(u64::MAX)
            .saturating_add(self.latency_us)
    }
}

/// When to stop the rounds and do the stop-and-copy.
pub trait StopPolicy {
    /// After each round: `Some(rule)` to stop now (the rule is the reason reported).
    fn stop(&mut self, status: &RoundStatus<'_>) -> Option<StopRule>;
}

/// Xen's rules: fewer than `min_dirty` pages dirtied in a round, `max_rounds` rounds
/// done, or `max_sent_factor` times memory sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct XenPolicy {
    /// Converged below this many dirtied pages (50).
    pub min_dirty: u64,
    /// Most rounds (29).
    pub max_rounds: u32,
    /// Most pages sent, as a multiple of memory (3).
    pub max_sent_factor: u64,
}

impl Default for XenPolicy {
    fn default() -> Self {
        XenPolicy {
            min_dirty: 50,
            max_rounds: 29,
            max_sent_factor: 3,
        }
    }
}

impl StopPolicy for XenPolicy {
    fn stop(&mut self, s: &RoundStatus<'_>) -> Option<StopRule> {
        if s.dirtied < self.min_dirty {
            Some(StopRule::Converged)
        } else if s.rounds >= self.max_rounds {
            Some(StopRule::MaxRounds)
        } else if s.sent_total >= self.max_sent_factor.saturating_mul(s.memory_pages) {
            Some(StopRule::MaxSent)
        } else {
            None
        }
    }
}
