//! The labs the browser offers: the catalog (visible parts only) and the visible tests.

use crate::components::labpage::LabEntry;
use crate::protocol::TestResult;

/// Every lab with its statement and starter.
pub fn catalog() -> Vec<LabEntry> {
    assignments::catalog()
        .into_iter()
        .map(|l| LabEntry {
            id: l.id,
            title: l.title,
            statement_md: l.statement_md,
            starter: l.starter,
        })
        .collect()
}

/// Runs a lab's visible tests on a submission.
pub fn run_visible_tests(lab: &str, source: &str) -> Vec<TestResult> {
    assignments::run_visible_tests(lab, source)
        .into_iter()
        .map(|t| TestResult {
            name: t.name,
            passed: t.passed,
            score: t.score,
            max_score: t.max_score,
            message: t.message,
        })
        .collect()
}
