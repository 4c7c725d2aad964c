//! Lab 17: the pre-copy stop policy. This starter stops after the first round, whatever
//! it left dirty: the guest then stands still while every page it wrote during that
//! round crosses the link. Decide better when another round pays off.
//!
//! Build and grade locally with `vmlab grade --lab precopy-stop --submission this-file.rs`.

use assignments::component::stop_policy::{RoundStatus, StopPolicy, StopRule};

/// Your policy (keep the name: the grader looks for `Submission`; a fresh copy
/// migrates each guest).
#[derive(Clone, Debug)]
pub struct Submission;

impl StopPolicy for Submission {
    fn stop(&mut self, _status: &RoundStatus<'_>) -> Option<StopRule> {
        Some(StopRule::Converged)
    }
}
