//! The browser tests: each drives the served lab in headless Chromium.
//!
//! The lab's own tests live in [`crate::ui_tests`]; this list is what
//! `cargo xtask test` runs.

use crate::browser::BrowserTest;

/// Every browser test, in the order they run.
pub const ALL: &[BrowserTest] = crate::ui_tests::ALL;
