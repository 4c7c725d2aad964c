// reference solution: precopy-stop (vmlab component lab)
//! Lab 17 reference: stop when the last round left fewer than 50 dirty pages (the
//! writable working set is small), or when the dirty set stopped shrinking (more
//! rounds would only send the same pages again), with Xen's caps as the backstop.

use assignments::component::stop_policy::{RoundStatus, StopPolicy, StopRule, XenPolicy};

/// The reference policy.
#[derive(Clone, Debug)]
pub struct Submission;

impl StopPolicy for Submission {
    fn stop(&mut self, s: &RoundStatus<'_>) -> Option<StopRule> {
        if s.dirtied < 50 {
            return Some(StopRule::Converged);
        }
        if let [.., before, last] = s.history {
            if last.dirtied >= before.dirtied {
                return Some(StopRule::NoProgress);
            }
        }
        XenPolicy::default().stop(s)
    }
}
