//! vmlab's labs and the harness that runs their tests on the core.
//!
//! A lab is a folder under `assignments/labs/<id>/`: `lab.toml` (the manifest),
//! `statement.md`, a starter, a reference solution and two test files,
//! `tests/visible.toml` and `tests/hidden.toml`. Only the visible parts are compiled
//! into this crate (and so into the browser); the native grader (feature `native`)
//! reads hidden tests and solutions from disk. Visible and hidden tests run on the
//! same harness.
//!
//! Features: `harness` (default) — the catalog and the guest-lab harness;
//! `native` — grading from disk and building component submissions. Without
//! features only [`component`] remains: the traits and the case protocol that a
//! component submission's program is built against.

extern crate alloc;
extern crate self as assignments;

pub mod component;

#[cfg(feature = "harness")]
pub mod balloon_test;
#[cfg(feature = "harness")]
pub mod catalog;
#[cfg(feature = "harness")]
pub mod core_machine;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "harness")]
pub mod linux_test;
#[cfg(feature = "harness")]
pub mod manifest;
#[cfg(feature = "harness")]
pub mod pack;
#[cfg(feature = "harness")]
pub mod paging;
#[cfg(feature = "harness")]
pub mod precopy_lab;
#[cfg(feature = "harness")]
pub mod regs;
#[cfg(feature = "harness")]
pub mod served;
#[cfg(feature = "harness")]
pub mod spec;
#[cfg(feature = "harness")]
pub mod target;
#[cfg(feature = "harness")]
pub mod xlate_blocks;
#[cfg(feature = "harness")]
pub mod xlate_lab;

#[cfg(feature = "native")]
pub mod native;

#[cfg(feature = "harness")]
pub use catalog::{catalog, run_visible_tests, run_visible_tests_with, LabInfo};
#[cfg(feature = "harness")]
pub use manifest::{LabKind, LabManifest, Visibility};

/// The result of one test, as the browser shows it and the grader reports it.
#[cfg(feature = "harness")]
#[derive(Clone, PartialEq, Debug)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// Whether every check passed.
    pub passed: bool,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// What differed (empty when passed).
    pub message: String,
}

#[cfg(feature = "harness")]
impl TestOutcome {
    /// Full marks for `t`.
    pub fn passed(t: &spec::TestSpec) -> Self {
        TestOutcome {
            name: t.name.clone(),
            passed: true,
            score: t.points,
            max_score: t.points,
            message: String::new(),
        }
    }
    /// No marks for `t`, and why.
    pub fn failed(t: &spec::TestSpec, message: String) -> Self {
        TestOutcome {
            name: t.name.clone(),
            passed: false,
            score: 0.0,
            max_score: t.points,
            message,
        }
    }
}
