//! Labs added at run time from a course pack: their visible parts only, checked as
//! the embedded labs are, then offered by the catalog after them.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::manifest::{LabKind, LabManifest};
use crate::spec::TestFile;

/// One pack lab's files, as `vmlab pack` writes them under `labs/ID/`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PackLab {
    /// `lab.toml`.
    pub manifest: String,
    /// `statement.md`.
    pub statement: String,
    /// `starter.asm`.
    pub starter: String,
    /// `tests/visible.toml`.
    pub visible: String,
}

static ADDED: Mutex<Vec<PackLab>> = Mutex::new(Vec::new());

/// The labs added so far, in the order they were added.
pub(crate) fn added() -> Vec<PackLab> {
    ADDED.lock().map(|l| l.clone()).unwrap_or_default()
}

/// Checks a pack lab (`from` names where it came from in messages) and adds it;
/// returns its id. Adding the same lab again changes nothing.
pub fn add(from: &str, lab: PackLab) -> Result<String, String> {
    let m = LabManifest::parse(&lab.manifest).map_err(|e| format!("{from}/{e}"))?;
    if m.kind != LabKind::Guest {
        return Err(format!(
            "{from}/lab.toml: kind: only guest labs run in the browser"
        ));
    }
    TestFile::parse(&format!("{from}/tests/visible.toml"), &lab.visible)?;
    if crate::catalog::embedded_ids().contains(&m.id.as_str()) {
        return Err(format!(
            "{from}/lab.toml: id: {:?} is already one of vmlab's own labs",
            m.id
        ));
    }
    let mut all = ADDED
        .lock()
        .map_err(|_| "the pack registry is unusable".to_string())?;
    let same_id = all
        .iter()
        .position(|l| LabManifest::parse(&l.manifest).is_ok_and(|other| other.id == m.id));
    match same_id {
        Some(i) if all[i] == lab => {}
        Some(_) => {
            return Err(format!(
                "{from}/lab.toml: id: another pack already has a lab {:?}",
                m.id
            ))
        }
        None => all.push(lab),
    }
    Ok(m.id)
}

/// A pack lab's manifest and visible tests, by id.
pub(crate) fn visible_lab(id: &str) -> Option<Result<(LabManifest, TestFile), String>> {
    added().into_iter().find_map(|l| {
        let m = LabManifest::parse(&l.manifest).ok()?;
        (m.id == id).then(|| {
            let tests = TestFile::parse(&format!("{id}/tests/visible.toml"), &l.visible)?;
            Ok((m, tests))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warmup(id: &str) -> PackLab {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/labs/asm-warmup/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).expect("reads");
        PackLab {
            manifest: read("lab.toml").replace("id = \"asm-warmup\"", &format!("id = \"{id}\"")),
            statement: read("statement.md"),
            starter: read("starter.asm"),
            visible: read("tests/visible.toml"),
        }
    }

    #[test]
    fn a_pack_lab_joins_the_catalog_and_runs_its_visible_tests() {
        let id = add("packs/x/labs/pack-warmup", warmup("pack-warmup")).expect("adds");
        assert_eq!(id, "pack-warmup");
        assert!(crate::catalog().iter().any(|l| l.id == "pack-warmup"));
        let solution = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/labs/asm-warmup/solution.asm"
        ))
        .expect("reads");
        let results = crate::run_visible_tests("pack-warmup", &solution);
        assert!(
            !results.is_empty() && results.iter().all(|t| t.passed),
            "{results:?}"
        );
        let starter = crate::run_visible_tests("pack-warmup", &warmup("x").starter);
        assert!(starter.iter().any(|t| !t.passed));
        // Again: no change; a different lab under the same id: refused.
        assert!(add("again", warmup("pack-warmup")).is_ok());
        let mut other = warmup("pack-warmup");
        other.statement.push_str("changed");
        assert!(add("other", other).unwrap_err().contains("another pack"));
    }

    #[test]
    fn bad_pack_labs_name_the_file_and_key() {
        let e = add("p/labs/a", warmup("asm-warmup")).unwrap_err();
        assert!(e.starts_with("p/labs/a/lab.toml: id:"), "{e}");
        let mut bad = warmup("bad-one");
        bad.manifest = bad
            .manifest
            .replace("kind = \"guest\"", "kind = \"component\"");
        let e = add("p/labs/b", bad).unwrap_err();
        assert!(e.starts_with("p/labs/b/lab.toml: "), "{e}");
        let mut bad = warmup("bad-two");
        bad.visible = "[[test]]\nname = 3\n".into();
        let e = add("p/labs/c", bad).unwrap_err();
        assert!(e.contains("p/labs/c/tests/visible.toml"), "{e}");
        let mut bad = warmup("bad-three");
        bad.manifest = "title = \"no id\"\n".into();
        let e = add("p/labs/d", bad).unwrap_err();
        assert!(e.starts_with("p/labs/d/lab.toml"), "{e}");
    }
}
