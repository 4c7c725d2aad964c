//! Why a migration or a fault-tolerant run could not go on.

use alloc::string::String;

/// A host-side failure, with a message that says where it went wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MigrateError {
    /// A setting is out of range (which one, and why).
    BadSetting(String),
    /// The instruction budget ran out (in which phase).
    BudgetExhausted(&'static str),
    /// The destination refused the machine state (its reason).
    Restore(String),
    /// The backup's replay left the primary's recorded path (where).
    Diverged(String),
}

impl core::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MigrateError::BadSetting(s) => write!(f, "bad setting: {s}"),
            MigrateError::BudgetExhausted(phase) => {
                write!(f, "the instruction budget ran out during {phase}")
            }
            MigrateError::Restore(s) => write!(f, "the destination refused the state: {s}"),
            MigrateError::Diverged(s) => write!(f, "the backup diverged from the log: {s}"),
        }
    }
}
