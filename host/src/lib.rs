//! vmlab's multi-VM host: several machines under their VMMs sharing one pool of host frames (page sharing, ballooning, host swapping) and one CPU (a credit scheduler with virtual time per VM); several hosts side by side with VMs migrated and failed over between them.
#![no_std]

extern crate alloc;
#[cfg(feature = "scenario-file")]
extern crate std;

pub mod balloon;
pub mod cluster;
pub mod guest;
pub mod host;
pub mod introspect;
#[cfg(feature = "scenario-file")]
pub mod introspect_file;
#[cfg(feature = "scenario-file")]
pub mod moves_file;
#[cfg(feature = "scenario-file")]
pub mod net;
pub mod pool;
pub mod scenario;
#[cfg(feature = "scenario-file")]
pub mod scenario_file;
pub mod sched;
pub mod share;
pub mod swap;
pub mod time;
pub mod vm;

pub use host::{Host, HostConfig, HostEvent};
pub use vm::{Vm, VmSpec, VmState};
