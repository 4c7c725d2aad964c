//! The labs' visible files as data: compiled in natively, fetched by the browser lab.
//!
//! The native build embeds each lab's visible parts ([`files`] lists them). The Wasm
//! build leaves the text out of its module: the site carries it beside the page (with
//! the built-in demos), and the lab [`install`]s it before it starts. Hidden tests and
//! reference solutions are in neither.

use serde::{Deserialize, Serialize};

#[cfg(any(test, target_arch = "wasm32"))]
use crate::catalog::EmbeddedLab;

/// One lab folder's visible files.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LabFiles {
    /// The folder's name.
    pub dir: String,
    /// `lab.toml`.
    pub manifest: String,
    /// `statement.md`.
    pub statement: String,
    /// The starter's file name (`starter.asm` or `starter.rs`).
    pub starter_name: String,
    /// The starter.
    pub starter: String,
    /// `tests/visible.toml`.
    pub visible: String,
}

/// Every lab's visible files, in folder order.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Files {
    /// The labs.
    pub labs: Vec<LabFiles>,
}

/// The files compiled into this build (none in the Wasm build).
pub fn files() -> Files {
    Files {
        labs: crate::catalog::embedded()
            .iter()
            .map(|e| LabFiles {
                dir: e.dir.to_string(),
                manifest: e.manifest.to_string(),
                statement: e.statement.to_string(),
                starter_name: e.starter_name.to_string(),
                starter: e.starter.to_string(),
                visible: e.visible.to_string(),
            })
            .collect(),
    }
}

#[cfg(any(test, target_arch = "wasm32"))]
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The table the catalog reads, made from `files` (its text lives as long as the page).
#[cfg(any(test, target_arch = "wasm32"))]
fn table(files: Files) -> Vec<EmbeddedLab> {
    files
        .labs
        .into_iter()
        .map(|l| EmbeddedLab {
            dir: leak(l.dir),
            manifest: leak(l.manifest),
            statement: leak(l.statement),
            starter_name: leak(l.starter_name),
            starter: leak(l.starter),
            visible: leak(l.visible),
        })
        .collect()
}

#[cfg(target_arch = "wasm32")]
static INSTALLED: std::sync::OnceLock<Vec<EmbeddedLab>> = std::sync::OnceLock::new();

/// Makes `files` the built-in labs of the Wasm build; call it once, before anything
/// reads the catalog. Natively the files are compiled in and this does nothing.
pub fn install(files: Files) -> Result<(), String> {
    #[cfg(target_arch = "wasm32")]
    {
        INSTALLED
            .set(table(files))
            .map_err(|_| "the built-in labs were already installed".to_string())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = files;
        Ok(())
    }
}

/// The installed labs (none before [`install`]).
#[cfg(target_arch = "wasm32")]
pub(crate) fn installed() -> &'static [EmbeddedLab] {
    INSTALLED.get().map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_files_rebuild_the_compiled_in_table_and_hold_no_hidden_part() {
        let files = files();
        let built = crate::catalog::embedded();
        assert!(files.labs.iter().any(|l| l.dir == "page-tables"));
        let served = table(files.clone());
        assert_eq!(served.len(), built.len());
        for (b, s) in built.iter().zip(&served) {
            assert_eq!(
                (
                    b.dir,
                    b.manifest,
                    b.statement,
                    b.starter_name,
                    b.starter,
                    b.visible
                ),
                (
                    s.dir,
                    s.manifest,
                    s.statement,
                    s.starter_name,
                    s.starter,
                    s.visible
                )
            );
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/page-tables");
        for secret in ["tests/hidden.toml", "solution.asm"] {
            let text = std::fs::read_to_string(root.join(secret)).expect(secret);
            assert!(
                files
                    .labs
                    .iter()
                    .all(|l| l.visible != text && l.starter != text),
                "{secret} is served"
            );
        }
    }
}
