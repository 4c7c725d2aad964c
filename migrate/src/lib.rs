//! Moving a running vmlab machine: live migration between two machines over a
//! modeled link (pre-copy rounds with a stop policy, post-copy with demand faults and
//! pre-paging), and fault tolerance by deterministic record/replay with output commit.
//!
//! Time is the guest's virtual time ([`emulator_core::devices::pit::CPU_HZ`] cycles a
//! second). The link moves bytes in that time; the guest runs while pages move and
//! stands still while it is stopped (its clock does not jump: downtime and stall time
//! are reported, not added to the guest's clock, so a migrated guest's state equals
//! that of a run that never migrated).

#![no_std]

extern crate alloc;

pub mod clock;
pub mod error;
pub mod ft;
pub mod link;
pub mod postcopy;
pub mod precopy;
pub mod stop_policy;
pub mod transfer;

pub use error::MigrateError;
pub use ft::{FaultTolerance, FtReport};
pub use link::Link;
pub use postcopy::{postcopy, PostcopyOptions, PostcopyReport};
pub use precopy::{
    precopy, PrecopyReport, Round, RoundFigures, RoundStatus, StopPolicy, StopRule, XenPolicy,
};
