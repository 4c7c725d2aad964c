//! The translation lab in the browser: its visible tests run on the page with the
//! translator's own ALU lowering or with the lab's starter (both compiled in; a
//! student's Rust is built and graded natively), and the IR each makes of a block.

use crate::component::xlate_alu::AluFamily;
use crate::component::xlate_cases::answer;
use crate::xlate_blocks::{cases, edge_blocks, Block};
use crate::TestOutcome;

#[path = "../labs/xlate-alu/starter.rs"]
mod starter;

/// The lab's id.
pub const LAB: &str = "xlate-alu";

/// Mismatches listed per test, at most.
const MAX_LISTED: usize = 3;

/// A lowering the page can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lowering {
    /// The translating tier's own (the lab's reference).
    Translator,
    /// The lab's starter.
    Starter,
}

impl Lowering {
    fn family(self) -> &'static dyn AluFamily {
        match self {
            Lowering::Translator => &emulator_core::translate::alu_family::REFERENCE,
            Lowering::Starter => &starter::Submission,
        }
    }
}

/// Runs the lab's visible tests with `lowering`, as the grader does (a test's score is
/// the share of its blocks right).
pub fn run_visible(lowering: Lowering) -> Vec<TestOutcome> {
    let tests = match crate::catalog::visible_lab(LAB) {
        Ok((_, file)) => file.tests,
        Err(e) => {
            return vec![TestOutcome {
                name: "setup".into(),
                passed: false,
                score: 0.0,
                max_score: 0.0,
                message: e,
            }]
        }
    };
    let family = lowering.family();
    tests
        .iter()
        .map(|t| {
            let blocks = t
                .cases
                .as_ref()
                .ok_or_else(|| "a component test needs `cases`".to_string())
                .and_then(cases);
            let blocks = match blocks {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => return TestOutcome::failed(t, "the test selects no cases".into()),
                Err(e) => return TestOutcome::failed(t, format!("test error: {e}")),
            };
            let wrong: Vec<String> = blocks
                .iter()
                .filter_map(|b| answer(&b.to_line(), family).and_then(|a| b.judge(&a)).err())
                .collect();
            if wrong.is_empty() {
                return TestOutcome::passed(t);
            }
            let total = blocks.len();
            let right = total - wrong.len();
            let mut message = format!(
                "{right} of {total} cases right.\n{} of {total} cases differ from the interpreter:",
                wrong.len()
            );
            for w in wrong.iter().take(MAX_LISTED) {
                message.push_str(&format!("\n  {w}"));
            }
            if wrong.len() > MAX_LISTED {
                message.push_str(&format!("\n  … and {} more", wrong.len() - MAX_LISTED));
            }
            TestOutcome {
                name: t.name.clone(),
                passed: false,
                score: (t.points * right as f64 / total as f64 * 100.0).round() / 100.0,
                max_score: t.points,
                message,
            }
        })
        .collect()
}

/// One hand-picked block as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockView {
    /// Its instructions in NASM syntax.
    pub x86: Vec<String>,
    /// The IR the lowering makes of it, before the passes (or why there is none).
    pub ir: String,
    /// `None` when the translated run leaves the interpreter's state, else what differs.
    pub wrong: Option<String>,
}

/// The hand-picked blocks of the edge test, for the page's picker.
pub fn edge_names() -> Vec<String> {
    edge_blocks()
        .iter()
        .map(|b| {
            (0..b.insns.len())
                .map(|i| b.nasm(i))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect()
}

/// Hand-picked block `i` lowered by `lowering`, and its verdict.
pub fn edge_view(i: usize, lowering: Lowering) -> Option<BlockView> {
    let b: Block = edge_blocks().into_iter().nth(i)?;
    let family = lowering.family();
    let ir = b.listing(family).unwrap_or_else(|e| e);
    let wrong = answer(&b.to_line(), family).and_then(|a| b.judge(&a)).err();
    Some(BlockView {
        x86: (0..b.insns.len()).map(|i| b.nasm(i)).collect(),
        ir,
        wrong,
    })
}
