//! The lab's Host view model: a host scenario run step by step ([`session`]), live migrations and fault-tolerant runs of the migration workloads ([`moves`]), the figures the view draws and demos claim ([`figures`]), and host demos played step by step ([`demo`]).

pub mod demo;
pub mod figures;
pub mod moves;
pub mod session;

pub use session::HostLab;
