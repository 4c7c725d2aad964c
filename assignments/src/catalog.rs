//! The labs compiled into the crate (visible parts only) and the browser's entry points.

use crate::harness;
use crate::manifest::{LabKind, LabManifest};
use crate::spec::TestFile;
use crate::target::{Assembler, MachineFactory};
use crate::TestOutcome;

/// One lab's visible files, embedded at build time.
#[derive(Debug)]
pub(crate) struct EmbeddedLab {
    pub(crate) dir: &'static str,
    pub(crate) manifest: &'static str,
    pub(crate) statement: &'static str,
    pub(crate) starter_name: &'static str,
    pub(crate) starter: &'static str,
    pub(crate) visible: &'static str,
}

// The Wasm build leaves the text out: the lab fetches it ([`crate::served`]).
#[cfg(not(target_arch = "wasm32"))]
include!(concat!(env!("OUT_DIR"), "/embedded_labs.rs"));

/// The labs' visible files: compiled in, or installed by the browser lab.
pub(crate) fn embedded() -> &'static [EmbeddedLab] {
    #[cfg(not(target_arch = "wasm32"))]
    {
        EMBEDDED
    }
    #[cfg(target_arch = "wasm32")]
    {
        crate::served::installed()
    }
}

/// What the browser shows of a lab.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LabInfo {
    /// The lab's identifier.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The statement, Markdown.
    pub statement_md: String,
    /// The starter source the editor opens with.
    pub starter: String,
    /// Guest (assembly) or component (Rust).
    pub kind: LabKind,
}

/// Every lab in course order (labs whose manifest does not parse are left out;
/// the crate's tests make sure there are none).
pub fn catalog() -> Vec<LabInfo> {
    let info = |manifest: &str, statement: &str, starter: &str| {
        let m = LabManifest::parse(manifest).ok()?;
        Some((
            m.order,
            LabInfo {
                id: m.id,
                title: m.title,
                statement_md: statement.to_string(),
                starter: starter.to_string(),
                kind: m.kind,
            },
        ))
    };
    let mut labs: Vec<(u32, LabInfo)> = embedded()
        .iter()
        .filter_map(|e| info(e.manifest, e.statement, e.starter))
        .collect();
    labs.sort_by_key(|(order, l)| (*order, l.id.clone()));
    // Course-pack labs follow vmlab's own, in the order they were added.
    let added = crate::pack::added();
    let from_packs = added
        .iter()
        .filter_map(|p| info(&p.manifest, &p.statement, &p.starter));
    labs.into_iter()
        .map(|(_, l)| l)
        .chain(from_packs.map(|(_, l)| l))
        .collect()
}

/// The ids of the labs compiled in.
pub(crate) fn embedded_ids() -> Vec<&'static str> {
    embedded().iter().map(|e| e.dir).collect()
}

/// A lab's manifest and visible tests, by id.
pub fn visible_lab(id: &str) -> Result<(LabManifest, TestFile), String> {
    let Some(e) = embedded().iter().find(|e| e.dir == id) else {
        return crate::pack::visible_lab(id).unwrap_or_else(|| Err(unknown_lab(id)));
    };
    let m = LabManifest::parse(e.manifest)?;
    let tests = TestFile::parse(&format!("{id}/tests/visible.toml"), e.visible)?;
    Ok((m, tests))
}

/// The message for a lab id that does not exist, listing those that do.
pub fn unknown_lab(id: &str) -> String {
    let ids: Vec<&str> = embedded().iter().map(|e| e.dir).collect();
    format!("no lab called {id:?}; the labs are: {}", ids.join(", "))
}

/// Every string compiled into the crate from the lab folders (for checks that no
/// hidden test or solution is among them).
pub fn embedded_texts() -> Vec<(&'static str, &'static str)> {
    embedded()
        .iter()
        .flat_map(|e| {
            [
                (e.dir, e.manifest),
                (e.dir, e.statement),
                (e.starter_name, e.starter),
                (e.dir, e.visible),
            ]
        })
        .collect()
}

/// Runs a lab's visible tests on `source` (assembly) with vmlab's machine and
/// assembler: what the browser's "Run visible tests" does.
pub fn run_visible_tests(lab_id: &str, source: &str) -> Vec<TestOutcome> {
    let max = visible_lab(lab_id)
        .map(|(m, _)| m.grading.max_image_bytes)
        .unwrap_or(1 << 16);
    let asm = crate::core_machine::VmlabAssembler {
        max_output_bytes: max.saturating_mul(4),
    };
    run_visible_tests_with(lab_id, source, &crate::core_machine::CoreFactory, &asm)
}

/// Runs a lab's visible tests on `source` with the given machine and assembler.
/// Problems before any test (unknown lab, a component lab) come back as one
/// failed outcome that says what happened.
pub fn run_visible_tests_with(
    lab_id: &str,
    source: &str,
    factory: &dyn MachineFactory,
    asm: &dyn Assembler,
) -> Vec<TestOutcome> {
    let (lab, tests) = match visible_lab(lab_id) {
        Ok(v) => v,
        Err(e) => return vec![setup_failure(e)],
    };
    if lab.kind == LabKind::Component {
        return vec![setup_failure(format!(
            "{} is a component lab: its Rust submission is built and graded natively with `vmlab grade --lab {} --submission FILE.rs`",
            lab.id, lab.id
        ))];
    }
    let prepared = harness::prepare(&lab, asm, source.as_bytes(), false);
    harness::run_all(&lab, factory, &prepared, source.as_bytes(), &tests.tests)
}

fn setup_failure(message: String) -> TestOutcome {
    TestOutcome {
        name: "setup".into(),
        passed: false,
        score: 0.0,
        max_score: 0.0,
        message,
    }
}
