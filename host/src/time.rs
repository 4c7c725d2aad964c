//! Virtual time per VM: what happens to a descheduled guest's clock when it runs again (the TSC offset and the timer ticks it missed).

/// What the host does with the time a VM spent descheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimePolicy {
    /// Its virtual time stops while it waits: the guest's clock agrees with its TSC
    /// but falls behind the host's time.
    Frozen,
    /// Its TSC jumps to the host's time; the PIT sees many periods at once and raises
    /// one interrupt, so the other ticks are lost and the guest's clock drifts.
    LostTicks,
    /// Its TSC catches up in steps of at most seven eighths of a timer period per
    /// eighth of a period run (up to 8x), so every missed tick is delivered, late,
    /// and the guest's clock catches up.
    #[default]
    CatchUp,
}

impl TimePolicy {
    /// Every policy.
    pub const ALL: [TimePolicy; 3] = [
        TimePolicy::Frozen,
        TimePolicy::LostTicks,
        TimePolicy::CatchUp,
    ];

    /// The policy's name.
    pub const fn name(self) -> &'static str {
        match self {
            TimePolicy::Frozen => "frozen",
            TimePolicy::LostTicks => "lost-ticks",
            TimePolicy::CatchUp => "catch-up",
        }
    }

    /// The policy called `name`.
    pub fn from_name(name: &str) -> Option<TimePolicy> {
        TimePolicy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Cycles of one timer period for PIT divisor `div` (0: no timer).
pub fn tick_cycles(div: u32) -> u64 {
    if div == 0 {
        return 0;
    }
    emulator_core::devices::pit::icount_for_tick(u64::from(div))
}
